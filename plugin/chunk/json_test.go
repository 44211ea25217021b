package chunk

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"flag"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// stdJSON is encoding/json's output for v with HTML escaping off.
func stdJSON(t testing.TB, v any) string {
	t.Helper()
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		t.Fatalf("encoding/json: %v", err)
	}
	return strings.TrimSuffix(buf.String(), "\n")
}

// allTypesMap is a map with every msgpack type and width as values, and every
// key type that has a JSON name.
func allTypesMap() []byte {
	return mapOf(
		fixstr("nil"), mpNil(),
		fixstr("t"), mpBool(true),
		fixstr("f"), mpBool(false),
		fixstr("fixint"), fixint(127),
		fixstr("negfixint"), fixint(-32),
		fixstr("u8"), u8(255),
		fixstr("u16"), u16(65535),
		fixstr("u32"), u32(math.MaxUint32),
		fixstr("u64"), u64(math.MaxUint64),
		fixstr("i8"), i8(-128),
		fixstr("i16"), i16(-32768),
		fixstr("i32"), i32(math.MinInt32),
		fixstr("i64"), i64(math.MinInt64),
		fixstr("f32"), f32(0.1),
		fixstr("f64"), f64(0.1),
		str8("str8"), str8("s8"),
		str16("str16"), str16("s16"),
		str32("str32"), str32("s32"),
		bin8("bin8"), bin8("b8"),
		bin16("bin16"), bin16("b16"),
		bin32("bin32"), bin32("b32"),
		fixstr("time"), timeExt(1700000000, 500000000),
		fixstr("ext"), fixext(5, []byte{1, 2}),
		fixstr("arr"), array(fixint(1), fixstr("x"), mapOf()),
		fixstr("arr16"), cat(array16(1), mpNil()),
		fixstr("arr32"), cat(array32(2), mpBool(true), mpBool(false)),
		fixstr("map16"), cat(map16(1), fixstr("k"), fixint(0)),
		fixstr("map32"), cat(map32(1), fixstr("k"), array()),
		fixint(7), fixstr("int key"),
		i16(-300), fixstr("negative int key"),
		u64(math.MaxUint64), fixstr("uint64 key"),
	)
}

