package record

import (
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"
)

// ParseFieldPath parses a reference to a record field into its key path. It
// accepts the forms the package comment lists.
func ParseFieldPath(s string) ([]string, error) {
	s = strings.TrimSpace(s)
	switch {
	case s == "":
		return nil, errors.New("is empty")
	case !utf8.ValidString(s):
		return nil, errors.New("is not valid UTF-8")
	case strings.Contains(s, "->"):
		return splitPath(s, "->")
	case strings.HasPrefix(s, "$"):
		return parseAccessor(s)
	}
	return splitPath(s, ".")
}

func splitPath(s, sep string) ([]string, error) {
	parts := strings.Split(s, sep)
	for _, p := range parts {
		if p == "" {
			return nil, fmt.Errorf("%q has an empty key around %q", s, sep)
		}
	}
	return parts, nil
}

// parseAccessor parses Fluent Bit's record accessor form: $key['sub']["sub"].
func parseAccessor(s string) ([]string, error) {
	rest := s[1:]
	i := strings.IndexByte(rest, '[')
	if i < 0 {
		i = len(rest)
	}
	if i == 0 {
		return nil, fmt.Errorf("%q has no key after '$'", s)
	}
	path := []string{rest[:i]}
	for rest = rest[i:]; rest != ""; {
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
