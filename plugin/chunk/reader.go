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
	// Body is the raw msgpack of the body map.
	Body []byte
	// Err is nil for a log record. For an event that is whole msgpack but
	// not a valid event (see ErrInvalidEvent) it is a *FormatError saying
	// why, and the other fields are zero: the event is skipped, not the
	// rest of the chunk.
	Err error
}

// Reader iterates the events of a chunk in place. The zero value is ready
// after Reset. A Reader is not safe for concurrent use; one per flush is the
// intended use, and reusing it with Reset allocates nothing.
type Reader struct {
	chunk   []byte
	off     int // where the next event begins
	index   int // index of the next event, counting group markers
	skipped int
	invalid int
	event   Event
	err     error
}

// Reset starts reading chunk from its beginning. The Reader keeps chunk and
// never writes to it.
func (r *Reader) Reset(chunk []byte) {
	*r = Reader{chunk: chunk}
}

// Next moves to the next event, skipping group markers. It returns false at
// the end of the chunk or where the chunk stops being whole msgpack; Err
// tells which. An event that is whole msgpack but not a valid event is
// returned too, with Event().Err set, so that one bad event costs only
// itself.
func (r *Reader) Next() bool {
	r.event = Event{}
	for r.err == nil && r.off < len(r.chunk) {
		ev, end, marker, at, why := readEvent(r.chunk, r.off)
		if why != rNone {
			return r.invalidEvent(at, why)
		}
		r.off = end
		r.index++
		if marker {
			r.skipped++
			continue
		}
		r.event = ev
		return true
	}
	return false
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
// last event read or skipped. After an error, chunk[:Offset()] is the valid
// prefix of the chunk.
func (r *Reader) Offset() int { return r.off }

// Group markers' times, as Fluent Bit defines them.
const (
	groupStart = -1
	groupEnd   = -2
)

// readEvent reads the event at chunk[off]. It returns the event, the offset
// just past it, and whether it is a group marker; or a reason and the offset
// where the problem was found.
func readEvent(chunk []byte, off int) (ev Event, end int, marker bool, at int, why reason) {
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
	bEnd, why := mapAt(chunk, pos, rBodyNotMap)
	if why != rNone {
		return ev, 0, false, bEnd, why
	}
	ev.Body = chunk[pos:bEnd:bEnd]
	return ev, bEnd, marker, 0, rNone
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