func TestAppendJSONValues(t *testing.T) {
	tests := []struct {
		name  string
		value []byte
		want  string
	}{
		{"nil", mpNil(), `null`},
		{"true", mpBool(true), `true`},
		{"false", mpBool(false), `false`},
		{"positive fixint", fixint(127), `127`},
		{"zero", fixint(0), `0`},
		{"negative fixint", fixint(-32), `-32`},
		{"uint8", u8(255), `255`},
		{"uint16", u16(65535), `65535`},
		{"uint32", u32(math.MaxUint32), `4294967295`},
		{"uint64", u64(math.MaxUint64), `18446744073709551615`},
		{"int8", i8(-128), `-128`},
		{"int8 positive", i8(5), `5`},
		{"int16", i16(-32768), `-32768`},
		{"int32", i32(math.MinInt32), `-2147483648`},
		{"int64", i64(math.MinInt64), `-9223372036854775808`},
		{"float32", f32(0.1), `0.1`},
		{"float32 big", f32(1e21), `1e+21`},
		{"float32 small", f32(1e-7), `1e-7`},
		{"float64", f64(0.1), `0.1`},
		{"float64 integer", f64(3), `3`},
		{"float64 negative zero", f64(math.Copysign(0, -1)), `-0`},
		{"float64 big", f64(1e21), `1e+21`},
		{"float64 below big", f64(1e20), `100000000000000000000`},
		{"float64 small", f64(1e-7), `1e-7`},
		{"float64 smallest plain", f64(1e-6), `0.000001`},
		{"float64 max", f64(math.MaxFloat64), `1.7976931348623157e+308`},
		{"float64 denormal", f64(5e-324), `5e-324`},
		{"NaN", f64(math.NaN()), `null`},
		{"+Inf", f64(math.Inf(1)), `null`},
		{"-Inf float32", f32(float32(math.Inf(-1))), `null`},
		{"fixstr", fixstr("abc"), `"abc"`},
		{"empty string", fixstr(""), `""`},
		{"str8", str8("abc"), `"abc"`},
		{"str16", str16("abc"), `"abc"`},
		{"str32", str32("abc"), `"abc"`},
		{"bin8", bin8("abc"), `"abc"`},
		{"bin16", bin16("a\x00"), `"a\u0000"`},
		{"bin32 invalid UTF-8", bin32("\xff"), `"\ufffd"`},
		{"EventTime fixext8", timeExt(1700000000, 500000000), `1700000000.5`},
		{"EventTime ext8", timeExt8(1, 250000000), `1.25`},
		{"EventTime zero", timeExt(0, 0), `0`},
		{"fixext1", fixext(1, []byte{1}), `null`},
		{"fixext2", fixext(1, []byte{1, 2}), `null`},
		{"fixext4", fixext(-1, []byte{1, 2, 3, 4}), `null`},
		{"fixext8 of another type", fixext(2, make([]byte, 8)), `null`},
		{"fixext16", fixext(0, make([]byte, 16)), `null`},
		{"ext8", ext8(3, []byte("abc")), `null`},
		{"ext16", ext16(3, []byte("abc")), `null`},
		{"ext32", ext32(3, nil), `null`},
		{"empty array", array(), `[]`},
		{"fixarray", array(fixint(1), fixstr("a"), mpNil()), `[1,"a",null]`},
		{"array16", cat(array16(2), fixint(1), fixint(2)), `[1,2]`},
		{"array32", cat(array32(1), array()), `[[]]`},
		{"empty map", mapOf(), `{}`},
		{"fixmap", mapOf(fixstr("a"), fixint(1), fixstr("b"), mapOf()), `{"a":1,"b":{}}`},
		{"map16", cat(map16(1), fixstr("a"), fixint(1)), `{"a":1}`},
		{"map32", cat(map32(1), fixstr("a"), fixint(1)), `{"a":1}`},
		{"keys keep msgpack order", mapOf(fixstr("z"), fixint(1), fixstr("a"), fixint(2)), `{"z":1,"a":2}`},
		{"duplicate keys are kept", mapOf(fixstr("a"), fixint(1), fixstr("a"), fixint(2)), `{"a":1,"a":2}`},
		{"bin key", mapOf(bin8("k"), fixint(1)), `{"k":1}`},
		{"integer keys", mapOf(fixint(1), fixint(1), i8(-5), fixint(2), u64(math.MaxUint64), fixint(3)),
			`{"1":1,"-5":2,"18446744073709551615":3}`},
		{"escaped key", mapOf(fixstr("a\"b\n"), fixint(1)), `{"a\"b\n":1}`},
		{"scalar keys are named by their JSON text", mapOf(mpNil(), fixint(1), mpBool(true), fixint(2), mpBool(false), fixint(3),
			f64(1.5), fixint(4), f32(1e21), fixint(5), f64(1e-7), fixint(6), f64(math.NaN()), fixint(7),
			timeExt(1, 500_000_000), fixint(8), fixext(5, []byte{1}), fixint(9)),
			`{"null":1,"true":2,"false":3,"1.5":4,"1e+21":5,"1e-7":6,"null":7,"1.5":8,"null":9}`},
		{"all types", allTypesMap(), `{"nil":null,"t":true,"f":false,"fixint":127,"negfixint":-32,` +
			`"u8":255,"u16":65535,"u32":4294967295,"u64":18446744073709551615,"i8":-128,"i16":-32768,` +
			`"i32":-2147483648,"i64":-9223372036854775808,"f32":0.1,"f64":0.1,"str8":"s8","str16":"s16",` +
			`"str32":"s32","bin8":"b8","bin16":"b16","bin32":"b32","time":1700000000.5,"ext":null,` +
			`"arr":[1,"x",{}],"arr16":[null],"arr32":[true,false],"map16":{"k":0},"map32":{"k":[]},` +
			`"7":"int key","-300":"negative int key","18446744073709551615":"uint64 key"}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			prefix := []byte("prefix:")
			got, err := AppendJSON(prefix, tt.value)
			if err != nil {
				t.Fatalf("AppendJSON: %v", err)
			}
			if string(got) != "prefix:"+tt.want {
				t.Errorf("AppendJSON = %s, want prefix:%s", got, tt.want)
			}
			if !json.Valid(got[len(prefix):]) {
				t.Errorf("output is not valid JSON")
			}
		})
	}
}

// stringCases are strings whose escaping must match encoding/json.
func stringCases() []string {
	cases := []string{
		"", "plain", `quote " backslash \ slash /`, "<script>&amp;</script>",
		"\n\r\t\b\f\v\x00\x01\x1f\x7f", "caf\u00e9 \u65e5\u672c \U0001F600",
		"\u2028 and \u2029 separators", "\u2027\u202a near them",
		"\xff", "\xc3", "a\xc3(b", "\xe2\x82", "\xed\xa0\x80 surrogate", "\xc0\xaf overlong",
		"\xf4\x90\x80\x80 above U+10FFFF", "\xef\xbf\xbd real U+FFFD", "\xef\xbb\xbf BOM",
		strings.Repeat("long line of text ", 100),
	}
	// Every byte at every position of an eight-byte block and around it.
	for c := 0; c < 256; c++ {
		for pos := range 10 {
			cases = append(cases, strings.Repeat("a", pos)+string([]byte{byte(c)})+"bcdefghijk")
		}
	}
	return cases
}

func TestAppendJSONStringsMatchEncodingJSON(t *testing.T) {
	for _, s := range stringCases() {
		for _, enc := range [][]byte{str(s), bin32(s)} {
			got, err := AppendJSON(nil, enc)
			if err != nil {
				t.Fatalf("%q: %v", s, err)
			}
			if want := stdJSON(t, s); string(got) != want {
				t.Errorf("%q: got %s, want %s", s, got, want)
			}
		}
		// The same rules hold for keys.
		got, err := AppendJSON(nil, mapOf(str(s), mpNil()))
		if err != nil {
			t.Fatalf("%q as key: %v", s, err)
		}
		if want := "{" + stdJSON(t, s) + ":null}"; string(got) != want {
			t.Errorf("%q as key: got %s, want %s", s, got, want)
		}
	}
}

func TestAppendJSONFloatsMatchEncodingJSON(t *testing.T) {
	f64s := []float64{0, 1, -1, 0.1, 1.5, 1e-6, 9.999999e-7, 1e-7, 1e20, 1e21, 999999999999999999999,
		123456789.123456789, math.MaxFloat64, math.SmallestNonzeroFloat64, -1e-300, 1e300, math.Pi,
		float64(math.MaxFloat32), float64(math.SmallestNonzeroFloat32)}
	f32s := []float32{0, 1, -1, 0.1, 1e-6, 9.99999e-7, 1e-7, 1e20, 1e21, 9.999999e20, math.MaxFloat32,
		math.SmallestNonzeroFloat32, 16777216, 3.4028235e38, -2.5}
	// Random bit patterns cover every exponent and mantissa shape; a fixed
	// seed keeps the test deterministic.
	rng := rand.New(rand.NewPCG(1, 2))
	for range 20000 {
		f64s = append(f64s, math.Float64frombits(rng.Uint64()))
		f32s = append(f32s, math.Float32frombits(rng.Uint32()))
	}
	check := func(value []byte, v any, finite bool) {
		got, err := AppendJSON(nil, value)
		if err != nil {
			t.Fatalf("%v: %v", v, err)
		}
		want := "null"
		if finite {
			want = stdJSON(t, v)
		}
		if string(got) != want {
			t.Fatalf("%T %v: got %s, want %s", v, v, got, want)
		}
	}
	for _, f := range f64s {
		check(f64(f), f, !math.IsNaN(f) && !math.IsInf(f, 0))
	}
	for _, f := range f32s {
		g := float64(f)
		check(f32(f), f, !math.IsNaN(g) && !math.IsInf(g, 0))
	}
}

func TestAppendJSONErrors(t *testing.T) {
	nest := func(depth int, open []byte) []byte {
		var b []byte
		for range depth - 1 {
			b = append(b, open...)
		}
		return append(b, mapOf()...)
	}
	tests := []struct {
		name   string
		value  []byte
		offset int
		reason reason
	}{
		{"empty input", nil, 0, rTruncated},
		{"trailing bytes", cat(mapOf(), fixint(1)), 1, rTrailing},
		{"two values", cat(fixint(1), fixint(2)), 1, rTrailing},
		{"truncated map", cat(mapHdr(1), fixstr("a")), 3, rTruncated},
		{"truncated string", []byte{0xa5, 'a'}, 0, rTruncated},
		{"truncated str32 length", []byte{0xdb, 0, 0}, 0, rTruncated},
		{"truncated float", []byte{0xcb, 0, 0}, 0, rTruncated},
		{"truncated ext type", []byte{0xd7}, 0, rTruncated},
		{"truncated ext8 type", []byte{0xc7, 1}, 0, rTruncated},
		{"unused type byte", mapOf(fixstr("a"), []byte{0xc1}), 3, rBadCode},
		{"array key", mapOf(array(), fixint(1)), 1, rKeyType},
		{"map key", mapOf(mapOf(), fixint(1)), 1, rKeyType},
		{"nested bad key", mapOf(fixstr("a"), mapOf(array(fixint(1)), fixint(1))), 4, rKeyType},
		{"truncated key", cat(mapHdr(1), []byte{0x92, 0x01}), 3, rTruncated},
		{"maps nested too deep", nest(MaxDepth+1, []byte{0x81, 0xa0}), 2 * MaxDepth, rTooDeep},
		{"arrays nested too deep", nest(MaxDepth+1, []byte{0x91}), MaxDepth, rTooDeep},
		{"huge map count", cat(map32(math.MaxUint32), fixstr("a"), fixint(1)), 8, rTruncated},
		{"huge array count", cat(array32(math.MaxUint32), fixint(1)), 6, rTruncated},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dst := append(make([]byte, 0, 64), "kept"...)
			got, err := AppendJSON(dst, tt.value)
			if string(got) != "kept" {
				t.Errorf("dst = %q after an error, want it unchanged", got)
			}
			var fe *FormatError
			if !errors.As(err, &fe) {
				t.Fatalf("err = %v, want a *FormatError", err)
			}
			want := FormatError{Offset: tt.offset, Event: -1, Reason: reasons[tt.reason].text, Err: reasons[tt.reason].err}
			if *fe != want {
				t.Errorf("err = %+v, want %+v", *fe, want)
			}
		})
	}
	for _, open := range [][]byte{{0x81, 0xa0}, {0x91}} {
		if _, err := AppendJSON(nil, nest(MaxDepth, open)); err != nil {
			t.Errorf("nesting of exactly MaxDepth: %v", err)
		}
	}
	if _, err := AppendJSON(nil, mapOf(array(), fixint(1))); !errors.Is(err, ErrUnsupported) || errors.Is(err, ErrMalformed) {
		t.Errorf("an array key: %v, want ErrUnsupported only", err)
	}
}

