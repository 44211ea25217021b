// Package conf turns the key/value options of a Fluent Bit [OUTPUT] section
// into a typed, validated Config. It owns option names, defaults, limits and
// the wording of configuration errors, and the syntax of field references
// and templates. It knows nothing about sending: no AWS client, no producer,
// no cgo.
//
// # Field references
//
// log_key, partition_key and ${...} in templates name a record field by
// its key path, in any of these forms:
//
//	key            a top-level key
//	a.b.c          dots nest
//	a->b->c        the AWS Go plugin's nesting; when "->" appears only "->"
//	               separates, so a.b->c is the key "c" inside the key "a.b"
//	$a['b']["c"]   Fluent Bit's record accessor; $key alone is a top-level key
//
// A field's text is a string's bytes, a number or a boolean; maps, arrays
// and nil have none.
//
// # Templates
//
// stream, and partition_key when it holds a '$', are templates: text with
//
//	$TAG           the whole tag
//	$TAG[n]        the n-th part of the tag split on '.', from 0 (n <= 99)
//	$key, $a['b']  a field, record accessor form: the name is letters,
//	               digits and '_', so $TAG-$pk is the tag, '-', field pk
//	${field}       a field in any form above: ${a->b}, ${a.b}, ${$a['b']}
//	$$             a '$'
//
// Any other '$' is an error. A partition_key without '$' is one field
// reference, so `kubernetes->pod_name` and `pod` keep the AWS plugin's
// meaning. A part without a value (a missing or empty field, a tag with
// fewer parts) gives the record a random partition key, counted; in stream,
// it rejects the record, counted.
package conf

//go:generate go test -run ^TestReadmeOptions$ -update .

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strings"
	"time"
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

// Aggregation is how records share a Kinesis record.
type Aggregation int

const (
	// AggregationKPL packs records predicted for the same shard into one
	// Kinesis record in the KPL aggregated format.
	AggregationKPL Aggregation = iota
	// AggregationSimple joins records predicted for the same shard with
	// newlines into one Kinesis record (simple_aggregation).
	AggregationSimple
	// AggregationOff sends every record as a Kinesis record of its own.
	AggregationOff
)

func (a Aggregation) String() string {
	switch a {
	case AggregationKPL:
		return "kpl"
	case AggregationSimple:
		return "simple"
	case AggregationOff:
		return "off"
	}
	return fmt.Sprintf("Aggregation(%d)", int(a))
}

// Compression is the codec applied to each user record.
type Compression string

// The codecs compression accepts.
const (
	CompressionNone   Compression = "none"
	CompressionZlib   Compression = "zlib"
	CompressionGzip   Compression = "gzip"
	CompressionZstd   Compression = "zstd"
	CompressionSnappy Compression = "snappy"
)

// compressionLevels is the accepted compression_level range per codec; a
// codec missing here takes no level.
var compressionLevels = map[Compression][2]int{
	CompressionZlib: {1, 9},
	CompressionGzip: {1, 9},
	CompressionZstd: {1, 22},
}

// Oversize is what happens to a record over max_record_size.
type Oversize string

// The oversize policies.
const (
	OversizeDrop     Oversize = "drop"
	OversizeTruncate Oversize = "truncate"
)

// WireFormat is how PutRecords calls are encoded.
type WireFormat string

// The wire formats.
const (
	// WireCBOR sends PutRecords in CBOR, as the AWS Java SDKs do: data as
	// bytes, not base64.
	WireCBOR WireFormat = "cbor"
	// WireJSON sends PutRecords in JSON (awsJson1.1), data in base64.
	WireJSON WireFormat = "json"
)

// LevelOff is the slog level of plugin_log_level off: above every level the
// plugin logs at.
const LevelOff = slog.LevelError + 4

// Kinesis limits that options are checked against.
const (
	MaxRecordBytes  = 10 << 20 // largest MaxRecordSize a stream can have
	MaxRequestBytes = 10 << 20 // a PutRecords request, data plus keys
	MaxConnections  = 1024
	maxRateLimit    = 1000 // percent
	maxStreams      = 256
)

