package chunk

import (
	"bytes"
	"encoding/json"
	"errors"
	"math"
	"strings"
	"testing"

	"github.com/vmihailenco/msgpack/v5"
	"github.com/vmihailenco/msgpack/v5/msgpcode"
)

// Fuzz invariants:
//
// FuzzReader: Next never panics; every invalid event it returns carries only
// a *FormatError wrapping ErrInvalidEvent; every other event has a metadata (or
// none) and a body that are single well-formed msgpack maps by an
// independent decoder, lying in order inside the chunk; AppendJSON of a body
// never reports malformed bytes; Err is nil exactly when the whole chunk was
// consumed, and is otherwise a *FormatError past the valid prefix; re-reading
// the valid prefix gives the same events, the same count of skipped markers
// and no error. NextLazy gives the same events, counts, offset and error
// whether each body is left unwalked or walked by Walk, AppendJSON or
// AppendJSONMembers, and those write what they write for the exact body.
// At any offset where readCommonEvent reads an event, readAnyEvent reads the
// same one.
//
// FuzzAppendJSON: never panics; on success the output is valid JSON; on
// error dst is unchanged; whenever an independent decoder
// (github.com/vmihailenco/msgpack/v5) reads the input, the output equals
// encoding/json's for the decoded value, and the error classes agree.

func fuzzSeeds() [][]byte {
	return [][]byte{
		nil,
		richChunk(),
		containerLogChunk(2, false),
		containerLogChunk(2, true),
		allTypesMap(),
		eventV2(fixint(-1), someMD, mapOf()),
		eventV2(timeExt(0xFFFFFFFF, 0), emptyMD, mapOf()),
		eventV2(timeExt(1, 2), someMD, body1),
		eventV2(timeExt(1, 2), mapOf(mapOf(), fixint(1)), body1),
		eventV2(timeExt(1, 2), cat(map32(1), fixstr("a"), fixint(1)), cat(map32(1), fixstr("b"), fixint(2))),
		eventV2(timeExt(1, 2), map32(0), map16(0)),
		eventV1(f64(1.5), mapOf(fixstr("k"), array(mapOf(mpNil(), fixint(1))))),
		eventV1(fixstr("bad"), body1),
		cat(map32(math.MaxUint32), fixstr("a")),
		mapOf(fixstr("s"), str(strings.Repeat("plain text ", 30)+"\t\"tail\"")),
		mapOf(str("\u2028\xff\x00<&>"), f32(1e21), fixstr("t"), timeExt(1, 2)),
		[]byte{0xc1},
	}
}

