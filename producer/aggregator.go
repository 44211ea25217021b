package producer

import (
	"slices"
	"strings"
	"sync"

	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"

	"github.com/kinesis-kpl/fluent-bit-kinesis-kpl/aggregation"
)

// The aggregation rules, in one place: the Producer's buffer and the
// seed's Aggregator and ShardMap all go through aggLimits, aggregator and
// entry.build.

// aggLimits are the bounds of one aggregate (AggregateBatchCount and
// AggregateBatchSize).
type aggLimits struct{ count, size int }

// alone reports whether a record of size bytes (data plus partition key)
// is too large to share an aggregate: it goes out alone, plain.
func (l aggLimits) alone(size int) bool { return size > l.size }

// aggKey groups records when there is no shard for them: only records of
// the same partition key (or the same explicit hash key) share an
// aggregate, as they surely land on the same shard.
type aggKey struct {
	hash     aggregation.HashKey
	explicit bool
	anyKey   bool // records without a key of their own: one aggregator for all
}

// aggKeyOf is the key a record without a predicted shard shares an
// aggregate by: its hash key (partition key hash, or explicit hash key),
// or for records without a key of their own, one key for all of them (any
// key will do: they share the aggregate's).
func aggKeyOf(hash aggregation.HashKey, explicit, anyKey bool) aggKey {
	if anyKey {
		return aggKey{anyKey: true}
	}
	return aggKey{hash: hash, explicit: explicit}
}

// aggregator collects the records of one aggregate: those of one
// predicted shard (or one key) in the Producer, or those of one
// Aggregator. Its first record is not encoded: it goes into an encoder
// only when a second one comes to share the aggregate, so a record that
// goes out alone is never copied. The encoder shares the records' data
// (AddShared) rather than copying it: the bytes a reference views stay put
// while it is held, which is until the aggregate is built and the encoder
// reset, so each record is copied once, into the aggregate.
//
// Records without a key of their own (Group.AddAnyKey) are encoded with
// the aggregate's partition key, pk, made for each aggregate, and in a
// shard's aggregate with the shard's middle hash key, mid, as explicit hash
// key: the key tables hold one entry each, and a KCL consumer, which checks
// a sub-record's explicit hash key when it has one, keeps them on the
// predicted shard.
//
// In the newline format (newline true) nothing is encoded while records
// are added: joined counts the bytes they will take, newlines included,
// and the entry is written from the records when the aggregate is drained.
type aggregator struct {
	enc     *aggregation.Encoder // holds the records once there are two; may be nil
	refs    []recRef
	joined  int    // newline format: the records' bytes as joined
	shard   int    // index in the table, -1 for a key aggregator
	mid     string // the shard's middle hash key (a table string); "" for a key aggregator
	pk      string // the aggregate's random partition key, made on first use
	key     aggKey
	newline bool // AggregationNewline rather than the KPL format
	listed  bool // in Producer.nonEmpty
}

// anyPK returns the aggregate's own partition key, making it on first use.
// Each aggregate's key is a string of its own: the encoder that holds it
// goes with the aggregate's entry until its request is done.
func (a *aggregator) anyPK() string {
	if a.pk == "" {
		var b [RandomKeyLen]byte
		a.pk = string(AppendRandomKey(b[:0]))
	}
	return a.pk
}

// keysOf returns the keys ref is encoded with in a's aggregate: its own,
// or for a record without one, the aggregate's key and the shard's middle
// hash key ("" without a shard).
func (a *aggregator) keysOf(ref *recRef) (pk, ehk string) {
	if ref.anyKey {
		return a.anyPK(), a.mid
	}
	return ref.partitionKey(), ref.explicitHashKey()
}

// outerPK is the partition key the aggregate's entry carries: its first
// record's, or the aggregate's own when the first has none. a holds at
// least one record.
func (a *aggregator) outerPK() string {
	if a.refs[0].anyKey {
		return a.anyPK()
	}
	return a.refs[0].partitionKey()
}

// joinedLen is the bytes data takes in a newline aggregate: a newline
// follows it unless it ends with one.
func joinedLen(data []byte) int {
	if n := len(data); n > 0 && data[n-1] == '\n' {
		return n
	}
	return len(data) + 1
}