// Config is the validated configuration of one output instance.
type Config struct {
	// Stream is the Kinesis data stream that receives the records, as
	// written. It may be a template ($TAG, $TAG[n], $field).
	Stream string
	// StreamTemplate is Stream parsed; static when Stream names one stream.
	StreamTemplate Template
	// MaxStreams bounds the streams a templated Stream may route to.
	MaxStreams int
	// Region is the AWS region. Empty means the SDK's default chain decides
	// (AWS_REGION, the shared config file, instance metadata).
	Region string
	// PartitionKey is the partition key as written: a field path (`key`,
	// `a.b`, `a->b`) or a template with `$`. Empty means a random key per
	// record.
	PartitionKey string
	// PartitionKeyTemplate is PartitionKey parsed (ParsePartitionKey); nil
	// when PartitionKey is empty.
	PartitionKeyTemplate Template

	// DataKeys keeps only these top-level keys of each record; nil keeps
	// the whole record.
	DataKeys []string
	// LogKey sends only the value of this field (a string raw, anything
	// else as JSON); nil sends the record.
	LogKey []string
	// AppendNewline adds "\n" after each record's data.
	AppendNewline bool
	// ReplaceDots replaces "." in every key name with this string; empty
	// leaves keys as they are.
	ReplaceDots string
	// TimeKey adds the event time to each record under this key; empty
	// adds nothing.
	TimeKey string
	// TimeKeyFormat is the strftime format of TimeKey, with %L (ms), %f
	// (µs), %3N, %6N and %9N for fractions of a second.
	TimeKeyFormat string
	// RecordIDKey adds a deterministic record id under this key; empty adds
	// nothing.
	RecordIDKey string
	// Compression compresses each user record (inside an aggregate too).
	Compression Compression
	// CompressionLevel is the codec's level; 0 means the codec's default.
	CompressionLevel int

	// Aggregation is how records share a Kinesis record.
	Aggregation Aggregation
	// AggregationMaxSize is the most bytes of one aggregate, its partition
	// key included.
	AggregationMaxSize int
	// MaxRecordSize is the stream's record limit (data plus partition key).
	// It is 0 when MaxRecordSizeAuto is set.
	MaxRecordSize int
	// MaxRecordSizeAuto reads the limit from the stream with
	// DescribeStreamSummary at start.
	MaxRecordSizeAuto bool
	// RequestMaxSize is the most bytes of one PutRecords request.
	RequestMaxSize int
	// Oversize is what happens to a record over the record limit.
	Oversize Oversize
	// RateLimit keeps each shard under this percentage of its write
	// limits; 0 means no limit.
	RateLimit int
	// ShardRefreshInterval is how often the shard map is re-read; 0 means
	// no shard map at all (records share an aggregate only with records
	// of the same partition key).
	ShardRefreshInterval time.Duration
	// MaxConnections is the most PutRecords requests in flight, and the
	// HTTP connection pool's size.
	MaxConnections int
	// WireFormat is how PutRecords calls are encoded; Load resolves
	// wire_format auto from Endpoint (CBOR for AWS's own hosts).
	WireFormat WireFormat

	// Endpoint overrides the Kinesis endpoint URL (emulators, VPC
	// endpoints), with Port applied. Always a URL with a scheme.
	Endpoint string
	// Insecure is true when Endpoint or STSEndpoint uses plain http, which
	// AllowHTTP permitted.
	Insecure bool
	// Profile is the shared config profile to read credentials from.
	Profile string
	// RoleARN is a role to assume with STS; its credentials sign every
	// Kinesis request.
	RoleARN string
	// ExternalID is passed to STS AssumeRole; set only with RoleARN.
	ExternalID string
	// STSEndpoint overrides the STS endpoint URL; set only with RoleARN.
	STSEndpoint string
	// HTTPRequestTimeout bounds one HTTP request to AWS.
	HTTPRequestTimeout time.Duration
	// AutoRetryRequests retries a failed request once, at once, inside
	// the SDK, before the producer's own retries.
	AutoRetryRequests bool

	// FlushTimeout bounds one flush: after it, records not yet delivered make
	// the flush return FLB_RETRY.
	FlushTimeout time.Duration
	// RecordTTL is how long the producer keeps retrying a record.
	RecordTTL time.Duration
	// RetryLedger remembers, per chunk awaiting a retry, which records were
	// already delivered, so that a retried chunk sends only the rest.
	RetryLedger bool
	// ExitTimeout bounds the drain when Fluent Bit stops.
	ExitTimeout time.Duration
	// LogLevel is the plugin's own log level (plugin_log_level).
	LogLevel slog.Level

	// MetricsListen is the host:port of the instance's Prometheus
	// endpoint; empty means no endpoint.
	MetricsListen string
	// StatsInterval is how often the one-line stats log is written; 0
	// means never.
	StatsInterval time.Duration
}

