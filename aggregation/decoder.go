package aggregation

import (
	"bytes"
	"crypto/md5"
	"errors"
	"io"
	"unsafe"

	"google.golang.org/protobuf/encoding/protowire"
)

// Record is one user record: a sub-record of an aggregate, or a plain
// Kinesis record passed through.
type Record struct {
	PartitionKey    string
	ExplicitHashKey string // "" when the record has none
	// Data aliases the decoded Kinesis record's bytes (its capacity ends
	// where the data ends); copy it to keep it beyond that buffer's life.
	Data []byte
}

// HashKey returns the hash key Kinesis and the KCL use to place r: its
// explicit hash key if it has one, else the MD5 of its partition key. An
// explicit hash key that does not parse returns an error matching
// ErrInvalidHashKey.
func (r Record) HashKey() (HashKey, error) {
	if r.ExplicitHashKey != "" {
		return ParseHashKey(r.ExplicitHashKey)
	}
	return PartitionKeyHash(r.PartitionKey), nil
}

// IsAggregated reports whether a Kinesis record's data is an aggregate as
// KCL consumers judge it: longer than Overhead, starting with Magic, and
// ending with the MD5 of the bytes in between. It does not allocate.
func IsAggregated(data []byte) bool {
	return hasMagic(data) && checksumMatches(data)
}

// hasMagic reports whether data starts with Magic and has room for a
// non-empty protobuf and the MD5; shorter records are plain records to every
// AWS deaggregator.
func hasMagic(data []byte) bool {
	return len(data) > Overhead && [magicLen]byte(data) == Magic
}

func checksumMatches(data []byte) bool {
	sum := md5.Sum(data[magicLen : len(data)-checksumLen])
	return bytes.Equal(sum[:], data[len(data)-checksumLen:])
}

// Deaggregate splits one Kinesis record (its data, partition key and
// explicit hash key, "" for none) into its user records, strictly:
//
//   - data without Magic (or too short to be an aggregate) is a plain record
//     and comes back as one Record carrying the given keys and data;
//   - data with Magic but a wrong MD5 is an error matching ErrChecksum, so a
//     checker learns about the corruption (DeaggregateKCL instead passes
//     such a record through, as the KCL does);
//   - a protobuf that does not parse, lacks a required field or has an index
//     outside its key table is an error matching ErrMalformed.
//
// Every error is a *DecodeError; it never holds record content. Decoding
// never panics, never sizes an allocation from a length or count read from
// the input, and allocates at most: the key tables' bytes (no more than the
// input), one string header per table entry, and one Record per sub-record
// present. Returned Data slices alias data.
func Deaggregate(data []byte, partitionKey, explicitHashKey string) ([]Record, error) {
	return AppendDeaggregated(nil, data, partitionKey, explicitHashKey)
}

// AppendDeaggregated is Deaggregate appending to dst, so a caller can reuse
// one slice across records. On error it returns dst unchanged.
func AppendDeaggregated(dst []Record, data []byte, partitionKey, explicitHashKey string) ([]Record, error) {
	if !hasMagic(data) {
		return append(dst, Record{PartitionKey: partitionKey, ExplicitHashKey: explicitHashKey, Data: data}), nil
	}
	if !checksumMatches(data) {
		return dst, &DecodeError{Reason: ErrChecksum, Offset: len(data) - checksumLen, Record: -1}
	}
	return appendSubRecords(dst, data)
}

// DeaggregateKCL splits one Kinesis record as the KCL and the AWS
// deaggregation libraries for Java and Python do: a record with Magic whose
// MD5 does not match is taken for a plain record and passed through whole.
// Other decoding failures are errors as in Deaggregate (the KCL fails on
// them too).
func DeaggregateKCL(data []byte, partitionKey, explicitHashKey string) ([]Record, error) {
	return AppendDeaggregatedKCL(nil, data, partitionKey, explicitHashKey)
}

