// Package instance is one [OUTPUT] instance of the plugin: it turns the
// options into a producer, each flushed chunk into a group of records with
// per-record outcomes, and those outcomes into Fluent Bit's OK, RETRY or
// ERROR. It owns the delivery ledger. It has no cgo: the exports in
// plugin/ call it, and tests call it the same way.
package instance

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"

	"github.com/kinesis-kpl/fluent-bit-kinesis-kpl/conf"
	"github.com/kinesis-kpl/fluent-bit-kinesis-kpl/plugin/chunk"
	"github.com/kinesis-kpl/fluent-bit-kinesis-kpl/producer"
)

// Status is the result of a flush, with Fluent Bit's numeric values.
type Status int

// Fluent Bit's flush results (flb_output.h).
const (
	Error Status = 0 // the chunk can never be sent; Fluent Bit drops it
	OK    Status = 1 // every record has a final outcome
	Retry Status = 2 // something may succeed later; Fluent Bit hands the chunk again
)

func (s Status) String() string {
	switch s {
	case OK:
		return "OK"
	case Retry:
		return "RETRY"
	case Error:
		return "ERROR"
	}
	return "Status(" + strconv.Itoa(int(s)) + ")"
}

// Ledger bounds. A chunk is at most a few MiB; Fluent Bit's default retry
// schedule waits minutes, not hours.
const (
	ledgerMaxEntries = 1024
	ledgerMaxBytes   = 256 << 20
	ledgerMaxAge     = time.Hour
	maxPartitionKey  = 256 // Unicode characters, Kinesis' limit
)

// Instance is one configured output. Flush is safe for concurrent use
// (Fluent Bit's "workers N").
type Instance struct {
	name   string
	cfg    conf.Config
	prod   *producer.Producer
	log    *slog.Logger
	ledger *ledger
	// metrics count what Stats does not; see metrics.go.
	metrics *metrics
	// keyPath is the partition key's field, when partition_key names one.
	keyPath []string

	scratch sync.Pool // *scratch
	closed  atomic.Bool
	stats   Stats
}

// Stats are running counts, for tests and the exit report.
type Stats struct {
	Chunks        atomic.Int64 // flushes seen
	Records       atomic.Int64 // records read from chunks (first time only)
	Delivered     atomic.Int64 // records delivered
	Rejected      atomic.Int64 // records the service will never accept
	Retries       atomic.Int64 // flushes answered with RETRY
	LedgerResumes atomic.Int64 // retried chunks continued from the ledger
	Malformed     atomic.Int64 // chunks that could not be read to their end
}

// chunkWork is the state of one chunk: its records as a producer group and
// what was wrong with the chunk, if it could not be read to the end.
type chunkWork struct {
	group     *producer.Group
	malformed error
	events    int
}

type scratch struct {
	reader chunk.Reader
	json   []byte
	key    []byte
}

// New builds an instance around an already-created producer. The instance
// owns prod from then on and stops it in Close.
func New(name string, cfg conf.Config, prod *producer.Producer, log *slog.Logger) *Instance {
	return newWithMetrics(name, cfg, prod, log, newMetrics(name, cfg.Stream))
}

// newWithMetrics is New with the metrics that Open already gave the
// producer's client.
func newWithMetrics(name string, cfg conf.Config, prod *producer.Producer, log *slog.Logger, m *metrics) *Instance {
	in := &Instance{name: name, cfg: cfg, prod: prod, log: log, metrics: m}
	if t, err := conf.ParsePartitionKey(cfg.PartitionKey); err == nil && len(t) == 1 && t[0].Kind == conf.PartField {
		in.keyPath = t[0].Field
	}
	in.scratch.New = func() any { return &scratch{json: make([]byte, 0, 4096), key: make([]byte, 0, 64)} }
	if cfg.RetryLedger {
		in.ledger = newLedger(ledgerMaxEntries, ledgerMaxBytes, ledgerMaxAge, in.evictFromLedger)
	}
	m.watch(in)
	return in
}

