// Package conf turns the key/value options of a Fluent Bit [OUTPUT] section
// into a typed, validated Config. It owns option names, defaults, limits and
// the wording of configuration errors. It knows nothing about sending: no AWS
// client, no producer, no cgo.
package conf

import (
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// Getter reads one option of an [OUTPUT] section. It returns "" when the
// option is not set. Fluent Bit's own lookup is case-insensitive.
type Getter interface {
	Get(key string) string
}

// MapGetter is a Getter over a map, for tests and for tools that build
// options without Fluent Bit.
type MapGetter map[string]string

// Get returns the value of key, matched case-insensitively.
func (m MapGetter) Get(key string) string {
	if v, ok := m[key]; ok {
		return v
	}
	for k, v := range m {
		if strings.EqualFold(k, key) {
			return v
		}
	}
	return ""
}

// Config is the validated configuration of one output instance.
type Config struct {
	// Stream is the Kinesis data stream that receives the records.
	Stream string
	// Region is the AWS region. Empty means the SDK's default chain decides
	// (AWS_REGION, the shared config file, instance metadata).
	Region string
	// Endpoint overrides the Kinesis endpoint URL (emulators, VPC endpoints).
	Endpoint string
	// Insecure is true when Endpoint uses plain http.
	Insecure bool
	// PartitionKey is the path to the record field whose value becomes the
	// partition key; nil means a random key per record.
	PartitionKey []string
	// FlushTimeout bounds one flush: after it, records not yet delivered make
	// the flush return FLB_RETRY.
	FlushTimeout time.Duration
	// RecordTTL is how long the producer keeps retrying a record.
	RecordTTL time.Duration
	// ShardRefreshInterval is how often the shard map is re-read; 0 turns
	// periodic refreshes off (a reshard seen in a response still refreshes).
	ShardRefreshInterval time.Duration
	// RetryLedger remembers, per chunk awaiting a retry, which records were
	// already delivered, so that a retried chunk sends only the rest.
	RetryLedger bool
	// ExitTimeout bounds the drain when Fluent Bit stops.
	ExitTimeout time.Duration
}

// Option describes one option: its name, default and meaning. The table is
// the single source for validation, defaults and the README's options list.
type Option struct {
	Name    string
	Default string
	Help    string
}

// Options lists every option the plugin reads.
var Options = []Option{
	{"stream", "", "Name of the Kinesis data stream. Required."},
	{"region", "", "AWS region. Empty: the SDK's default chain (AWS_REGION, shared config)."},
	{"endpoint", "", "Kinesis endpoint URL, for emulators and VPC endpoints. http:// is allowed, with a warning."},
	{"partition_key", "", "Record field whose value is the partition key: `key`, `$key`, `$a['b']` or `a.b` for nested maps. Empty or missing field: a random key."},
	{"flush_timeout", "4s", "Longest time one flush waits for its records; after it the chunk is retried and only undelivered records are sent again."},
	{"record_ttl", "30s", "How long the producer retries a record before the flush reports it for retry."},
	{"shard_refresh_interval", "60s", "How often the shard map is re-read with ListShards. 0 turns periodic refresh off."},
	{"retry_ledger", "on", "Remember which records of a chunk were delivered, so a retried chunk does not send them twice. A byte-identical chunk with the same tag that arrives while one awaits its retry is taken for that retry."},
	{"exit_timeout", "5s", "Longest time Fluent Bit's shutdown waits for buffered records to be sent."},
}

// Limits for durations, kept in one table.
var durationLimits = map[string][2]time.Duration{
	"flush_timeout":          {100 * time.Millisecond, 10 * time.Minute},
	"record_ttl":             {time.Second, 24 * time.Hour},
	"shard_refresh_interval": {0, 24 * time.Hour},
	"exit_timeout":           {0, 10 * time.Minute},
}

// ErrInvalid is wrapped by the error Load returns when any option is
// missing or malformed; the message lists every problem.
var ErrInvalid = errors.New("invalid configuration")

// Load reads every option through g, applies defaults and validates. The
// returned error names each bad option with what was wrong.
func Load(g Getter) (Config, error) {
	get := func(name string) string {
		v := strings.TrimSpace(g.Get(name))
		if v == "" {
			for _, o := range Options {
				if o.Name == name {
					return o.Default
				}
			}
		}
		return v
	}
	var c Config
	var problems []string
	bad := func(name, format string, args ...any) {
		problems = append(problems, name+": "+fmt.Sprintf(format, args...))
	}

	c.Stream = get("stream")
	switch {
	case c.Stream == "":
		bad("stream", "is required")
	case len(c.Stream) > 128 || !validStreamName(c.Stream):
		bad("stream", "must be 1-128 characters of a-z, A-Z, 0-9, '_', '.', '-'")
	}

	c.Region = get("region")
	if c.Region != "" && !validRegion(c.Region) {
		bad("region", "%q is not a region name (like eu-west-1)", c.Region)
	}

	c.Endpoint = get("endpoint")
	if c.Endpoint != "" {
		u, err := url.Parse(c.Endpoint)
		switch {
		case err != nil || u.Host == "":
			bad("endpoint", "%q is not a URL like https://host[:port]", c.Endpoint)
		case u.Scheme == "http":
			c.Insecure = true
		case u.Scheme != "https":
			bad("endpoint", "scheme %q is not http or https", u.Scheme)
		}
	}

	if pk := get("partition_key"); pk != "" {
		path, err := ParseFieldPath(pk)
		if err != nil {
			bad("partition_key", "%v", err)
		}
		c.PartitionKey = path
	}

	durations := []struct {
		name string
		dst  *time.Duration
	}{
		{"flush_timeout", &c.FlushTimeout},
		{"record_ttl", &c.RecordTTL},
		{"shard_refresh_interval", &c.ShardRefreshInterval},
		{"exit_timeout", &c.ExitTimeout},
	}
	for _, d := range durations {
		v, err := ParseDuration(get(d.name))
		if err != nil {
			bad(d.name, "%v", err)
			continue
		}
		lim := durationLimits[d.name]
		if v < lim[0] || v > lim[1] {
			bad(d.name, "%s is outside %s..%s", v, lim[0], lim[1])
			continue
		}
		*d.dst = v
	}

	ledger, err := ParseBool(get("retry_ledger"))
	if err != nil {
		bad("retry_ledger", "%v", err)
	}
	c.RetryLedger = ledger

	if len(problems) > 0 {
		return Config{}, fmt.Errorf("%w: %s", ErrInvalid, strings.Join(problems, "; "))
	}
	return c, nil
}

// ParseBool accepts the spellings Fluent Bit accepts for booleans and
// rejects everything else, so a typo is an error rather than a silent false.
func ParseBool(s string) (bool, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "on", "true", "yes", "1":
		return true, nil
	case "off", "false", "no", "0":
		return false, nil
	}
	return false, fmt.Errorf("%q is not a boolean (on/off, true/false, yes/no)", s)
}