// Option describes one option: its name, default and meaning. The table is
// the single source for validation, defaults and the README's options list.
type Option struct {
	Name    string
	Default string
	Help    string
	// set parses a value (the default when unset) into the Config.
	set func(l *loader, v string)
}

// Options lists every option the plugin reads, in the README's order.
var Options = []Option{
	// Where records go.
	{Name: "stream", Help: "Kinesis data stream. Required. A template routes by tag or field: `logs-$TAG[1]`, `${kubernetes->namespace_name}`; see Records.",
		set: func(l *loader, v string) { l.c.Stream = v; l.stream(v) }},
	{Name: "max_streams", Default: "16", Help: "Most streams a templated `stream` routes to; each has its own producer, created on first use. A record that would need one more is rejected, counted, and logged without its content.",
		set: func(l *loader, v string) { l.c.MaxStreams = l.intRange("max_streams", v, 1, maxStreams) }},
	{Name: "region", Help: "AWS region. Empty: the SDK's default chain (`AWS_REGION`, shared config, instance metadata).",
		set: func(l *loader, v string) { l.c.Region = v; l.region(v) }},
	{Name: "partition_key", Help: "Partition key: a field (`key`, `a.b`, `a->b`, `$a['b']`) or a template (`$TAG`, `$TAG[0]-$pod`, `${a->b}-x`). Cut to 256 characters. Empty, or the field missing or empty: a random key, counted.",
		set: func(l *loader, v string) { l.c.PartitionKey = v; l.partitionKey(v) }},

	// What a record holds.
	{Name: "data_keys", Help: "Comma-separated top-level keys to keep; the others are dropped. Empty: the whole record.",
		set: func(l *loader, v string) { l.c.DataKeys = l.list("data_keys", v) }},
	{Name: "log_key", Help: "Send only this field's value (`log`, `a->b`): a string as it is, without quotes; other values as JSON. Records without it, or with an empty string in it, are rejected, counted.",
		set: func(l *loader, v string) { l.c.LogKey = l.fieldPath("log_key", v) }},
	{Name: "append_newline", Default: "off", Help: "Add a newline after each record's data.",
		set: func(l *loader, v string) { l.c.AppendNewline = l.bool("append_newline", v) }},
	{Name: "replace_dots", Help: "Replace `.` in key names with this string (for example `_`). Empty: keys are left as they are.",
		set: func(l *loader, v string) { l.c.ReplaceDots = v; l.replaceDots(v) }},
	{Name: "time_key", Help: "Add the event's time under this key. Empty: no time is added.",
		set: func(l *loader, v string) { l.c.TimeKey = v }},
	{Name: "time_key_format", Default: "%Y-%m-%dT%H:%M:%S", Help: "strftime format for `time_key`, plus `%L` (milliseconds), `%f` (microseconds), `%3N`, `%6N`, `%9N`. Time is UTC, at the event's full precision.",
		set: func(l *loader, v string) { l.c.TimeKeyFormat = v; l.strftime(v) }},
	{Name: "record_id_key", Help: "Add a deterministic id (the chunk's fingerprint and the record's index) under this key, so consumers can drop the rare duplicates at-least-once delivery allows. Empty: no id.",
		set: func(l *loader, v string) { l.c.RecordIDKey = v }},
	{Name: "compression", Default: "none", Help: "Compress each record: `none`, `zlib`, `gzip`, `zstd` or `snappy`. With aggregation, each record inside the aggregate is compressed, not the aggregate.",
		set: func(l *loader, v string) {
			l.c.Compression = Compression(l.enum("compression", v, "none", "zlib", "gzip", "zstd", "snappy"))
		}},
	{Name: "compression_level", Help: "Codec level: 1-9 for `zlib` and `gzip`, 1-22 for `zstd`; `snappy` has none. Empty: the codec's default.",
		set: func(l *loader, v string) { l.c.CompressionLevel = l.intRange("compression_level", v, 0, 22) }},

	// How records are packed and sent.
	{Name: "aggregation", Default: "on", Help: "KPL aggregation: records predicted for the same shard share one Kinesis record. `off`: every record is a Kinesis record of its own. On by default, unlike the AWS Go plugin.",
		set: func(l *loader, v string) { l.aggregation(v) }},
	{Name: "simple_aggregation", Default: "off", Help: "Instead of the KPL format, join records predicted for the same shard with newlines into one Kinesis record. Turns KPL aggregation off; setting both on is an error.",
		set: func(l *loader, v string) { l.simpleAggregation(v) }},
	{Name: "aggregation_max_size", Default: "50KiB", Help: "Largest aggregate, partition key included; at most `max_record_size`.",
		set: func(l *loader, v string) {
			l.c.AggregationMaxSize = l.size("aggregation_max_size", v, 1<<10, MaxRecordBytes)
		}},
	{Name: "max_record_size", Default: "1MiB", Help: "The stream's record limit (data plus partition key), up to `10MiB`; `auto` reads it with DescribeStreamSummary at start.",
		set: func(l *loader, v string) { l.maxRecordSize(v) }},
	{Name: "request_max_size", Default: "5MiB", Help: "Largest PutRecords request, up to `10MiB` (the Kinesis limit; emulators often take 5MiB).",
		set: func(l *loader, v string) { l.c.RequestMaxSize = l.size("request_max_size", v, 1<<10, MaxRequestBytes) }},
	{Name: "oversize", Default: "drop", Help: "A record over `max_record_size`: `drop` it, or `truncate` its data to fit. Either way it is counted and logged without its content.",
		set: func(l *loader, v string) { l.c.Oversize = Oversize(l.enum("oversize", v, "drop", "truncate")) }},
	{Name: "rate_limit", Default: "150", Help: "Keep each shard under this percentage of its write limits (1,000 records/s, 1 MiB/s), as the KPL does; `off` sends as fast as Kinesis takes.",
		set: func(l *loader, v string) { l.rateLimit(v) }},
	{Name: "shard_refresh_interval", Default: "60s", Help: "How often the shard map is re-read with ListShards. `0` turns the shard map off (for a PutRecords-only IAM policy): then only records with the same partition key share an aggregate.",
		set: func(l *loader, v string) {
			l.c.ShardRefreshInterval = l.duration("shard_refresh_interval", v, 0, 24*time.Hour)
		}},
	{Name: "max_connections", Default: "24", Help: "Most PutRecords requests in flight, and the HTTP connection pool's size.",
		set: func(l *loader, v string) { l.c.MaxConnections = l.intRange("max_connections", v, 1, MaxConnections) }},
	{Name: "wire_format", Default: "auto", Help: "How PutRecords is sent: `cbor`, as the AWS Java SDKs send it to Kinesis, records as bytes (a quarter fewer bytes to sign, encrypt and send than base64, and a cheaper response to read), or `json`, records in base64. `auto` is `cbor` for AWS's own endpoints (no `endpoint`, or a host under amazonaws.com, amazonaws.com.cn, amazonaws.eu or api.aws) and `json` for any other `endpoint`: emulators and proxies may speak only JSON (kinesalite cuts CBOR answers off at 16 KiB). Other calls (ListShards, DescribeStreamSummary) are JSON either way.",
		set: func(l *loader, v string) { l.wire = l.enum("wire_format", v, "auto", "cbor", "json") }},

	// AWS access.
	{Name: "endpoint", Help: "Kinesis endpoint: a URL or a host name (then https). Plain `http://` needs `allow_http on`.",
		set: func(l *loader, v string) { l.c.Endpoint = l.endpoint("endpoint", v) }},
	{Name: "port", Help: "Port for `endpoint`. Fluent Bit keeps `port` to itself and does not pass it to Go plugins, so write the port in `endpoint` instead; this option serves configurations read outside Fluent Bit.",
		set: func(l *loader, v string) { l.port(v) }},
	{Name: "allow_http", Default: "off", Help: "Allow a plain `http://` `endpoint` or `sts_endpoint` (emulators). Records and request signatures then travel unencrypted; the plugin warns at start.",
		set: func(l *loader, v string) { l.allowHTTP = l.bool("allow_http", v) }},
	{Name: "profile", Help: "Shared config profile (`~/.aws/config`, `~/.aws/credentials`) for credentials and region. Empty: the default chain.",
		set: func(l *loader, v string) { l.c.Profile = v; l.profile(v) }},
	{Name: "role_arn", Help: "IAM role to assume with STS; its temporary credentials, cached and refreshed before they expire, sign every request.",
		set: func(l *loader, v string) { l.c.RoleARN = v; l.roleARN(v) }},
	{Name: "external_id", Help: "External id for assuming `role_arn`. Only with `role_arn`.",
		set: func(l *loader, v string) { l.c.ExternalID = v; l.externalID(v) }},
	{Name: "sts_endpoint", Help: "STS endpoint (URL or host name) for assuming `role_arn`. Only with `role_arn`.",
		set: func(l *loader, v string) { l.c.STSEndpoint = l.endpoint("sts_endpoint", v) }},
	{Name: "http_request_timeout", Default: "10s", Help: "Longest time one HTTP request to AWS may take.",
		set: func(l *loader, v string) {
			l.c.HTTPRequestTimeout = l.duration("http_request_timeout", v, 100*time.Millisecond, 10*time.Minute)
		}},
	{Name: "auto_retry_requests", Default: "on", Help: "Retry a request that failed on the network, was throttled or got a 5xx once, at once, inside the AWS SDK, before the producer's own retries with backoff. `off`: the SDK never retries.",
		set: func(l *loader, v string) { l.c.AutoRetryRequests = l.bool("auto_retry_requests", v) }},

	// Delivery.
	{Name: "flush_timeout", Default: "4s", Help: "Longest time one flush waits for its records; after it the chunk is retried and only undelivered records are sent again.",
		set: func(l *loader, v string) {
			l.c.FlushTimeout = l.duration("flush_timeout", v, 100*time.Millisecond, 10*time.Minute)
		}},
	{Name: "record_ttl", Default: "30s", Help: "How long the producer retries a record before the flush reports it for retry.",
		set: func(l *loader, v string) { l.c.RecordTTL = l.duration("record_ttl", v, time.Second, 24*time.Hour) }},
	{Name: "retry_ledger", Default: "on", Help: "Remember which records of a chunk were delivered, so a retried chunk does not send them twice. A byte-identical chunk with the same tag that arrives while one awaits its retry is taken for that retry.",
		set: func(l *loader, v string) { l.c.RetryLedger = l.bool("retry_ledger", v) }},
	{Name: "exit_timeout", Default: "5s", Help: "Longest time Fluent Bit's shutdown waits for buffered records to be sent.",
		set: func(l *loader, v string) { l.c.ExitTimeout = l.duration("exit_timeout", v, 0, 10*time.Minute) }},
	{Name: "plugin_log_level", Default: "info", Help: "The plugin's log level: `off`, `error`, `warn`, `info`, `debug`, `trace`. Fluent Bit keeps `log_level` to itself; when this is unset, the `FLB_LOG_LEVEL` environment variable is read.",
		set: func(l *loader, v string) { l.c.LogLevel = l.logLevel(v) }},

	// Metrics and logs.
	{Name: "metrics_listen", Help: "Serve this instance's Prometheus metrics at `http://host:port/metrics`. A bare port or `:port` listens on 127.0.0.1 only; name a host (`0.0.0.0:2021`) to be reached from elsewhere. Each instance needs a port of its own. Empty: no endpoint.",
		set: func(l *loader, v string) { l.c.MetricsListen = l.listenAddress("metrics_listen", v) }},
	{Name: "stats_interval", Default: "60s", Help: "How often to log one line of counts (records in, delivered, retried, dropped, requests) at info level; never record data or keys. `0` turns it off.",
		set: func(l *loader, v string) { l.c.StatsInterval = l.statsInterval(v) }},

	// Accepted from the AWS Go plugin.
	{Name: "experimental_concurrency", Default: "0", Help: "Accepted from the AWS Go plugin and not needed: flushes run concurrently with Fluent Bit's `workers`, and requests with `max_connections`.",
		set: func(l *loader, v string) { l.intRange("experimental_concurrency", v, 0, 10) }},
	{Name: "experimental_concurrency_retries", Default: "4", Help: "Accepted from the AWS Go plugin and not needed: failed records are retried within `record_ttl`, then the chunk is handed back to Fluent Bit; none is dropped.",
		set: func(l *loader, v string) { l.intRange("experimental_concurrency_retries", v, 0, 1000) }},
}

