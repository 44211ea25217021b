package conf

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"strconv"
	"strings"
	"time"
)

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

// sizeUnits are the suffixes ParseSize accepts, all binary.
var sizeUnits = []struct {
	suffix string
	mult   int
}{
	{"kib", 1 << 10}, {"mib", 1 << 20}, {"kb", 1 << 10}, {"mb", 1 << 20},
	{"k", 1 << 10}, {"m", 1 << 20}, {"b", 1},
}

// ParseSize parses a byte count: a whole number with an optional binary
// suffix, "512KiB", "1MiB", "1M", "65536". K and M are 1024 and 1024².
func ParseSize(s string) (int, error) {
	t := strings.ToLower(strings.TrimSpace(s))
	mult := 1
	for _, u := range sizeUnits {
		if strings.HasSuffix(t, u.suffix) {
			t, mult = strings.TrimSpace(strings.TrimSuffix(t, u.suffix)), u.mult
			break
		}
	}
	n, err := parseInt(t)
	if err != nil || n < 0 || n > (1<<40)/mult {
		return 0, fmt.Errorf("%q is not a size (like 512KiB, 1MiB, 65536)", s)
	}
	return n * mult, nil
}

// parseInt parses a decimal integer of at most 18 digits.
func parseInt(s string) (int, error) {
	if s == "" || len(s) > 18 {
		return 0, errors.New("not a number")
	}
	n, err := strconv.Atoi(s)
	if err != nil {
		return 0, errors.New("not a number")
	}
	return n, nil
}

// strftimeVerbs are the conversions time_key_format accepts after '%'.
const strftimeVerbs = "aAbBcCdDeFgGhHIjklmMnprRsStTuUVwWxXyYzZ%Lf"

// CheckTimeFormat reports the first conversion in a strftime format that
// the time formatter does not know. %3N, %6N and %9N are fractions of a
// second, like %L (milliseconds) and %f (microseconds).
func CheckTimeFormat(f string) error {
	if f == "" {
		return errors.New("is empty")
	}
	for i := 0; i < len(f); i++ {
		if f[i] != '%' {
			continue
		}
		i++
		switch {
		case i >= len(f):
			return fmt.Errorf("%q ends with a lone %%", f)
		case (f[i] == '3' || f[i] == '6' || f[i] == '9') && i+1 < len(f) && f[i+1] == 'N':
			i++
		case !strings.ContainsRune(strftimeVerbs, rune(f[i])):
			return fmt.Errorf("%q: %%%c is not a known conversion", f, f[i])
		}
	}
	return nil
}

// parseEndpoint turns an endpoint option into a URL: a bare host name
// gets https, and port, when not 0, replaces the URL's port.
func parseEndpoint(v string, port int) (*url.URL, error) {
	raw := v
	if !strings.Contains(v, "://") {
		raw = "https://" + v
	}
	u, err := url.Parse(raw)
	switch {
	case err != nil || u.Host == "" || u.Hostname() == "":
		return nil, fmt.Errorf("%q is not a URL like https://host[:port] or a host name", v)
	case u.Scheme != "http" && u.Scheme != "https":
		return nil, fmt.Errorf("scheme %q is not http or https", u.Scheme)
	case u.User != nil || u.RawQuery != "" || u.Fragment != "" || (u.Path != "" && u.Path != "/"):
		return nil, fmt.Errorf("%q: an endpoint has no user, path, query or fragment", v)
	}
	if u.Port() != "" {
		if p, err := strconv.Atoi(u.Port()); err != nil || p < 1 || p > 65535 {
			return nil, fmt.Errorf("%q: port is not in 1..65535", v)
		}
	}
	if port != 0 {
		u.Host = net.JoinHostPort(u.Hostname(), strconv.Itoa(port))
	}
	u.Path = ""
	return u, nil
}

func validStreamName(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(isIdent(c) || c == '.' || c == '-') {
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

// awsHostSuffixes are the domains of AWS's own endpoints, which take
// PutRecords in CBOR.
var awsHostSuffixes = []string{".amazonaws.com", ".amazonaws.com.cn", ".amazonaws.eu", ".api.aws"}

// awsEndpoint reports whether endpoint (a URL as the loader writes it) is
// one of AWS's own.
func awsEndpoint(endpoint string) bool {
	u, err := url.Parse(endpoint)
	if err != nil {
		return false
	}
	host := strings.ToLower(u.Hostname())
	for _, suffix := range awsHostSuffixes {
		if strings.HasSuffix(host, suffix) {
			return true
		}
	}
	return false
}
