package record

import (
	"bytes"
	"encoding/json"
	"errors"
	"reflect"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/kinesis-kpl/fluent-bit-kinesis-kpl/plugin/chunk"
)

// FuzzBuildMatchesReference checks the transforms the slow way. For any body
// that plugin/chunk turns into JSON (its byte-exact agreement with
// encoding/json is fuzzed there), the record Build makes, read back as an
// ordered JSON tree, equals that JSON's tree after the transforms are
// applied to the tree: time_key and record_id_key fields replaced and added,
// data_keys kept, dots replaced at every depth, log_key's value taken.
func FuzzBuildMatchesReference(f *testing.F) {
	f.Add(mp(f, k8sBody))
	f.Add(mp(f, ordered{{"a.b", ordered{{"c.d", []any{ordered{{"e.f", 1}}, "x.y"}}}}, {"ts", "old"}, {"log", ordered{{"k.k", true}}}}))
	f.Add(mp(f, ordered{{1.5, "x"}, {true, nil}, {"log", "\xff\u2028"}}))
	f.Add(mp(f, ordered{{"log", ""}, {"pk", "k"}}))
	configs := []Options{
		{DataKeys: keys("log,a.b,ts,1.5"), ReplaceDots: "_", TimeKey: "ts", TimeKeyFormat: "%s.%9N", RecordIDKey: "id"},
		{ReplaceDots: "->", TimeKey: "log"},
		{RecordIDKey: "log"},
		{LogKey: path("log"), ReplaceDots: "_"},
		{DataKeys: keys("kubernetes")},
	}
	builders := make([]*Builder, len(configs))
	for i, o := range configs {
		var err error
		if builders[i], err = New(o); err != nil {
			f.Fatal(err)
		}
	}
	id := NewChunkID("t", nil)
	f.Fuzz(func(t *testing.T, body []byte) {
		whole, err := chunk.AppendJSON(nil, body)
		if err != nil || len(whole) == 0 || whole[0] != '{' {
			return // not a map with a JSON form: other tests cover errors
		}
		ev := chunk.Event{Sec: 1772694489, Nsec: 123456789, Body: body}
		for i, b := range builders {
			o := configs[i]
			var r Record
			err := b.Build(&r, ev, Source{Tag: "t", Chunk: id, Index: 4})
			want, wantErr := referenceRecord(t, whole, o, b, ev, id)
			if wantErr != nil {
				if !errors.Is(err, wantErr) {
					t.Fatalf("%+v: Build error %v, want %v", o, err, wantErr)
				}
				continue
			}
			if err != nil {
				t.Fatalf("%+v: Build: %v", o, err)
			}
			got := r.Data
			if o.LogKey != nil {
				if s, ok := want.(string); ok {
					if replaceInvalid(got) != s {
						t.Fatalf("%+v: log_key record %q, want %q", o, got, s)
					}
					continue
				}
			}
			if tree := readTree(t, got); !reflect.DeepEqual(tree, want) {
				t.Fatalf("%+v: record %s\ntree %#v\nwant %#v", o, got, tree, want)
			}
		}
	})
}

// pair and object keep a JSON object's members in order.
type pair struct {
	key   string
	value any
}

type object []pair

// readTree reads one JSON value into strings, json.Numbers, bools, nil,
// []any and object.
func readTree(t *testing.T, data []byte) any {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	v, err := readValue(dec)
	if err != nil {
		t.Fatalf("reading %s: %v", data, err)
	}
	return v
}

func readValue(dec *json.Decoder) (any, error) {
	tok, err := dec.Token()
	if err != nil {
		return nil, err
	}
	switch tok {
	case json.Delim('{'):
		o := object{}
		for dec.More() {
			k, err := dec.Token()
			if err != nil {
				return nil, err
			}
			v, err := readValue(dec)
			if err != nil {
				return nil, err
			}
			o = append(o, pair{k.(string), v})
		}
		_, err := dec.Token()
		return o, err
	case json.Delim('['):
		a := []any{}
		for dec.More() {
			v, err := readValue(dec)
			if err != nil {
				return nil, err
			}
			a = append(a, v)
		}
		_, err := dec.Token()
		return a, err
	}
	return tok, nil
}

// referenceRecord applies o to the tree of whole, the body's JSON. For
// log_key a string value is returned as a Go string (the raw record).
func referenceRecord(t *testing.T, whole []byte, o Options, b *Builder, ev chunk.Event, id ChunkID) (any, error) {
	tree := readTree(t, whole).(object)
	timeText := ""
	if o.TimeKey != "" {
		timeText = string(b.timeFormat.Append(nil, ev.Sec, ev.Nsec))
	}
	if o.LogKey != nil {
		if len(o.LogKey) == 1 && o.LogKey[0] == o.TimeKey {
			return timeText, nil
		}
		for _, p := range tree {
			if len(o.LogKey) == 1 && p.key == o.LogKey[0] {
				if s, ok := p.value.(string); ok {
					if s == "" {
						return nil, ErrEmptyLogValue
					}
					// A string goes out raw; the JSON round trip has each
					// invalid byte as U+FFFD, and so must the comparison.
					return s, nil
				}
				return renameDots(p.value, o.ReplaceDots), nil
			}
		}
		return nil, ErrNoLogKey
	}
	keep := o.DataKeys
	out := object{}
	for _, p := range tree {
		if o.TimeKey != "" && p.key == o.TimeKey || o.RecordIDKey != "" && p.key == o.RecordIDKey || keep != nil && !slices.Contains(keep, p.key) {
			continue
		}
		out = append(out, p)
	}
	if o.TimeKey != "" && (keep == nil || slices.Contains(keep, o.TimeKey)) {
		out = append(out, pair{o.TimeKey, timeText})
	}
	if o.RecordIDKey != "" {
		out = append(out, pair{o.RecordIDKey, string(id.AppendRecordID(nil, 4))})
	}
	return renameDots(out, o.ReplaceDots), nil
}

func renameDots(v any, dots string) any {
	switch x := v.(type) {
	case object:
		out := object{}
		for _, p := range x {
			k := p.key
			if dots != "" {
				k = strings.ReplaceAll(k, ".", dots)
			}
			out = append(out, pair{k, renameDots(p.value, dots)})
		}
		return out
	case []any:
		out := make([]any, len(x))
		for i := range x {
			out[i] = renameDots(x[i], dots)
		}
		return out
	}
	return v
}

// replaceInvalid returns b with each byte of invalid UTF-8 as U+FFFD, as
// JSON writes it.
func replaceInvalid(b []byte) string {
	var sb strings.Builder
	for len(b) > 0 {
		r, size := utf8.DecodeRune(b)
		sb.WriteRune(r) // RuneError is U+FFFD
		b = b[size:]
	}
	return sb.String()
}