// AppendDeaggregatedKCL is DeaggregateKCL appending to dst. On error it
// returns dst unchanged.
func AppendDeaggregatedKCL(dst []Record, data []byte, partitionKey, explicitHashKey string) ([]Record, error) {
	if !IsAggregated(data) {
		return append(dst, Record{PartitionKey: partitionKey, ExplicitHashKey: explicitHashKey, Data: data}), nil
	}
	return appendSubRecords(dst, data)
}

// CheckShardRange applies the KCL rule to the user records of one Kinesis
// record that landed in a shard with HashKeyRange [start, end] (inclusive):
// every record's hash key (Record.HashKey) must lie in that range, or KCL
// consumers drop the record. It returns nil, or a *ShardRangeError for the
// first offending record, matching ErrOutsideShard or ErrInvalidHashKey.
func CheckShardRange(records []Record, start, end HashKey) error {
	for i, r := range records {
		h, err := r.HashKey()
		if err != nil {
			return &ShardRangeError{Record: i, Err: err}
		}
		if !h.InRange(start, end) {
			return &ShardRangeError{Record: i, Err: ErrOutsideShard}
		}
	}
	return nil
}

// appendSubRecords decodes the protobuf of an aggregate whose magic and
// checksum were checked. The key tables are resolved before any sub-record,
// because protobuf allows fields in any order.
func appendSubRecords(dst []Record, data []byte) ([]Record, error) {
	body := data[magicLen : len(data)-checksumLen]

	// Pass 1: validate the top-level framing and count, allocating nothing.
	var nPK, nEHK, nRecords, keyBytes int
	for off := 0; off < len(body); {
		num, typ, v, n, err := consumeField(body[off:], magicLen+off)
		if err != nil {
			return dst, err
		}
		switch num {
		case 1, 2, 3:
			if typ != protowire.BytesType {
				return dst, &DecodeError{Reason: ErrBadField, Offset: magicLen + off, Record: -1}
			}
			switch num {
			case 1:
				nPK++
				keyBytes += len(v)
			case 2:
				nEHK++
				keyBytes += len(v)
			case 3:
				nRecords++
			}
		}
		off += n
	}

	// Pass 2: copy the key tables into one buffer that no one else can
	// modify, so strings can view it without a copy per key.
	keys := make([]byte, 0, keyBytes)
	tables := make([]string, nPK+nEHK)
	pkTable, ehkTable := tables[:0:nPK], tables[nPK:nPK]
	for off := 0; off < len(body); {
		num, _, v, n, _ := consumeField(body[off:], 0)
		off += n
		if num != 1 && num != 2 {
			continue
		}
		var s string
		if len(v) > 0 {
			start := len(keys)
			keys = append(keys, v...)
			s = unsafe.String(&keys[start], len(v))
		}
		if num == 1 {
			pkTable = append(pkTable, s)
		} else {
			ehkTable = append(ehkTable, s)
		}
	}

	// Pass 3: the sub-records, in order.
	orig := len(dst)
	if cap(dst)-orig < nRecords {
		// Exactly what is needed (slices.Grow may allocate twice).
		grown := make([]Record, orig, orig+nRecords)
		copy(grown, dst)
		dst = grown
	}
	for off := 0; off < len(body); {
		num, _, v, n, _ := consumeField(body[off:], 0)
		if num == 3 {
			msgOff := magicLen + off + n - len(v)
			r, err := decodeRecord(v, msgOff, len(dst)-orig, pkTable, ehkTable)
			if err != nil {
				return dst[:orig], err
			}
			dst = append(dst, r)
		}
		off += n
	}
	return dst, nil
}

