package chunk

import (
	"encoding/binary"
	"math"
)

// Event is one log record of a chunk. Metadata and Body alias the chunk
// (their capacity is cut to their length, so appending to them never writes
// into the chunk).
type Event struct {
	// Sec and Nsec are the event time; Nsec is in [0, 1e9).
	Sec, Nsec int64
	// Metadata is the raw msgpack of the metadata map, or nil for the
	// Fluent Bit 1.x form [time, body].
	Metadata []byte
	// Body is the raw msgpack of the body map. After Reader.NextLazy, and
	// until the body has been walked (Walk, AppendJSON, AppendJSONMembers),
	// it begins with the map and runs on to the end of the chunk.
	Body []byte
	// Err is nil for a log record. For an event that is whole msgpack but
	// not a valid event (see ErrInvalidEvent) it is a *FormatError saying
	// why, and the other fields are zero: the event is skipped, not the
	// rest of the chunk.
	Err error

	// from is the Reader whose current event this is while its body has
	// not been walked, else nil; gen tells this event from later ones.
	from *Reader
	gen  uint64
}

// Reader iterates the events of a chunk in place. The zero value is ready
// after Reset. A Reader is not safe for concurrent use; one per flush is the
// intended use, and reusing it with Reset allocates nothing.
type Reader struct {
	chunk   []byte
	off     int // where the next event begins; while open, the current one
	index   int // index of the next event, counting group markers; while open, of the current one
	skipped int
	invalid int
	event   Event
	err     error
	open    bool   // the current event's body, at chunk[body], has not been walked
	body    int    // where the current event's body begins
	gen     uint64 // counts the events NextLazy returned, across Resets
}

// Reset starts reading chunk from its beginning. The Reader keeps chunk and
// never writes to it.
func (r *Reader) Reset(chunk []byte) {
	*r = Reader{chunk: chunk, gen: r.gen}
}

// Next moves to the next event, skipping group markers. It returns false at
// the end of the chunk or where the chunk stops being whole msgpack; Err
// tells which. An event that is whole msgpack but not a valid event is
// returned too, with Event().Err set, so that one bad event costs only
// itself.
func (r *Reader) Next() bool {
	if !r.NextLazy() {
		return false
	}
	if r.event.Walk() != nil {
		r.event = Event{}
		return false
	}
	return true
}

// NextLazy is Next without the walk over the event's body that finds where
// it ends: the event's Body begins with the body map and runs on to the end
// of the chunk, and the first of the event's Walk, AppendJSON and
// AppendJSONMembers that is called finds the end in the walk it makes
// anyway, so that each body is walked once. A body that no one walked is
// walked by the next NextLazy.
//
// A body that turns out not to be one whole msgpack value ends the chunk
// as it would for Next: that walk returns the error that Err then reports,
// and NextLazy returns false. The event's methods must be called before the
// next NextLazy or Reset; later, they no longer move the Reader.
func (r *Reader) NextLazy() bool {
	if r.open {
		end, why := skipValue(r.chunk, r.body)
		r.walked(end, why)
	}
	r.event = Event{}
	for r.err == nil && r.off < len(r.chunk) {
		ev, body, marker, at, why := readEvent(r.chunk, r.off)
		if why != rNone {
			return r.invalidEvent(at, why)
		}
		if marker {
			// No one else walks a marker's body.
			end, why := skipValue(r.chunk, body)
			if r.walked(end, why) == nil {
				r.skipped++
			}
			continue
		}
		r.gen++
		r.open, r.body = true, body
		ev.Body = r.chunk[body:len(r.chunk):len(r.chunk)]
		ev.from, ev.gen = r, r.gen
		r.event = ev
		return true
	}
	return false
}

// walked ends the event at r.off, whose body starts at r.body and was
// walked to end, or found malformed there (why).
func (r *Reader) walked(end int, why reason) error {
	r.open = false
	if why != rNone {
		r.err = why.error(end, r.index)
		return r.err
	}
	if r.event.from == r && r.event.gen == r.gen {
		r.event.Body = r.chunk[r.body:end:end]
		r.event.from = nil
	}
	r.off = end
	r.index++
	return nil
}

// invalidEvent handles the event at r.off that readEvent refused at offset
// at for reason why. When the event is still one whole msgpack value, its
// end is known and reading goes on after it; otherwise the chunk's framing
// is lost and Next stops.
func (r *Reader) invalidEvent(at int, why reason) bool {
	if reasons[why].err == ErrInvalidEvent {
		end, bad := skipValue(r.chunk, r.off)
		if bad == rNone {
			r.event = Event{Err: why.error(at, r.index)}
			r.off = end
			r.index++
			r.invalid++
			return true
		}
		at, why = end, bad
	}
	r.err = why.error(at, r.index)
	return false
}

// Walk finds where the body of an event from NextLazy ends and cuts Body
// there; for any other event it does nothing. A body that is not one whole
// msgpack value gives the error that the Reader's Err then reports.
func (e *Event) Walk() error {
	if e.from == nil {
		return nil
	}
	end, why := skipValue(e.Body, 0)
	return e.walked(end, why)
}