// ErrInvalid is wrapped by the error Load returns when any option is
// missing or malformed; the message lists every problem.
var ErrInvalid = errors.New("invalid configuration")

// loader holds the state of one Load: the options as given, the Config
// being filled, and every problem found.
type loader struct {
	wire      string // wire_format as given; crossCheck resolves "auto"
	g         Getter
	c         Config
	problems  []string
	allowHTTP bool
	portNum   int
}

func (l *loader) bad(name, format string, args ...any) {
	l.problems = append(l.problems, name+": "+fmt.Sprintf(format, args...))
}

// given returns an option's value as the user wrote it, trimmed; "" when
// unset.
func (l *loader) given(name string) string { return strings.TrimSpace(l.g.Get(name)) }

// Load reads every option through g, applies defaults and validates. The
// returned error names each bad option with what was wrong.
func Load(g Getter) (Config, error) {
	l := &loader{g: g}
	// allow_http and port are read first: endpoints depend on them.
	for _, first := range []string{"allow_http", "port"} {
		for _, o := range Options {
			if o.Name == first {
				l.apply(o)
			}
		}
	}
	for _, o := range Options {
		if o.Name != "allow_http" && o.Name != "port" {
			l.apply(o)
		}
	}
	l.crossCheck()
	if len(l.problems) > 0 {
		return Config{}, fmt.Errorf("%w: %s", ErrInvalid, strings.Join(l.problems, "; "))
	}
	return l.c, nil
}

