package aggregation

import (
	"errors"
	"strconv"
)

// ErrMalformed is matched (errors.Is) by every error that decoding an
// aggregated record returns: bad checksum, truncation, a bad field, an index
// outside its key table. The concrete error is a *DecodeError.
var ErrMalformed = errors.New("aggregation: malformed aggregated record")

// Reasons a *DecodeError carries; each also matches with errors.Is.
var (
	// ErrChecksum happens when a record starts with Magic but the MD5 at its
	// end does not match the protobuf in between. KCL consumers take such a
	// record for a plain (non-aggregated) record; see DeaggregateKCL.
	ErrChecksum = errors.New("MD5 checksum mismatch")
	// ErrTruncated happens when a field, length or varint runs past the end
	// of its enclosing message.
	ErrTruncated = errors.New("truncated field")
	// ErrBadField happens when a field number, wire type or varint is
	// invalid, or a known field arrives with the wrong wire type.
	ErrBadField = errors.New("invalid field encoding")
	// ErrMissingField happens when a sub-record lacks a required field
	// (partition_key_index or data), or a tag lacks its key.
	ErrMissingField = errors.New("missing required field")
	// ErrIndexOutOfRange happens when a sub-record's partition_key_index or
	// explicit_hash_key_index points outside its key table.
	ErrIndexOutOfRange = errors.New("key index out of range")
)

// DecodeError says why and where an aggregated record could not be decoded.
// It never carries record content. errors.Is matches ErrMalformed and Reason.
type DecodeError struct {
	// Reason is one of ErrChecksum, ErrTruncated, ErrBadField,
	// ErrMissingField, ErrIndexOutOfRange.
	Reason error
	// Offset is the byte offset in the Kinesis record's data where the
	// problem was found.
	Offset int
	// Record is the index of the sub-record concerned, or -1.
	Record int
}

func (e *DecodeError) Error() string {
	b := make([]byte, 0, 96)
	b = append(b, ErrMalformed.Error()...)
	b = append(b, ": "...)
	b = append(b, e.Reason.Error()...)
	if e.Record >= 0 {
		b = append(b, " in sub-record "...)
		b = strconv.AppendInt(b, int64(e.Record), 10)
	}
	b = append(b, " at offset "...)
	b = strconv.AppendInt(b, int64(e.Offset), 10)
	return string(b)
}

// Unwrap lets errors.Is match both ErrMalformed and the Reason.
func (e *DecodeError) Unwrap() []error { return []error{ErrMalformed, e.Reason} }

// ErrInvalidHashKey happens when a hash key is not a decimal integer in
// [0, 2^128) written as Kinesis accepts it (no sign, no leading zeros, no
// spaces), or a big.Int is outside that range.
var ErrInvalidHashKey = errors.New("aggregation: invalid hash key")

// ErrOutsideShard happens when a sub-record's hash key (its explicit hash
// key, else the MD5 of its partition key) lies outside the shard's hash key
// range. KCL consumers silently drop such sub-records.
var ErrOutsideShard = errors.New("aggregation: sub-record hashes outside the shard")

// ShardRangeError names the first sub-record that breaks the KCL shard rule.
// errors.Is matches Err (ErrOutsideShard or ErrInvalidHashKey).
type ShardRangeError struct {
	Record int // index of the sub-record in the slice that was checked
	Err    error
}

func (e *ShardRangeError) Error() string {
	return e.Err.Error() + " (sub-record " + strconv.Itoa(e.Record) + ")"
}

func (e *ShardRangeError) Unwrap() error { return e.Err }
