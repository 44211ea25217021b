package aggregation

import "slices"

// Protobuf tags (field number << 3 | wire type) of the KPL messages.
const (
	tagPartitionKeyTable    = 1<<3 | 2 // AggregatedRecord.partition_key_table, bytes
	tagExplicitHashKeyTable = 2<<3 | 2 // AggregatedRecord.explicit_hash_key_table, bytes
	tagRecords              = 3<<3 | 2 // AggregatedRecord.records, bytes
	tagPartitionKeyIndex    = 1<<3 | 0 // Record.partition_key_index, varint
	tagExplicitHashKeyIndex = 2<<3 | 0 // Record.explicit_hash_key_index, varint
	tagData                 = 3<<3 | 2 // Record.data, bytes
)

// Encoder builds one aggregated record. The zero value is ready to use;
// Reset empties it and keeps its memory for the next aggregate.
//
// Records are encoded as they are added, so the encoded size is known at
// every step: SizeWith answers "would this record overflow the limit?"
// exactly and in O(1). Partition keys and explicit hash keys go into
// de-duplicated tables in first-seen order; a record's indexes are the
// positions its keys got when first added, so they are right by construction.
//
// The Encoder keeps the key strings it is given until Reset, and copies
// data (AddShared keeps it instead). Strings are immutable in Go, so this is safe; a caller that makes
// strings over reused or foreign (C) memory with package unsafe must copy
// the keys before passing them. An Encoder is not safe for concurrent use.
type Encoder struct {
	pks  keyTable // partition_key_table
	ehks keyTable // explicit_hash_key_table
	// tablesLen is the encoded length of both key tables.
	tablesLen int
	// records holds every sub-record already encoded as an
	// AggregatedRecord.records field (tag, length, Record message), except
	// the data of records added with AddShared, which shared splices in.
	records []byte
	// shared are the data of AddShared records, in order, each with the
	// offset in records where it belongs; sharedLen sums their lengths.
	shared    []sharedData
	sharedLen int
	count     int
}

// sharedData is the data of one AddShared record, kept by reference.
type sharedData struct {
	at   int // offset in records: the data follows records[:at]
	data []byte
}

// Add appends one user record. partitionKey goes in the partition key table,
// explicitHashKey ("" for none) in the explicit hash key table, and data is
// copied. Add does not validate the keys against Kinesis limits (that is the
// caller's policy) and does not allocate once the Encoder's buffers and
// tables have grown to their steady-state size.
func (e *Encoder) Add(partitionKey, explicitHashKey string, data []byte) {
	e.records = append(e.appendHeader(partitionKey, explicitHashKey, len(data), len(data)), data...)
}

// AddShared is Add without the copy: the Encoder keeps data itself, which
// must not change until Reset, and AppendTo copies it straight into the
// aggregate. A producer whose records stay put while they are buffered
// saves a copy of every record this way.
func (e *Encoder) AddShared(partitionKey, explicitHashKey string, data []byte) {
	e.records = e.appendHeader(partitionKey, explicitHashKey, len(data), 0)
	e.shared = append(e.shared, sharedData{at: len(e.records), data: data})
	e.sharedLen += len(data)
}

// appendHeader adds a record's keys to the tables and returns records with
// its field appended up to its data, room made for extra more bytes.
func (e *Encoder) appendHeader(partitionKey, explicitHashKey string, dataLen, extra int) []byte {
	pkIdx, added := e.pks.indexOf(partitionKey)
	if added {
		e.tablesLen += fieldLen(len(partitionKey))
	}
	msgLen := 1 + varintLen(pkIdx) + 1 + varintLen(uint64(dataLen)) + dataLen
	var ehkIdx uint64
	hasEHK := explicitHashKey != ""
	if hasEHK {
		if ehkIdx, added = e.ehks.indexOf(explicitHashKey); added {
			e.tablesLen += fieldLen(len(explicitHashKey))
		}
		msgLen += 1 + varintLen(ehkIdx)
	}
	b := slices.Grow(e.records, 1+varintLen(uint64(msgLen))+msgLen-dataLen+extra)
	b = append(b, tagRecords)
	b = appendVarint(b, uint64(msgLen))
	b = append(b, tagPartitionKeyIndex)
	b = appendVarint(b, pkIdx)
	if hasEHK {
		b = append(b, tagExplicitHashKeyIndex)
		b = appendVarint(b, ehkIdx)
	}
	b = append(b, tagData)
	e.count++
	return appendVarint(b, uint64(dataLen))
}

