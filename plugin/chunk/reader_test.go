package chunk

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"testing"
)

// wantEvent is what a test expects of one Event.
type wantEvent struct {
	sec, nsec int64
	metadata  []byte // nil for the 1.x form
	body      []byte
	invalid   *FormatError // the Err of an invalid event
}

func readAll(t *testing.T, chunk []byte) ([]wantEvent, int, error) {
	t.Helper()
	var r Reader
	r.Reset(chunk)
	var got []wantEvent
	invalid := 0
	for r.Next() {
		ev := r.Event()
		w := wantEvent{sec: ev.Sec, nsec: ev.Nsec, metadata: ev.Metadata, body: ev.Body}
		if ev.Err != nil {
			invalid++
			if !errors.As(ev.Err, &w.invalid) || !errors.Is(ev.Err, ErrInvalidEvent) {
				t.Fatalf("Event().Err = %v, want a *FormatError wrapping ErrInvalidEvent", ev.Err)
			}
			if ev.Sec != 0 || ev.Nsec != 0 || ev.Metadata != nil || ev.Body != nil {
				t.Fatal("an invalid event has fields besides Err")
			}
		}
		got = append(got, w)
	}
	if r.Invalid() != invalid {
		t.Fatalf("Invalid() = %d, want %d", r.Invalid(), invalid)
	}
	if r.Next() {
		t.Fatal("Next returned true after returning false")
	}
	if ev := r.Event(); ev.Body != nil || ev.Metadata != nil {
		t.Fatal("Event is not empty after the end")
	}
	checkLazy(t, chunk, got, &r)
	return got, r.Skipped(), r.Err()
}

// lazyWalks are the ways a caller of NextLazy can end an event: leave its
// body to the next NextLazy, or walk it with one of the event's methods.
var lazyWalks = []struct {
	name string
	walk func(*Event) ([]byte, error)
	// exact does the same to a body already cut to its end.
	exact func([]byte) ([]byte, error)
}{
	{"unwalked", nil, nil},
	{"Walk", func(e *Event) ([]byte, error) { return nil, e.Walk() }, func([]byte) ([]byte, error) { return nil, nil }},
	{"AppendJSON", func(e *Event) ([]byte, error) { return e.AppendJSON([]byte("x")) },
		func(b []byte) ([]byte, error) { return AppendJSON([]byte("x"), b) }},
	{"AppendJSONMembers", func(e *Event) ([]byte, error) {
		out, _, err := e.AppendJSONMembers([]byte("x"), JSONOptions{ReplaceDots: "_"})
		return out, err
	}, func(b []byte) ([]byte, error) {
		out, _, err := AppendJSONMembers([]byte("x"), b, JSONOptions{ReplaceDots: "_"})
		return out, err
	}},
}

// checkLazy reads chunk with NextLazy, ending each event in each of the
// ways of lazyWalks, and requires what Next gave: the events want, and
// eager's counts, offset and error. An event whose body turns out
// malformed is one that Next did not return: its walk must give the
// Reader's error.
func checkLazy(t *testing.T, chunk []byte, want []wantEvent, eager *Reader) {
	t.Helper()
	for _, w := range lazyWalks {
		var r Reader
		r.Reset(chunk)
		var got []wantEvent
		last := -1 // the index of the last event returned with its body unwalked
		for r.NextLazy() {
			ev := r.Event()
			last = -1
			if ev.Err == nil {
				last = r.index
			}
			g := wantEvent{sec: ev.Sec, nsec: ev.Nsec, metadata: ev.Metadata, body: ev.Body}
			if ev.Err != nil {
				errors.As(ev.Err, &g.invalid)
			} else if w.walk != nil {
				out, err := w.walk(&ev)
				if errors.Is(err, ErrMalformed) {
					if err != r.Err() || r.NextLazy() {
						t.Fatalf("%s: a malformed body gave %v, not the Reader's error %v", w.name, err, r.Err())
					}
					break
				}
				if ev.from != nil || cap(ev.Body) != len(ev.Body) {
					t.Fatalf("%s: Body not cut to the body after the walk", w.name)
				}
				if r.Event().from != nil || !bytes.Equal(r.Event().Body, ev.Body) {
					t.Fatalf("%s: the Reader's Event() did not learn the body's end", w.name)
				}
				g.body = ev.Body
				if want, wantErr := w.exact(ev.Body); !bytes.Equal(out, want) || fmt.Sprint(err) != fmt.Sprint(wantErr) {
					t.Fatalf("%s: wrote %q, %v; on the exact body %q, %v", w.name, out, err, want, wantErr)
				}
			} else if i := len(got); i < len(want) && want[i].body != nil {
				// Unwalked, Body runs on to the end of the chunk.
				if len(ev.Body) < len(want[i].body) || &ev.Body[0] != &want[i].body[0] {
					t.Fatalf("%s: event %d: Body does not begin with the body", w.name, i)
				}
				g.body = ev.Body[:len(want[i].body)]
			}
			got = append(got, g)
		}
		var fe *FormatError
		if w.walk == nil && errors.As(r.Err(), &fe) && fe.Event == last {
			got = got[:len(got)-1] // its body was found malformed: Next would not have returned it
		}
		sameEvents(t, got, want)
		if r.Skipped() != eager.Skipped() || r.Invalid() != eager.Invalid() || r.Offset() != eager.Offset() {
			t.Fatalf("%s: Skipped, Invalid, Offset = %d, %d, %d; Next gave %d, %d, %d", w.name,
				r.Skipped(), r.Invalid(), r.Offset(), eager.Skipped(), eager.Invalid(), eager.Offset())
		}
		var lazyErr, eagerErr *FormatError
		if errors.As(r.Err(), &lazyErr) != errors.As(eager.Err(), &eagerErr) || lazyErr != nil && *lazyErr != *eagerErr {
			t.Fatalf("%s: Err() = %v, Next gave %v", w.name, r.Err(), eager.Err())
		}
	}
}

