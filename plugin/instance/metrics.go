package instance

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"slices"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"
	"github.com/aws/smithy-go"

	"github.com/kinesis-kpl/fluent-bit-kinesis-kpl/producer"
)

// metrics are one instance's counters beyond Stats, its own registry of
// series (so instances in one process never clash), the optional HTTP
// endpoint that serves it and the stats log.
//
// What the producer does not report is seen from outside it: each
// PutRecords call through the producer's Observe hook, each shard map read through
// watchShards. The rest comes from Stats and the ledger.
type metrics struct {
	reg *registry

	// User records, counted per PutRecords attempt.
	throttled atomic.Int64 // in entries or requests Kinesis throttled
	retried   atomic.Int64 // in entries or requests that failed and are sent again
	expired   atomic.Int64 // whose record_ttl ran out
	// Kinesis records and bytes (data plus partition key) Kinesis accepted.
	kinesisRecords atomic.Int64
	bytes          atomic.Int64
	requests       atomic.Int64 // PutRecords calls
	requestErrors  atomic.Int64 // calls that failed as a whole
	requestNanos   atomic.Int64 // time spent in PutRecords calls
	shardRefreshes atomic.Int64 // shard map reads that succeeded
	refreshErrors  atomic.Int64
	reshards       atomic.Int64 // shard maps read that differ from the one before
	evictions      atomic.Int64 // ledger entries pushed out before their retry

	dropped    *counterVec // user records rejected for good, by reason
	callErrors *counterVec // failed calls, by error code
	putLatency *histogram
	perKinesis *histogram // user records per Kinesis record
	ledgerSize func() int

	server *http.Server
	ln     net.Listener  // the bound address, which tests that listen on port 0 read
	served chan struct{} // closed when server's Serve returned
	stop   chan struct{} // closed by close: the stats log ends
	logged chan struct{} // closed when the stats log ended
}

// Names of the reasons records are dropped for, as the dropped counter's
// label. Kinesis error codes of permanent failures are used as they are.
const (
	reasonPartitionKey = "invalid_partition_key"
	reasonTooLarge     = "record_too_large"
	reasonOther        = "other"
	reasonBadEvent     = "bad_event"
)

// permanentCodes are the Kinesis error codes the producer never retries
// (producer/classify.go); everything else is sent again.
var permanentCodes = []string{"ValidationException", "InvalidArgumentException", "SerializationException"}

// throttlingCodes are the codes of a shard or account over its limits.
var throttlingCodes = []string{"ProvisionedThroughputExceededException", "ThrottlingException",
	"LimitExceededException", "KMSThrottlingException"}

// newMetrics makes the collectors of one instance; watch adds those that
// read the instance.
func newMetrics(name, stream string) *metrics {
	// "instance" is left to Prometheus, which sets it to the scraped target.
	m := &metrics{reg: newRegistry(label{"name", name}, label{"stream", stream})}
	m.dropped = newCounterVec("reason")
	m.reg.add("kinesis_kpl_records_dropped_total", "User records dropped for good, by reason: a Kinesis error code of a permanent failure, bad_event, invalid_partition_key, record_too_large, other.",
		typeCounter, m.dropped)
	m.callErrors = newCounterVec("code")
	m.reg.add("kinesis_kpl_put_records_errors_total", "PutRecords calls that failed as a whole, by Kinesis error code (network, timeout or canceled when there was no response).",
		typeCounter, m.callErrors)
	// Prometheus' default buckets, in seconds.
	m.putLatency = newHistogram([]float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10})
	m.reg.add("kinesis_kpl_put_records_duration_seconds", "Time of one PutRecords call, SDK retries included.",
		typeHistogram, m.putLatency)
	m.perKinesis = newHistogram(powersOfTwo(14))
	m.reg.add("kinesis_kpl_user_records_per_kinesis_record", "User records in each Kinesis record accepted: 1 for a plain record, more for an aggregate.",
		typeHistogram, m.perKinesis)
	for _, reason := range append([]string{reasonPartitionKey, reasonTooLarge, reasonOther, reasonBadEvent}, permanentCodes...) {
		m.dropped.WithLabelValues(reason) // shown at 0, so rates start from the first scrape
	}
	m.counters(
		series{"kinesis_kpl_records_throttled_total", "User records in PutRecords entries or calls that Kinesis throttled (each attempt counts).", m.throttled.Load},
		series{"kinesis_kpl_records_retried_total", "User records sent again by the producer after their entry or call failed (each attempt counts).", m.retried.Load},
		series{"kinesis_kpl_records_expired_total", "User records not delivered within record_ttl; their chunk goes back to Fluent Bit for a retry.", m.expired.Load},
		series{"kinesis_kpl_kinesis_records_total", "Kinesis records (aggregates or plain records) Kinesis accepted.", m.kinesisRecords.Load},
		series{"kinesis_kpl_bytes_total", "Bytes (data plus partition key) of the Kinesis records Kinesis accepted.", m.bytes.Load},
		series{"kinesis_kpl_shard_map_refreshes_total", "Shard map reads (ListShards) that succeeded.", m.shardRefreshes.Load},
		series{"kinesis_kpl_shard_map_refresh_errors_total", "Shard map reads that failed; the map in use stays.", m.refreshErrors.Load},
		series{"kinesis_kpl_reshards_total", "Shard map reads that found other open shards than the map before (a split or merge seen).", m.reshards.Load},
		series{"kinesis_kpl_ledger_evictions_total", "Chunks awaiting a retry that the ledger let go of (bounds or a byte-identical chunk); their retry sends every undelivered record.", m.evictions.Load},
	)
	m.stop = make(chan struct{})
	return m
}

