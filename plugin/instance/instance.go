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
	"strconv"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"

	"github.com/kinesis-kpl/fluent-bit-kinesis-kpl/conf"
	"github.com/kinesis-kpl/fluent-bit-kinesis-kpl/plugin/chunk"
	"github.com/kinesis-kpl/fluent-bit-kinesis-kpl/plugin/record"
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

// Ledger bounds. Fluent Bit's default Retry_Limit (1) hands a chunk again
// within seconds, or never: an entry older than ledgerMaxAge is taken for
// a chunk Fluent Bit gave up on. A chunk retried later than that is sent
// again in full, so its delivered records may arrive twice. Bytes count
// what the entries really hold (chunkWork.held).
const (
	ledgerMaxEntries = 1024
	ledgerMaxBytes   = 64 << 20
	ledgerMaxAge     = 5 * time.Minute
	// recordState is the bookkeeping a group keeps per record besides its
	// bytes (the producer's per-record state and its reference), an upper
	// estimate for the ledger's byte count.
	recordState = 96
)

// Instance is one configured output. Flush is safe for concurrent use
// (Fluent Bit's "workers N").
type Instance struct {
	name    string
	cfg     conf.Config
	streams *streams
	routed  bool // the stream is a template: records pick their producer
	log     *slog.Logger
	ledger  *ledger
	records *record.Builder
	health  *health
	// metrics count what Stats does not; see metrics.go.
	metrics *metrics

	scratch sync.Pool // *scratch
	closed  atomic.Bool
	stats   Stats

	initThread    atomic.Int64 // OS thread of FLBPluginInit; 0: unknown
	threadChecked atomic.Bool  // the first flush compared its thread
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
	FastRetries   atomic.Int64 // flushes answered with RETRY at once while Kinesis was failing
	BadEvents     atomic.Int64 // events dropped because they cannot become records
	RandomKeys    atomic.Int64 // records whose partition key field or template had no value
	Truncated     atomic.Int64 // records cut to fit max_record_size
}

// chunkWork is the state of one chunk: its records as producer groups, one
// per stream, the events that could not become records, and what was wrong
// with the chunk, if it could not be read to the end. Its outcome is the
// combined outcome of its groups.
type chunkWork struct {
	groups    []streamGroup
	first     [1]streamGroup // groups' first backing: one stream costs no allocation
	malformed error
	unrouted  error // a stream's producer could not be made: retry it all
	events    int   // records added to groups
	bad       badEvents
	held      int // bytes the group holds for these records (see ledger)
	// size is the chunk's length: its records take about as much as JSON,
	// the room a group for all of them is given at once (Group.Grow).
	size int
}

// streamGroup is the records of a chunk bound for one stream.
type streamGroup struct {
	stream string
	prod   *producer.Producer
	group  *producer.Group
}

// groupFor returns the group of records bound for stream, or nil.
func (w *chunkWork) groupFor(stream []byte) *producer.Group {
	for i := range w.groups {
		if w.groups[i].stream == string(stream) {
			return w.groups[i].group
		}
	}
	return nil
}

// counts sums the groups' counts (see producer.Group.Counts).
func (w *chunkWork) counts() (delivered, rejected, retryable, pending int) {
	for _, g := range w.groups {
		d, r, rt, p := g.group.Counts()
		delivered, rejected, retryable, pending = delivered+d, rejected+r, retryable+rt, pending+p
	}
	return
}

