package conf

import (
	"errors"
	"reflect"
	"testing"
)

// FuzzParseTemplate: never panics; a template that parses writes back to
// text that parses to the same template.
func FuzzParseTemplate(f *testing.F) {
	for _, s := range []string{"logs", "$TAG", "a-$TAG[2]-b", "$k['a']['b']", `$k["it's"]x`, "$", "$TAG[", "$a['b",
		"${a->b}c", "${a.b}", "$$TAG", "${$a['x->y']}['z']", "$a['}']b", "${ a -> b }", "${TAG}"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		tpl, err := ParseTemplate(s)
		if err != nil {
			return
		}
		again, err := ParseTemplate(tpl.String())
		if err != nil || !reflect.DeepEqual(normalize(again), normalize(tpl)) {
			t.Fatalf("%q -> %q -> %+v, %v; want %+v", s, tpl.String(), again, err, tpl)
		}
	})
}

// normalize joins adjacent literals, which String cannot keep apart.
func normalize(t Template) Template {
	var out Template
	for _, p := range t {
		if n := len(out); n > 0 && p.IsLiteral() && out[n-1].IsLiteral() {
			out[n-1].Literal += p.Literal
			continue
		}
		out = append(out, p)
	}
	return out
}

// FuzzParseFieldPath: never panics; a path that parses has keys, none
// empty.
func FuzzParseFieldPath(f *testing.F) {
	for _, s := range []string{"a", "a->b", "a.b", "$a['b']", `$a["b"]['c']`, "a->", "$a['", "log.file->path"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		path, err := ParseFieldPath(s)
		if err != nil {
			return
		}
		if len(path) == 0 {
			t.Fatal("no error and no keys")
		}
		for _, k := range path {
			if k == "" {
				t.Fatalf("%q gives an empty key: %q", s, path)
			}
		}
	})
}

// FuzzLoad: any value of a few options either loads or fails with
// ErrInvalid naming a problem; it never panics.
func FuzzLoad(f *testing.F) {
	f.Add("s", "pk", "1MiB", "150", "https://h:1", "zstd", "3")
	f.Add("$TAG", "$a['b']", "auto", "off", "http://h", "snappy", "")
	f.Fuzz(func(t *testing.T, stream, pk, recordSize, rate, endpoint, compression, level string) {
		_, err := Load(MapGetter{"stream": stream, "partition_key": pk, "max_record_size": recordSize,
			"rate_limit": rate, "endpoint": endpoint, "compression": compression, "compression_level": level})
		if err != nil && !errors.Is(err, ErrInvalid) {
			t.Fatalf("Load error %v does not wrap ErrInvalid", err)
		}
	})
}
