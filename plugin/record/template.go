package record

import (
	"strings"

	"github.com/kinesis-kpl/fluent-bit-kinesis-kpl/conf"
	"github.com/kinesis-kpl/fluent-bit-kinesis-kpl/plugin/chunk"
)

// appendTemplate appends t's value for an event with this tag and body (a
// msgpack map) to dst. ok is false, and dst unchanged, when a part has no
// value: a tag with fewer parts than $TAG[n] asks for, a field that is
// missing or has no text, or a value that is empty as a whole.
func appendTemplate(dst []byte, t conf.Template, tag string, body []byte) (out []byte, ok bool) {
	start := len(dst)
	for _, p := range t {
		switch p.Kind {
		case conf.PartLiteral:
			dst = append(dst, p.Literal...)
		case conf.PartTag:
			if p.TagIndex < 0 {
				dst = append(dst, tag...)
				break
			}
			s, found := tagPart(tag, p.TagIndex)
			if !found {
				return dst[:start], false
			}
			dst = append(dst, s...)
		case conf.PartField:
			if dst, ok = appendField(dst, body, p.Field); !ok {
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
