package producer

import (
	"math/big"
)

// UserRecord is a record to aggregate, for PutUserRecord and the
// Aggregator and ShardMap types.
type UserRecord interface {
	// PartitionKey returns the partition key of the record.
	PartitionKey() string
	// ExplicitHashKey returns an optional explicit hash key that decides
	// the shard; nil for none.
	ExplicitHashKey() *big.Int
	// Data returns the record's payload.
	Data() []byte
	// Size is the size of the data, partition key not included.
	Size() int
}

// DataRecord is a plain UserRecord: data and a partition key.
type DataRecord struct {
	partitionKey string
	data         []byte
}

// NewDataRecord returns a DataRecord. It keeps data without copying.
func NewDataRecord(data []byte, partitionKey string) *DataRecord {
	return &DataRecord{partitionKey: partitionKey, data: data}
}

// PartitionKey returns the partition key.
func (r *DataRecord) PartitionKey() string { return r.partitionKey }

// ExplicitHashKey returns nil: a DataRecord goes where its partition key
// hashes.
func (r *DataRecord) ExplicitHashKey() *big.Int { return nil }

// Data returns the payload.
func (r *DataRecord) Data() []byte { return r.data }

// Size returns len(Data()).
func (r *DataRecord) Size() int { return len(r.data) }
