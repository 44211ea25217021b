package fakekinesis

import "time"

// tokenBucket is one shard's room under a ShardLimit. Amounts are kept in
// units of a thousand-millionth (a record or byte times nanoseconds per
// second), so that refilling by the nanosecond is exact integer arithmetic:
// a test that moves its clock 100 ms gets exactly 100 records of room at
// 1,000 per second. Guarded by Server.mu.
type tokenBucket struct {
	primed         bool
	at             time.Time // when the amounts were last brought up to date
	records, bytes int64     // room left, scaled by nanosPerSecond
}

const nanosPerSecond = int64(time.Second)

// take reports whether an entry of size bytes fits at now under l, and
// takes its room if so. A full bucket always admits one entry, so that a
// record larger than a second's bytes (a stream with a 10 MiB record limit)
// is slowed, not refused for ever.
func (b *tokenBucket) take(now time.Time, l ShardLimit, size int) bool {
	recordRate, byteRate := rate(l.RecordsPerSecond), rate(l.BytesPerSecond)
	if recordRate == 0 && byteRate == 0 {
		return true
	}
	recordCap, byteCap := recordRate*nanosPerSecond, byteRate*nanosPerSecond
	if !b.primed {
		b.primed, b.at, b.records, b.bytes = true, now, recordCap, byteCap
	}
	// One second refills a bucket whatever it held; capping the elapsed
	// time first keeps the products below overflow.
	if elapsed := min(now.Sub(b.at), time.Second); elapsed > 0 {
		b.records = min(recordCap, b.records+int64(elapsed)*recordRate)
		b.bytes = min(byteCap, b.bytes+int64(elapsed)*byteRate)
	}
	if now.After(b.at) {
		b.at = now
	}
	needRecords := nanosPerSecond
	needBytes := min(int64(size)*nanosPerSecond, byteCap)
	if recordRate > 0 && b.records < needRecords || byteRate > 0 && b.bytes < needBytes {
		return false
	}
	if recordRate > 0 {
		b.records -= needRecords
	}
	if byteRate > 0 {
		b.bytes -= int64(size) * nanosPerSecond
	}
	return true
}

// maxRate bounds a per-second rate so that a second of it, scaled by
// nanosPerSecond, fits an int64; a larger rate is no limit in practice.
const maxRate = 1 << 32

// rate returns a ShardLimit field as a usable rate: 0 for no limit.
func rate(perSecond int) int64 {
	return int64(min(max(perSecond, 0), maxRate))
}