// AppendJSON appends the body as AppendJSON(dst, e.Body) does. For an event
// from NextLazy it finds the body's end in the same walk; a malformed body
// then gives the Reader's error (see NextLazy), and any other error has
// Event -1 and an offset in the body, as AppendJSON's.
func (e *Event) AppendJSON(dst []byte) ([]byte, error) {
	if e.from == nil {
		return AppendJSON(dst, e.Body)
	}
	out, end, why := appendJSON(dst, e.Body, 0, 1, "")
	if err := e.transcoded(end, why); err != nil {
		return dst, err
	}
	return out, nil
}

// AppendJSONMembers appends the body's members as AppendJSONMembers(dst,
// e.Body, o) does, finding the body's end as AppendJSON does.
func (e *Event) AppendJSONMembers(dst []byte, o JSONOptions) ([]byte, int, error) {
	if e.from == nil {
		return AppendJSONMembers(dst, e.Body, o)
	}
	out, written, end, why := appendJSONMembers(dst, e.Body, o)
	if err := e.transcoded(end, why); err != nil {
		return dst, 0, err
	}
	return out, written, nil
}

// transcoded ends a transcoder's walk of the body, which stopped at end
// (offsets in Body) for reason why.
func (e *Event) transcoded(end int, why reason) error {
	if why == rNone || reasons[why].err == ErrMalformed {
		return e.walked(end, why)
	}
	// Well-formed so far but with no JSON form: the body's end is still
	// to be found, and the rest of it may yet be malformed.
	bodyEnd, bad := skipValue(e.Body, 0)
	if err := e.walked(bodyEnd, bad); err != nil {
		return err
	}
	return why.error(end, -1)
}

// walked cuts Body at end, where the walk of an open body ended (or found
// it malformed: why), and tells the Reader, if the event is still its
// current one.
func (e *Event) walked(end int, why reason) error {
	r := e.from
	e.from = nil
	if why == rNone {
		e.Body = e.Body[:end:end]
	}
	if !r.open || r.gen != e.gen {
		if why != rNone {
			return why.error(end, -1)
		}
		return nil
	}
	return r.walked(r.body+end, why)
}

// Event returns the event that the last successful Next moved to.
func (r *Reader) Event() Event { return r.event }

// Err returns nil when the whole chunk was read, or the *FormatError (which
// wraps ErrMalformed) that stopped Next.
func (r *Reader) Err() error { return r.err }

// Skipped returns the number of group markers skipped so far.
func (r *Reader) Skipped() int { return r.skipped }

// Invalid returns the number of invalid events returned so far.
func (r *Reader) Invalid() int { return r.invalid }

// Offset returns the number of chunk bytes consumed so far: the end of the
// last event read or skipped (while the body of an event from NextLazy has
// not been walked, that event's start). After an error, chunk[:Offset()] is
// the valid prefix of the chunk.
func (r *Reader) Offset() int { return r.off }

// Group markers' times, as Fluent Bit defines them.
const (
	groupStart = -1
	groupEnd   = -2
)

// readEvent reads the event at chunk[off] up to its body, checking that the
// body is a map but not walking it. It returns the event, the offset of its
// body, and whether it is a group marker; or a reason and the offset where
// the problem was found.
func readEvent(chunk []byte, off int) (ev Event, body int, marker bool, at int, why reason) {
	if ev, body, ok := readCommonEvent(chunk, off); ok {
		return ev, body, false, 0, rNone
	}
	return readAnyEvent(chunk, off)
}

// readCommonEvent reads the event at chunk[off] when it has the shape that
// Fluent Bit gives nearly every log record: [[EventTime, metadata], body]
// or [EventTime, body], the time as fixext8, the metadata any map (an empty
// one, as fixmap or as the map32 that Fluent Bit 2.1 and later write, taken
// at a glance), the body a map. It is readAnyEvent's result for those
// bytes, reached with fewer steps; ok is false for anything else, group
// markers included, which readAnyEvent then reads.
func readCommonEvent(chunk []byte, off int) (ev Event, body int, ok bool) {
	p := chunk[off:]
	if len(p) < 13 || p[0] != 0x92 {
		return ev, 0, false
	}
	v2 := p[1] == 0x92
	pos := off + 1
	if v2 {
		pos++
	}
	if pos+10 > len(chunk) || chunk[pos] != 0xd7 || chunk[pos+1] != 0 {
		return ev, 0, false
	}
	t := header{kind: kExt, n: 8, start: pos + 2, end: pos + 10}
	var marker bool
	if ev.Sec, ev.Nsec, marker, _ = eventTime(t, chunk, v2); marker {
		return Event{}, 0, false
	}
	pos = t.end
	if v2 {
		var mEnd int
		switch m := chunk[pos:]; {
		case len(m) > 0 && m[0] == 0x80:
			mEnd = pos + 1
		case len(m) >= 5 && m[0] == 0xdf && m[1]|m[2]|m[3]|m[4] == 0:
			mEnd = pos + 5
		default:
			var why reason
			if mEnd, why = mapAt(chunk, pos, rMetadataNotMap); why != rNone {
				return Event{}, 0, false
			}
		}
		ev.Metadata = chunk[pos:mEnd:mEnd]
		pos = mEnd
	}
	if !mapHeaderAt(chunk, pos) {
		return Event{}, 0, false
	}
	return ev, pos, true
}