func sameEvents(t *testing.T, got, want []wantEvent) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("got %d events, want %d", len(got), len(want))
	}
	for i := range want {
		g, w := got[i], want[i]
		if g.sec != w.sec || g.nsec != w.nsec {
			t.Errorf("event %d: time %d.%09d, want %d.%09d", i, g.sec, g.nsec, w.sec, w.nsec)
		}
		if (g.metadata == nil) != (w.metadata == nil) || !bytes.Equal(g.metadata, w.metadata) {
			t.Errorf("event %d: metadata % x, want % x", i, g.metadata, w.metadata)
		}
		if !bytes.Equal(g.body, w.body) {
			t.Errorf("event %d: body % x, want % x", i, g.body, w.body)
		}
		if (g.invalid == nil) != (w.invalid == nil) || g.invalid != nil && *g.invalid != *w.invalid {
			t.Errorf("event %d: invalid %+v, want %+v", i, g.invalid, w.invalid)
		}
	}
}

var (
	body1   = mapOf(fixstr("log"), fixstr("hello"), fixstr("n"), fixint(1))
	body2   = mapOf(fixstr("msg"), str8("a string that is longer than thirty-one bytes"))
	emptyMD = mapOf()
	someMD  = mapOf(fixstr("otlp"), mapOf(fixstr("trace_id"), bin8("0123456789abcdef")))
)

