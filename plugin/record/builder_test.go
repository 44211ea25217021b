package record

import (
	"bytes"
	"compress/gzip"
	"compress/zlib"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/klauspost/compress/snappy"
	"github.com/klauspost/compress/zstd"

	"github.com/kinesis-kpl/fluent-bit-kinesis-kpl/plugin/chunk"
	"github.com/kinesis-kpl/fluent-bit-kinesis-kpl/producer"
)

// k8sBody is a container log event as the kubernetes filter leaves it.
var k8sBody = ordered{
	{"log", "GET /index.html 200\n"},
	{"stream", "stdout"},
	{"log.level", "info"},
	{"kubernetes", ordered{{"pod_name", "web-1"}, {"namespace_name", "prod"}, {"labels", ordered{{"app.kubernetes.io/name", "web"}}}}},
	{"n", 7},
	{"time", "old"},
}

const random = "<random>"

func TestBuild(t *testing.T) {
	const (
		whole   = `{"log":"GET /index.html 200\n","stream":"stdout","log.level":"info","kubernetes":{"pod_name":"web-1","namespace_name":"prod","labels":{"app.kubernetes.io/name":"web"}},"n":7,"time":"old"}`
		wholeNo = `{"log":"GET /index.html 200\n","stream":"stdout","log.level":"info","kubernetes":{"pod_name":"web-1","namespace_name":"prod","labels":{"app.kubernetes.io/name":"web"}},"n":7`
		idWant  = `"rid":"` + "%ID%" + `"`
	)
	tests := []struct {
		name   string
		o      Options
		body   any
		tag    string
		data   string
		pk     string // random: a random key
		stream string
		err    error
	}{
		{"defaults: the body as JSON, a random key", Options{}, k8sBody, "t", whole, random, "", nil},
		{"top-level partition key", Options{PartitionKey: pk("stream")}, k8sBody, "t", whole, "stdout", "", nil},
		{"nested partition key with ->", Options{PartitionKey: pk("kubernetes->pod_name")}, k8sBody, "t", whole, "web-1", "", nil},
		{"nested partition key with dots", Options{PartitionKey: pk("kubernetes.namespace_name")}, k8sBody, "t", whole, "prod", "", nil},
		{"partition key by record accessor", Options{PartitionKey: pk("$kubernetes['labels']['app.kubernetes.io/name']")}, k8sBody, "t", whole, "web", "", nil},
		{"numeric partition key", Options{PartitionKey: pk("n")}, k8sBody, "t", whole, "7", "", nil},
		{"missing partition key", Options{PartitionKey: pk("kubernetes->host")}, k8sBody, "t", whole, random, "", nil},
		{"map as partition key", Options{PartitionKey: pk("kubernetes")}, k8sBody, "t", whole, random, "", nil},
		{"empty partition key", Options{PartitionKey: pk("e")}, ordered{{"e", ""}}, "t", `{"e":""}`, random, "", nil},
		{"partition key with dots inside a key", Options{PartitionKey: pk("kubernetes->labels->app.kubernetes.io/name")}, k8sBody, "t", whole, "web", "", nil},
		{"partition key template of fields and the tag", Options{PartitionKey: pk("$TAG-$n-${kubernetes.pod_name}")}, k8sBody, "a.b", whole, "a.b-7-web-1", "", nil},
		{"partition key template", Options{PartitionKey: pk("$TAG[1]-${kubernetes->pod_name}")}, k8sBody, "kube.app.x", whole, "app-web-1", "", nil},
		{"partition key template with a missing part", Options{PartitionKey: pk("$TAG[5]")}, k8sBody, "kube", whole, random, "", nil},
		{"long partition key is cut to 256 characters", Options{PartitionKey: pk("k")}, ordered{{"k", strings.Repeat("é", 300)}}, "t",
			`{"k":"` + strings.Repeat("é", 300) + `"}`, strings.Repeat("é", 256), "", nil},
		{"stream from the tag", Options{Stream: tpl("logs-$TAG[1]")}, k8sBody, "kube.prod", whole, random, "logs-prod", nil},
		{"stream from a field", Options{Stream: tpl("${kubernetes->namespace_name}-logs")}, k8sBody, "t", whole, random, "prod-logs", nil},
		{"stream template without a value", Options{Stream: tpl("${kubernetes->host}")}, k8sBody, "t", "", random, "", ErrNoStream},
		{"stream template giving a bad name", Options{Stream: tpl("${log}")}, k8sBody, "t", "", random, "", ErrNoStream},
		{"data_keys", Options{DataKeys: keys("log, n ,missing")}, k8sBody, "t", `{"log":"GET /index.html 200\n","n":7}`, random, "", nil},
		{"data_keys keeping nothing", Options{DataKeys: keys("missing")}, k8sBody, "t", `{}`, random, "", nil},
		{"data_keys does not hide the partition key", Options{DataKeys: keys("log"), PartitionKey: pk("stream")}, k8sBody, "t",
			`{"log":"GET /index.html 200\n"}`, "stdout", "", nil},
		{"replace_dots at every depth", Options{ReplaceDots: "_"}, k8sBody, "t",
			`{"log":"GET /index.html 200\n","stream":"stdout","log_level":"info","kubernetes":{"pod_name":"web-1","namespace_name":"prod","labels":{"app_kubernetes_io/name":"web"}},"n":7,"time":"old"}`, random, "", nil},
		{"data_keys before replace_dots", Options{DataKeys: keys("log.level"), ReplaceDots: "-"}, k8sBody, "t", `{"log-level":"info"}`, random, "", nil},
		{"log_key string is sent raw", Options{LogKey: path("log")}, k8sBody, "t", "GET /index.html 200\n", random, "", nil},
		{"log_key nested string", Options{LogKey: path("kubernetes->pod_name")}, k8sBody, "t", "web-1", random, "", nil},
		{"log_key map is JSON", Options{LogKey: path("kubernetes"), ReplaceDots: "_"}, k8sBody, "t",
			`{"pod_name":"web-1","namespace_name":"prod","labels":{"app_kubernetes_io/name":"web"}}`, random, "", nil},
		{"log_key number is JSON", Options{LogKey: path("n")}, k8sBody, "t", "7", random, "", nil},
		{"log_key missing", Options{LogKey: path("message")}, k8sBody, "t", "", random, "", ErrNoLogKey},
		{"log_key with data_keys", Options{LogKey: path("log"), DataKeys: keys("log,n")}, k8sBody, "t", "GET /index.html 200\n", random, "", nil},
		{"log_key is the time key", Options{LogKey: path("ts"), TimeKey: "ts", TimeKeyFormat: "%s.%3N"}, k8sBody, "t", "1772694489.123", random, "", nil},
		{"append_newline", Options{AppendNewline: true, DataKeys: keys("n")}, k8sBody, "t", "{\"n\":7}\n", random, "", nil},
		{"append_newline after log_key", Options{AppendNewline: true, LogKey: path("stream")}, k8sBody, "t", "stdout\n", random, "", nil},
		{"time_key", Options{TimeKey: "@timestamp", TimeKeyFormat: "%Y-%m-%dT%H:%M:%S.%9NZ"}, k8sBody, "t",
			wholeNo + `,"time":"old","@timestamp":"2026-03-05T07:08:09.123456789Z"}`, random, "", nil},
		{"time_key replaces a field of its name", Options{TimeKey: "time"}, k8sBody, "t", wholeNo + `,"time":"2026-03-05T07:08:09"}`, random, "", nil},
		{"time_key on an empty body", Options{TimeKey: "t", TimeKeyFormat: "%L|%f"}, ordered{}, "t", `{"t":"123|123456"}`, random, "", nil},
		{"time_key dropped by data_keys", Options{TimeKey: "ts", DataKeys: keys("n")}, k8sBody, "t", `{"n":7}`, random, "", nil},
		{"time_key kept by data_keys", Options{TimeKey: "ts", DataKeys: keys("n,ts"), TimeKeyFormat: "%H"}, k8sBody, "t", `{"n":7,"ts":"07"}`, random, "", nil},
		{"time_key with dots replaced", Options{TimeKey: "a.ts", DataKeys: keys("a.ts"), ReplaceDots: "_", TimeKeyFormat: "%M"}, k8sBody, "t", `{"a_ts":"08"}`, random, "", nil},
		{"time_key text is escaped", Options{TimeKey: "ts", DataKeys: keys("ts"), TimeKeyFormat: `"%H"\`}, k8sBody, "t", `{"ts":"\"07\"\\"}`, random, "", nil},
		{"record_id_key", Options{RecordIDKey: "rid", DataKeys: keys("n")}, k8sBody, "t", `{"n":7,` + idWant + `}`, random, "", nil},
		{"record_id_key on an empty body", Options{RecordIDKey: "rid"}, ordered{}, "t", `{` + idWant + `}`, random, "", nil},
		{"record_id_key replaces a field of its name", Options{RecordIDKey: "n", DataKeys: keys("n")}, k8sBody, "t", `{"n":"%ID%"}`, random, "", nil},
		{"time_key and record_id_key", Options{TimeKey: "ts", TimeKeyFormat: "%S", RecordIDKey: "rid", DataKeys: keys("stream,ts")}, k8sBody, "t",
			`{"stream":"stdout","ts":"09",` + idWant + `}`, random, "", nil},
		{"body with a key that has no JSON form", Options{}, ordered{{[]int{1}, 1}}, "t", "", random, "", chunk.ErrUnsupported},
		{"body with a key that has no JSON form, transformed", Options{DataKeys: keys("a")}, ordered{{[]int{1}, 1}}, "t", "", random, "", chunk.ErrUnsupported},
		{"scalar keys", Options{}, ordered{{true, 1}, {nil, 2}, {1.5, 3}}, "t", `{"true":1,"null":2,"1.5":3}`, random, "", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, err := New(tt.o)
			if err != nil {
				t.Fatal(err)
			}
			c := chunkOf(t, mp(t, tt.body))
			id := NewChunkID("t", c)
			// Both event forms give the same record, read by Next or,
			// as the plugin reads them, by NextLazy.
			check := func(i int, ev chunk.Event) {
				var r Record
				err := b.Build(&r, ev, Source{Tag: tt.tag, Chunk: id, Index: i})
				if tt.err != nil {
					if !errors.Is(err, tt.err) {
						t.Fatalf("event %d: Build error %v, want %v", i, err, tt.err)
					}
					return
				}
				if err != nil {
					t.Fatalf("event %d: Build: %v", i, err)
				}
				want := strings.ReplaceAll(tt.data, "%ID%", string(id.AppendRecordID(nil, i)))
				if string(r.Data) != want {
					t.Errorf("event %d: data\n%s\nwant\n%s", i, r.Data, want)
				}
				switch {
				case tt.pk == random:
					if !r.RandomKey || len(r.PartitionKey) != 0 {
						t.Errorf("event %d: partition key %q, random %v; want none (the producer picks a random one)", i, r.PartitionKey, r.RandomKey)
					}
				case string(r.PartitionKey) != tt.pk || r.RandomKey:
					t.Errorf("event %d: partition key %q, random %v; want %q", i, r.PartitionKey, r.RandomKey, tt.pk)
				}
				if string(r.Stream) != tt.stream || (r.Stream == nil) != (tt.stream == "") {
					t.Errorf("event %d: stream %q, want %q", i, r.Stream, tt.stream)
				}
			}
			for i, ev := range events(t, c) {
				check(i, ev)
			}
			var rd chunk.Reader
			rd.Reset(c)
			for i := 0; rd.NextLazy(); i++ {
				check(i, rd.Event())
			}
			if rd.Err() != nil {
				t.Fatal(rd.Err())
			}
		})
	}
}

func TestBuildCompression(t *testing.T) {
	zd, err := zstd.NewReader(nil)
	if err != nil {
		t.Fatal(err)
	}
	defer zd.Close()
	stream := func(open func(io.Reader) (io.Reader, error)) func([]byte) ([]byte, error) {
		return func(b []byte) ([]byte, error) {
			r, err := open(bytes.NewReader(b))
			if err != nil {
				return nil, err
			}
			return io.ReadAll(r)
		}
	}
	decoders := map[Compression]func([]byte) ([]byte, error){
		CompressionZlib:   stream(func(r io.Reader) (io.Reader, error) { return zlib.NewReader(r) }),
		CompressionGzip:   stream(func(r io.Reader) (io.Reader, error) { return gzip.NewReader(r) }),
		CompressionZstd:   func(b []byte) ([]byte, error) { return zd.DecodeAll(b, nil) },
		CompressionSnappy: stream(func(r io.Reader) (io.Reader, error) { return snappy.NewReader(r), nil }),
	}
	body := ordered{{"log", strings.Repeat("a compressible line ", 50)}}
	ev := events(t, chunkOf(t, mp(t, body)))[0]
	for c, decode := range decoders {
		for _, level := range []int{0, levels[c][0], levels[c][1]} {
			b, err := New(Options{Compression: c, CompressionLevel: level, AppendNewline: true, LogKey: path("log")})
			if err != nil {
				t.Fatalf("%s level %d: %v", c, level, err)
			}
			var r Record
			for range 3 { // reused buffers and pooled compressors give the same bytes
				if err := b.Build(&r, ev, Source{Tag: "t"}); err != nil {
					t.Fatalf("%s level %d: %v", c, level, err)
				}
				got, err := decode(r.Data)
				if err != nil {
					t.Fatalf("%s level %d: decoding: %v", c, level, err)
				}
				if want := strings.Repeat("a compressible line ", 50) + "\n"; string(got) != want {
					t.Fatalf("%s level %d: round trip gives %q", c, level, got)
				}
				if len(r.Data) >= len(got) {
					t.Errorf("%s level %d: %d bytes compressed to %d", c, level, len(got), len(r.Data))
				}
			}
		}
	}
}

// The snappy framing is checked against the library's stream reader across
// block boundaries, for compressible and incompressible input.
func TestSnappyFramed(t *testing.T) {
	random := make([]byte, 200_000)
	state := uint64(1)
	for i := range random {
		state = state*6364136223846793005 + 1442695040888963407
		random[i] = byte(state >> 56)
	}
	text := []byte(strings.Repeat("log line ", 30_000))
	for _, src := range [][]byte{nil, {'x'}, text[:1<<16], text[:1<<16+1], text, random, random[:70_000]} {
		framed, err := appendSnappyFramed([]byte("kept"), src)
		if err != nil || !bytes.HasPrefix(framed, []byte("kept")) {
			t.Fatalf("%d bytes: %v", len(src), err)
		}
		got, err := io.ReadAll(snappy.NewReader(bytes.NewReader(framed[4:])))
		if err != nil || !bytes.Equal(got, src) {
			t.Fatalf("%d bytes: round trip gives %d bytes, %v", len(src), len(got), err)
		}
	}
}

func TestParseCompression(t *testing.T) {
	for s, want := range map[string]Compression{"": CompressionNone, "none": CompressionNone, "zlib": CompressionZlib,
		"GZIP": CompressionGzip, " zstd ": CompressionZstd, "snappy": CompressionSnappy} {
		if got, err := ParseCompression(s); err != nil || got != want {
			t.Errorf("ParseCompression(%q) = %v, %v; want %v", s, got, err, want)
		}
	}
	for _, s := range []string{"lz4", "zlib9", "gz"} {
		if _, err := ParseCompression(s); err == nil {
			t.Errorf("ParseCompression(%q) succeeded", s)
		}
	}
}

func TestNewListsEveryProblem(t *testing.T) {
	o := Options{
		LogKey:        []string{"a", ""},
		DataKeys:      []string{"a", "", "b"},
		TimeKeyFormat: "%Q",
		Compression:   CompressionSnappy, CompressionLevel: 3,
	}
	_, err := New(o)
	if err == nil {
		t.Fatal("New succeeded")
	}
	for _, option := range []string{"log_key:", "data_keys:", "time_key_format:", "compression:"} {
		if !strings.Contains(err.Error(), option) {
			t.Errorf("error does not name %s:\n%v", option, err)
		}
	}
	tests := []struct {
		name string
		o    Options
	}{
		{"bad time format", Options{TimeKey: "ts", TimeKeyFormat: "%"}},
		{"log_key dropped by data_keys", Options{LogKey: path("log"), DataKeys: keys("n")}},
		{"record_id_key with log_key", Options{LogKey: path("log"), RecordIDKey: "id"}},
		{"record_id_key is time_key", Options{TimeKey: "k", RecordIDKey: "k"}},
		{"zlib level 10", Options{Compression: CompressionZlib, CompressionLevel: 10}},
		{"zstd level 23", Options{Compression: CompressionZstd, CompressionLevel: 23}},
		{"unknown compression", Options{Compression: Compression(9)}},
		{"empty log_key key", Options{LogKey: []string{""}}},
		{"empty data_keys key", Options{DataKeys: []string{"a", ""}}},
		{"time_key not UTF-8", Options{TimeKey: "\xff"}},
	}
	for _, tt := range tests {
		if _, err := New(tt.o); err == nil {
			t.Errorf("%s: New succeeded", tt.name)
		}
	}
}

func TestChunkID(t *testing.T) {
	a := NewChunkID("app", []byte("chunk"))
	if a != NewChunkID("app", []byte("chunk")) {
		t.Fatal("the same chunk has two ids")
	}
	for _, other := range []ChunkID{NewChunkID("ap", []byte("pchunk")), NewChunkID("app", []byte("chunk2")), NewChunkID("", nil)} {
		if other == a {
			t.Fatal("different chunks share an id")
		}
	}
	id := string(a.AppendRecordID([]byte("x"), 42))
	if len(id) != 1+32+3 || !strings.HasPrefix(id, "x") || !strings.HasSuffix(id, "-42") || strings.Trim(id[1:33], "0123456789abcdef") != "" {
		t.Fatalf("record id %q is not 32 hex digits, '-', index", id)
	}
}

func TestBuildAllocatesNothing(t *testing.T) {
	c := chunkOf(t, mp(t, k8sBody))
	ev := events(t, c)[0]
	for name, o := range map[string]Options{
		"defaults":      {PartitionKey: pk("kubernetes->pod_name")},
		"transforms":    {PartitionKey: pk("$TAG[1]"), Stream: tpl("s-${kubernetes->namespace_name}"), DataKeys: keys("log,kubernetes,ts"), ReplaceDots: "_", TimeKey: "ts", TimeKeyFormat: "%c.%9N", RecordIDKey: "id", AppendNewline: true},
		"log_key":       {LogKey: path("log"), AppendNewline: true},
		"random key":    {},
		"gzip":          {Compression: CompressionGzip},
		"zlib":          {Compression: CompressionZlib},
		"zstd":          {Compression: CompressionZstd},
		"snappy":        {Compression: CompressionSnappy},
		"missing field": {PartitionKey: pk("nope")},
	} {
		if raceEnabled && (o.Compression == CompressionGzip || o.Compression == CompressionZlib) {
			continue // pooled compressors
		}
		b, err := New(o)
		if err != nil {
			t.Fatal(err)
		}
		var r Record
		src := Source{Tag: "kube.app", Chunk: NewChunkID("t", nil), Index: 3}
		if err := b.Build(&r, ev, src); err != nil { // grows the buffers
			t.Fatal(err)
		}
		if n := testing.AllocsPerRun(50, func() {
			if err := b.Build(&r, ev, src); err != nil {
				t.Fatal(err)
			}
		}); n != 0 {
			t.Errorf("%s: Build allocated %v times per record, want 0", name, n)
		}
		var rd chunk.Reader
		if n := testing.AllocsPerRun(50, func() {
			rd.Reset(c)
			for rd.NextLazy() {
				if err := b.Build(&r, rd.Event(), src); err != nil {
					t.Fatal(err)
				}
			}
		}); n != 0 {
			t.Errorf("%s: reading lazily and building allocated %v times per chunk, want 0", name, n)
		}
	}
}

// FuzzBuild feeds any bytes, as an event body, through a builder with every
// transform. Invariants: Build never panics; it fails only with an error of
// the package or of plugin/chunk; on success the record is not empty and
// its partition key is 1-256 characters; in a chunk, the event read by
// NextLazy gives what the event read by Next gives (checkLazyBuild).
func FuzzBuild(f *testing.F) {
	f.Add(mp(f, k8sBody), "kube.app")
	f.Add(mp(f, ordered{{"a.b", ordered{{"c.d", []any{1, "x"}}}}}), "")
	f.Add([]byte{0x81, 0xa3, 'l', 'o', 'g', 0xc1}, "t")
	builders := map[string]*Builder{}
	for name, o := range map[string]Options{
		"transforms": {PartitionKey: pk("$TAG[1]-${kubernetes->pod_name}"), DataKeys: keys("log,kubernetes,ts"), ReplaceDots: "_", TimeKey: "ts", RecordIDKey: "id", AppendNewline: true, Compression: CompressionSnappy},
		"log_key":    {LogKey: path("kubernetes"), ReplaceDots: ":", Stream: tpl("$TAG")},
		"plain":      {PartitionKey: pk("kubernetes->pod_name")},
	} {
		b, err := New(o)
		if err != nil {
			f.Fatal(err)
		}
		builders[name] = b
	}
	f.Fuzz(func(t *testing.T, body []byte, tag string) {
		for name, b := range builders {
			var r Record
			err := b.Build(&r, chunk.Event{Sec: 1, Nsec: 2, Body: body}, Source{Tag: tag, Index: 1})
			if err != nil {
				if !errors.Is(err, chunk.ErrMalformed) && !errors.Is(err, chunk.ErrUnsupported) &&
					!errors.Is(err, ErrNoLogKey) && !errors.Is(err, ErrEmptyLogValue) && !errors.Is(err, ErrNoStream) {
					t.Fatalf("%s: unexpected error %v", name, err)
				}
			} else if len(r.Data) == 0 || (len(r.PartitionKey) == 0) != r.RandomKey || len([]rune(string(r.PartitionKey))) > maxPartitionKey {
				t.Fatalf("%s: record %q under key %q (random %v)", name, r.Data, r.PartitionKey, r.RandomKey)
			}
			checkLazyBuild(t, name, b, body, tag)
		}
	})
}

// checkLazyBuild puts body in a chunk's event and builds its record from
// the event read by Next and by NextLazy: the records and errors are the
// same, and a body that Next finds malformed fails Build with the Reader's
// error.
func checkLazyBuild(t *testing.T, name string, b *Builder, body []byte, tag string) {
	t.Helper()
	c := append([]byte{0x92, 0xd7, 0x00, 0, 0, 0, 1, 0, 0, 0, 2}, body...)
	src := Source{Tag: tag, Index: 1}
	var lazy chunk.Reader
	lazy.Reset(c)
	if !lazy.NextLazy() || lazy.Event().Err != nil {
		return // not an event with a body map: Next and NextLazy agree, as plugin/chunk tests
	}
	var got Record
	err := b.Build(&got, lazy.Event(), src)
	var eager chunk.Reader
	eager.Reset(c)
	if !eager.Next() {
		if err == nil || err != lazy.Err() || lazy.Err().Error() != eager.Err().Error() {
			t.Fatalf("%s: a malformed body gave %v; the lazy Reader's Err %v, Next's %v", name, err, lazy.Err(), eager.Err())
		}
		return
	}
	var want Record
	wantErr := b.Build(&want, eager.Event(), src)
	if fmt.Sprint(err) != fmt.Sprint(wantErr) || !bytes.Equal(got.Data, want.Data) || !bytes.Equal(got.PartitionKey, want.PartitionKey) ||
		got.RandomKey != want.RandomKey || !bytes.Equal(got.Stream, want.Stream) {
		t.Fatalf("%s: from NextLazy %q %q %v; from Next %q %q %v", name, got.Data, got.PartitionKey, err, want.Data, want.PartitionKey, wantErr)
	}
	// NextLazy finds a malformed body only when the body is walked: walk
	// the next event's before comparing with Next, which walks it at once.
	more := lazy.NextLazy()
	if next := lazy.Event(); more && next.Walk() != nil {
		more = false
	}
	if more != eager.Next() || fmt.Sprint(lazy.Err()) != fmt.Sprint(eager.Err()) {
		t.Fatalf("%s: after the event, NextLazy and Next disagree: %v, %v", name, lazy.Err(), eager.Err())
	}
}

func TestOversize(t *testing.T) {
	const limit = 2000
	long := strings.Repeat("é", 1500) // 3000 bytes
	ev := events(t, chunkOf(t, mp(t, ordered{{"log", long}, {"pk", "key"}})))[0]
	noise := make([]byte, 4000)
	state := uint64(7)
	for i := range noise {
		state = state*6364136223846793005 + 1442695040888963407
		noise[i] = 'a' + byte(state>>59) // 32 letters: barely compressible
	}
	noisy := events(t, chunkOf(t, mp(t, ordered{{"log", string(noise)}})))[0]
	tests := []struct {
		name      string
		o         Options
		ev        chunk.Event
		err       error
		truncated bool
	}{
		{"under the limit", Options{MaxRecordSize: 10000, LogKey: path("log")}, ev, nil, false},
		{"dropped", Options{MaxRecordSize: limit, LogKey: path("log")}, ev, ErrTooLarge, false},
		{"truncated at a character boundary", Options{MaxRecordSize: limit, Oversize: OversizeTruncate, LogKey: path("log"), PartitionKey: pk("pk")}, ev, nil, true},
		{"truncated JSON with its newline", Options{MaxRecordSize: limit, Oversize: OversizeTruncate, AppendNewline: true}, ev, nil, true},
		{"compressed record that fits", Options{MaxRecordSize: limit, Oversize: OversizeTruncate, Compression: CompressionGzip, LogKey: path("log")}, ev, nil, false},
		{"truncated, then compressed", Options{MaxRecordSize: limit, Oversize: OversizeTruncate, Compression: CompressionZstd}, noisy, nil, true},
		{"compressed and dropped", Options{MaxRecordSize: limit, Compression: CompressionSnappy}, noisy, ErrTooLarge, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, err := New(tt.o)
			if err != nil {
				t.Fatal(err)
			}
			var r Record
			err = b.Build(&r, tt.ev, Source{Tag: "t"})
			if !errors.Is(err, tt.err) || (err != nil) != (tt.err != nil) {
				t.Fatalf("Build error %v, want %v", err, tt.err)
			}
			if err != nil {
				return
			}
			key := len(r.PartitionKey)
			if r.RandomKey {
				key = producer.RandomKeyLen // the key the producer picks
			}
			if r.Truncated != tt.truncated || len(r.Data)+key > tt.o.MaxRecordSize {
				t.Fatalf("truncated %v, %d+%d bytes; want truncated %v within %d", r.Truncated, len(r.Data), key, tt.truncated, tt.o.MaxRecordSize)
			}
			if tt.o.Compression == CompressionNone {
				if !utf8.Valid(r.Data) || tt.o.AppendNewline != bytes.HasSuffix(r.Data, []byte("\n")) {
					t.Fatalf("data is not whole characters with its newline: %q", r.Data[max(0, len(r.Data)-8):])
				}
				if tt.truncated && len(r.Data)+key < tt.o.MaxRecordSize-utf8.UTFMax {
					t.Fatalf("cut to %d bytes, far below the limit", len(r.Data))
				}
			}
		})
	}
	for _, o := range []Options{{MaxRecordSize: -1}, {MaxRecordSize: 1000}, {Oversize: 7}} {
		if _, err := New(o); err == nil {
			t.Errorf("New(%+v) succeeded", o)
		}
	}
	for s, want := range map[string]Oversize{"": OversizeDrop, "drop": OversizeDrop, "Truncate": OversizeTruncate} {
		if got, err := ParseOversize(s); err != nil || got != want {
			t.Errorf("ParseOversize(%q) = %v, %v", s, got, err)
		}
	}
	if _, err := ParseOversize("cut"); err == nil {
		t.Error("ParseOversize(cut) succeeded")
	}
}

func TestCutUTF8(t *testing.T) {
	s := []byte("aé€😀")
	for n, want := range map[int]string{0: "", 1: "a", 2: "a", 3: "aé", 4: "aé", 5: "aé", 6: "aé€", 9: "aé€", 10: "aé€😀", 20: "aé€😀"} {
		if got := string(cutUTF8(s, n)); got != want {
			t.Errorf("cutUTF8(%d) = %q, want %q", n, got, want)
		}
	}
	if got := cutUTF8([]byte{0x80, 0x80, 0x80, 0x80, 0x80}, 3); len(got) != 3 {
		t.Errorf("cutting bytes that are not UTF-8 gives %d bytes, want 3", len(got))
	}
}