// TestAppendJSONTruncated cuts a value at every offset: never a panic, always
// an error, dst unchanged.
func TestAppendJSONTruncated(t *testing.T) {
	value := allTypesMap()
	for cut := 0; cut < len(value); cut++ {
		got, err := AppendJSON([]byte("x"), value[:cut:cut])
		if !errors.Is(err, ErrMalformed) || string(got) != "x" {
			t.Fatalf("cut at %d: got %q, %v; want an ErrMalformed error", cut, got, err)
		}
	}
}

// TestAppendJSONGolden transcodes every record of a chunk that looks like
// Kubernetes container logs from both Fluent Bit generations, one JSON line
// per record, against testdata/records.golden (go test -update rewrites it).
func TestAppendJSONGolden(t *testing.T) {
	var r Reader
	r.Reset(cat(containerLogChunk(3, false), containerLogChunk(3, true), richChunk()))
	var out []byte
	for r.Next() {
		var err error
		if out, err = AppendJSON(out, r.Event().Body); err != nil {
			t.Fatal(err)
		}
		out = append(out, '\n')
	}
	if r.Err() != nil {
		t.Fatal(r.Err())
	}
	golden := filepath.Join("testdata", "records.golden")
	if *update {
		if err := os.WriteFile(golden, out, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(out, want) {
		t.Errorf("output differs from %s:\n%s", golden, out)
	}
	for i, line := range bytes.Split(bytes.TrimSuffix(out, []byte("\n")), []byte("\n")) {
		if !json.Valid(line) {
			t.Errorf("line %d is not valid JSON", i+1)
		}
	}
}

// containerLogRecord is one realistic body: a container log line as the tail
// input and the kubernetes filter leave it, about 400 bytes.
func containerLogRecord(i int) []byte {
	line := "2024-05-01T12:00:00.123Z INFO  [http-nio-8080-exec-" + itoa(i%10) + "] c.e.orders.OrderController - " +
		"processed order id=" + itoa(100000+i) + " items=3 total=42.50 EUR in 12ms \"ok\"\n"
	return mapOf(
		fixstr("log"), str(line),
		fixstr("stream"), fixstr("stdout"),
		fixstr("time"), fixstr("2024-05-01T12:00:00.123456789Z"),
		fixstr("kubernetes"), mapOf(
			fixstr("pod_name"), str("orders-api-7d4b9c8f6-x2x9k"),
			fixstr("namespace_name"), fixstr("shop-production"),
			fixstr("pod_id"), str("5f0c2b8e-9a51-4c47-b1f3-6a7e2d9c0b14"),
			fixstr("host"), str("ip-10-0-12-34.eu-west-1.compute.internal"),
			fixstr("container_name"), fixstr("orders-api"),
			fixstr("labels"), mapOf(
				fixstr("app"), fixstr("orders-api"),
				str("pod-template-hash"), fixstr("7d4b9c8f6"),
				str("app.kubernetes.io/version"), fixstr("1.42.0"),
			),
		),
	)
}

// containerLogChunk is n container log records, in the 1.x form or in the
// 2.1+ form as Fluent Bit 5 writes it: the metadata and the body under
// map32 headers.
func containerLogChunk(n int, v2 bool) []byte {
	var chunk []byte
	for i := range n {
		t := timeExt(1714564800+uint32(i), uint32(i*1000))
		if v2 {
			rec := containerLogRecord(i)
			body := cat(map32(int(rec[0]&0x0f)), rec[1:])
			chunk = append(chunk, eventV2(t, map32(0), body)...)
		} else {
			chunk = append(chunk, eventV1(t, containerLogRecord(i))...)
		}
	}
	return chunk
}

func itoa(i int) string {
	b, _, _ := AppendText(nil, mpInt(int64(i)))
	return string(b)
}

// TestPlainASCII8 checks the eight-byte test against the byte table for
// every byte value in every position.
func TestPlainASCII8(t *testing.T) {
	base := []byte("abcdefgh")
	for pos := range 8 {
		for c := range 256 {
			b := bytes.Clone(base)
			b[pos] = byte(c)
			want := c < 0x80 && jsonSafe[c]
			if got := plainASCII8(binary.LittleEndian.Uint64(b)); got != want {
				t.Fatalf("byte %#x at %d: plainASCII8 = %v, want %v", c, pos, got, want)
			}
		}
	}
	// Two special bytes side by side, where borrows could mask each other.
	for c1 := range 256 {
		for c2 := range 256 {
			b := []byte{'a', byte(c1), byte(c2), 'a', 'a', 'a', 'a', 'a'}
			want := c1 < 0x80 && jsonSafe[c1] && c2 < 0x80 && jsonSafe[c2]
			if got := plainASCII8(binary.LittleEndian.Uint64(b)); got != want {
				t.Fatalf("bytes %#x %#x: plainASCII8 = %v, want %v", c1, c2, got, want)
			}
		}
	}
}

// TestPlainPrefix puts every byte value at every place of plain strings of
// every length up to 40: the prefix plainPrefix vouches for holds no byte
// that needs escaping and ends less than 16 bytes before the first one.
func TestPlainPrefix(t *testing.T) {
	for n := range 41 {
		s := bytes.Repeat([]byte("Ab9 ~"), 9)[:n]
		if got := plainPrefix(s); got != n {
			t.Fatalf("plain string of %d bytes: plainPrefix = %d", n, got)
		}
		for pos := range n {
			for c := range 256 {
				b := bytes.Clone(s)
				b[pos] = byte(c)
				first := n
				if c >= 0x80 || !jsonSafe[c] {
					first = pos
				}
				if got := plainPrefix(b); got > first || first-got >= 16 || got != n && got%8 != 0 || first == n && got != n {
					t.Fatalf("byte %#x at %d of %d: plainPrefix = %d, want a multiple of 8 in (%d-16, %d], or %d", c, pos, n, got, first, first, n)
				}
			}
		}
	}
}

func TestAppendJSONTransforms(t *testing.T) {
	body := mapOf(fixstr("a.b"), mapOf(fixstr("c.d"), array(mapOf(fixstr("e.f"), fixint(1)))),
		fixstr("log"), fixstr("x.y"), f64(1.5), fixstr("float key"), mpBool(true), fixint(2))
	keepAll := func([]byte) bool { return true }
	only := func(names ...string) func([]byte) bool {
		return func(name []byte) bool { return slices.Contains(names, string(name)) }
	}
	tests := []struct {
		name string
		o    JSONOptions
		want string
		n    int
	}{
		{"no options", JSONOptions{}, `"a.b":{"c.d":[{"e.f":1}]},"log":"x.y","1.5":"float key","true":2`, 4},
		{"keep all", JSONOptions{Keep: keepAll}, `"a.b":{"c.d":[{"e.f":1}]},"log":"x.y","1.5":"float key","true":2`, 4},
		{"keep by name", JSONOptions{Keep: only("log", "1.5")}, `"log":"x.y","1.5":"float key"`, 2},
		{"keep none", JSONOptions{Keep: only()}, ``, 0},
		{"replace dots at every depth, not in values", JSONOptions{ReplaceDots: "_"},
			`"a_b":{"c_d":[{"e_f":1}]},"log":"x.y","1_5":"float key","true":2`, 4},
		{"replacement is escaped", JSONOptions{ReplaceDots: `"`},
			`"a\"b":{"c\"d":[{"e\"f":1}]},"log":"x.y","1\"5":"float key","true":2`, 4},
		{"keep sees names before replacing", JSONOptions{Keep: only("a.b"), ReplaceDots: "-"}, `"a-b":{"c-d":[{"e-f":1}]}`, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, n, err := AppendJSONMembers([]byte("x"), body, tt.o)
			if err != nil || string(got[1:]) != tt.want || n != tt.n {
				t.Fatalf("AppendJSONMembers = %s, %d, %v; want %s, %d", got[1:], n, err, tt.want, tt.n)
			}
		})
	}
	if _, _, err := AppendJSONMembers(nil, array(), JSONOptions{}); !errors.Is(err, ErrUnsupported) {
		t.Errorf("AppendJSONMembers of an array: %v, want ErrUnsupported", err)
	}
	if _, _, err := AppendJSONMembers(nil, cat(body, fixint(1)), JSONOptions{}); !errors.Is(err, ErrMalformed) {
		t.Errorf("AppendJSONMembers with trailing bytes: %v, want ErrMalformed", err)
	}
	if got, err := AppendJSONWith(nil, array(body), JSONOptions{ReplaceDots: "_"}); err != nil ||
		string(got) != `[{"a_b":{"c_d":[{"e_f":1}]},"log":"x.y","1_5":"float key","true":2}]` {
		t.Errorf("AppendJSONWith = %s, %v", got, err)
	}
}

func TestStringValue(t *testing.T) {
	tests := []struct {
		value []byte
		want  string
		ok    bool
	}{
		{fixstr("abc"), "abc", true},
		{str16("long"), "long", true},
		{bin8("raw"), "raw", true},
		{fixint(1), "", false},
		{mapOf(), "", false},
		{cat(fixstr("a"), fixint(1)), "", false},
		{[]byte{0xa5, 'a'}, "", false},
	}
	for _, tt := range tests {
		got, ok := StringValue(tt.value)
		if string(got) != tt.want || ok != tt.ok {
			t.Errorf("StringValue(% x) = %q, %v; want %q, %v", tt.value, got, ok, tt.want, tt.ok)
		}
	}
}

// stringBenchCases are the strings of log records: short keys, the values
// of a Kubernetes record, a long plain line, and a line with escapes.
var stringBenchCases = []struct {
	name    string
	strings [][]byte
}{
	{"keys", bytesOf("log", "stream", "time", "kubernetes", "pod_name", "namespace_name", "pod_id", "host", "container_name", "labels", "app")},
	{"k8s values", bytesOf("stdout", "2024-05-01T12:00:00.123456789Z", "orders-api-7d4b9c8f6-x2x9k", "shop-production",
		"5f0c2b8e-9a51-4c47-b1f3-6a7e2d9c0b14", "ip-10-0-12-34.eu-west-1.compute.internal", "orders-api", "1.42.0")},
	{"long line", bytesOf(strings.Repeat("2024-05-01T12:00:00.123Z INFO processed order id=100042 items=3 total=42.50 EUR in 12ms ", 5))},
	{"line with escapes", bytesOf("2024-05-01T12:00:00.123Z INFO  [http-nio-8080-exec-1] c.e.orders.OrderController - processed order id=100001 items=3 total=42.50 EUR in 12ms \"ok\"\n")},
}

func bytesOf(ss ...string) [][]byte {
	out := make([][]byte, len(ss))
	for i, s := range ss {
		out[i] = []byte(s)
	}
	return out
}

func BenchmarkAppendStringBody(b *testing.B) {
	for _, bc := range stringBenchCases {
		b.Run(bc.name, func(b *testing.B) {
			n := 0
			for _, s := range bc.strings {
				n += len(s)
			}
			b.SetBytes(int64(n))
			dst := make([]byte, 0, 4096)
			for b.Loop() {
				dst = dst[:0]
				for _, s := range bc.strings {
					dst = appendStringBody(dst, s)
				}
			}
		})
	}
}