func TestReaderEvents(t *testing.T) {
	tests := []struct {
		name    string
		chunk   []byte
		want    []wantEvent
		skipped int
	}{
		{"empty chunk", nil, nil, 0},
		{"v1 fixext8 time", eventV1(timeExt(1700000000, 123456789), body1),
			[]wantEvent{{1700000000, 123456789, nil, body1, nil}}, 0},
		{"v1 ext8 time", eventV1(timeExt8(1700000001, 5), body1),
			[]wantEvent{{1700000001, 5, nil, body1, nil}}, 0},
		{"v1 ext16 time of 8 bytes", eventV1(ext16(0, cat(be32(7), be32(8))), body1),
			[]wantEvent{{7, 8, nil, body1, nil}}, 0},
		{"v1 EventTime seconds past 2^31 are not markers", eventV1(timeExt(0xFFFFFFFF, 0), body1),
			[]wantEvent{{0xFFFFFFFF, 0, nil, body1, nil}}, 0},
		{"nanoseconds past a second are carried", eventV1(timeExt(10, 2_500_000_000), body1),
			[]wantEvent{{12, 500_000_000, nil, body1, nil}}, 0},
		{"v1 positive fixint time", eventV1(fixint(0), body1), []wantEvent{{0, 0, nil, body1, nil}}, 0},
		{"v1 uint8 time", eventV1(u8(200), body1), []wantEvent{{200, 0, nil, body1, nil}}, 0},
		{"v1 uint16 time", eventV1(u16(60000), body1), []wantEvent{{60000, 0, nil, body1, nil}}, 0},
		{"v1 uint32 time", eventV1(u32(1700000000), body1), []wantEvent{{1700000000, 0, nil, body1, nil}}, 0},
		{"v1 uint64 time", eventV1(u64(math.MaxInt64), body1), []wantEvent{{math.MaxInt64, 0, nil, body1, nil}}, 0},
		{"v1 int8 time", eventV1(i8(100), body1), []wantEvent{{100, 0, nil, body1, nil}}, 0},
		{"v1 int16 time", eventV1(i16(30000), body1), []wantEvent{{30000, 0, nil, body1, nil}}, 0},
		{"v1 int32 time", eventV1(i32(1700000000), body1), []wantEvent{{1700000000, 0, nil, body1, nil}}, 0},
		{"v1 int64 time", eventV1(i64(1700000000), body1), []wantEvent{{1700000000, 0, nil, body1, nil}}, 0},
		{"v1 float64 time", eventV1(f64(1700000000.25), body1), []wantEvent{{1700000000, 250_000_000, nil, body1, nil}}, 0},
		{"v1 float32 time", eventV1(f32(1.5), body1), []wantEvent{{1, 500_000_000, nil, body1, nil}}, 0},
		{"float time rounding up to the next second", eventV1(f64(math.Nextafter(2, 0)), body1),
			[]wantEvent{{2, 0, nil, body1, nil}}, 0},
		{"v2 empty metadata", eventV2(timeExt(1700000000, 1), emptyMD, body1),
			[]wantEvent{{1700000000, 1, emptyMD, body1, nil}}, 0},
		{"v2 metadata", eventV2(timeExt(1700000000, 1), someMD, body2),
			[]wantEvent{{1700000000, 1, someMD, body2, nil}}, 0},
		{"v2 integer time", eventV2(u32(5), emptyMD, body1), []wantEvent{{5, 0, emptyMD, body1, nil}}, 0},
		{"empty body", eventV1(timeExt(1, 0), mapOf()), []wantEvent{{1, 0, nil, mapOf(), nil}}, 0},
		{"body as map16 and map32", cat(
			eventV1(timeExt(1, 0), cat(map16(1), fixstr("a"), fixint(1))),
			eventV1(timeExt(2, 0), cat(map32(1), fixstr("b"), fixint(2)))),
			[]wantEvent{
				{1, 0, nil, cat(map16(1), fixstr("a"), fixint(1)), nil},
				{2, 0, nil, cat(map32(1), fixstr("b"), fixint(2)), nil}}, 0},
		{"event as array16 and array32", cat(
			cat(array16(2), timeExt(1, 0), body1),
			cat(array32(2), cat(array16(2), timeExt(2, 0), emptyMD), body2)),
			[]wantEvent{{1, 0, nil, body1, nil}, {2, 0, emptyMD, body2, nil}}, 0},
		{"both forms in one chunk", cat(
			eventV1(timeExt(1, 1), body1),
			eventV2(timeExt(2, 2), someMD, body2),
			eventV1(u8(3), body2)),
			[]wantEvent{{1, 1, nil, body1, nil}, {2, 2, someMD, body2, nil}, {3, 0, nil, body2, nil}}, 0},
		{"group markers as integers", cat(
			eventV2(fixint(-1), someMD, mapOf(fixstr("resource"), mapOf())),
			eventV2(timeExt(1, 0), emptyMD, body1),
			eventV2(fixint(-2), emptyMD, mapOf())),
			[]wantEvent{{1, 0, emptyMD, body1, nil}}, 2},
		{"group markers in wider integers", cat(
			eventV2(i8(-1), emptyMD, mapOf()),
			eventV2(i64(-2), emptyMD, mapOf()),
			eventV2(timeExt(1, 0), emptyMD, body1)),
			[]wantEvent{{1, 0, emptyMD, body1, nil}}, 2},
		{"group markers as Fluent Bit writes them", cat(
			eventV2(timeExt(0xFFFFFFFF, 0), someMD, mapOf()),
			eventV2(timeExt(1, 0), emptyMD, body1),
			eventV2(timeExt(2, 0), emptyMD, body2),
			eventV2(timeExt(0xFFFFFFFE, 0), emptyMD, mapOf())),
			[]wantEvent{{1, 0, emptyMD, body1, nil}, {2, 0, emptyMD, body2, nil}}, 2},
		{"v2 EventTime seconds past 2^31 other than markers are times", eventV2(timeExt(0xFFFFFFFD, 0), emptyMD, body1),
			[]wantEvent{{0xFFFFFFFD, 0, emptyMD, body1, nil}}, 0},
		{"only markers", cat(
			eventV2(fixint(-1), emptyMD, mapOf()),
			eventV2(fixint(-2), emptyMD, mapOf())), nil, 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, skipped, err := readAll(t, tt.chunk)
			if err != nil {
				t.Fatalf("Err() = %v", err)
			}
			sameEvents(t, got, tt.want)
			if skipped != tt.skipped {
				t.Errorf("Skipped() = %d, want %d", skipped, tt.skipped)
			}
		})
	}
}