// Name is the instance's name in logs.
func (in *Instance) Name() string { return in.name }

// Stats returns the running counts.
func (in *Instance) Stats() *Stats { return &in.stats }

// Flush sends the records of one chunk and says what Fluent Bit should do
// with it. It returns within the configured flush_timeout (plus the time to
// read the chunk).
func (in *Instance) Flush(tag string, data []byte) Status {
	in.stats.Chunks.Add(1)
	if in.closed.Load() {
		in.log.Warn("flush after exit began; asking Fluent Bit to retry")
		return Retry
	}
	ctx, cancel := context.WithTimeout(context.Background(), in.cfg.FlushTimeout)
	defer cancel()

	var w *chunkWork
	if in.ledger != nil {
		if p := in.ledger.take(tag, data); p != nil {
			w = p.work
			in.stats.LedgerResumes.Add(1)
			delivered, rejected, retryable, inFlight := w.group.Counts()
			in.log.Info("continuing a retried chunk from the ledger", "tag", tag,
				"delivered", delivered, "rejected", rejected, "to_send", retryable, "in_flight", inFlight)
		}
	}
	if w == nil {
		w = in.read(data)
		if w.events == 0 && w.malformed != nil {
			in.stats.Malformed.Add(1)
			w.group.Release()
			in.log.Error("dropping a chunk that cannot be read", "tag", tag, "bytes", len(data), "reason", w.malformed.Error())
			return Error
		}
	}

	if err := in.prod.PutGroup(ctx, w.group); err != nil && ctx.Err() == nil {
		in.log.Warn("records could not be queued; the chunk will be retried", "tag", tag, "reason", err.Error())
	}
	if err := w.group.Wait(ctx); err != nil || in.anyRetryable(w.group) {
		return in.retryLater(tag, data, w)
	}
	return in.finish(tag, len(data), w)
}

// read turns a chunk into a group: one JSON record per event.
func (in *Instance) read(data []byte) *chunkWork {
	s := in.scratch.Get().(*scratch)
	defer in.scratch.Put(s)
	w := &chunkWork{group: in.prod.NewGroup()}
	s.reader.Reset(data)
	for s.reader.Next() {
		ev := s.reader.Event()
		var err error
		s.json, err = chunk.AppendJSON(s.json[:0], ev.Body)
		if err != nil {
			w.malformed = fmt.Errorf("event %d: %w", w.events, err)
			break
		}
		w.group.Add(s.json, in.partitionKey(s, ev.Body))
		w.events++
	}
	if err := s.reader.Err(); err != nil && w.malformed == nil {
		w.malformed = err
	}
	if w.events > 0 {
		in.stats.Records.Add(int64(w.events))
	}
	return w
}

// partitionKey returns the record's partition key: the configured field's
// text (at most 256 characters), or a random key when the field is absent,
// empty or not a scalar. The string aliases s.key and is valid only until
// the next call: Group.Add copies it.
func (in *Instance) partitionKey(s *scratch, body []byte) string {
	s.key = s.key[:0]
	if in.keyPath != nil {
		if v, ok, err := chunk.Lookup(body, in.keyPath); ok && err == nil {
			if s.key, ok, _ = chunk.AppendText(s.key, v); ok && len(s.key) > 0 {
				return unsafeString(truncateRunes(s.key, maxPartitionKey))
			}
		}
	}
	s.key = strconv.AppendUint(s.key[:0], rand.Uint64(), 36)
	return unsafeString(s.key)
}

func unsafeString(b []byte) string { return unsafe.String(unsafe.SliceData(b), len(b)) }

func truncateRunes(b []byte, n int) []byte {
	if len(b) <= n { // fewer bytes than the limit means fewer characters too
		return b
	}
	count := 0
	for i := range string(b) {
		if count == n {
			return b[:i]
		}
		count++
	}
	return b
}