// series is a counter read, at each scrape, from a running count.
type series struct {
	name, help string
	v          func() int64
}

func (m *metrics) counters(ss ...series) {
	for _, s := range ss {
		m.reg.add(s.name, s.help, typeCounter, valueFunc(func() float64 { return float64(s.v()) }))
	}
}

// watch registers the series read from the instance: its Stats and its
// ledger.
func (m *metrics) watch(in *Instance) {
	st := &in.stats
	m.counters(
		series{"kinesis_kpl_chunks_total", "Chunks Fluent Bit handed to the instance (retries included).", st.Chunks.Load},
		series{"kinesis_kpl_records_in_total", "User records read from chunks (a retried chunk's records count once).", st.Records.Load},
		series{"kinesis_kpl_records_delivered_total", "User records Kinesis accepted, counted when their chunk completes.", st.Delivered.Load},
		series{"kinesis_kpl_chunk_retries_total", "Flushes answered with RETRY: Fluent Bit hands the chunk again.", st.Retries.Load},
		series{"kinesis_kpl_chunks_malformed_total", "Chunks that could not be read to their end; what could not be read is dropped.", st.Malformed.Load},
		series{"kinesis_kpl_ledger_hits_total", "Retried chunks continued from the ledger, sending only undelivered records.", st.LedgerResumes.Load},
		series{"kinesis_kpl_records_truncated_total", "User records cut to fit max_record_size (oversize truncate).", st.Truncated.Load},
		series{"kinesis_kpl_records_random_key_total", "User records sent under a random partition key: the partition_key field or template had no value.", st.RandomKeys.Load},
		series{"kinesis_kpl_fast_retries_total", "Flushes answered with RETRY at once, without sending, while Kinesis was failing.", st.FastRetries.Load},
		series{"kinesis_kpl_records_reput_wrong_shard_total", "User records put again because their aggregate was stored on a shard that does not hold them all (a reshard not yet seen); consumers that ignore KCL's rule read them twice.",
			func() int64 { return int64(in.streams.stats().RecordsReputWrongShard) }},
		series{"kinesis_kpl_panics_recovered_total", "Panics recovered in the producer; the records they held were failed and sent again.",
			func() int64 { return int64(in.streams.stats().PanicsRecovered) }},
	)
	m.ledgerSize = func() int { return 0 }
	if in.ledger != nil {
		m.ledgerSize = in.ledger.len
	}
	m.reg.add("kinesis_kpl_ledger_entries", "Chunks awaiting a retry in the ledger.",
		typeGauge, valueFunc(func() float64 { return float64(m.ledgerSize()) }))
	m.reg.add("kinesis_kpl_buffered_bytes", "Bytes (data and keys) of the records the producers hold now: buffered, waiting for a retry, or in flight.",
		typeGauge, valueFunc(func() float64 { return float64(in.streams.stats().BufferedBytes) }))
}

// serve starts the HTTP endpoint on addr; "" serves nothing. An address
// that cannot be bound is an error naming metrics_listen.
func (m *metrics) serve(addr string) error {
	if addr == "" {
		return nil
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("metrics_listen: cannot listen on %s: %w", addr, err)
	}
	mux := http.NewServeMux()
	mux.Handle("/metrics", m.reg)
	m.ln = ln
	m.server = &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	m.served = make(chan struct{})
	go func() {
		defer close(m.served)
		_ = m.server.Serve(ln) // ErrServerClosed after close
	}()
	return nil
}

// close stops the endpoint and the stats log, within ctx.
func (m *metrics) close(ctx context.Context) {
	close(m.stop)
	if m.logged != nil {
		<-m.logged
	}
	if m.server == nil {
		return
	}
	if err := m.server.Shutdown(ctx); err != nil {
		_ = m.server.Close() // a scrape still running past ctx
	}
	<-m.served
}