func TestReaderAliasesChunk(t *testing.T) {
	chunk := eventV2(timeExt(1, 0), someMD, body1)
	var r Reader
	r.Reset(chunk)
	if !r.Next() {
		t.Fatal(r.Err())
	}
	ev := r.Event()
	if cap(ev.Body) != len(ev.Body) || cap(ev.Metadata) != len(ev.Metadata) {
		t.Error("Body or Metadata capacity reaches past the value")
	}
	if &ev.Body[0] != &chunk[len(chunk)-len(body1)] {
		t.Error("Body does not alias the chunk")
	}
	if r.Offset() != len(chunk) {
		t.Errorf("Offset() = %d, want %d", r.Offset(), len(chunk))
	}
}

func TestReaderReset(t *testing.T) {
	var r Reader
	r.Reset([]byte{0x92})
	if r.Next() || r.Err() == nil {
		t.Fatal("want an error for a truncated chunk")
	}
	r.Reset(eventV2(fixint(-1), emptyMD, mapOf()))
	if r.Next() || r.Err() != nil || r.Skipped() != 1 {
		t.Fatalf("after Reset: Err() = %v, Skipped() = %d", r.Err(), r.Skipped())
	}
	r.Reset(eventV1(timeExt(1, 0), body1))
	if !r.Next() || r.Skipped() != 0 || r.Err() != nil {
		t.Fatalf("Reset did not clear the state: Err() = %v, Skipped() = %d", r.Err(), r.Skipped())
	}
}