// mapHeaderAt reports whether chunk[pos] begins a whole map header: fixmap,
// map16 or map32.
func mapHeaderAt(chunk []byte, pos int) bool {
	if pos >= len(chunk) {
		return false
	}
	switch c := chunk[pos]; {
	case c&0xf0 == 0x80:
		return true
	case c == 0xde:
		return pos+3 <= len(chunk)
	case c == 0xdf:
		return pos+5 <= len(chunk)
	}
	return false
}

// readAnyEvent is readEvent for every form and every problem.
func readAnyEvent(chunk []byte, off int) (ev Event, body int, marker bool, at int, why reason) {
	h, why := readHeader(chunk, off)
	if why != rNone {
		return ev, 0, false, off, why
	}
	if h.kind != kArray {
		return ev, 0, false, off, rEventNotArray
	}
	if h.n != 2 {
		return ev, 0, false, off, rEventSize
	}
	pos := h.end
	t, why := readHeader(chunk, pos)
	if why != rNone {
		return ev, 0, false, pos, why
	}
	v2 := t.kind == kArray
	if v2 {
		if t.n != 2 {
			return ev, 0, false, pos, rHeaderSize
		}
		pos = t.end
		if t, why = readHeader(chunk, pos); why != rNone {
			return ev, 0, false, pos, why
		}
	}
	ev.Sec, ev.Nsec, marker, why = eventTime(t, chunk, v2)
	if why != rNone {
		return ev, 0, false, pos, why
	}
	pos = t.end
	if v2 {
		mEnd, why := mapAt(chunk, pos, rMetadataNotMap)
		if why != rNone {
			return ev, 0, false, mEnd, why
		}
		ev.Metadata = chunk[pos:mEnd:mEnd]
		pos = mEnd
	}
	if b, why := readHeader(chunk, pos); why != rNone || b.kind != kMap {
		if why == rNone {
			why = rBodyNotMap
		}
		return ev, 0, false, pos, why
	}
	return ev, pos, marker, 0, rNone
}

// mapAt checks that chunk[pos] holds one well-formed map and returns its
// end. On failure it returns the offset of the problem and notMap, or the
// reason the map is malformed.
func mapAt(chunk []byte, pos int, notMap reason) (int, reason) {
	h, why := readHeader(chunk, pos)
	if why != rNone {
		return pos, why
	}
	if h.kind != kMap {
		return pos, notMap
	}
	return skipValue(chunk, pos)
}

// eventTime decodes an event's time from its header t. Group markers exist
// only in the [[time, metadata], body] form (v2).
func eventTime(t header, chunk []byte, v2 bool) (sec, nsec int64, marker bool, why reason) {
	switch t.kind {
	case kUint:
		if t.n > math.MaxInt64 {
			return 0, 0, false, rTimeRange
		}
		return int64(t.n), 0, false, rNone
	case kInt:
		s := int64(t.n)
		if s >= 0 {
			return s, 0, false, rNone
		}
		if v2 && (s == groupStart || s == groupEnd) {
			return s, 0, true, rNone
		}
		return 0, 0, false, rTimeNegative
	case kFloat32:
		return floatTime(float64(math.Float32frombits(uint32(t.n))))
	case kFloat64:
		return floatTime(math.Float64frombits(t.n))
	case kExt:
		if t.ext != 0 || t.n != 8 {
			return 0, 0, false, rTimeExt
		}
		p := chunk[t.start:t.end]
		s := binary.BigEndian.Uint32(p)
		ns := binary.BigEndian.Uint32(p[4:])
		// Fluent Bit writes a marker's -1 or -2 as uint32 seconds.
		if v2 && (int32(s) == groupStart || int32(s) == groupEnd) {
			return int64(int32(s)), 0, true, rNone
		}
		// Nanoseconds past a second are carried, not rejected: Fluent Bit
		// accepts them, and rejecting would lose the rest of the chunk.
		return int64(s) + int64(ns/1e9), int64(ns % 1e9), false, rNone
	}
	return 0, 0, false, rTimeType
}

// floatTime splits float seconds into whole seconds and nanoseconds.
func floatTime(f float64) (sec, nsec int64, marker bool, why reason) {
	if f < 0 {
		return 0, 0, false, rTimeNegative
	}
	// 2^63 is the first float64 that does not fit in an int64.
	if math.IsNaN(f) || f >= 1<<63 {
		return 0, 0, false, rTimeRange
	}
	whole := math.Floor(f)
	sec = int64(whole)
	nsec = int64(math.Round((f - whole) * 1e9))
	if nsec >= 1e9 {
		sec++
		nsec -= 1e9
	}
	return sec, nsec, false, rNone
}