func (l *loader) apply(o Option) {
	v := l.given(o.Name)
	if v == "" {
		v = o.Default
	}
	o.set(l, v)
}

// crossCheck finds the problems between options.
func (l *loader) crossCheck() {
	c := &l.c
	c.WireFormat = WireFormat(l.wire)
	if l.wire == "auto" {
		c.WireFormat = WireJSON
		if c.Endpoint == "" || awsEndpoint(c.Endpoint) {
			c.WireFormat = WireCBOR
		}
	}
	if c.ExternalID != "" && c.RoleARN == "" {
		l.bad("external_id", "is set without role_arn; it is only used to assume role_arn")
	}
	if c.STSEndpoint != "" && c.RoleARN == "" {
		l.bad("sts_endpoint", "is set without role_arn; it is only used to assume role_arn")
	}
	if l.given("port") != "" && c.Endpoint == "" {
		l.bad("port", "is set without endpoint; write the endpoint to connect to")
	}
	if len(c.DataKeys) > 0 && len(c.LogKey) > 0 {
		l.bad("log_key", "cannot be used with data_keys; log_key already picks one value")
	}
	if l.given("time_key_format") != "" && c.TimeKey == "" {
		l.bad("time_key_format", "is set without time_key")
	}
	if lvl := c.CompressionLevel; lvl != 0 {
		r, ok := compressionLevels[c.Compression]
		switch {
		case c.Compression == CompressionNone:
			l.bad("compression_level", "is set without compression")
		case !ok:
			l.bad("compression_level", "%s takes no level", c.Compression)
		case lvl < r[0] || lvl > r[1]:
			l.bad("compression_level", "%d is outside %d..%d for %s", lvl, r[0], r[1], c.Compression)
		}
	}
	if c.MaxRecordSize > 0 {
		// Unset sizes follow a smaller or larger record limit.
		if l.given("aggregation_max_size") == "" {
			c.AggregationMaxSize = min(c.AggregationMaxSize, c.MaxRecordSize)
		}
		if l.given("request_max_size") == "" {
			c.RequestMaxSize = max(c.RequestMaxSize, c.MaxRecordSize)
		}
		if c.AggregationMaxSize > c.MaxRecordSize {
			l.bad("aggregation_max_size", "%d bytes is more than max_record_size (%d)", c.AggregationMaxSize, c.MaxRecordSize)
		}
		if c.RequestMaxSize > 0 && c.RequestMaxSize < c.MaxRecordSize {
			l.bad("request_max_size", "%d bytes is less than max_record_size (%d)", c.RequestMaxSize, c.MaxRecordSize)
		}
	}
}