// put hands every group to its producer.
func (w *chunkWork) put(ctx context.Context) error {
	var errs []error
	for _, g := range w.groups {
		if err := g.prod.PutGroup(ctx, g.group); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// wait returns nil once every record of every group has a final outcome.
// Groups are waited for together: each Wait asks its producer to send now.
func (w *chunkWork) wait(ctx context.Context) error {
	if len(w.groups) == 1 {
		return w.groups[0].group.Wait(ctx)
	}
	errs := make([]error, len(w.groups))
	var wg sync.WaitGroup
	for i, g := range w.groups {
		wg.Go(func() { errs[i] = g.group.Wait(ctx) })
	}
	wg.Wait()
	return errors.Join(errs...)
}

func (w *chunkWork) cancel() {
	for _, g := range w.groups {
		g.group.Cancel()
	}
}

func (w *chunkWork) release() {
	for _, g := range w.groups {
		g.group.Release()
	}
	w.groups = nil
}

// rejectReasons tallies why records were rejected for good.
func (w *chunkWork) rejectReasons() map[string]int {
	reasons := map[string]int{}
	for _, g := range w.groups {
		for i := 0; i < g.group.Len(); i++ {
			if o := g.group.Outcome(i); o.State == producer.Failed && !o.Retryable && o.Err != nil {
				reasons[reasonOf(o.Err)]++
			}
		}
	}
	return reasons
}

// badEvents tallies the events of a chunk that could not become records:
// each is dropped for good, which is its final outcome. Only reasons and
// event indexes are kept, never content.
type badEvents struct {
	count   int
	invalid int   // of count, events the reader found not to be events at all
	first   error // the first one's error, for the log
	reasons map[string]int
}

func (b *badEvents) add(index int, err error) {
	b.count++
	if errors.Is(err, chunk.ErrInvalidEvent) {
		b.invalid++
	}
	if b.first == nil {
		b.first = fmt.Errorf("event %d: %w", index, err)
	}
	if b.reasons == nil {
		b.reasons = map[string]int{}
	}
	b.reasons[badReason(err)]++
}

// badReason names an event's error without its place, so that like errors
// add up.
func badReason(err error) string {
	var fe *chunk.FormatError
	if errors.As(err, &fe) {
		return fe.Reason
	}
	return err.Error()
}

// unreadable reports whether nothing in the chunk was an event: a chunk that
// is not Fluent Bit's msgpack at all (JSON text, say, is a run of msgpack
// integers). Such a chunk is an error, like one with broken framing.
func (w *chunkWork) unreadable() bool {
	return w.events == 0 && (w.malformed != nil || w.bad.count > 0 && w.bad.invalid == w.bad.count)
}

type scratch struct {
	reader chunk.Reader
	record record.Record
}

// RecordOptions maps the record options of cfg onto record.Options. It is
// the one place where configuration meets the record transforms.
func RecordOptions(cfg conf.Config) (record.Options, error) {
	comp, err := record.ParseCompression(string(cfg.Compression))
	if err != nil {
		return record.Options{}, fmt.Errorf("compression: %w", err)
	}
	over, err := record.ParseOversize(string(cfg.Oversize))
	if err != nil {
		return record.Options{}, fmt.Errorf("oversize: %w", err)
	}
	ro := record.Options{
		PartitionKey:     cfg.PartitionKeyTemplate,
		DataKeys:         cfg.DataKeys,
		LogKey:           cfg.LogKey,
		AppendNewline:    cfg.AppendNewline || cfg.Aggregation == conf.AggregationSimple, // each record ends in "\n", as the C plugin's
		ReplaceDots:      cfg.ReplaceDots,
		TimeKey:          cfg.TimeKey,
		RecordIDKey:      cfg.RecordIDKey,
		Compression:      comp,
		CompressionLevel: cfg.CompressionLevel,
		MaxRecordSize:    cfg.MaxRecordSize,
		Oversize:         over,
	}
	if cfg.TimeKey != "" {
		ro.TimeKeyFormat = cfg.TimeKeyFormat
	}
	if !cfg.StreamTemplate.IsStatic() {
		ro.Stream = cfg.StreamTemplate
	}
	return ro, nil
}

// New builds an instance of one stream around an already-created producer,
// with the record transforms of RecordOptions(cfg), which cannot fail for
// any Config that conf.Load returns. The instance owns prod from then on
// and stops it in Close. A stream template is sent to prod's stream.
func New(name string, cfg conf.Config, prod *producer.Producer, log *slog.Logger) *Instance {
	one := func(context.Context, string) (*producer.Producer, error) { return prod, nil }
	ro, err := RecordOptions(cfg)
	ro.Stream = nil
	var in *Instance
	if err == nil {
		in, err = NewWithRecords(context.Background(), name, cfg, ro, one, log)
	}
	if err != nil {
		// Open checks the same first and fails init; here (tests, tools)
		// the instance still runs, loudly, without transforms.
		log.Error("record options rejected; records are sent without transforms", "reason", err.Error())
		in, _ = NewWithRecords(context.Background(), name, cfg, record.Options{}, one, log)
	}
	return in
}

// NewWithRecords builds an instance with the record transforms given, whose
// producers newProducer makes. A problem with the transforms is returned,
// naming the option. Without a stream template (ro.Stream nil) the one
// producer, of cfg.Stream, is made now; with one, each stream's producer is
// made when a record first names it, up to cfg.MaxStreams.
func NewWithRecords(ctx context.Context, name string, cfg conf.Config, ro record.Options, newProducer ProducerFactory, log *slog.Logger) (*Instance, error) {
	return newWithMetrics(ctx, name, cfg, ro, newProducer, log, newMetrics(name, cfg.Stream))
}

// newWithMetrics is NewWithRecords with the metrics that Open already gave
// the producers' clients.
func newWithMetrics(ctx context.Context, name string, cfg conf.Config, ro record.Options, newProducer ProducerFactory, log *slog.Logger, m *metrics) (*Instance, error) {
	records, err := record.New(ro)
	if err != nil {
		return nil, err
	}
	in := &Instance{name: name, cfg: cfg, log: log, records: records, health: newHealth(cfg.FlushTimeout, time.Now),
		routed: ro.Stream != nil, streams: newStreams(newProducer, max(cfg.MaxStreams, 1)), metrics: m}
	if !in.routed {
		if _, _, err := in.streams.get(ctx, []byte(cfg.Stream)); err != nil {
			return nil, err
		}
	}
	in.scratch.New = func() any { return new(scratch) }
	if cfg.RetryLedger {
		in.ledger = newLedger(ledgerMaxEntries, ledgerMaxBytes, ledgerMaxAge, in.evictFromLedger)
	}
	m.watch(in)
	return in, nil
}

// NoteInitThread records the OS thread that initialised the instance:
// Fluent Bit's engine thread.
func (in *Instance) NoteInitThread(tid int) { in.initThread.Store(int64(tid)) }

// CheckFlushThread, at the first flush only, warns when the flush runs on
// the thread that initialised the instance: Fluent Bit's engine thread
// (workers 0). A flush waits for delivery, up to flush_timeout, and the
// engine thread then serves no input, timer or other output meanwhile.
func (in *Instance) CheckFlushThread(tid int) {
	if in.threadChecked.Load() || in.threadChecked.Swap(true) {
		return
	}
	init := in.initThread.Load()
	in.log.Debug("first flush", "init_thread", init, "flush_thread", tid)
	if init != 0 && init == int64(tid) {
		in.log.Warn("flushes run on Fluent Bit's engine thread (workers 0): while a flush waits for Kinesis, up to flush_timeout, every input and output of this Fluent Bit waits too; set workers 1 or more in this [OUTPUT] section",
			"flush_timeout", in.cfg.FlushTimeout.String())
	}
}

// Name is the instance's name in logs.
func (in *Instance) Name() string { return in.name }

// Stats returns the running counts.
func (in *Instance) Stats() *Stats { return &in.stats }

// Flush sends the records of one chunk and says what Fluent Bit should do
// with it. It returns within the configured flush_timeout (plus the time to
// read the chunk), and at once while Kinesis is plainly failing (see health).
//
// data is read only before the first wait: Fluent Bit 1.8 frees the chunks
// of flushes still running when its Grace ends.
func (in *Instance) Flush(tag string, data []byte) Status {
	in.stats.Chunks.Add(1)
	if in.closed.Load() {
		in.log.Warn("flush after exit began; asking Fluent Bit to retry")
		return Retry
	}
	wait := in.cfg.FlushTimeout
	down, changed := in.health.failing()
	if changed {
		in.logHealth(down)
	}
	if down {
		if !in.health.probe() {
			in.stats.FastRetries.Add(1)
			return Retry
		}
		wait = min(wait, probeWait)
	}
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()

	id := chunkID{tag: tag, size: len(data)}
	var w *chunkWork
	if in.ledger != nil {
		id = in.ledger.id(tag, data)
		if p := in.ledger.take(id); p != nil {
			w = p.work
			in.stats.LedgerResumes.Add(1)
			delivered, rejected, retryable, inFlight := w.counts()
			in.log.Info("continuing a retried chunk from the ledger", "tag", tag,
				"delivered", delivered, "rejected", rejected, "to_send", retryable, "in_flight", inFlight)
		}
	}
	if w == nil {
		w = in.read(ctx, tag, data)
		if w.unrouted != nil {
			w.release()
			in.log.Warn("a stream's producer could not be made; the chunk will be retried", "tag", tag, "reason", w.unrouted.Error())
			in.stats.Retries.Add(1)
			return Retry
		}
		if w.unreadable() {
			in.stats.Malformed.Add(1)
			w.release()
			reason := w.malformed
			if reason == nil {
				reason = w.bad.first
			}
			in.log.Error("dropping a chunk that cannot be read", "tag", tag, "bytes", len(data), "reason", reason.Error())
			return Error
		}
		in.reportBadEvents(tag, &w.bad)
	}
	data = nil // never read again: see above

	if err := w.put(ctx); err != nil && ctx.Err() == nil {
		in.log.Warn("records could not be queued; the chunk will be retried", "tag", tag, "reason", err.Error())
	}
	if err := w.wait(ctx); err != nil || anyRetryable(w) {
		return in.retryLater(id, w)
	}
	return in.finish(tag, id.size, w)
}

// probeWait bounds the flush that tests a failing endpoint: long enough for
// a refused connection or an error status to come back, short enough that a
// queue of flushes at shutdown stays within Fluent Bit's deadline.
const probeWait = 500 * time.Millisecond

// logHealth logs each change of the endpoint's state, once.
func (in *Instance) logHealth(down bool) {
	if down {
		in.log.Warn("Kinesis is failing (no request succeeded for a flush_timeout); flushes ask for a retry at once, one probe per flush_timeout",
			"flush_timeout", in.cfg.FlushTimeout.String())
		return
	}
	in.log.Info("Kinesis answers again; flushes wait for delivery")
}

// read turns a chunk into groups, one per stream: one record per event,
// built by the record transforms. An event that cannot become a record is
// tallied in w.bad and the rest go on.
func (in *Instance) read(ctx context.Context, tag string, data []byte) *chunkWork {
	s := in.scratch.Get().(*scratch)
	defer in.scratch.Put(s)
	w := &chunkWork{size: len(data)}
	w.groups = w.first[:0]
	src := record.Source{Tag: tag}
	if in.records.NeedsChunkID() {
		src.Chunk = record.NewChunkID(tag, data)
	}
	randomKeys, truncated := 0, 0
	s.reader.Reset(data)
	for index := 0; s.reader.NextLazy(); index++ {
		src.Index = index
		if err := in.records.Build(&s.record, s.reader.Event(), src); err != nil {
			if s.reader.Err() != nil {
				break // the event's body is malformed: the chunk ends there, as Err says
			}
			w.bad.add(index, err)
			continue
		}
		g, err := in.groupOf(ctx, w, s.record.Stream)
		if errors.Is(err, ErrTooManyStreams) {
			w.bad.add(index, err)
			continue
		}
		if err != nil {
			w.unrouted = err
			return w
		}
		if s.record.RandomKey && in.cfg.PartitionKey != "" {
			randomKeys++ // the configured field or template had no value
		}
		if s.record.Truncated {
			truncated++
		}
		w.held += len(s.record.Data) + recordState
		if s.record.RandomKey {
			// Any key will do: the producer picks one per aggregate.
			g.AddAnyKey(s.record.Data)
		} else {
			g.Add(s.record.Data, unsafeString(s.record.PartitionKey))
			w.held += len(s.record.PartitionKey)
		}
		w.events++
	}
	w.malformed = s.reader.Err()
	if w.events > 0 {
		in.stats.Records.Add(int64(w.events))
	}
	if randomKeys > 0 {
		in.stats.RandomKeys.Add(int64(randomKeys))
	}
	if truncated > 0 {
		in.stats.Truncated.Add(int64(truncated))
		in.log.Warn("records cut to fit max_record_size", "tag", tag, "truncated", truncated)
	}
	return w
}

// groupOf returns the chunk's group for a record's stream (nil: the
// instance's one stream), adding it, and making the stream's producer, on
// first use.
func (in *Instance) groupOf(ctx context.Context, w *chunkWork, stream []byte) (*producer.Group, error) {
	if !in.routed {
		if len(w.groups) == 1 {
			return w.groups[0].group, nil
		}
		stream = unsafe.Slice(unsafe.StringData(in.cfg.Stream), len(in.cfg.Stream)) // read only
	}
	if g := w.groupFor(stream); g != nil {
		return g, nil
	}
	prod, created, err := in.streams.get(ctx, stream)
	if err != nil {
		return nil, err
	}
	if created && in.routed {
		if in.streamFromFields() {
			// The name holds record data: it is not logged.
			in.log.Info("sending to a new stream", "streams", in.streams.len(), "max_streams", in.cfg.MaxStreams)
		} else {
			in.log.Info("sending to a new stream", "stream", string(stream), "streams", in.streams.len(), "max_streams", in.cfg.MaxStreams)
		}
	}
	g := prod.NewGroup()
	if !in.routed {
		// Every record goes here. JSON takes a little more than msgpack.
		g.Grow(w.size + w.size/8)
	}
	w.groups = append(w.groups, streamGroup{stream: string(stream), prod: prod, group: g})
	return g, nil
}

// unsafeString views b as a string for Group.Add, which copies it.
func unsafeString(b []byte) string { return unsafe.String(unsafe.SliceData(b), len(b)) }

// reportBadEvents counts and logs, without content, the events of a chunk
// that were dropped because they cannot become records.
func (in *Instance) reportBadEvents(tag string, b *badEvents) {
	if b.count == 0 {
		return
	}
	in.stats.BadEvents.Add(int64(b.count))
	in.metrics.dropped.WithLabelValues(reasonBadEvent).Add(float64(b.count))
	in.log.Error("dropped events that cannot become records; the rest of the chunk is sent", "tag", tag,
		"dropped", b.count, "reasons", fmt.Sprint(b.reasons), "first", b.first.Error())
}

func anyRetryable(w *chunkWork) bool {
	_, _, retryable, pending := w.counts()
	return retryable > 0 || pending > 0
}

// finish reports a chunk whose records all have a final outcome.
func (in *Instance) finish(tag string, size int, w *chunkWork) Status {
	delivered, rejected, _, _ := w.counts()
	in.stats.Delivered.Add(int64(delivered))
	if rejected > 0 {
		in.stats.Rejected.Add(int64(rejected))
		for _, sg := range w.groups {
			in.metrics.countDropped(sg.group)
		}
		in.log.Error("records rejected by Kinesis for good and not retried", "tag", tag, "rejected", rejected, "delivered", delivered, "reasons", fmt.Sprint(w.rejectReasons()))
	}
	w.release()
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
func (in *Instance) retryLater(id chunkID, w *chunkWork) Status {
	in.stats.Retries.Add(1)
	w.cancel()
	for _, sg := range w.groups {
		in.metrics.countExpired(sg.group)
	}
	delivered, rejected, retryable, inFlight := w.counts()
	in.log.Warn("not every record was delivered in time; the chunk will be retried",
		"tag", id.tag, "delivered", delivered, "rejected", rejected, "to_retry", retryable, "in_flight", inFlight)
	if in.ledger != nil {
		in.ledger.put(id, w)
	} else {
		in.evict(&pending{work: w})
	}
	return Retry
}

// evict forgets a chunk's work once its requests in flight have finished.
func (in *Instance) evict(p *pending) {
	w := p.work
	w.cancel()
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), in.cfg.RecordTTL+in.cfg.FlushTimeout)
		defer cancel()
		if w.wait(ctx) == nil {
			w.release()
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
			_, _, r, pend := p.work.counts()
			records += r + pend
		}
	}
	if down, _ := in.health.failing(); down {
		// Kinesis has answered nothing for a flush_timeout: one short
		// attempt, not the whole exit_timeout, so that the host's shutdown
		// is not held for nothing.
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, probeWait)
		defer cancel()
	}
	err := in.streams.stop(ctx)
	if waiting > 0 {
		in.log.Warn("chunks awaiting a retry were not sent before exit", "chunks", waiting, "records", records)
	}
	if err != nil {
		in.log.Error("records still buffered at exit could not be sent", "reason", err.Error())
	}
	if n := in.stats.FastRetries.Load(); n > 0 {
		in.log.Warn("flushes were answered with a retry at once while Kinesis was failing; Fluent Bit keeps those chunks (sent after a restart with storage.type filesystem)", "flushes", n)
	}
	in.log.Info("stopped", "chunks", in.stats.Chunks.Load(), "records", in.stats.Records.Load(),
		"delivered", in.stats.Delivered.Load(), "rejected", in.stats.Rejected.Load(), "retries", in.stats.Retries.Load(),
		"bad_events", in.stats.BadEvents.Load(), "random_keys", in.stats.RandomKeys.Load(), "truncated", in.stats.Truncated.Load(), "fast_retries", in.stats.FastRetries.Load())
	in.metrics.close(ctx)
	return err
}

// ExitTimeout is how long Close may take at Fluent Bit's exit.
func (in *Instance) ExitTimeout() time.Duration { return in.cfg.ExitTimeout }

// streamFromFields reports whether the stream template reads record
// fields, whose values must not be logged.
func (in *Instance) streamFromFields() bool {
	for _, p := range in.cfg.StreamTemplate {
		if p.Kind == conf.PartField {
			return true
		}
	}
	return false
}