// SizeWith returns the exact encoded length (magic + protobuf + MD5) the
// aggregate would have if Add(partitionKey, explicitHashKey, data) were
// called with len(data) == dataLen. It is O(1) and does not allocate.
func (e *Encoder) SizeWith(partitionKey, explicitHashKey string, dataLen int) int {
	size := e.Size()
	pkIdx, ok := e.pks.lookup(partitionKey)
	if !ok {
		size += fieldLen(len(partitionKey))
	}
	msgLen := 1 + varintLen(pkIdx) + 1 + varintLen(uint64(dataLen)) + dataLen
	if explicitHashKey != "" {
		ehkIdx, ok := e.ehks.lookup(explicitHashKey)
		if !ok {
			size += fieldLen(len(explicitHashKey))
		}
		msgLen += 1 + varintLen(ehkIdx)
	}
	return size + fieldLen(msgLen)
}

// Size returns the exact encoded length of the aggregate now: magic +
// protobuf + MD5. An empty Encoder has Size() == Overhead.
func (e *Encoder) Size() int { return Overhead + e.tablesLen + len(e.records) + e.sharedLen }

// Count returns how many records were added since the last Reset.
func (e *Encoder) Count() int { return e.count }

// PartitionKeys returns the partition key table in index order (first-seen
// order). The slice is owned by the Encoder and valid until the next Add or
// Reset.
func (e *Encoder) PartitionKeys() []string { return e.pks.keys }

// ExplicitHashKeys returns the explicit hash key table in index order. The
// slice is owned by the Encoder and valid until the next Add or Reset.
func (e *Encoder) ExplicitHashKeys() []string { return e.ehks.keys }

// AppendTo appends the aggregate (magic, protobuf, MD5 of the protobuf) to
// dst and returns the extended slice; exactly Size() bytes are appended. The
// protobuf is byte-identical to proto.Marshal of the equivalent
// pb.AggregatedRecord. AppendTo does not allocate when dst has room.
//
// An aggregate of no records (Size() == Overhead) is not recognised as one
// by consumers, who take it for a plain record; do not send it.
func (e *Encoder) AppendTo(dst []byte) []byte {
	dst = e.AppendUnsummed(dst)
	sumOne(dst[len(dst)-e.Size():])
	return dst
}

// AppendUnsummed is AppendTo without the MD5: its last 16 bytes are left
// zero, for Lanes.SumAll to fill in later together with other aggregates.
// The result is not an aggregate to any consumer until then.
func (e *Encoder) AppendUnsummed(dst []byte) []byte {
	dst = slices.Grow(dst, e.Size())
	dst = append(dst, Magic[:]...)
	for _, pk := range e.pks.keys {
		dst = appendStringField(dst, tagPartitionKeyTable, pk)
	}
	for _, ehk := range e.ehks.keys {
		dst = appendStringField(dst, tagExplicitHashKeyTable, ehk)
	}
	at := 0
	for _, sd := range e.shared {
		dst = append(append(dst, e.records[at:sd.at]...), sd.data...)
		at = sd.at
	}
	dst = append(dst, e.records[at:]...)
	var zero [checksumLen]byte
	return append(dst, zero[:]...)
}

// Reset empties the Encoder for a new aggregate, keeping its memory.
func (e *Encoder) Reset() {
	e.pks.reset()
	e.ehks.reset()
	e.tablesLen = 0
	e.records = e.records[:0]
	clear(e.shared) // drop the references
	e.shared = e.shared[:0]
	e.sharedLen = 0
	e.count = 0
}

// fieldLen is the encoded length of a length-delimited field with a
// one-byte tag and an n-byte payload.
func fieldLen(n int) int { return 1 + varintLen(uint64(n)) + n }

func appendStringField(dst []byte, tag byte, s string) []byte {
	dst = append(dst, tag)
	dst = appendVarint(dst, uint64(len(s)))
	return append(dst, s...)
}

// varintLen is the length of v as a protobuf base-128 varint.
func varintLen(v uint64) int {
	n := 1
	for v >= 0x80 {
		v >>= 7
		n++
	}
	return n
}

func appendVarint(b []byte, v uint64) []byte {
	for v >= 0x80 {
		b = append(b, byte(v)|0x80)
		v >>= 7
	}
	return append(b, byte(v))
}