func FuzzReader(f *testing.F) {
	for _, s := range fuzzSeeds() {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, chunk []byte) {
		var r Reader
		r.Reset(chunk)
		var events []Event
		prevEnd := 0
		for r.Next() {
			ev := r.Event()
			events = append(events, ev)
			if ev.Err != nil {
				var fe *FormatError
				if !errors.As(ev.Err, &fe) || !errors.Is(ev.Err, ErrInvalidEvent) || fe.Event != len(events)-1+r.Skipped() ||
					ev.Body != nil || ev.Metadata != nil || ev.Sec != 0 || ev.Nsec != 0 {
					t.Fatalf("invalid event %+v, want only a *FormatError wrapping ErrInvalidEvent", ev)
				}
				continue
			}
			if ev.Nsec < 0 || ev.Nsec >= 1e9 || ev.Sec < 0 {
				t.Fatalf("event time %d.%d out of range", ev.Sec, ev.Nsec)
			}
			if ev.Metadata != nil {
				start := offsetIn(t, chunk, ev.Metadata)
				if start < prevEnd {
					t.Fatal("metadata overlaps an earlier value")
				}
				requireMap(t, ev.Metadata)
				prevEnd = start + len(ev.Metadata)
			}
			start := offsetIn(t, chunk, ev.Body)
			if start < prevEnd {
				t.Fatal("body overlaps an earlier value")
			}
			requireMap(t, ev.Body)
			prevEnd = start + len(ev.Body)
			if _, err := AppendJSON(nil, ev.Body); errors.Is(err, ErrMalformed) {
				t.Fatalf("the Reader accepted a body that AppendJSON calls malformed: %v", err)
			}
		}
		if r.Offset() < prevEnd || r.Offset() > len(chunk) {
			t.Fatalf("Offset() = %d, outside [%d, %d]", r.Offset(), prevEnd, len(chunk))
		}
		err := r.Err()
		if (err == nil) != (r.Offset() == len(chunk)) {
			t.Fatalf("Err() = %v with %d of %d bytes consumed", err, r.Offset(), len(chunk))
		}
		if err != nil {
			var fe *FormatError
			if !errors.As(err, &fe) || !errors.Is(err, ErrMalformed) {
				t.Fatalf("Err() = %v, want a *FormatError wrapping ErrMalformed", err)
			}
			if fe.Offset < r.Offset() || fe.Offset > len(chunk) || fe.Event != len(events)+r.Skipped() {
				t.Fatalf("FormatError %+v does not fit: offset %d, %d events", *fe, r.Offset(), len(events)+r.Skipped())
			}
		}
		for off := range chunk {
			ev, body, ok := readCommonEvent(chunk, off)
			if !ok {
				continue
			}
			anyEv, anyBody, marker, _, why := readAnyEvent(chunk, off)
			if why != rNone || marker || body != anyBody || ev.Sec != anyEv.Sec || ev.Nsec != anyEv.Nsec ||
				!bytes.Equal(ev.Metadata, anyEv.Metadata) || (ev.Metadata == nil) != (anyEv.Metadata == nil) || cap(ev.Metadata) != cap(anyEv.Metadata) {
				t.Fatalf("at %d: readCommonEvent %+v, body at %d; readAnyEvent %+v, body at %d, marker %v, %v", off, ev, body, anyEv, anyBody, marker, why)
			}
		}
		want := make([]wantEvent, len(events))
		for i, ev := range events {
			want[i] = wantEvent{sec: ev.Sec, nsec: ev.Nsec, metadata: ev.Metadata, body: ev.Body}
			errors.As(ev.Err, &want[i].invalid)
		}
		checkLazy(t, chunk, want, &r)
		var again Reader
		again.Reset(chunk[:r.Offset()])
		for i := 0; again.Next(); i++ {
			ev := again.Event()
			if i >= len(events) || ev.Sec != events[i].Sec || ev.Nsec != events[i].Nsec || (ev.Err == nil) != (events[i].Err == nil) ||
				!bytes.Equal(ev.Metadata, events[i].Metadata) || !bytes.Equal(ev.Body, events[i].Body) {
				t.Fatalf("re-reading the valid prefix differs at event %d", i)
			}
		}
		if again.Err() != nil || again.Skipped() != r.Skipped() {
			t.Fatalf("re-reading the valid prefix: Err() = %v, Skipped() = %d, want nil, %d", again.Err(), again.Skipped(), r.Skipped())
		}
	})
}

// offsetIn returns where sub starts in chunk, failing if it is not inside.
func offsetIn(t *testing.T, chunk, sub []byte) int {
	t.Helper()
	if len(sub) == 0 || len(chunk) == 0 {
		t.Fatal("empty value")
	}
	for i := range chunk {
		if &chunk[i] == &sub[0] {
			if i+len(sub) > len(chunk) {
				t.Fatal("value runs past the chunk")
			}
			return i
		}
	}
	t.Fatal("value does not alias the chunk")
	return 0
}

// requireMap checks with the independent decoder that b is exactly one map.
func requireMap(t *testing.T, b []byte) {
	t.Helper()
	r := bytes.NewReader(b)
	d := msgpack.NewDecoder(r)
	c, err := d.PeekCode()
	if err != nil || !(msgpcode.IsFixedMap(c) || c == msgpcode.Map16 || c == msgpcode.Map32) {
		t.Fatalf("value is not a map (code %#x, %v)", c, err)
	}
	if err := d.Skip(); err != nil || r.Len() != 0 {
		t.Fatalf("value is not one well-formed msgpack value: %v, %d bytes left", err, r.Len())
	}
}

func FuzzAppendJSON(f *testing.F) {
	for _, s := range fuzzSeeds() {
		f.Add(s)
	}
	var r Reader
	for _, s := range fuzzSeeds() {
		r.Reset(s)
		for r.Next() {
			f.Add(r.Event().Body)
		}
	}
	f.Fuzz(func(t *testing.T, value []byte) {
		got, err := AppendJSON([]byte("x"), value)
		if err != nil {
			if string(got) != "x" {
				t.Fatal("dst changed on error")
			}
			var fe *FormatError
			if !errors.As(err, &fe) || fe.Offset < 0 || fe.Offset > len(value) {
				t.Fatalf("error %v is not a *FormatError inside the value", err)
			}
		} else if !json.Valid(got[1:]) {
			t.Fatalf("output is not valid JSON: %s", got[1:])
		}
		ref, refErr := decodeReference(value)
		switch {
		case refErr == nil:
			if err != nil {
				t.Fatalf("AppendJSON: %v; the reference decoder read the value", err)
			}
			if want := stdJSON(t, ref); string(got[1:]) != want {
				t.Fatalf("AppendJSON = %s, encoding/json = %s", got[1:], want)
			}
			checkTransforms(t, value, ref)
		case errors.Is(refErr, errRefUnsupported):
			if !errors.Is(err, ErrUnsupported) {
				t.Fatalf("AppendJSON error %v, want ErrUnsupported (reference: %v)", err, refErr)
			}
		default:
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("AppendJSON error %v, want ErrMalformed (reference: %v)", err, refErr)
			}
		}
	})
}