// appendJoined appends the newline aggregate of refs' records to dst.
func appendJoined(dst []byte, refs []recRef) []byte {
	n := 0
	for i := range refs {
		n += joinedLen(refs[i].data())
	}
	dst = slices.Grow(dst, n)
	for i := range refs {
		d := refs[i].data()
		dst = append(dst, d...)
		if len(d) == 0 || d[len(d)-1] != '\n' {
			dst = append(dst, '\n')
		}
	}
	return dst
}

// takeRefs empties a, giving its references to the caller; spare becomes
// a's (empty) list. The next aggregate gets a key of its own.
func (a *aggregator) takeRefs(spare []recRef) []recRef {
	refs := a.refs
	a.refs, a.joined, a.pk = spare[:0], 0, ""
	return refs
}

// encoderSource gives an aggregator an empty encoder.
type encoderSource interface {
	newEncoder() *aggregation.Encoder
}

// encodeFirst makes a's encoder hold its first record. a holds at least one.
func (a *aggregator) encodeFirst(src encoderSource) {
	if a.enc == nil {
		a.enc = src.newEncoder()
	}
	if a.enc.Count() == 0 {
		first := &a.refs[0]
		pk, ehk := a.keysOf(first)
		a.enc.AddShared(pk, ehk, first.data())
	}
}

// overflows reports whether a record with data, encoded with keys pk and
// ehk (aggregator.keysOf), would break l if added to a: then a must be
// drained first. Sizes are counted exactly as encoded, the outer partition
// key included.
func (a *aggregator) overflows(l aggLimits, pk, ehk string, data []byte, src encoderSource) bool {
	n := len(a.refs)
	if n == 0 {
		return false
	}
	if n >= l.count {
		return true
	}
	outer := len(a.outerPK())
	if a.newline {
		return a.joined+joinedLen(data)+outer > l.size
	}
	a.encodeFirst(src)
	return a.enc.SizeWith(pk, ehk, len(data))+outer > l.size
}

// add appends ref to a; the caller checked overflows.
func (a *aggregator) add(ref recRef, src encoderSource) {
	if a.newline {
		a.joined += joinedLen(ref.data())
	} else if len(a.refs) > 0 {
		a.encodeFirst(src)
		pk, ehk := a.keysOf(&ref)
		a.enc.AddShared(pk, ehk, ref.data())
	}
	a.refs = append(a.refs, ref)
}

// entrySize is the bytes the entry would have if a were drained now: the
// record itself for one, the aggregate plus its partition key for more.
func (a *aggregator) entrySize() int {
	switch len(a.refs) {
	case 0:
		return 0
	case 1:
		return a.refs[0].size()
	}
	if a.newline {
		return a.joined + len(a.outerPK())
	}
	// add encoded them all: a holds two or more.
	return a.enc.Size() + len(a.outerPK())
}

// AggregatedRecordRequest is a PutRecords entry and the user records it
// carries, so that a failure can be reported per user record.
type AggregatedRecordRequest struct {
	Entry       *types.PutRecordsRequestEntry
	UserRecords []UserRecord
}

// NewAggregatedRecordRequest builds an AggregatedRecordRequest. It keeps
// data and the key pointers without copying.
func NewAggregatedRecordRequest(data []byte, partitionKey, explicitHashKey *string, userRecords []UserRecord) *AggregatedRecordRequest {
	return &AggregatedRecordRequest{
		Entry: &types.PutRecordsRequestEntry{
			Data:            data,
			PartitionKey:    partitionKey,
			ExplicitHashKey: explicitHashKey,
		},
		UserRecords: userRecords,
	}
}

// Aggregator collects UserRecords into one KPL aggregate, with the same
// rules as the Producer (it is the engine's aggregator over records of its
// own). It embeds a RWMutex that callers sharing an Aggregator lock
// themselves; its methods do not lock.
type Aggregator struct {
	sync.RWMutex
	explicitHashKey *string
	lim             aggLimits
	agg             aggregator
	records         []UserRecord
	// arena holds the records' bytes (partition key, explicit hash key,
	// data) that agg's references view; reset by Drain.
	arena []byte
}