func TestReaderErrors(t *testing.T) {
	good := eventV1(timeExt(1, 0), body1)
	goodV2 := eventV2(timeExt(1, 0), emptyMD, body1)
	tests := []struct {
		name   string
		chunk  []byte
		events int    // events read before the error
		event  int    // FormatError.Event
		offset int    // FormatError.Offset
		reason reason // FormatError.Reason
	}{
		{"not an array", fixint(1), 0, 0, 0, rEventNotArray},
		{"a map", body1, 0, 0, 0, rEventNotArray},
		{"trailing garbage", cat(good, []byte{0x01}), 1, 1, len(good), rEventNotArray},
		{"trailing truncated event", cat(good, []byte{0x92}), 1, 1, len(good) + 1, rTruncated},
		{"unused type byte", []byte{0xc1}, 0, 0, 0, rBadCode},
		{"array of 1", array(timeExt(1, 0)), 0, 0, 0, rEventSize},
		{"array of 3", array(timeExt(1, 0), body1, body1), 0, 0, 0, rEventSize},
		{"empty array", array(), 0, 0, 0, rEventSize},
		{"header of 3", array(array(timeExt(1, 0), emptyMD, emptyMD), body1), 0, 0, 1, rHeaderSize},
		{"header of 1", array(array(timeExt(1, 0)), body1), 0, 0, 1, rHeaderSize},
		{"time is a string", eventV1(fixstr("1700000000"), body1), 0, 0, 1, rTimeType},
		{"time is nil", eventV1(mpNil(), body1), 0, 0, 1, rTimeType},
		{"time is a bool", eventV1(mpBool(true), body1), 0, 0, 1, rTimeType},
		{"time is a map", eventV1(mapOf(), body1), 0, 0, 1, rTimeType},
		{"time in v2 is a string", eventV2(fixstr("x"), emptyMD, body1), 0, 0, 2, rTimeType},
		{"time ext of type 1", eventV1(fixext(1, make([]byte, 8)), body1), 0, 0, 1, rTimeExt},
		{"time ext of 4 bytes", eventV1(fixext(0, make([]byte, 4)), body1), 0, 0, 1, rTimeExt},
		{"time ext of 12 bytes", eventV1(ext8(0, make([]byte, 12)), body1), 0, 0, 1, rTimeExt},
		{"negative time in v1", eventV1(fixint(-1), body1), 0, 0, 1, rTimeNegative},
		{"group marker time in v1", eventV1(i64(-2), body1), 0, 0, 1, rTimeNegative},
		{"negative time in v2", eventV2(fixint(-3), emptyMD, body1), 0, 0, 2, rTimeNegative},
		{"negative time after a good event", cat(goodV2, eventV2(i16(-300), emptyMD, body1)), 1, 1, len(goodV2) + 2, rTimeNegative},
		{"negative float time", eventV1(f64(-0.5), body1), 0, 0, 1, rTimeNegative},
		{"NaN time", eventV1(f64(math.NaN()), body1), 0, 0, 1, rTimeRange},
		{"infinite time", eventV1(f64(math.Inf(1)), body1), 0, 0, 1, rTimeRange},
		{"float32 infinite time", eventV1(f32(float32(math.Inf(1))), body1), 0, 0, 1, rTimeRange},
		{"time too large for int64", eventV1(u64(math.MaxInt64+1), body1), 0, 0, 1, rTimeRange},
		{"float time too large for int64", eventV1(f64(1<<63), body1), 0, 0, 1, rTimeRange},
		{"metadata is an array", eventV2(timeExt(1, 0), array(), body1), 0, 0, 12, rMetadataNotMap},
		{"metadata is nil", eventV2(timeExt(1, 0), mpNil(), body1), 0, 0, 12, rMetadataNotMap},
		{"body is a string", eventV1(timeExt(1, 0), fixstr("log line")), 0, 0, 11, rBodyNotMap},
		{"body is an array", eventV1(timeExt(1, 0), array(body1)), 0, 0, 11, rBodyNotMap},
		{"body is nil", eventV1(timeExt(1, 0), mpNil()), 0, 0, 11, rBodyNotMap},
		{"marker body is not a map", eventV2(fixint(-1), emptyMD, fixint(0)), 0, 0, 4, rBodyNotMap},
		{"body truncated", cat(good, eventV1(timeExt(1, 0), cat(mapHdr(2), fixstr("a"), fixint(1)))), 1, 1, len(good) + 15, rTruncated},
		{"string in body longer than the chunk", eventV1(timeExt(1, 0), cat(mapHdr(1), fixstr("a"), []byte{0xdb, 0xff, 0xff, 0xff, 0xff}, []byte("xy"))), 0, 0, 14, rTruncated},
		{"map in body claims 2^32-1 pairs", eventV1(timeExt(1, 0), cat(mapHdr(1), fixstr("a"), map32(math.MaxUint32), fixint(1))), 0, 0, 20, rTruncated},
		{"bad byte inside body", eventV1(timeExt(1, 0), cat(mapHdr(1), fixstr("a"), []byte{0xc1})), 0, 0, 14, rBadCode},
		{"bad byte inside metadata", eventV2(timeExt(1, 0), cat(mapHdr(1), []byte{0xc1}, fixint(1)), body1), 0, 0, 13, rBadCode},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			want := FormatError{Offset: tt.offset, Event: tt.event, Reason: reasons[tt.reason].text, Err: reasons[tt.reason].err}
			if want.Err == ErrInvalidEvent {
				// The invalid event costs only itself: a good event after
				// it is read, and the chunk is read to its end.
				got, _, err := readAll(t, cat(tt.chunk, good))
				if err != nil {
					t.Fatalf("Err() = %v after an invalid event, want nil", err)
				}
				if len(got) != tt.events+2 {
					t.Fatalf("read %d events, want %d", len(got), tt.events+2)
				}
				for i, ev := range got[:tt.events] {
					if ev.invalid != nil || ev.body == nil {
						t.Errorf("event %d before the invalid one is not a record", i)
					}
				}
				sameEvents(t, got[tt.events:], []wantEvent{{invalid: &want}, {1, 0, nil, body1, nil}})
				return
			}
			got, _, err := readAll(t, tt.chunk)
			if len(got) != tt.events {
				t.Errorf("read %d events before the error, want %d", len(got), tt.events)
			}
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("Err() = %v, want ErrMalformed", err)
			}
			var fe *FormatError
			if !errors.As(err, &fe) {
				t.Fatalf("Err() = %T, want *FormatError", err)
			}
			if *fe != want {
				t.Errorf("Err() = %+v, want %+v", *fe, want)
			}
		})
	}
}

