package chunk

import (
	"errors"
	"strconv"
)

// ErrMalformed is wrapped by every error about bytes that are not what they
// claim to be: a chunk that is not a sequence of whole msgpack values (a
// truncated value, the unused byte 0xc1), or a value handed to AppendJSON,
// Lookup or AppendText that is not one well-formed msgpack value. The Reader
// cannot find where the next event begins after such an error, so it stops.
var ErrMalformed = errors.New("malformed msgpack")

// ErrInvalidEvent is wrapped by Event.Err when an event is one whole msgpack
// value but not an event: not [time, body] or [[time, metadata], body], a
// time of the wrong type or out of range, a body or metadata that is not a
// map. Its end is known, so the Reader goes on with the next event.
var ErrInvalidEvent = errors.New("invalid event")

// ErrUnsupported is wrapped by AppendJSON's errors for well-formed msgpack
// that has no JSON form under the package's rules: a map key that is a map
// or an array, or nesting deeper than MaxDepth. It is also wrapped
// by Lookup when the value it is given is not a map.
var ErrUnsupported = errors.New("msgpack value has no JSON form")

// MaxDepth is the deepest nesting of maps and arrays that AppendJSON writes.
// A body map is at depth 1. It bounds the transcoder's stack.
const MaxDepth = 64

// FormatError says what was wrong with a chunk or a value and where. It never
// carries any of the data.
type FormatError struct {
	// Offset is the byte offset, in the chunk or in the value handed to the
	// function, at which the problem was found.
	Offset int
	// Event is the index of the event in the chunk (counting skipped group
	// markers), or -1 when the error is not about a chunk's event.
	Event int
	// Reason is a fixed sentence naming the problem.
	Reason string
	// Err is ErrMalformed, ErrInvalidEvent or ErrUnsupported; errors.Is
	// sees it.
	Err error
}

func (e *FormatError) Error() string {
	b := make([]byte, 0, 64+len(e.Reason))
	b = append(b, "chunk: "...)
	if e.Event >= 0 {
		b = append(b, "event "...)
		b = strconv.AppendInt(b, int64(e.Event), 10)
		b = append(b, ' ')
	}
	b = append(b, "at byte "...)
	b = strconv.AppendInt(b, int64(e.Offset), 10)
	b = append(b, ": "...)
	b = append(b, e.Reason...)
	return string(b)
}

// Unwrap returns ErrMalformed, ErrInvalidEvent or ErrUnsupported.
func (e *FormatError) Unwrap() error { return e.Err }

// reason names one problem; zero means none. Internal functions return a
// reason instead of an error so that the success path allocates nothing.
type reason uint8

const (
	rNone reason = iota
	rTruncated
	rBadCode
	rTrailing
	rTooDeep
	rKeyType
	rNotMap
	rEventNotArray
	rEventSize
	rHeaderSize
	rTimeType
	rTimeExt
	rTimeNegative
	rTimeRange
	rMetadataNotMap
	rBodyNotMap
)

var reasons = [...]struct {
	text string
	err  error
}{
	rTruncated:      {"msgpack value is truncated", ErrMalformed},
	rBadCode:        {"byte 0xc1 is not a msgpack type", ErrMalformed},
	rTrailing:       {"trailing bytes after the msgpack value", ErrMalformed},
	rTooDeep:        {"maps and arrays nested deeper than 64 levels", ErrUnsupported},
	rKeyType:        {"map key is a map or an array", ErrUnsupported},
	rNotMap:         {"value is not a map", ErrUnsupported},
	rEventNotArray:  {"event is not an array", ErrInvalidEvent},
	rEventSize:      {"event array does not have 2 elements", ErrInvalidEvent},
	rHeaderSize:     {"event header [time, metadata] does not have 2 elements", ErrInvalidEvent},
	rTimeType:       {"event time is not an EventTime, integer or float", ErrInvalidEvent},
	rTimeExt:        {"event time extension is not EventTime (type 0, 8 bytes)", ErrInvalidEvent},
	rTimeNegative:   {"event time is negative and not a group marker", ErrInvalidEvent},
	rTimeRange:      {"event time is out of range", ErrInvalidEvent},
	rMetadataNotMap: {"event metadata is not a map", ErrInvalidEvent},
	rBodyNotMap:     {"event body is not a map", ErrInvalidEvent},
}

func (r reason) error(offset, event int) error {
	return &FormatError{Offset: offset, Event: event, Reason: reasons[r].text, Err: reasons[r].err}
}