func (l *loader) bool(name, v string) bool {
	b, err := ParseBool(v)
	if err != nil {
		l.bad(name, "%v", err)
	}
	return b
}

func (l *loader) duration(name, v string, lo, hi time.Duration) time.Duration {
	d, err := ParseDuration(v)
	if err != nil {
		l.bad(name, "%v", err)
		return 0
	}
	if d < lo || d > hi {
		l.bad(name, "%s is outside %s..%s", d, lo, hi)
		return 0
	}
	return d
}

// intRange parses an integer in lo..hi; "" is 0.
func (l *loader) intRange(name, v string, lo, hi int) int {
	if v == "" {
		return 0
	}
	n, err := parseInt(v)
	if err != nil || n < lo || n > hi {
		l.bad(name, "%q is not a whole number in %d..%d", v, lo, hi)
		return 0
	}
	return n
}

func (l *loader) size(name, v string, lo, hi int) int {
	n, err := ParseSize(v)
	if err != nil {
		l.bad(name, "%v", err)
		return 0
	}
	if n < lo || n > hi {
		l.bad(name, "%d bytes is outside %d..%d", n, lo, hi)
		return 0
	}
	return n
}

// enum returns v lowercased when it is one of values.
func (l *loader) enum(name, v string, values ...string) string {
	lv := strings.ToLower(v)
	for _, ok := range values {
		if lv == ok {
			return lv
		}
	}
	l.bad(name, "%q is not one of %s", v, strings.Join(values, ", "))
	return values[0]
}