// ParseDuration accepts Go durations ("1m30s", "250ms") and a bare number
// of seconds ("5", "0.5"), as Fluent Bit users write them.
func ParseDuration(s string) (time.Duration, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return 0, errors.New("is empty")
	}
	if f, err := strconv.ParseFloat(s, 64); err == nil {
		if f < 0 || f > 1e9 {
			return 0, fmt.Errorf("%q is out of range", s)
		}
		return time.Duration(f * float64(time.Second)), nil
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		return 0, fmt.Errorf("%q is not a duration (like 5s, 250ms, 1m)", s)
	}
	if d < 0 {
		return 0, fmt.Errorf("%q is negative", s)
	}
	return d, nil
}

// ParseFieldPath parses a record field reference into its key path. It
// accepts a plain key ("pod"), a dotted path ("kubernetes.pod_name"), and
// Fluent Bit's record accessor form ("$kubernetes['pod_name']", "$key").
// A key containing dots must use the accessor form.
func ParseFieldPath(s string) ([]string, error) {
	s = strings.TrimSpace(s)
	if !utf8.ValidString(s) {
		return nil, errors.New("is not valid UTF-8")
	}
	if !strings.HasPrefix(s, "$") {
		parts := strings.Split(s, ".")
		for _, p := range parts {
			if p == "" {
				return nil, fmt.Errorf("%q has an empty key between dots", s)
			}
		}
		return parts, nil
	}
	rest := s[1:]
	i := strings.IndexByte(rest, '[')
	if i < 0 {
		i = len(rest)
	}
	if i == 0 {
		return nil, fmt.Errorf("%q has no key after '$'", s)
	}
	path := []string{rest[:i]}
	rest = rest[i:]
	for rest != "" {
		if len(rest) < 4 || rest[0] != '[' || (rest[1] != '\'' && rest[1] != '"') {
			return nil, fmt.Errorf("%q: expected ['key'] after %q", s, strings.Join(path, "."))
		}
		q := rest[1]
		end := strings.IndexByte(rest[2:], q)
		if end < 0 || 2+end+1 >= len(rest) || rest[2+end+1] != ']' {
			return nil, fmt.Errorf("%q: unterminated ['key']", s)
		}
		key := rest[2 : 2+end]
		if key == "" {
			return nil, fmt.Errorf("%q has an empty key", s)
		}
		path = append(path, key)
		rest = rest[2+end+2:]
	}
	return path, nil
}

func validStreamName(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '.' || c == '-') {
			return false
		}
	}
	return true
}

func validRegion(s string) bool {
	if len(s) < 3 || len(s) > 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-') {
			return false
		}
	}
	return s[0] != '-' && s[len(s)-1] != '-'
}
