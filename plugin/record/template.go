package record

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/kinesis-kpl/fluent-bit-kinesis-kpl/plugin/chunk"
)

// Template is a parsed stream or partition-key template. It is immutable
// and safe for concurrent use.
type Template struct {
	text  string
	parts []part
}

type partKind uint8

const (
	partText partKind = iota
	partTag
	partTagIndex
	partField
)

type part struct {
	kind  partKind
	text  string
	index int
	path  []string
}

// maxTagIndex bounds $TAG[n]; Fluent Bit tags have a handful of parts.
const maxTagIndex = 255

// IsTemplate reports whether s uses template syntax ($TAG, ${...} or $$),
// as opposed to naming a field or a stream outright.
func IsTemplate(s string) bool {
	return strings.Contains(s, "$TAG") || strings.Contains(s, "${") || strings.Contains(s, "$$")
}

// ParseTemplate parses s, following the package comment. A '$' that starts
// none of $TAG, $TAG[n], ${field} or $$ is an error, as is an empty template.
func ParseTemplate(s string) (*Template, error) {
	if s == "" {
		return nil, fmt.Errorf("template is empty")
	}
	t := &Template{text: s}
	var lit strings.Builder
	flush := func() {
		if lit.Len() > 0 {
			t.parts = append(t.parts, part{kind: partText, text: lit.String()})
			lit.Reset()
		}
	}
	for i := 0; i < len(s); {
		c := s[i]
		if c != '$' {
			lit.WriteByte(c)
			i++
			continue
		}
		rest := s[i+1:]
		switch {
		case strings.HasPrefix(rest, "$"):
			lit.WriteByte('$')
			i += 2
		case strings.HasPrefix(rest, "{"):
			end := strings.IndexByte(rest, '}')
			if end < 0 {
				return nil, fmt.Errorf("template %q: '${' at byte %d has no closing '}'", s, i)
			}
			path, err := ParseFieldPath(rest[1:end])
			if err != nil {
				return nil, fmt.Errorf("template %q: field at byte %d %v", s, i, err)
			}
			flush()
			t.parts = append(t.parts, part{kind: partField, path: path})
			i += 1 + end + 1
		case strings.HasPrefix(rest, "TAG["):
			end := strings.IndexByte(rest, ']')
			n, err := strconv.Atoi(rest[4:max(end, 4)])
			if end < 0 || err != nil || n < 0 || n > maxTagIndex || rest[4] == '+' {
				return nil, fmt.Errorf("template %q: $TAG[n] at byte %d needs n from 0 to %d", s, i, maxTagIndex)
			}
			flush()
			t.parts = append(t.parts, part{kind: partTagIndex, index: n})
			i += 1 + end + 1
		case strings.HasPrefix(rest, "TAG"):
			flush()
			t.parts = append(t.parts, part{kind: partTag})
			i += 4
		default:
			return nil, fmt.Errorf("template %q: '$' at byte %d starts none of $TAG, $TAG[n], ${field}, $$", s, i)
		}
	}
	flush()
	return t, nil
}

// String returns the template's text.
func (t *Template) String() string { return t.text }

// Append appends the template's value for an event with this tag and body
// (a msgpack map) to dst. ok is false, and dst unchanged, when a part has no
// value: a tag with fewer parts than $TAG[n] asks for, a field that is
// missing or has no text, or a value that is empty as a whole.
func (t *Template) Append(dst []byte, tag string, body []byte) (out []byte, ok bool) {
	start := len(dst)
	for _, p := range t.parts {
		switch p.kind {
		case partText:
			dst = append(dst, p.text...)
		case partTag:
			dst = append(dst, tag...)
		case partTagIndex:
			s, found := tagPart(tag, p.index)
			if !found {
				return dst[:start], false
			}
			dst = append(dst, s...)
		case partField:
			if dst, ok = appendField(dst, body, p.path); !ok {
				return dst[:start], false
			}
		}
	}
	if len(dst) == start {
		return dst, false
	}
	return dst, true
}

// appendField appends the text of the field at path in body; ok is false,
// and dst unchanged, when there is no such field, it has no text, or its
// text is empty.
func appendField(dst, body []byte, path []string) ([]byte, bool) {
	v, found, err := chunk.Lookup(body, path)
	if !found || err != nil {
		return dst, false
	}
	out, ok, err := chunk.AppendText(dst, v)
	if !ok || err != nil || len(out) == len(dst) {
		return dst, false
	}
	return out, true
}

// tagPart returns the n-th part of tag split on '.'.
func tagPart(tag string, n int) (string, bool) {
	for ; n > 0; n-- {
		i := strings.IndexByte(tag, '.')
		if i < 0 {
			return "", false
		}
		tag = tag[i+1:]
	}
	if i := strings.IndexByte(tag, '.'); i >= 0 {
		tag = tag[:i]
	}
	return tag, true
}
