package conf

import (
	"errors"
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"
)

// This file owns the syntax of field references and templates; the package
// comment gives the grammar. plugin/record evaluates what is parsed here.

// ParseFieldPath parses a field reference into its key path: `key`,
// `a.b` (dots nest), `a->b` (the AWS Go plugin's nesting; when "->"
// appears, only "->" separates, so keys may hold dots) and Fluent Bit's
// record accessor `$key`, `$a['b']["c"]`. Surrounding spaces are ignored.
func ParseFieldPath(s string) ([]string, error) {
	s = strings.TrimSpace(s)
	switch {
	case s == "":
		return nil, errors.New("names no field")
	case !utf8.ValidString(s):
		return nil, errors.New("is not valid UTF-8")
	case strings.HasPrefix(s, "$"):
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
			return nil, fmt.Errorf("%q has an empty key around %q", s, sep)
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

// Template is a parsed stream or partition key: text, tag parts and record
// fields, in order. It is never modified after parsing.
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
// gives t again (adjacent literals joined).
func (t Template) String() string {
	var b strings.Builder
	for _, p := range t {
		switch p.Kind {
		case PartLiteral:
			b.WriteString(strings.ReplaceAll(p.Literal, "$", "$$"))
		case PartTag:
			b.WriteString("$TAG")
			if p.TagIndex >= 0 {
				fmt.Fprintf(&b, "[%d]", p.TagIndex)
			}
		case PartField:
			b.WriteString(fieldText(p.Field))
		}
	}
	return b.String()
}

// fieldText writes a field part so that ParseTemplate reads it back:
// inside ${...} (so that no text after it joins it) as one key or with
// arrows, else as a record accessor. A key holding '}' only comes from a
// bare accessor, which is written bare again.
func fieldText(path []string) string {
	first, last := path[0], path[len(path)-1]
	// plain: the keys read back between arrows inside ${...}, where the
	// whole is trimmed and a leading '$' starts an accessor.
	plain := strings.TrimLeftFunc(first, unicode.IsSpace) == first && strings.TrimRightFunc(last, unicode.IsSpace) == last &&
		!strings.HasPrefix(first, "$")
	for _, k := range path {
		if k == "" || strings.Contains(k, "->") || strings.ContainsRune(k, '}') {
			plain = false
		}
	}
	switch {
	case plain && len(path) == 1 && !strings.Contains(first, "."):
		return "${" + first + "}"
	case plain && len(path) > 1:
		return "${" + strings.Join(path, "->") + "}"
	}
	var b strings.Builder
	b.WriteString("$" + first)
	braces := true
	for _, k := range path[1:] {
		if strings.ContainsRune(k, '}') {
			braces = false
		}
		if strings.Contains(k, "'") {
			b.WriteString(`["` + k + `"]`)
		} else {
			b.WriteString("['" + k + "']")
		}
	}
	if braces {
		return "${" + b.String() + "}"
	}
	return b.String()
}

// maxTagIndex bounds $TAG[n]: Fluent Bit tags have a handful of parts.
const maxTagIndex = 99

// ParseTemplate parses a template, following the package comment: text
// with `$TAG`, `$TAG[n]`, `$key`, `$a['b']`, `${field}` and `$$`. A `$` that
// starts none of these is an error.
func ParseTemplate(s string) (Template, error) {
	if !utf8.ValidString(s) {
		return nil, errors.New("is not valid UTF-8")
	}
	var t Template
	var lit strings.Builder
	flush := func() {
		if lit.Len() > 0 {
			t = append(t, TemplatePart{Kind: PartLiteral, Literal: lit.String(), TagIndex: -1})
			lit.Reset()
		}
	}
	rest := s
	for rest != "" {
		i := strings.IndexByte(rest, '$')
		if i < 0 {
			lit.WriteString(rest)
			break
		}
		lit.WriteString(rest[:i])
		rest = rest[i:]
		switch {
		case strings.HasPrefix(rest, "$$"):
			lit.WriteByte('$')
			rest = rest[2:]
		case strings.HasPrefix(rest, "${"):
			end := strings.IndexByte(rest, '}')
			if end < 0 {
				return nil, fmt.Errorf("%q: '${' has no closing '}'", s)
			}
			path, err := ParseFieldPath(rest[2:end])
			if err != nil {
				return nil, fmt.Errorf("%q: ${...} %v", s, err)
			}
			flush()
			t = append(t, TemplatePart{Kind: PartField, Field: path, TagIndex: -1})
			rest = rest[end+1:]
		case strings.HasPrefix(rest, "$TAG") && (len(rest) == 4 || !isIdent(rest[4])):
			part := TemplatePart{Kind: PartTag, TagIndex: -1}
			rest = rest[4:]
			if strings.HasPrefix(rest, "[") {
				end := strings.IndexByte(rest, ']')
				n, err := parseInt(rest[1:max(end, 1)])
				if end < 0 || err != nil || n < 0 || n > maxTagIndex || rest[1] == '+' {
					return nil, fmt.Errorf("%q: $TAG[n] needs n in 0..%d", s, maxTagIndex)
				}
				part.TagIndex = n
				rest = rest[end+1:]
			}
			flush()
			t = append(t, part)
		default:
			path, after, err := parseAccessor(rest)
			if err != nil {
				return nil, fmt.Errorf("%q: %v (write $$ for a '$')", s, err)
			}
			flush()
			t = append(t, TemplatePart{Kind: PartField, Field: path, TagIndex: -1})
			rest = after
		}
	}
	flush()
	return t, nil
}

// ParsePartitionKey parses the partition_key option: a template when it
// holds a `$`, otherwise one field path (ParseFieldPath), so that
// `kubernetes->pod_name` and `pod` name fields as they always have. Empty
// is nil: a random key per record.
func ParsePartitionKey(s string) (Template, error) {
	if strings.TrimSpace(s) == "" {
		return nil, nil
	}
	if strings.Contains(s, "$") {
		return ParseTemplate(s)
	}
	path, err := ParseFieldPath(s)
	if err != nil {
		return nil, err
	}
	return Template{{Kind: PartField, Field: path, TagIndex: -1}}, nil
}
