// Package chunk reads the chunks that Fluent Bit hands an output plugin and
// transcodes their msgpack records to JSON, in place.
//
// It owns the parsing of Fluent Bit's msgpack: the event framing, the event
// time encodings, and the mapping of msgpack values to JSON. It must not touch
// anything else: it knows nothing of Kinesis, of configuration, of cgo, and it
// never copies the chunk or builds maps from it. Everything it returns that
// points into the chunk aliases the chunk, so the chunk must outlive its use.
//
// # Chunks
//
// A chunk is a concatenation of msgpack values, one per event, with no outer
// array. Two event forms are read:
//
//	[time, body]               Fluent Bit 1.x
//	[[time, metadata], body]   Fluent Bit 2.1 and later
//
// body and metadata must be maps. time is the EventTime extension (type 0,
// 8 bytes: seconds then nanoseconds, both big-endian uint32, as fixext8 or
// ext8), a non-negative integer (seconds), or a non-negative float (seconds
// with a fraction). In the second form a time of -1 (group start) or -2
// (group end), as an integer or as EventTime seconds 0xFFFFFFFF or 0xFFFFFFFE
// (the way Fluent Bit writes them), marks a group: such events are not log
// records, and the Reader skips and counts them.
//
// An event that is one whole msgpack value but does not fit these rules is
// returned with Event.Err set (wrapping ErrInvalidEvent), and reading goes on
// after it: one bad event costs only itself. Where the chunk stops being a
// sequence of whole msgpack values (a truncated value, the byte 0xc1), the
// Reader cannot tell where the next event begins: it stops and Err reports a
// *FormatError wrapping ErrMalformed. Errors name the problem, the byte offset
// and the event index, never the data.
//
// Next walks each event whole, its body included, to find where the next
// one begins. NextLazy leaves the body's walk to whoever walks the body
// anyway: the event's AppendJSON and AppendJSONMembers find its end as they
// write it, so that a flush walks each body once. A body that turns out
// malformed then ends the chunk at that event, with the same error Next
// would give.
//
// # JSON
//
// AppendJSON writes the same bytes that encoding/json writes, with
// SetEscapeHTML(false), for the same value with map keys kept in their msgpack
// order:
//
//   - strings: '"' and '\' escaped with a backslash; \n \r \t \b \f as short
//     escapes; other bytes below 0x20 as \u00XX (lowercase hex); U+2028 and
//     U+2029 as \u2028 and \u2029; each byte of invalid UTF-8 as \ufffd;
//     everything else, including < > & and DEL, as is.
//   - integers in decimal; float64 as encoding/json formats a float64 and
//     float32 as it formats a float32 (the shortest form that reads back to
//     the same value, with an exponent below 1e-6 and from 1e21 on).
//   - nil as null, booleans as true and false, arrays as [...], maps as {...}.
//
// Where JSON has no answer, the choices are:
//
//   - bin is written as a string of its bytes, as Fluent Bit does.
//   - NaN and ±Inf are written as null.
//   - the EventTime extension (type 0, 8 bytes) is written as a number of
//     seconds, the float64 sec + nsec/1e9; every other extension is null.
//   - map keys that are strings or bin are written as strings. A key that is
//     another scalar is written as a string holding the JSON text that the
//     same value gets as a map value: integers in decimal (as encoding/json
//     writes integer map keys), true and false, floats as above (1.5, 1e+21),
//     null for nil, NaN, ±Inf and extensions other than EventTime. A Go
//     program decoding into map[any]any has to turn such keys into strings
//     before encoding/json takes the map; this is the conversion chosen. A
//     key that is a map or an array is an error wrapping ErrUnsupported.
//   - duplicate keys are all written, in order.
//   - containers nested deeper than MaxDepth levels are an error wrapping
//     ErrUnsupported.
//
// AppendJSONMembers and AppendJSONWith write the same JSON with two changes
// a record transform needs: a filter on the top-level keys, and '.' in key
// names replaced at every depth. They serve plugin/record, which owns what
// the options mean.
//
// No input makes these functions panic, and none allocates more than in
// proportion to its input: lengths and counts in the input are checked
// against the bytes that are really there before they are trusted.
package chunk
