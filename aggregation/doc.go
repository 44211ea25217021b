// Package aggregation owns the Kinesis Producer Library (KPL) aggregated-record
// format: many user records packed into one Kinesis record as
//
//	magic F3 89 9A C2 | AggregatedRecord protobuf | MD5 of the protobuf
//
// It encodes aggregates (Encoder; AppendUnsummed and Lanes.SumAll hash
// many at once on SIMD lanes), decodes them (Deaggregate), and computes
// 128-bit Kinesis hash keys (HashKey) so that callers can check the rule KCL
// consumers apply: every sub-record of an aggregate must hash into the shard
// that received it, or the consumer drops it.
//
// The package knows the byte format only. It must not know about streams,
// shards as AWS objects, sending, retries or logging, and it imports nothing
// else of this module. The generated protobuf messages live in package pb;
// the hot paths here write and read the wire format by hand and produce the
// same bytes as proto.Marshal of the equivalent pb.AggregatedRecord.
package aggregation

// Magic is the 4-byte prefix that marks a Kinesis record as a KPL aggregate.
var Magic = [4]byte{0xF3, 0x89, 0x9A, 0xC2}

const (
	magicLen    = len(Magic)
	checksumLen = 16 // MD5
)

// Overhead is the number of bytes an aggregate adds around its protobuf:
// the magic and the MD5.
const Overhead = magicLen + checksumLen