func FuzzLookup(f *testing.F) {
	for _, s := range fuzzSeeds() {
		f.Add(s, "kubernetes", "labels")
	}
	f.Add(allTypesMap(), "map16", "k")
	f.Fuzz(func(t *testing.T, m []byte, k1, k2 string) {
		v, found, err := Lookup(m, []string{k1, k2})
		if err != nil && found {
			t.Fatal("found and an error")
		}
		if found {
			end, why := skipValue(v, 0)
			if why != rNone || end != len(v) {
				t.Fatal("the value found is not one well-formed value")
			}
			if _, _, err := AppendText(nil, v); err != nil {
				t.Fatalf("AppendText of a found value: %v", err)
			}
		}
	})
}

// checkTransforms checks AppendJSONWith and AppendJSONMembers against the
// reference value ref of value, renamed and filtered the slow way.
func checkTransforms(t *testing.T, value []byte, ref any) {
	t.Helper()
	o := JSONOptions{ReplaceDots: "_\u00e9"}
	got, err := AppendJSONWith(nil, value, o)
	if err != nil {
		t.Fatalf("AppendJSONWith: %v; AppendJSON read the value", err)
	}
	if want := stdJSON(t, refReplaceDots(ref, o.ReplaceDots)); string(got) != want {
		t.Fatalf("AppendJSONWith = %s, want %s", got, want)
	}
	m, isMap := ref.(refMap)
	if !isMap {
		return
	}
	o.Keep = func(name []byte) bool { return len(name)%2 == 0 }
	members, n, err := AppendJSONMembers(nil, value, o)
	if err != nil {
		t.Fatalf("AppendJSONMembers: %v; AppendJSON read the value", err)
	}
	var kept refMap
	for _, p := range refReplaceDots(m, "").(refMap) {
		if len(p.key)%2 == 0 {
			kept = append(kept, p)
		}
	}
	want := stdJSON(t, refReplaceDots(kept, o.ReplaceDots))
	if got := "{" + string(members) + "}"; got != want || n != len(kept) {
		t.Fatalf("AppendJSONMembers = %s (%d members), want %s (%d)", got, n, want, len(kept))
	}
}

// refReplaceDots returns v with '.' in every map key replaced by dots.
func refReplaceDots(v any, dots string) any {
	switch x := v.(type) {
	case refMap:
		out := refMap{}
		for _, p := range x {
			key := p.key
			if dots != "" {
				key = strings.ReplaceAll(key, ".", dots)
			}
			out = append(out, refPair{key, refReplaceDots(p.value, dots)})
		}
		return out
	case []any:
		out := make([]any, len(x))
		for i := range x {
			out[i] = refReplaceDots(x[i], dots)
		}
		return out
	}
	return v
}

// errRefUnsupported marks input that the reference decoder read but that has
// no JSON form under the package's rules.
var errRefUnsupported = errors.New("reference: no JSON form")

// decodeReference decodes value with the independent decoder into what
// encoding/json should write: maps as refMap to keep their order, bin as
// string, NaN and Inf as nil, EventTime as float seconds, other ext as nil.
func decodeReference(value []byte) (any, error) {
	r := bytes.NewReader(value)
	v, err := refDecode(refDecoder{msgpack.NewDecoder(r), r}, 1)
	if err == nil && r.Len() != 0 {
		err = errors.New("reference: trailing bytes")
	}
	return v, err
}

// refDecoder is the reference decoder with the reader under it, which it
// reads without buffering, so that a string's declared length can be checked
// against what is left before the library allocates that much.
type refDecoder struct {
	*msgpack.Decoder
	r *bytes.Reader
}

