package aggregation

import (
	"crypto/md5"
	"slices"
)

// Protobuf tags (field number << 3 | wire type) of the KPL messages.
const (
	tagPartitionKeyTable    = 1<<3 | 2 // AggregatedRecord.partition_key_table, bytes
	tagExplicitHashKeyTable = 2<<3 | 2 // AggregatedRecord.explicit_hash_key_table, bytes
	tagRecords              = 3<<3 | 2 // AggregatedRecord.records, bytes
	tagPartitionKeyIndex    = 1<<3 | 0 // Record.partition_key_index, varint
	tagExplicitHashKeyIndex = 2<<3 | 0 // Record.explicit_hash_key_index, varint
	tagData                 = 3<<3 | 2 // Record.data, bytes
	tagTags                 = 4<<3 | 2 // Record.tags, bytes
	tagTagKey               = 1<<3 | 2 // Tag.key, bytes
	tagTagValue             = 2<<3 | 2 // Tag.value, bytes
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
// The Encoder keeps the key strings it is given until Reset; data is copied.
// An Encoder is not safe for concurrent use.
type Encoder struct {
	pkIndex  map[string]uint64 // partition key -> index in pkTable
	ehkIndex map[string]uint64 // explicit hash key -> index in ehkTable
	pkTable  []string
	ehkTable []string
	// tablesLen is the encoded length of both key tables, tags included.
	tablesLen int
	// records holds every sub-record already encoded as an
	// AggregatedRecord.records field (tag, length, Record message).
	records []byte
	count   int
	// lastPK and lastPKIndex short-cut the table lookup when consecutive
	// records share a partition key, as they do when aggregating per key.
	lastPK      string
	lastPKIndex uint64
	lastPKSet   bool
}

// Add appends one user record. partitionKey goes in the partition key table,
// explicitHashKey ("" for none) in the explicit hash key table, and data is
// copied. Add does not validate the keys against Kinesis limits (that is the
// caller's policy) and does not allocate once the Encoder's buffers and
// tables have grown to their steady-state size.
func (e *Encoder) Add(partitionKey, explicitHashKey string, data []byte) {
	pkIdx := e.partitionKeyIndex(partitionKey)
	msgLen := 1 + varintLen(pkIdx) + 1 + varintLen(uint64(len(data))) + len(data)
	var ehkIdx uint64
	hasEHK := explicitHashKey != ""
	if hasEHK {
		ehkIdx = e.explicitHashKeyIndex(explicitHashKey)
		msgLen += 1 + varintLen(ehkIdx)
	}
	e.records = slices.Grow(e.records, 1+varintLen(uint64(msgLen))+msgLen)
	b := append(e.records, tagRecords)
	b = appendVarint(b, uint64(msgLen))
	b = append(b, tagPartitionKeyIndex)
	b = appendVarint(b, pkIdx)
	if hasEHK {
		b = append(b, tagExplicitHashKeyIndex)
		b = appendVarint(b, ehkIdx)
	}
	b = append(b, tagData)
	b = appendVarint(b, uint64(len(data)))
	e.records = append(b, data...)
	e.count++
}

func (e *Encoder) partitionKeyIndex(pk string) uint64 {
	if e.lastPKSet && pk == e.lastPK {
		return e.lastPKIndex
	}
	idx, ok := e.pkIndex[pk]
	if !ok {
		if e.pkIndex == nil {
			e.pkIndex = make(map[string]uint64)
		}
		idx = uint64(len(e.pkTable))
		e.pkIndex[pk] = idx
		e.pkTable = append(e.pkTable, pk)
		e.tablesLen += fieldLen(len(pk))
	}
	e.lastPK, e.lastPKIndex, e.lastPKSet = pk, idx, true
	return idx
}

func (e *Encoder) explicitHashKeyIndex(ehk string) uint64 {
	idx, ok := e.ehkIndex[ehk]
	if !ok {
		if e.ehkIndex == nil {
			e.ehkIndex = make(map[string]uint64)
		}
		idx = uint64(len(e.ehkTable))
		e.ehkIndex[ehk] = idx
		e.ehkTable = append(e.ehkTable, ehk)
		e.tablesLen += fieldLen(len(ehk))
	}
	return idx
}

// SizeWith returns the exact encoded length (magic + protobuf + MD5) the
// aggregate would have if Add(partitionKey, explicitHashKey, data) were
// called with len(data) == dataLen. It is O(1) and does not allocate.
func (e *Encoder) SizeWith(partitionKey, explicitHashKey string, dataLen int) int {
	size := e.Size()
	var pkIdx uint64
	if e.lastPKSet && partitionKey == e.lastPK {
		pkIdx = e.lastPKIndex
	} else if idx, ok := e.pkIndex[partitionKey]; ok {
		pkIdx = idx
	} else {
		pkIdx = uint64(len(e.pkTable))
		size += fieldLen(len(partitionKey))
	}
	msgLen := 1 + varintLen(pkIdx) + 1 + varintLen(uint64(dataLen)) + dataLen
	if explicitHashKey != "" {
		ehkIdx, ok := e.ehkIndex[explicitHashKey]
		if !ok {
			ehkIdx = uint64(len(e.ehkTable))
			size += fieldLen(len(explicitHashKey))
		}
		msgLen += 1 + varintLen(ehkIdx)
	}
	return size + fieldLen(msgLen)
}

// Size returns the exact encoded length of the aggregate now: magic +
// protobuf + MD5. An empty Encoder has Size() == Overhead.
func (e *Encoder) Size() int { return Overhead + e.tablesLen + len(e.records) }

// Count returns how many records were added since the last Reset.
func (e *Encoder) Count() int { return e.count }

// PartitionKeys returns the partition key table in index order (first-seen
// order). The slice is owned by the Encoder and valid until the next Add or
// Reset.
func (e *Encoder) PartitionKeys() []string { return e.pkTable }

// ExplicitHashKeys returns the explicit hash key table in index order. The
// slice is owned by the Encoder and valid until the next Add or Reset.
func (e *Encoder) ExplicitHashKeys() []string { return e.ehkTable }

// AppendTo appends the aggregate (magic, protobuf, MD5 of the protobuf) to
// dst and returns the extended slice; exactly Size() bytes are appended. The
// protobuf is byte-identical to proto.Marshal of the equivalent
// pb.AggregatedRecord. AppendTo does not allocate when dst has room.
func (e *Encoder) AppendTo(dst []byte) []byte {
	dst = slices.Grow(dst, e.Size())
	dst = append(dst, Magic[:]...)
	start := len(dst)
	for _, pk := range e.pkTable {
		dst = appendStringField(dst, tagPartitionKeyTable, pk)
	}
	for _, ehk := range e.ehkTable {
		dst = appendStringField(dst, tagExplicitHashKeyTable, ehk)
	}
	dst = append(dst, e.records...)
	sum := md5.Sum(dst[start:])
	return append(dst, sum[:]...)
}

// Reset empties the Encoder for a new aggregate, keeping its memory.
func (e *Encoder) Reset() {
	clear(e.pkIndex)
	clear(e.ehkIndex)
	// Drop the key strings so a reused Encoder does not pin them.
	clear(e.pkTable)
	clear(e.ehkTable)
	e.pkTable = e.pkTable[:0]
	e.ehkTable = e.ehkTable[:0]
	e.tablesLen = 0
	e.records = e.records[:0]
	e.count = 0
	e.lastPK, e.lastPKIndex, e.lastPKSet = "", 0, false
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