func (l *loader) list(name, v string) []string {
	if v == "" {
		return nil
	}
	var out []string
	for _, item := range strings.Split(v, ",") {
		item = strings.TrimSpace(item)
		if item == "" {
			l.bad(name, "%q has an empty key", v)
			return nil
		}
		out = append(out, item)
	}
	return out
}

func (l *loader) fieldPath(name, v string) []string {
	if v == "" {
		return nil
	}
	p, err := ParseFieldPath(v)
	if err != nil {
		l.bad(name, "%v", err)
	}
	return p
}

func (l *loader) stream(v string) {
	if v == "" {
		l.bad("stream", "is required")
		return
	}
	t, err := ParseTemplate(v)
	if err != nil {
		l.bad("stream", "%v", err)
		return
	}
	l.c.StreamTemplate = t
	for _, p := range t {
		if p.IsLiteral() && !validStreamName(p.Literal) {
			l.bad("stream", "%q: a stream name has only a-z, A-Z, 0-9, '_', '.', '-'", v)
			return
		}
	}
	if t.IsStatic() && len(v) > 128 {
		l.bad("stream", "is longer than 128 characters")
	}
}

func (l *loader) region(v string) {
	if v != "" && !validRegion(v) {
		l.bad("region", "%q is not a region name (like eu-west-1)", v)
	}
}

func (l *loader) partitionKey(v string) {
	if v == "" {
		return
	}
	t, err := ParsePartitionKey(v)
	if err != nil {
		l.bad("partition_key", "%v", err)
	}
	l.c.PartitionKeyTemplate = t
}

func (l *loader) replaceDots(v string) {
	if strings.Contains(v, ".") {
		l.bad("replace_dots", "%q contains a dot itself", v)
	}
}

func (l *loader) strftime(v string) {
	if err := CheckTimeFormat(v); err != nil {
		l.bad("time_key_format", "%v", err)
	}
}

// aggregation runs before simple_aggregation (table order), which may turn
// KPL aggregation off.
func (l *loader) aggregation(v string) {
	if l.bool("aggregation", v) {
		l.c.Aggregation = AggregationKPL
	} else {
		l.c.Aggregation = AggregationOff
	}
}

func (l *loader) simpleAggregation(v string) {
	if !l.bool("simple_aggregation", v) {
		return
	}
	if explicit := l.given("aggregation"); explicit != "" && l.c.Aggregation == AggregationKPL {
		l.bad("simple_aggregation", "cannot be on with aggregation on; choose one")
		return
	}
	l.c.Aggregation = AggregationSimple
}

func (l *loader) maxRecordSize(v string) {
	if strings.EqualFold(v, "auto") {
		l.c.MaxRecordSizeAuto = true
		return
	}
	l.c.MaxRecordSize = l.size("max_record_size", v, 1<<10, MaxRecordBytes)
}

