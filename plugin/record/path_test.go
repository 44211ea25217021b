package record

import (
	"slices"
	"testing"
)

func TestParseFieldPath(t *testing.T) {
	tests := []struct {
		in   string
		want []string // nil: an error
	}{
		{"pod", []string{"pod"}},
		{" pod ", []string{"pod"}},
		{"kubernetes->pod_name", []string{"kubernetes", "pod_name"}},
		{"a->b->c", []string{"a", "b", "c"}},
		{"log.file->path", []string{"log.file", "path"}},
		{"kubernetes.pod_name", []string{"kubernetes", "pod_name"}},
		{"$pod", []string{"pod"}},
		{"$kubernetes['labels'][\"app\"]", []string{"kubernetes", "labels", "app"}},
		{"$a['b.c']", []string{"a", "b.c"}},
		{"", nil},
		{"a->", nil},
		{"->a", nil},
		{"a->->b", nil},
		{"a..b", nil},
		{".a", nil},
		{"$", nil},
		{"$['a']", nil},
		{"$a[b]", nil},
		{"$a['b'", nil},
		{"$a['']", nil},
		{"$a['b']x", nil},
		{"\xff", nil},
	}
	for _, tt := range tests {
		got, err := ParseFieldPath(tt.in)
		if tt.want == nil {
			if err == nil {
				t.Errorf("ParseFieldPath(%q) = %q, want an error", tt.in, got)
			}
			continue
		}
		if err != nil || !slices.Equal(got, tt.want) {
			t.Errorf("ParseFieldPath(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
		}
	}
}

func FuzzParseFieldPath(f *testing.F) {
	for _, s := range []string{"a", "a->b", "a.b", "$a['b']", "$a[\"b\"]['c']", "a->", "$a['"} {
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
