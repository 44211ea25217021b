package conf

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
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

// ParseFieldPath parses a record field reference into its key path. It
// accepts a plain key ("pod"), a dotted path ("kubernetes.pod_name"), the
// AWS Go plugin's arrows ("kubernetes->pod_name", whose keys may hold
// dots), and Fluent Bit's record accessor ("$kubernetes['pod_name']",
// "$key").
func ParseFieldPath(s string) ([]string, error) {
	s = strings.TrimSpace(s)
	if !utf8.ValidString(s) {
		return nil, errors.New("is not valid UTF-8")
	}
	if strings.HasPrefix(s, "$") {
		path, rest, err := parseAccessor(s)
		if err == nil && rest != "" {
			err = fmt.Errorf("%q: unexpected %q after the field", s, rest)
		}
		return path, err
	}
	sep := "."
	if strings.Contains(s, "->") {
		sep = "->"
	}
	parts := strings.Split(s, sep)
	for _, p := range parts {
		if p == "" {
			return nil, fmt.Errorf("%q has an empty key between %q", s, sep)
		}
	}
	return parts, nil
}

// parseAccessor reads "$name['k']..." from the start of s and returns the
// path and what follows it. The name is letters, digits and '_'.
func parseAccessor(s string) (path []string, rest string, err error) {
	orig := s
	s = s[1:]
	i := 0
	for i < len(s) && isIdent(s[i]) {
		i++
	}
	if i == 0 {
		return nil, "", fmt.Errorf("%q has no key after '$'", orig)
	}
	path = []string{s[:i]}
	rest = s[i:]
	for strings.HasPrefix(rest, "['") || strings.HasPrefix(rest, `["`) {
		q := rest[1]
		end := strings.IndexByte(rest[2:], q)
		if end < 0 || 2+end+1 >= len(rest) || rest[2+end+1] != ']' {
			return nil, "", fmt.Errorf("%q: unterminated ['key']", orig)
		}
		key := rest[2 : 2+end]
		if key == "" {
			return nil, "", fmt.Errorf("%q has an empty key", orig)
		}
		path = append(path, key)
		rest = rest[2+end+2:]
	}
	if strings.HasPrefix(rest, "[") {
		return nil, "", fmt.Errorf("%q: expected ['key'] after %q", orig, strings.Join(path, "."))
	}
	return path, rest, nil
}

func isIdent(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_'
}

// PartKind is what a TemplatePart stands for.
type PartKind int

// The kinds of template parts.
const (
	PartLiteral PartKind = iota // text as written
	PartTag                     // the tag, or one of its dot-separated parts
	PartField                   // a record field's value
)

// TemplatePart is one piece of a Template.
type TemplatePart struct {
	Kind PartKind
	// Literal is the text of a PartLiteral.
	Literal string
	// TagIndex is the 0-based dot-separated part of the tag for $TAG[n],
	// or -1 for the whole tag.
	TagIndex int
	// Field is the key path of a PartField.
	Field []string
}

// IsLiteral reports whether p is plain text.
func (p TemplatePart) IsLiteral() bool { return p.Kind == PartLiteral }

// Template is a parsed stream or partition key template.
type Template []TemplatePart

// IsStatic reports whether t is plain text, the same for every record.
func (t Template) IsStatic() bool {
	for _, p := range t {
		if !p.IsLiteral() {
			return false
		}
	}
	return true
}

// String writes t back in template syntax; ParseTemplate of the result
// gives t again.
func (t Template) String() string {
	var b strings.Builder
	for _, p := range t {
		switch p.Kind {
		case PartLiteral:
			b.WriteString(p.Literal)
		case PartTag:
			b.WriteString("$TAG")
			if p.TagIndex >= 0 {
				fmt.Fprintf(&b, "[%d]", p.TagIndex)
			}
		case PartField:
			b.WriteString("$" + p.Field[0])
			for _, k := range p.Field[1:] {
				if strings.Contains(k, "'") {
					b.WriteString(`["` + k + `"]`)
				} else {
					b.WriteString("['" + k + "']")
				}
			}
		}
	}
	return b.String()
}

// maxTagIndex bounds $TAG[n]: Fluent Bit tags have a handful of parts.
const maxTagIndex = 99

// ParseTemplate parses a template: text with `$TAG` (the whole tag),
// `$TAG[n]` (its n-th dot-separated part, from 0) and record fields in
// record accessor form (`$key`, `$kubernetes['pod_name']`). A `$` that
// starts none of these is an error.
func ParseTemplate(s string) (Template, error) {
	if !utf8.ValidString(s) {
		return nil, errors.New("is not valid UTF-8")
	}
	var t Template
	rest := s
	for rest != "" {
		i := strings.IndexByte(rest, '$')
		if i < 0 {
			t = append(t, TemplatePart{Kind: PartLiteral, Literal: rest, TagIndex: -1})
			break
		}
		if i > 0 {
			t = append(t, TemplatePart{Kind: PartLiteral, Literal: rest[:i], TagIndex: -1})
		}
		rest = rest[i:]
		if strings.HasPrefix(rest, "$TAG") && (len(rest) == 4 || !isIdent(rest[4])) {
			part := TemplatePart{Kind: PartTag, TagIndex: -1}
			rest = rest[4:]
			if strings.HasPrefix(rest, "[") {
				end := strings.IndexByte(rest, ']')
				n, err := parseInt(rest[1:max(end, 1)])
				if end < 0 || err != nil || n < 0 || n > maxTagIndex {
					return nil, fmt.Errorf("%q: $TAG[n] needs n in 0..%d", s, maxTagIndex)
				}
				part.TagIndex = n
				rest = rest[end+1:]
			}
			t = append(t, part)
			continue
		}
		path, after, err := parseAccessor(rest)
		if err != nil {
			return nil, fmt.Errorf("%q: %v", s, err)
		}
		t = append(t, TemplatePart{Kind: PartField, Field: path, TagIndex: -1})
		rest = after
	}
	return t, nil
}

// ParsePartitionKey parses the partition_key option: a template when it
// holds a `$`, otherwise one field path (ParseFieldPath), so that
// `kubernetes->pod_name` and `pod` name fields as they always have.
func ParsePartitionKey(s string) (Template, error) {
	if strings.Contains(s, "$") {
		return ParseTemplate(s)
	}
	path, err := ParseFieldPath(s)
	if err != nil {
		return nil, err
	}
	return Template{{Kind: PartField, Field: path, TagIndex: -1}}, nil
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