// longerThanInput reports whether the str or bin value that starts with code
// c declares more bytes than the input has left.
func (d refDecoder) longerThanInput(c byte) bool {
	var width int
	switch c {
	case msgpcode.Str8, msgpcode.Bin8:
		width = 1
	case msgpcode.Str16, msgpcode.Bin16:
		width = 2
	case msgpcode.Str32, msgpcode.Bin32:
		width = 4
	default:
		return false
	}
	head := make([]byte, 1+width)
	if n, _ := d.r.ReadAt(head, d.r.Size()-int64(d.r.Len())); n < len(head) {
		return false // the library reports the short header
	}
	var n int64
	for _, b := range head[1:] {
		n = n<<8 | int64(b)
	}
	return n > int64(d.r.Len()-len(head))
}

func refDecode(d refDecoder, depth int) (any, error) {
	c, err := d.PeekCode()
	if err != nil {
		return nil, err
	}
	switch {
	case msgpcode.IsFixedMap(c) || c == msgpcode.Map16 || c == msgpcode.Map32:
		n, err := d.DecodeMapLen()
		if err != nil {
			return nil, err
		}
		if depth > MaxDepth {
			return nil, errRefUnsupported
		}
		m := refMap{}
		for range n {
			k, err := refKey(d)
			if err != nil {
				return nil, err
			}
			v, err := refDecode(d, depth+1)
			if err != nil {
				return nil, err
			}
			m = append(m, refPair{k, v})
		}
		return m, nil
	case msgpcode.IsFixedArray(c) || c == msgpcode.Array16 || c == msgpcode.Array32:
		n, err := d.DecodeArrayLen()
		if err != nil {
			return nil, err
		}
		if depth > MaxDepth {
			return nil, errRefUnsupported
		}
		a := []any{}
		for range n {
			v, err := refDecode(d, depth+1)
			if err != nil {
				return nil, err
			}
			a = append(a, v)
		}
		return a, nil
	case msgpcode.IsExt(c) || msgpcode.IsFixedExt(c):
		id, n, err := d.DecodeExtHeader()
		if err != nil {
			return nil, err
		}
		if n > 1<<20 { // more than any fuzz input
			return nil, errors.New("reference: ext longer than the input")
		}
		data := make([]byte, n)
		if err := d.ReadFull(data); err != nil {
			return nil, err
		}
		if id == 0 && n == 8 {
			sec := uint64(data[0])<<24 | uint64(data[1])<<16 | uint64(data[2])<<8 | uint64(data[3])
			nsec := uint64(data[4])<<24 | uint64(data[5])<<16 | uint64(data[6])<<8 | uint64(data[7])
			return float64(sec) + float64(nsec)/1e9, nil
		}
		return nil, nil
	}
	if d.longerThanInput(c) {
		return nil, errors.New("reference: string longer than the input")
	}
	v, err := d.DecodeInterface()
	if err != nil {
		return nil, err
	}
	switch x := v.(type) {
	case []byte:
		return string(x), nil
	case float32:
		if math.IsNaN(float64(x)) || math.IsInf(float64(x), 0) {
			return nil, nil
		}
	case float64:
		if math.IsNaN(x) || math.IsInf(x, 0) {
			return nil, nil
		}
	}
	return v, nil
}

// refKey decodes a map key: strings and bin as themselves, any other
// scalar as the JSON text encoding/json writes for its decoded value.
func refKey(d refDecoder) (string, error) {
	c, err := d.PeekCode()
	if err != nil {
		return "", err
	}
	if msgpcode.IsFixedMap(c) || c == msgpcode.Map16 || c == msgpcode.Map32 ||
		msgpcode.IsFixedArray(c) || c == msgpcode.Array16 || c == msgpcode.Array32 {
		// A key of another type is unsupported only if it is well-formed.
		if err := d.Skip(); err != nil {
			return "", err
		}
		return "", errRefUnsupported
	}
	v, err := refDecode(d, 1)
	if err != nil {
		return "", err
	}
	if s, ok := v.(string); ok {
		return s, nil
	}
	text, err := json.Marshal(v)
	return string(text), err
}

type refPair struct {
	key   string
	value any
}

// refMap is a map that encoding/json writes in its own order.
type refMap []refPair

func (m refMap) MarshalJSON() ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	buf.WriteByte('{')
	for i, p := range m {
		if i > 0 {
			buf.WriteByte(',')
		}
		if err := enc.Encode(p.key); err != nil {
			return nil, err
		}
		buf.Truncate(buf.Len() - 1) // Encode's newline
		buf.WriteByte(':')
		if err := enc.Encode(p.value); err != nil {
			return nil, err
		}
		buf.Truncate(buf.Len() - 1)
	}
	buf.WriteByte('}')
	return buf.Bytes(), nil
}