func TestFormatErrorMessage(t *testing.T) {
	got, _, _ := readAll(t, cat(eventV1(timeExt(1, 0), body1), eventV1(timeExt(1, 0), fixstr("secret"))))
	want := "chunk: event 1 at byte 36: event body is not a map"
	if len(got) != 2 || got[1].invalid == nil || got[1].invalid.Error() != want {
		t.Errorf("events %+v, want the second invalid with %q", got, want)
	}
	_, err := AppendJSON(nil, []byte{0x91})
	want = "chunk: at byte 1: msgpack value is truncated"
	if err == nil || err.Error() != want {
		t.Errorf("Error() = %q, want %q", err, want)
	}
}

// richChunk holds every event form, every time encoding, group markers and
// every msgpack type in its bodies.
func richChunk() []byte {
	return cat(
		eventV1(timeExt(1700000000, 1), body1),
		eventV1(timeExt8(1700000001, 2), allTypesMap()),
		eventV1(u32(1700000002), body2),
		eventV1(f64(1700000003.5), body1),
		eventV2(fixint(-1), someMD, mapOf(fixstr("group"), fixstr("attrs"))),
		eventV2(timeExt(1700000004, 4), someMD, allTypesMap()),
		eventV2(i64(1700000005), emptyMD, body2),
		eventV2(timeExt(0xFFFFFFFE, 0), emptyMD, mapOf()),
		eventV2(f32(1024.25), emptyMD, body1),
	)
}

// TestReaderTruncated cuts a chunk at every offset: the events before the cut
// come out intact, a cut between events is a clean end, and any other cut is
// a truncation error naming the cut event.
func TestReaderTruncated(t *testing.T) {
	chunk := richChunk()
	var r Reader
	r.Reset(chunk)
	var all []wantEvent
	var ends []int // offset just past each event, markers included
	for r.Next() {
		ev := r.Event()
		all = append(all, wantEvent{sec: ev.Sec, nsec: ev.Nsec, metadata: ev.Metadata, body: ev.Body})
	}
	if r.Err() != nil {
		t.Fatal(r.Err())
	}
	// Event boundaries, found by walking the chunk value by value.
	for off := 0; off < len(chunk); {
		end, why := skipValue(chunk, off)
		if why != rNone {
			t.Fatal("richChunk is not a sequence of msgpack values")
		}
		ends = append(ends, end)
		off = end
	}
	for cut := 0; cut < len(chunk); cut++ {
		got, _, err := readAll(t, chunk[:cut:cut])
		complete := 0 // events wholly before the cut
		for complete < len(ends) && ends[complete] <= cut {
			complete++
		}
		boundary := cut == 0 || (complete > 0 && ends[complete-1] == cut)
		if boundary {
			if err != nil {
				t.Fatalf("cut at %d (an event boundary): %v", cut, err)
			}
		} else {
			var fe *FormatError
			if !errors.As(err, &fe) || !errors.Is(err, ErrMalformed) || fe.Reason != reasons[rTruncated].text || fe.Event != complete {
				t.Fatalf("cut at %d: Err() = %v, want truncation of event %d", cut, err, complete)
			}
		}
		// The records read are a prefix of the full chunk's records.
		if len(got) > len(all) {
			t.Fatalf("cut at %d: %d events, more than the whole chunk", cut, len(got))
		}
		sameEvents(t, got, all[:len(got)])
	}
}

func TestReaderAllocatesNothing(t *testing.T) {
	chunk := richChunk()
	var r Reader
	dst := make([]byte, 0, 4096)
	allocs := testing.AllocsPerRun(100, func() {
		r.Reset(chunk)
		for r.Next() {
			var err error
			if dst, err = AppendJSON(dst[:0], r.Event().Body); err != nil {
				t.Fatal(err)
			}
		}
	})
	if allocs != 0 {
		t.Errorf("reading and transcoding a chunk allocated %v times, want 0", allocs)
	}
	allocs = testing.AllocsPerRun(100, func() {
		r.Reset(chunk)
		for r.NextLazy() {
			ev := r.Event()
			var err error
			if dst, err = ev.AppendJSON(dst[:0]); err != nil {
				t.Fatal(err)
			}
		}
	})
	if allocs != 0 {
		t.Errorf("reading lazily and transcoding a chunk allocated %v times, want 0", allocs)
	}
}
