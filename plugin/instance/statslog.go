package instance

import (
	"math"
	"time"
)

// counts are the running totals a stats line reports the change of.
type counts struct {
	chunks, recordsIn, delivered, retried, throttled, dropped, expired  int64
	chunkRetries, requests, requestErrors, kinesisRecords, bytes, nanos int64
}

func (in *Instance) counts() counts {
	st, m := &in.stats, in.metrics
	return counts{
		chunks:         st.Chunks.Load(),
		recordsIn:      st.Records.Load(),
		delivered:      st.Delivered.Load(),
		retried:        m.retried.Load(),
		throttled:      m.throttled.Load(),
		dropped:        st.Rejected.Load() + st.BadEvents.Load(),
		expired:        m.expired.Load(),
		chunkRetries:   st.Retries.Load(),
		requests:       m.requests.Load(),
		requestErrors:  m.requestErrors.Load(),
		kinesisRecords: m.kinesisRecords.Load(),
		bytes:          m.bytes.Load(),
		nanos:          m.requestNanos.Load(),
	}
}

// logStats writes one info line: what changed since prev, over interval,
// and the levels now. It holds counts only, never record data or keys.
func (in *Instance) logStats(prev counts, interval time.Duration) counts {
	now := in.counts()
	avgMillis := 0.0
	if n := now.requests - prev.requests; n > 0 {
		avgMillis = math.Round(float64((now.nanos-prev.nanos)/n)/1e4) / 100
	}
	attrs := []any{
		"interval", interval.String(),
		"chunks", now.chunks - prev.chunks,
		"records_in", now.recordsIn - prev.recordsIn,
		"delivered", now.delivered - prev.delivered,
		"retried", now.retried - prev.retried,
		"throttled", now.throttled - prev.throttled,
		"dropped", now.dropped - prev.dropped,
		"expired", now.expired - prev.expired,
		"chunk_retries", now.chunkRetries - prev.chunkRetries,
		"put_records", now.requests - prev.requests,
		"put_records_errors", now.requestErrors - prev.requestErrors,
		"put_records_avg_ms", avgMillis,
		"kinesis_records", now.kinesisRecords - prev.kinesisRecords,
		"bytes", now.bytes - prev.bytes,
		"ledger_entries", in.metrics.ledgerSize(),
	}
	in.log.Info("stats", attrs...)
	return now
}

// startStatsLog logs a stats line every interval until Close; 0 logs
// none.
func (in *Instance) startStatsLog(interval time.Duration) {
	if interval <= 0 {
		return
	}
	t := time.NewTicker(interval)
	in.runStatsLog(interval, t.C, t.Stop)
}

// runStatsLog logs a stats line at each tick until Close, then calls
// done.
func (in *Instance) runStatsLog(interval time.Duration, tick <-chan time.Time, done func()) {
	m := in.metrics
	m.logged = make(chan struct{})
	go func() {
		defer close(m.logged)
		defer done()
		var prev counts
		for {
			select {
			case <-tick:
				prev = in.logStats(prev, interval)
			case <-m.stop:
				return
			}
		}
	}()
}