func (in *Instance) anyRetryable(g *producer.Group) bool {
	_, _, retryable, pending := g.Counts()
	return retryable > 0 || pending > 0
}

// finish reports a chunk whose records all have a final outcome.
func (in *Instance) finish(tag string, size int, w *chunkWork) Status {
	delivered, rejected, _, _ := w.group.Counts()
	in.stats.Delivered.Add(int64(delivered))
	if rejected > 0 {
		in.stats.Rejected.Add(int64(rejected))
		in.metrics.countDropped(w.group)
		reasons := map[string]int{}
		for i := 0; i < w.group.Len(); i++ {
			if o := w.group.Outcome(i); o.State == producer.Failed && !o.Retryable && o.Err != nil {
				reasons[reasonOf(o.Err)]++
			}
		}
		in.log.Error("records rejected by Kinesis for good and not retried", "tag", tag, "rejected", rejected, "delivered", delivered, "reasons", fmt.Sprint(reasons))
	}
	w.group.Release()
	if w.malformed != nil {
		in.stats.Malformed.Add(1)
		in.log.Error("sent the readable start of a chunk; dropping the rest, which cannot be read", "tag", tag, "bytes", size, "records_sent", w.events, "reason", w.malformed.Error())
		return Error
	}
	return OK
}

// reasonOf names an error without record content: the producer's errors
// carry codes and messages from the service, never data or keys.
func reasonOf(err error) string {
	var fr *producer.FailureRecord
	if errors.As(err, &fr) && fr.Err != nil {
		return fr.Err.Error()
	}
	return err.Error()
}

// retryLater stops sending what has not left yet and tells Fluent Bit to
// hand the chunk again; the ledger keeps what was delivered.
func (in *Instance) retryLater(tag string, data []byte, w *chunkWork) Status {
	in.stats.Retries.Add(1)
	w.group.Cancel()
	in.metrics.countExpired(w.group)
	delivered, rejected, retryable, inFlight := w.group.Counts()
	in.log.Warn("not every record was delivered in time; the chunk will be retried",
		"tag", tag, "delivered", delivered, "rejected", rejected, "to_retry", retryable, "in_flight", inFlight)
	if in.ledger != nil {
		in.ledger.put(tag, data, w)
	} else {
		in.evict(&pending{work: w})
	}
	return Retry
}

// evict forgets a chunk's work once its requests in flight have finished.
func (in *Instance) evict(p *pending) {
	g := p.work.group
	g.Cancel()
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), in.cfg.RecordTTL+in.cfg.FlushTimeout)
		defer cancel()
		if g.Wait(ctx) == nil {
			g.Release()
		}
	}()
}

// Close sends what the producer holds, within ctx, and reports what could
// not be sent. Chunks awaiting a retry stay Fluent Bit's: with filesystem
// storage it hands them again after a restart.
func (in *Instance) Close(ctx context.Context) error {
	if in.closed.Swap(true) {
		return nil
	}
	var waiting, records int
	if in.ledger != nil {
		for _, p := range in.ledger.drain() {
			waiting++
			_, _, r, pend := p.work.group.Counts()
			records += r + pend
		}
	}
	err := in.prod.Stop(ctx)
	if waiting > 0 {
		in.log.Warn("chunks awaiting a retry were not sent before exit", "chunks", waiting, "records", records)
	}
	if err != nil {
		in.log.Error("records still buffered at exit could not be sent", "reason", err.Error())
	}
	in.log.Info("stopped", "chunks", in.stats.Chunks.Load(), "records", in.stats.Records.Load(),
		"delivered", in.stats.Delivered.Load(), "rejected", in.stats.Rejected.Load(), "retries", in.stats.Retries.Load())
	in.metrics.close(ctx)
	return err
}

// ExitTimeout is how long Close may take at Fluent Bit's exit.
func (in *Instance) ExitTimeout() time.Duration { return in.cfg.ExitTimeout }
