package producer

import (
	"errors"
	"sync"

	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"

	"github.com/kinesis-kpl/fluent-bit-kinesis-kpl/aggregation"
)

// ShardMap keeps one Aggregator per shard, so that only records predicted
// for the same shard share an aggregate, and each aggregate carries an
// explicit hash key inside its shard. Without shards (or for a hash key in
// a gap of the map) records share an aggregate only with records of the
// same partition key, or the same explicit hash key. It is safe for
// concurrent use. It is the seed API's form of the Producer's buffer:
// the same shard table, the same per-key rule (aggKeyOf) and the same
// aggregator (Aggregator wraps it), over UserRecords the caller keeps.
type ShardMap struct {
	mu       sync.RWMutex
	table    *shardTable
	aggs     []*Aggregator
	keyAggs  map[aggKey]*Aggregator
	maxCount int
	maxSize  int
}

// NewShardMap returns a ShardMap over shards whose aggregates hold at most
// aggregateBatchCount records and aggregateBatchSize bytes (0: the
// defaults, 4294967295 records and 50 KiB). It fails on a shard without a
// valid hash key range or on overlapping shards.
func NewShardMap(shards []types.Shard, aggregateBatchCount, aggregateBatchSize int) (*ShardMap, error) {
	if aggregateBatchCount <= 0 {
		aggregateBatchCount = defaultAggregateBatchCount
	}
	if aggregateBatchSize <= 0 {
		aggregateBatchSize = defaultAggregateBatchSize
	}
	m := &ShardMap{maxCount: aggregateBatchCount, maxSize: aggregateBatchSize, keyAggs: map[aggKey]*Aggregator{}}
	if err := m.setTable(shards); err != nil {
		return nil, err
	}
	return m, nil
}

func (m *ShardMap) setTable(shards []types.Shard) error {
	t, err := newShardTable(shards)
	if err != nil {
		return err
	}
	m.table = t
	m.aggs = nil
	if t != nil {
		m.aggs = make([]*Aggregator, len(t.ids))
		for i := range m.aggs {
			mid := t.mids[i]
			m.aggs[i] = newAggregator(&mid, m.maxCount, m.maxSize)
		}
	}
	m.keyAggs = map[aggKey]*Aggregator{}
	return nil
}

// aggregatorFor returns the aggregator a record goes to.
func (m *ShardMap) aggregatorFor(r UserRecord) (*Aggregator, error) {
	hash := aggregation.PartitionKeyHash(r.PartitionKey())
	explicit := false
	if b := r.ExplicitHashKey(); b != nil {
		h, err := aggregation.HashKeyFromBigInt(b)
		if err != nil {
			return nil, err
		}
		hash, explicit = h, true
	}
	if m.table != nil {
		if s := m.table.lookup(hash); s >= 0 {
			return m.aggs[s], nil
		}
	}
	k := aggKeyOf(hash, explicit, false)
	a := m.keyAggs[k]
	if a == nil {
		var ehk *string
		if explicit {
			s := hash.String()
			ehk = &s
		}
		a = newAggregator(ehk, m.maxCount, m.maxSize)
		m.keyAggs[k] = a
	}
	return a, nil
}

// Put adds a record to the aggregator of its predicted shard. When the
// record would overflow that aggregator, the aggregator is drained first
// and the drained entry returned; a record larger than the aggregate size
// limit is returned at once as its own entry. Otherwise it returns nil.
func (m *ShardMap) Put(userRecord UserRecord) (*AggregatedRecordRequest, error) {
	if userRecord == nil || !validPartitionKey(userRecord.PartitionKey()) {
		return nil, &ErrIllegalPartitionKey{UserRecord: userRecord}
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.putLocked(userRecord)
}

// putLocked is Put without the key check; UpdateShards puts the records
// it redistributes through it too.
func (m *ShardMap) putLocked(userRecord UserRecord) (*AggregatedRecordRequest, error) {
	a, err := m.aggregatorFor(userRecord)
	if err != nil {
		return nil, &ShardBucketError{UserRecord: userRecord}
	}
	if size := userRecord.Size() + len(userRecord.PartitionKey()); (aggLimits{count: m.maxCount, size: m.maxSize}).alone(size) {
		single := newAggregator(a.explicitHashKey, 1, size)
		single.Put(userRecord)
		return single.Drain()
	}
	var drained *AggregatedRecordRequest
	if a.WillOverflow(userRecord) {
		if drained, err = a.Drain(); err != nil {
			return nil, &DrainError{Err: err, UserRecords: a.records}
		}
	}
	a.Put(userRecord)
	return drained, nil
}

// Drain drains every aggregator and returns the entries.
func (m *ShardMap) Drain() ([]*AggregatedRecordRequest, []error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.drainLocked()
}

func (m *ShardMap) drainLocked() ([]*AggregatedRecordRequest, []error) {
	var out []*AggregatedRecordRequest
	var errs []error
	drain := func(a *Aggregator) {
		records := a.records
		r, err := a.Drain()
		if err != nil {
			errs = append(errs, &DrainError{Err: err, UserRecords: records})
			return
		}
		if r != nil {
			out = append(out, r)
		}
	}
	for _, a := range m.aggs {
		drain(a)
	}
	for k, a := range m.keyAggs {
		drain(a)
		delete(m.keyAggs, k)
	}
	return out, errs
}

// Shards returns the shards, sorted by starting hash key; nil without a
// map. The slice must not be modified.
func (m *ShardMap) Shards() []types.Shard {
	m.mu.RLock()
	defer m.mu.RUnlock()
	if m.table == nil {
		return nil
	}
	return m.table.shards
}

// Size returns the bytes held in all aggregators, as Aggregator.Size
// counts them.
func (m *ShardMap) Size() int {
	m.mu.RLock()
	defer m.mu.RUnlock()
	n := 0
	for _, a := range m.aggs {
		n += a.Size()
	}
	for _, a := range m.keyAggs {
		n += a.Size()
	}
	return n
}

// UpdateShards installs a new shard list and redistributes the buffered
// records, and the records of pendingRecords (entries drained but not
// sent), over it. It returns the entries drained while redistributing.
// On an error (a bad shard list) nothing changes.
func (m *ShardMap) UpdateShards(shards []types.Shard, pendingRecords []*AggregatedRecordRequest) ([]*AggregatedRecordRequest, error) {
	if _, err := newShardTable(shards); err != nil {
		return nil, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	var records []UserRecord
	collect := func(a *Aggregator) {
		records = append(records, a.takeRecords()...)
	}
	for _, a := range m.aggs {
		collect(a)
	}
	for _, a := range m.keyAggs {
		collect(a)
	}
	for _, r := range pendingRecords {
		if r != nil {
			records = append(records, r.UserRecords...)
		}
	}
	if err := m.setTable(shards); err != nil {
		return nil, err // cannot happen: checked above
	}
	var out []*AggregatedRecordRequest
	var errs []error
	for _, r := range records {
		d, err := m.putLocked(r)
		if err != nil {
			errs = append(errs, err)
		}
		if d != nil {
			out = append(out, d)
		}
	}
	return out, errors.Join(errs...)
}