// observePut counts one PutRecords call (producer.Config.Observe). The
// producer sends again every entry of a failed call, every failed entry
// whose code is not permanent, and every entry of a response whose length
// does not match the request.
func (m *metrics) observePut(r *producer.RequestResult) {
	m.requests.Add(1)
	m.requestNanos.Add(int64(r.Took))
	m.putLatency.Observe(r.Took.Seconds())
	if r.Err != nil || r.Mismatch {
		code := "response_mismatch" // the producer fails every entry as retryable
		if r.Err != nil {
			code = errorCode(r.Err)
		}
		m.requestErrors.Add(1)
		m.callErrors.WithLabelValues(code).Inc()
		users := 0
		for _, e := range r.Entries {
			users += e.UserRecords
		}
		m.failed(code, users)
		return
	}
	// Tallied here and added once per call: with aggregation off a call
	// has an entry per record.
	var accepted, bytes int64
	var per countTally
	for _, e := range r.Entries {
		if e.ErrorCode != "" {
			m.failed(e.ErrorCode, e.UserRecords)
			continue
		}
		accepted++
		bytes += int64(e.Bytes)
		m.perKinesis.tally(&per, e.UserRecords)
	}
	m.kinesisRecords.Add(accepted)
	m.bytes.Add(bytes)
	m.perKinesis.add(&per)
}

func (m *metrics) failed(code string, users int) {
	if slices.Contains(throttlingCodes, code) {
		m.throttled.Add(int64(users))
	}
	if !slices.Contains(permanentCodes, code) {
		m.retried.Add(int64(users))
	}
}

// errorCode names a failed call: the API's error code, or what kind of
// failure left no response.
func errorCode(err error) string {
	var apiErr smithy.APIError
	switch {
	case errors.As(err, &apiErr) && apiErr.ErrorCode() != "":
		return apiErr.ErrorCode()
	case errors.Is(err, context.Canceled):
		return "canceled"
	case errors.Is(err, context.DeadlineExceeded):
		return "timeout"
	}
	var netErr net.Error
	if errors.As(err, &netErr) && netErr.Timeout() {
		return "timeout"
	}
	return "network"
}

// watchShards counts the shard map reads of get and the reshards they
// show.
func (m *metrics) watchShards(get producer.GetShardsFunc) producer.GetShardsFunc {
	if get == nil {
		return nil
	}
	return func(ctx context.Context, old []types.Shard) ([]types.Shard, bool, error) {
		shards, update, err := get(ctx, old)
		if err != nil {
			m.refreshErrors.Add(1)
			return shards, update, err
		}
		m.shardRefreshes.Add(1)
		if update && len(old) > 0 && !sameShards(old, shards) {
			m.reshards.Add(1)
		}
		return shards, update, err
	}
}

// sameShards reports whether two maps hold the same shard ids, in any order.
func sameShards(a, b []types.Shard) bool {
	if len(a) != len(b) {
		return false
	}
	ids := make(map[string]bool, len(a))
	for _, s := range a {
		ids[aws.ToString(s.ShardId)] = true
	}
	for _, s := range b {
		if !ids[aws.ToString(s.ShardId)] {
			return false
		}
	}
	return true
}

// countDropped counts the records of a finished group that failed for
// good, by reason.
func (m *metrics) countDropped(g *producer.Group) {
	eachFailed(g, func(o producer.Outcome) {
		if !o.Retryable {
			m.dropped.WithLabelValues(dropReason(o.Err)).Inc()
		}
	})
}

// countExpired counts the records of a group going back to Fluent Bit
// whose record_ttl ran out.
func (m *metrics) countExpired(g *producer.Group) {
	eachFailed(g, func(o producer.Outcome) {
		if errors.Is(o.Err, producer.ErrRecordExpired) {
			m.expired.Add(1)
		}
	})
}

func eachFailed(g *producer.Group, f func(producer.Outcome)) {
	for i := range g.Len() {
		if o := g.Outcome(i); o.State == producer.Failed && o.Err != nil {
			f(o)
		}
	}
}

// evictFromLedger counts a chunk the ledger let go of and forgets it.
func (in *Instance) evictFromLedger(p *pending) {
	in.metrics.evictions.Add(1)
	in.evict(p)
}

// dropReason names why a record was rejected for good, from a small set
// of values so the label stays bounded.
func dropReason(err error) string {
	var entry *producer.EntryError
	var key *producer.ErrIllegalPartitionKey
	var size *producer.ErrRecordSizeExceeded
	switch {
	case errors.As(err, &entry) && slices.Contains(permanentCodes, entry.Code):
		return entry.Code
	case errors.As(err, &key):
		return reasonPartitionKey
	case errors.As(err, &size):
		return reasonTooLarge
	}
	return reasonOther
}