func (l *loader) rateLimit(v string) {
	if strings.EqualFold(v, "off") {
		return
	}
	v = strings.TrimSuffix(v, "%")
	n, err := parseInt(v)
	if err != nil || n < 1 || n > maxRateLimit {
		l.bad("rate_limit", "%q is not a percentage in 1..%d, or off", v, maxRateLimit)
		return
	}
	l.c.RateLimit = n
}

func (l *loader) profile(v string) {
	if strings.ContainsAny(v, " \t[]") {
		l.bad("profile", "%q is not a profile name", v)
	}
}

func (l *loader) roleARN(v string) {
	if v == "" {
		return
	}
	// arn:partition:iam::account:role/name
	parts := strings.SplitN(v, ":", 6)
	if len(parts) != 6 || parts[0] != "arn" || !strings.HasPrefix(parts[1], "aws") || parts[2] != "iam" ||
		len(parts[4]) != 12 || strings.Trim(parts[4], "0123456789") != "" || !strings.HasPrefix(parts[5], "role/") || len(parts[5]) == len("role/") {
		l.bad("role_arn", "%q is not an IAM role ARN (arn:aws:iam::123456789012:role/name)", v)
	}
}

func (l *loader) externalID(v string) {
	if v == "" {
		return
	}
	if len(v) < 2 || len(v) > 1224 || strings.Trim(v, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789+=,.@:/-_") != "" {
		l.bad("external_id", "must be 2-1224 characters of letters, digits and +=,.@:/-_")
	}
}

func (l *loader) port(v string) {
	if v == "" {
		return
	}
	l.portNum = l.intRange("port", v, 1, 65535)
}

func (l *loader) logLevel(v string) slog.Level {
	lvl, err := ParseLevel(v)
	if err != nil {
		l.bad("plugin_log_level", "%v", err)
	}
	return lvl
}

// listenAddress checks a host:port to listen on. A bare port or ":port"
// means 127.0.0.1: metrics are private unless a host is named.
func (l *loader) listenAddress(name, v string) string {
	if v == "" {
		return ""
	}
	if strings.Trim(v, "0123456789") == "" {
		v = ":" + v
	}
	host, port, err := net.SplitHostPort(v)
	if err != nil {
		l.bad(name, "%q is not host:port, :port or a port", v)
		return ""
	}
	if n, err := parseInt(port); err != nil || n < 1 || n > 65535 {
		l.bad(name, "%q: the port must be a number in 1..65535", v)
		return ""
	}
	if host == "" {
		host = "127.0.0.1"
	}
	if strings.ContainsAny(host, " /@?#") {
		l.bad(name, "%q: %q is not a host name or IP address", v, host)
		return ""
	}
	return net.JoinHostPort(host, port)
}

// statsInterval is 0 (off) or at least a second, so the log stays a log.
func (l *loader) statsInterval(v string) time.Duration {
	d := l.duration("stats_interval", v, 0, 24*time.Hour)
	if d > 0 && d < time.Second {
		l.bad("stats_interval", "%s is under 1s; use 0 to turn the stats log off", d)
		return 0
	}
	return d
}

// endpoint checks an endpoint option and returns it as a URL: a bare host
// name gets https, the port option replaces the Kinesis endpoint's port,
// and plain http needs allow_http.
func (l *loader) endpoint(name, v string) string {
	if v == "" {
		return ""
	}
	port := 0
	if name == "endpoint" {
		port = l.portNum
	}
	u, err := parseEndpoint(v, port)
	if err != nil {
		l.bad(name, "%v", err)
		return ""
	}
	if u.Scheme == "http" {
		if !l.allowHTTP {
			l.bad(name, "%q is plain http; set allow_http on to send without TLS (emulators only)", v)
			return ""
		}
		l.c.Insecure = true
	}
	return u.String()
}

// ParseLevel maps a log level name to a slog level: off, error, warn,
// info, debug, trace (trace logs as debug).
func ParseLevel(s string) (slog.Level, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "info":
		return slog.LevelInfo, nil
	case "debug", "trace":
		return slog.LevelDebug, nil
	case "warn", "warning":
		return slog.LevelWarn, nil
	case "error":
		return slog.LevelError, nil
	case "off":
		return LevelOff, nil
	}
	return slog.LevelInfo, fmt.Errorf("%q is not one of off, error, warn, info, debug, trace", s)
}
