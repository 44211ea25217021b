package producer

import "time"

// bucket is a token bucket for one shard: records and bytes per second at
// RateLimit percent of the Kinesis shard limits, with a burst of one
// second's worth. Kinesis counts each PutRecords entry (an aggregate
// included) as one record.
type bucket struct {
	records float64
	bytes   float64
	last    int64 // producer clock of the last refill
	// heldIn is the assembly (Producer.assembly) in which an entry of
	// this shard was held back: later entries of the shard wait too.
	heldIn uint64
}

func rates(pct int) (records, bytes float64) {
	return shardRecordsPerSecond * float64(pct) / 100, shardBytesPerSecond * float64(pct) / 100
}

func newBucket(now int64, pct int) bucket {
	r, b := rates(pct)
	return bucket{records: r, bytes: b, last: now}
}

func (b *bucket) refill(now int64, pct int) {
	if now <= b.last {
		return
	}
	r, by := rates(pct)
	sec := float64(now-b.last) / float64(time.Second)
	b.records = min(r, b.records+sec*r)
	b.bytes = min(by, b.bytes+sec*by)
	b.last = now
}

// allow reports whether an entry of size bytes may go now. An entry
// larger than the burst goes when the bucket is full, leaving it in debt.
func (b *bucket) allow(now int64, size int, pct int) bool {
	b.refill(now, pct)
	_, burst := rates(pct)
	return b.records >= 1 && (b.bytes >= float64(size) || b.bytes >= burst)
}

func (b *bucket) take(size int) {
	b.records--
	b.bytes -= float64(size)
}

// wait returns how long until allow would say yes for size bytes.
func (b *bucket) wait(now int64, size int, pct int) int64 {
	b.refill(now, pct)
	r, by := rates(pct)
	var need float64
	if b.records < 1 {
		need = (1 - b.records) / r
	}
	want := min(float64(size), by)
	if b.bytes < want {
		need = max(need, (want-b.bytes)/by)
	}
	return int64(need*float64(time.Second)) + 1
}