// decodeRecord decodes one Record message found at offset msgOff of the
// Kinesis record's data.
func decodeRecord(msg []byte, msgOff, index int, pkTable, ehkTable []string) (Record, error) {
	var pkIdx, ehkIdx uint64
	var hasPK, hasEHK, hasData bool
	var data []byte
	fail := func(reason error, off int) (Record, error) {
		return Record{}, &DecodeError{Reason: reason, Offset: msgOff + off, Record: index}
	}
	for off := 0; off < len(msg); {
		num, typ, v, n, err := consumeField(msg[off:], msgOff+off)
		if err != nil {
			err.Record = index
			return Record{}, err
		}
		switch num {
		case 1, 2:
			if typ != protowire.VarintType {
				return fail(ErrBadField, off)
			}
			x, _ := protowire.ConsumeVarint(v)
			if num == 1 {
				pkIdx, hasPK = x, true
			} else {
				ehkIdx, hasEHK = x, true
			}
		case 3:
			if typ != protowire.BytesType {
				return fail(ErrBadField, off)
			}
			data, hasData = v[:len(v):len(v)], true
		case 4:
			if typ != protowire.BytesType {
				return fail(ErrBadField, off)
			}
			if err := checkTag(v, msgOff+off+n-len(v), index); err != nil {
				return Record{}, err
			}
		}
		off += n
	}
	switch {
	case !hasPK || !hasData:
		return fail(ErrMissingField, 0)
	case pkIdx >= uint64(len(pkTable)):
		return fail(ErrIndexOutOfRange, 0)
	case hasEHK && ehkIdx >= uint64(len(ehkTable)):
		return fail(ErrIndexOutOfRange, 0)
	}
	r := Record{PartitionKey: pkTable[pkIdx], Data: data}
	if hasEHK {
		r.ExplicitHashKey = ehkTable[ehkIdx]
	}
	return r, nil
}

// checkTag validates a Tag message (required key, optional value). Tags
// carry nothing a consumer uses, so they are checked and dropped.
func checkTag(msg []byte, msgOff, index int) error {
	hasKey := false
	for off := 0; off < len(msg); {
		num, typ, _, n, err := consumeField(msg[off:], msgOff+off)
		if err != nil {
			err.Record = index
			return err
		}
		if (num == 1 || num == 2) && typ != protowire.BytesType {
			return &DecodeError{Reason: ErrBadField, Offset: msgOff + off, Record: index}
		}
		hasKey = hasKey || num == 1
		off += n
	}
	if !hasKey {
		return &DecodeError{Reason: ErrMissingField, Offset: msgOff, Record: index}
	}
	return nil
}

// consumeField reads one field at the start of b: its number, wire type,
// and n, the length of the whole field. For a length-delimited field v is
// its payload; for a varint, v is the varint's bytes. absOff is b's offset
// in the Kinesis record, for errors. Unknown fields are skipped the way
// proto.Unmarshal skips them.
func consumeField(b []byte, absOff int) (num protowire.Number, typ protowire.Type, v []byte, n int, err *DecodeError) {
	num, typ, tagLen := protowire.ConsumeTag(b)
	if tagLen < 0 {
		return 0, 0, nil, 0, parseError(tagLen, absOff)
	}
	if !num.IsValid() { // ConsumeTag lets numbers up to 2^31-1 through
		return 0, 0, nil, 0, &DecodeError{Reason: ErrBadField, Offset: absOff, Record: -1}
	}
	rest := b[tagLen:]
	switch typ {
	case protowire.BytesType:
		v, n = protowire.ConsumeBytes(rest)
	case protowire.VarintType:
		_, n = protowire.ConsumeVarint(rest)
		if n >= 0 {
			v = rest[:n]
		}
	default:
		n = protowire.ConsumeFieldValue(num, typ, rest)
	}
	if n < 0 {
		return 0, 0, nil, 0, parseError(n, absOff)
	}
	return num, typ, v, tagLen + n, nil
}

func parseError(n, absOff int) *DecodeError {
	reason := ErrBadField
	if errors.Is(protowire.ParseError(n), io.ErrUnexpectedEOF) {
		reason = ErrTruncated
	}
	return &DecodeError{Reason: reason, Offset: absOff, Record: -1}
}