// NewAggregator returns an Aggregator whose entries carry explicitHashKey
// (nil: none) and are at most 1 MiB, the default Kinesis record size.
func NewAggregator(explicitHashKey *string) *Aggregator {
	return newAggregator(explicitHashKey, defaultAggregateBatchCount, kinesisDefaultRecordBytes)
}

func newAggregator(explicitHashKey *string, maxCount, maxSize int) *Aggregator {
	return &Aggregator{explicitHashKey: explicitHashKey, lim: aggLimits{count: maxCount, size: maxSize}, agg: aggregator{shard: -1}}
}

func (a *Aggregator) newEncoder() *aggregation.Encoder { return &aggregation.Encoder{} }

// userRecordEHK returns a UserRecord's explicit hash key in decimal, "" for
// none or an invalid one.
func userRecordEHK(r UserRecord) string {
	b := r.ExplicitHashKey()
	if b == nil {
		return ""
	}
	h, err := aggregation.HashKeyFromBigInt(b)
	if err != nil {
		return ""
	}
	return h.String()
}

// Put adds a user record; its data is copied.
func (a *Aggregator) Put(userRecord UserRecord) {
	pk, ehk, data := userRecord.PartitionKey(), userRecordEHK(userRecord), userRecord.Data()
	start := len(a.arena)
	a.arena = append(append(append(a.arena, pk...), ehk...), data...)
	end := len(a.arena)
	// Earlier references keep viewing the old array if append moved it.
	a.agg.add(recRef{rec: a.arena[start:end:end], pkLen: uint16(len(pk)), ehkLen: uint8(len(ehk))}, a)
	a.records = append(a.records, userRecord)
}

// Count returns how many records the aggregator holds.
func (a *Aggregator) Count() int { return len(a.records) }

// Size returns the bytes the entry would have now: the encoded aggregate
// plus the partition key it would carry, or the record itself when it
// holds one; 0 when empty.
func (a *Aggregator) Size() int { return a.agg.entrySize() }

// WillOverflow reports whether adding userRecord would make the aggregate
// exceed its record count or size limit; if so, Drain first.
func (a *Aggregator) WillOverflow(userRecord UserRecord) bool {
	return a.agg.overflows(a.lim, userRecord.PartitionKey(), userRecordEHK(userRecord), userRecord.Data(), a)
}

// Drain returns the aggregate as a PutRecords entry with the records in
// it, and empties the aggregator; nil when it is empty. One record is sent
// as it is, not aggregated, with its own keys. Several carry the first
// record's partition key and the aggregator's explicit hash key.
func (a *Aggregator) Drain() (*AggregatedRecordRequest, error) {
	if len(a.records) == 0 {
		return nil, nil
	}
	e := entry{refs: a.agg.refs, shard: -1}
	ehk := ""
	if a.explicitHashKey != nil {
		ehk = *a.explicitHashKey
	}
	if len(e.refs) > 1 {
		a.agg.encodeFirst(a)
	}
	e.build(a.agg.enc, false, a.agg.outerPK(), ehk, false)
	if e.aggregate() {
		e.writeData(nil) // a buffer of its own
		e.enc = nil      // a's, reset by takeRecords
	}
	sumEntries(nil, []*entry{&e}, nil)
	data := e.data
	if len(e.refs) == 1 {
		data = append([]byte(nil), data...) // a view of the arena, reused
	}
	pk := strings.Clone(e.pk)
	var ehkp *string
	if e.ehk != "" {
		s := strings.Clone(e.ehk)
		ehkp = &s
	}
	return NewAggregatedRecordRequest(data, &pk, ehkp, a.takeRecords()), nil
}

// takeRecords empties the aggregator and returns its records.
func (a *Aggregator) takeRecords() []UserRecord {
	records := a.records
	a.records = nil
	clear(a.agg.refs)
	a.agg.takeRefs(a.agg.refs)
	if a.agg.enc != nil {
		a.agg.enc.Reset()
	}
	a.arena = a.arena[:0]
	return records
}
