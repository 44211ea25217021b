package chunk

import (
	"bytes"
	"errors"
	"math"
	"testing"
)

func TestLookup(t *testing.T) {
	record := mapOf(
		fixstr("log"), fixstr("line"),
		fixstr("kubernetes"), mapOf(
			fixstr("pod_name"), fixstr("pod-1"),
			fixstr("labels"), mapOf(str8("app"), fixstr("web")),
		),
		bin8("raw"), fixint(1),
		fixint(7), fixstr("seven"),
		i8(-2), fixstr("minus two"),
		mapOf(), fixstr("map key is skipped whole"),
		fixstr("dup"), fixint(1),
		fixstr("dup"), fixint(2),
		fixstr("list"), array(mapOf(fixstr("x"), fixint(1))),
		mpBool(true), fixstr("bool key"),
		f64(1.5), fixstr("float key"),
		mpNil(), fixstr("nil key"),
	)
	tests := []struct {
		name string
		path []string
		want []byte // nil: not found
	}{
		{"top-level key", []string{"log"}, fixstr("line")},
		{"nested map", []string{"kubernetes"}, mapOf(
			fixstr("pod_name"), fixstr("pod-1"),
			fixstr("labels"), mapOf(str8("app"), fixstr("web")))},
		{"nested key", []string{"kubernetes", "pod_name"}, fixstr("pod-1")},
		{"two levels down", []string{"kubernetes", "labels", "app"}, fixstr("web")},
		{"bin key", []string{"raw"}, fixint(1)},
		{"integer key", []string{"7"}, fixstr("seven")},
		{"negative integer key", []string{"-2"}, fixstr("minus two")},
		{"first duplicate wins", []string{"dup"}, fixint(1)},
		{"bool key by its JSON name", []string{"true"}, fixstr("bool key")},
		{"float key by its JSON name", []string{"1.5"}, fixstr("float key")},
		{"nil key by its JSON name", []string{"null"}, fixstr("nil key")},
		{"empty path", nil, record},
		{"missing key", []string{"nope"}, nil},
		{"missing nested key", []string{"kubernetes", "nope"}, nil},
		{"step into a string", []string{"log", "x"}, nil},
		{"step into an array", []string{"list", "0"}, nil},
		{"prefix of a key", []string{"lo"}, nil},
		{"longer than a key", []string{"logs"}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, found, err := Lookup(record, tt.path)
			if err != nil {
				t.Fatalf("Lookup: %v", err)
			}
			if found != (tt.want != nil) || !bytes.Equal(got, tt.want) {
				t.Fatalf("Lookup = % x, %v; want % x", got, found, tt.want)
			}
			if found && cap(got) != len(got) {
				t.Error("the value's capacity reaches past it")
			}
		})
	}
}

func TestLookupErrors(t *testing.T) {
	tests := []struct {
		name  string
		m     []byte
		path  []string
		match error
	}{
		{"not a map", fixstr("x"), []string{"a"}, ErrUnsupported},
		{"empty input", nil, []string{"a"}, ErrMalformed},
		{"truncated before the key", cat(mapHdr(2), fixstr("b"), fixint(1)), []string{"a"}, ErrMalformed},
		{"truncated value", cat(mapHdr(1), fixstr("a"), []byte{0xa3, 'x'}), []string{"a"}, ErrMalformed},
		{"bad byte in a skipped value", mapOf(fixstr("b"), []byte{0xc1}, fixstr("a"), fixint(1)), []string{"a"}, ErrMalformed},
		{"bad byte in a skipped key", mapOf(array([]byte{0xc1}), fixint(1), fixstr("a"), fixint(1)), []string{"a"}, ErrMalformed},
		{"huge count", cat(map32(math.MaxUint32), fixstr("b"), fixint(1)), []string{"a"}, ErrMalformed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, found, err := Lookup(tt.m, tt.path)
			var fe *FormatError
			if found || !errors.Is(err, tt.match) || !errors.As(err, &fe) || fe.Event != -1 {
				t.Fatalf("Lookup = %v, %v; want a *FormatError wrapping %v", found, err, tt.match)
			}
		})
	}
}

func TestLookupAllocatesNothing(t *testing.T) {
	record := containerLogRecord(1)
	path := []string{"kubernetes", "labels", "app"}
	intKeyed := mapOf(u16(12345), mpNil())
	intPath := []string{"12345"}
	allocs := testing.AllocsPerRun(100, func() {
		if _, found, err := Lookup(record, path); !found || err != nil {
			t.Fatal("not found")
		}
		if _, found, err := Lookup(intKeyed, intPath); !found || err != nil {
			t.Fatal("integer key not found")
		}
	})
	if allocs != 0 {
		t.Errorf("Lookup allocated %v times per run", allocs)
	}
}

func TestAppendText(t *testing.T) {
	tests := []struct {
		name  string
		value []byte
		want  string
		ok    bool
	}{
		{"string as its bytes", fixstr(`a"b\`), `a"b\`, true},
		{"invalid UTF-8 unchanged", str8("\xff\n"), "\xff\n", true},
		{"str16", str16("x"), "x", true},
		{"str32", str32(""), "", true},
		{"bin", bin8("raw"), "raw", true},
		{"bin16", bin16("r"), "r", true},
		{"bin32", bin32("r"), "r", true},
		{"fixint", fixint(42), "42", true},
		{"negative fixint", fixint(-1), "-1", true},
		{"uint64", u64(math.MaxUint64), "18446744073709551615", true},
		{"int64", i64(math.MinInt64), "-9223372036854775808", true},
		{"int16", i16(-300), "-300", true},
		{"uint32", u32(70000), "70000", true},
		{"float64", f64(2.5), "2.5", true},
		{"float64 tiny", f64(1e-9), "1e-9", true},
		{"float32", f32(0.1), "0.1", true},
		{"true", mpBool(true), "true", true},
		{"false", mpBool(false), "false", true},
		{"EventTime", timeExt(10, 500000000), "10.5", true},
		{"nil", mpNil(), "", false},
		{"map", mapOf(fixstr("a"), fixint(1)), "", false},
		{"array", array(fixint(1)), "", false},
		{"NaN", f64(math.NaN()), "", false},
		{"Inf", f32(float32(math.Inf(1))), "", false},
		{"other ext", fixext(3, []byte{1}), "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok, err := AppendText([]byte("p:"), tt.value)
			if err != nil {
				t.Fatalf("AppendText: %v", err)
			}
			if ok != tt.ok || string(got) != "p:"+tt.want {
				t.Errorf("AppendText = %q, %v; want %q, %v", got, ok, "p:"+tt.want, tt.ok)
			}
		})
	}
}

func TestAppendTextErrors(t *testing.T) {
	for name, value := range map[string][]byte{
		"empty":          nil,
		"truncated":      {0xa3, 'a'},
		"trailing bytes": cat(fixint(1), fixint(2)),
		"bad byte":       {0xc1},
		"truncated map":  cat(mapHdr(1), fixstr("a")),
	} {
		got, ok, err := AppendText([]byte("p"), value)
		if ok || !errors.Is(err, ErrMalformed) || string(got) != "p" {
			t.Errorf("%s: AppendText = %q, %v, %v; want an ErrMalformed error", name, got, ok, err)
		}
	}
}
