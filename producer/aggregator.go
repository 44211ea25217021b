package producer

import (
	"sync"

	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"

	"github.com/kinesis-kpl/fluent-bit-kinesis-kpl/aggregation"
)

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

// size is the entry's bytes as Kinesis counts them.
func (r *AggregatedRecordRequest) size() int {
	if r == nil || r.Entry == nil {
		return 0
	}
	return len(r.Entry.Data) + len(deref(r.Entry.PartitionKey))
}

// Aggregator collects UserRecords into one KPL aggregate. It embeds a
// RWMutex that callers sharing an Aggregator lock themselves; its methods
// do not lock. The Producer does not use it (it aggregates with
// aggregation.Encoder directly, without per-record allocations); it is
// the building block for callers of ShardMap and WorkerPool.
type Aggregator struct {
	sync.RWMutex
	explicitHashKey *string
	enc             aggregation.Encoder
	records         []UserRecord
	maxCount        int
	maxSize         int
}

// NewAggregator returns an Aggregator whose entries carry explicitHashKey
// (nil: none) and are at most 1 MiB, the default Kinesis record size.
func NewAggregator(explicitHashKey *string) *Aggregator {
	return newAggregator(explicitHashKey, defaultAggregateBatchCount, kinesisDefaultRecordBytes)
}

func newAggregator(explicitHashKey *string, maxCount, maxSize int) *Aggregator {
	return &Aggregator{explicitHashKey: explicitHashKey, maxCount: maxCount, maxSize: maxSize}
}

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
	ehk := userRecordEHK(userRecord)
	a.enc.Add(userRecord.PartitionKey(), ehk, userRecord.Data())
	a.records = append(a.records, userRecord)
}

// Count returns how many records the aggregator holds.
func (a *Aggregator) Count() int { return len(a.records) }

// Size returns the bytes the entry would have now: the encoded aggregate
// plus the partition key it would carry; 0 when empty.
func (a *Aggregator) Size() int {
	if len(a.records) == 0 {
		return 0
	}
	if len(a.records) == 1 {
		return a.records[0].Size() + len(a.records[0].PartitionKey())
	}
	return a.enc.Size() + len(a.records[0].PartitionKey())
}

// WillOverflow reports whether adding userRecord would make the aggregate
// exceed its record count or size limit; if so, Drain first.
func (a *Aggregator) WillOverflow(userRecord UserRecord) bool {
	if len(a.records) == 0 {
		return false
	}
	if len(a.records) >= a.maxCount {
		return true
	}
	size := a.enc.SizeWith(userRecord.PartitionKey(), userRecordEHK(userRecord), userRecord.Size())
	return size+len(a.records[0].PartitionKey()) > a.maxSize
}

// Drain returns the aggregate as a PutRecords entry with the records in
// it, and empties the aggregator; nil when it is empty. One record is sent
// as it is, not aggregated. The entry carries the first record's partition
// key and the aggregator's explicit hash key.
func (a *Aggregator) Drain() (*AggregatedRecordRequest, error) {
	if len(a.records) == 0 {
		return nil, nil
	}
	records := a.records
	a.records = nil
	defer a.enc.Reset()
	pk := records[0].PartitionKey()
	if len(records) == 1 {
		data := append([]byte(nil), records[0].Data()...)
		ehk := a.explicitHashKey
		if e := userRecordEHK(records[0]); e != "" {
			ehk = &e
		}
		return NewAggregatedRecordRequest(data, &pk, ehk, records), nil
	}
	return NewAggregatedRecordRequest(a.enc.AppendTo(nil), &pk, a.explicitHashKey, records), nil
}
