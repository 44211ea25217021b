// Package record turns the events of a chunk into Kinesis records: it owns
// the record transforms that a user configures (time_key, record_id_key,
// data_keys, replace_dots, log_key, append_newline, compression, what to do
// with a record over max_record_size) and the
// choice of each record's partition key and stream (evaluating conf's field
// references and templates). It is pure Go: it knows nothing of sending or
// of cgo; the instance maps its options onto Options and calls
// Builder.Build once per event.
//
// # Order of the transforms
//
// The order is that of the AWS Go kinesis plugin, for one event:
//
//  1. time_key: the event's time, formatted with time_key_format, becomes a
//     top-level string field (replacing a field of that name).
//  2. record_id_key: a deterministic id (see ChunkID) becomes a top-level
//     string field (replacing a field of that name).
//  3. partition_key and stream are read from the event as it arrived; they
//     do not see the fields of steps 1 and 2.
//  4. data_keys keeps only the listed top-level fields. As in the AWS plugin,
//     the time_key field survives only if data_keys lists it; the
//     record_id_key field always survives, since it exists to be seen.
//  5. replace_dots renames keys at every depth, the added ones included.
//  6. log_key: the record is only that field's value: a string as its raw
//     bytes (not quoted), anything else as JSON. A record without the field
//     is rejected.
//  7. The body is written as compact JSON (plugin/chunk's rules), then
//     append_newline adds "\n", then compression compresses the record.
//  8. A record over max_record_size (data and partition key) is rejected
//     (ErrTooLarge) or truncated, as Oversize says.
//
// # Field references and templates
//
// conf owns their syntax and documents it; Options take conf's parsed forms
// (conf.ParseFieldPath, conf.ParseTemplate, conf.ParsePartitionKey) and
// this package evaluates them per event. A field's text is a string's
// bytes, a number or a boolean; maps, arrays and nil have none.
//
// A partition key whose field is missing, empty or has no text, or whose
// template has such a part, is left to the producer, which sends the record
// under a random key; Record.RandomKey says so, for counting. A stream template with such a part rejects the record
// (ErrNoStream), since sending it elsewhere would be a guess.
//
// # Time formats
//
// time_key_format is strftime in the C locale, in UTC: %a %A %b %B %c %C %d
// %D %e %F %G %g %h %H %I %j %k %l %m %M %n %p %r %R %s %S %t %T %u %U %V %v
// %w %W %x %X %y %Y %z %Z %%, and for fractions of a second %L
// (milliseconds, 3 digits) and %f (microseconds, 6 digits) as in the AWS Go
// plugin, and %3N, %6N, %9N (milliseconds, microseconds, nanoseconds) as in
// Fluent Bit's C plugin. Fluent Bit's C plugin reads %L as nanoseconds; this
// package follows the Go plugin, whose users it serves. The default is
// %Y-%m-%dT%H:%M:%S. The time is the event's own, to the nanosecond, in both
// event forms.
//
// # Compression
//
// Each record is compressed alone, after append_newline: zlib and gzip
// (levels 1-9), zstd (levels 1-22 of the zstd tool, mapped onto the
// encoder's speeds; one frame per record) and snappy (the framing format,
// stream identifier and checksummed chunks, as Fluent Bit's C plugin writes
// it; no levels). Level 0 is each codec's default.
package record
