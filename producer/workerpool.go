package producer

import (
	"context"
	"errors"
	"sync"

	"github.com/kinesis-kpl/fluent-bit-kinesis-kpl/aggregation"
)

// WorkerPool sends PutRecords entries that callers built themselves (with
// ShardMap, say). It is a thin adapter over the Producer's engine: each
// entry becomes one record of a Group, sent as it is (AggregateBatchCount
// 1: its own explicit hash key or partition key decides the shard).
// Batching into requests of at most BatchCount entries and BatchSize
// bytes, MaxConnections, retrying only the failed entries with jittered
// backoff until RecordTTL after they were added, RateLimit (per shard of
// GetShards' map, when there is one), BufferMaxBytes (Add waits while it
// is reached), MaxRecordSize and panic recovery are therefore the
// Producer's own. The engine sees each entry as one record, so it cannot
// check an aggregate built elsewhere against a reshard. Entries that fail
// for good or expire are reported on Errors as *FailureRecord with their
// UserRecords.
type WorkerPool struct {
	*Config

	p   *Producer
	err error // New's error for an invalid Config: every entry fails with it

	mu      sync.Mutex
	started bool
	closed  bool
	paused  bool
	queued  []*AggregatedRecordRequest // added before Start or while paused
	live    map[*poolItem]struct{}     // handed to the engine, no outcome yet
	waiting sync.WaitGroup             // one per entry handed to the engine

	errs     chan error
	errMu    sync.Mutex // guards sending on and closing errs
	errsDone bool
	done     chan struct{}
}

// Work is a set of entries for one PutRecords call, in request order. The
// engine assembles requests itself; Work is kept for callers of the seed
// API that name it.
type Work struct {
	Records []*AggregatedRecordRequest
}

// poolItem is one entry handed to the engine, in a group of its own.
type poolItem struct {
	req *AggregatedRecordRequest
	g   *Group
}

// NewWorkerPool returns a WorkerPool for config; zero fields take the
// Config defaults. Client must be set; with an invalid Config every entry
// fails with the error New would return.
func NewWorkerPool(config *Config) *WorkerPool {
	c := config.withDefaults()
	wp := &WorkerPool{
		Config: &c,
		live:   map[*poolItem]struct{}{},
		errs:   make(chan error, c.BacklogCount),
		done:   make(chan struct{}),
	}
	engine := c
	engine.AggregateBatchCount = 1 // entries are built already
	wp.p, wp.err = New(&engine)
	return wp
}

// Start starts sending. Calling it again does nothing.
func (wp *WorkerPool) Start() {
	wp.mu.Lock()
	if wp.started || wp.closed || wp.err != nil {
		wp.mu.Unlock()
		return
	}
	wp.started = true
	wp.p.Start()
	var queued []*AggregatedRecordRequest
	if !wp.paused {
		queued, wp.queued = wp.queued, nil
		wp.waiting.Add(len(queued))
	}
	wp.mu.Unlock()
	for _, r := range queued {
		wp.send(r)
	}
}

// Add queues an entry. It waits while the engine's buffer is full. After
// Close the entry is reported on Errors as failed with ErrStoppedProducer.
func (wp *WorkerPool) Add(record *AggregatedRecordRequest) {
	if record == nil || record.Entry == nil {
		return
	}
	wp.mu.Lock()
	switch {
	case wp.closed || wp.err != nil:
		wp.mu.Unlock()
		wp.report(record, wp.stoppedErr())
		return
	case !wp.started || wp.paused:
		wp.queued = append(wp.queued, record)
		wp.mu.Unlock()
		return
	}
	wp.waiting.Add(1)
	wp.mu.Unlock()
	wp.send(record)
}

func (wp *WorkerPool) stoppedErr() error {
	if wp.err != nil {
		return wp.err
	}
	return &ErrStoppedProducer{}
}

// send hands one entry to the engine and waits for its outcome in a
// goroutine of its own. The caller has counted it in waiting.
func (wp *WorkerPool) send(r *AggregatedRecordRequest) {
	g := wp.p.NewGroup()
	data, pk := r.Entry.Data, deref(r.Entry.PartitionKey)
	if ehk := deref(r.Entry.ExplicitHashKey); ehk != "" {
		h, err := aggregation.ParseHashKey(ehk)
		if err != nil {
			g.Release()
			wp.report(r, &ShardBucketError{})
			wp.waiting.Done()
			return
		}
		g.AddWithHashKey(data, pk, h)
	} else {
		g.Add(data, pk)
	}
	it := &poolItem{req: r, g: g}
	wp.mu.Lock()
	wp.live[it] = struct{}{}
	wp.mu.Unlock()
	if err := wp.p.PutGroup(context.Background(), g); err != nil {
		wp.mu.Lock()
		delete(wp.live, it)
		wp.mu.Unlock()
		g.Release()
		wp.report(r, err)
		wp.waiting.Done()
		return
	}
	go wp.await(it)
}

// await reports the entry's outcome once it has one.
func (wp *WorkerPool) await(it *poolItem) {
	defer wp.waiting.Done()
	_ = it.g.wait(context.Background(), false) // batch: no flush per entry
	wp.mu.Lock()
	delete(wp.live, it)
	o := it.g.Outcome(0)
	wp.mu.Unlock()
	it.g.Release()
	if o.State == Failed && !errors.Is(o.Err, ErrCanceled) { // ErrCanceled: Pause took it back
		wp.report(it.req, o.Err)
	}
}

// Flush sends the queued entries now, without waiting for a full request.
func (wp *WorkerPool) Flush() {
	if wp.err == nil {
		wp.p.requestFlush()
	}
}

// Pause stops sending new requests and returns the queued entries (not
// those in flight, which finish). Resume starts again.
func (wp *WorkerPool) Pause() []*AggregatedRecordRequest {
	wp.mu.Lock()
	defer wp.mu.Unlock()
	wp.paused = true
	out := wp.queued
	wp.queued = nil
	for it := range wp.live {
		it.g.Cancel()
		if o := it.g.Outcome(0); o.State == Failed && errors.Is(o.Err, ErrCanceled) {
			out = append(out, it.req)
		}
	}
	return out
}

// Resume queues records (typically those Pause returned, redistributed)
// and starts sending again.
func (wp *WorkerPool) Resume(records []*AggregatedRecordRequest) {
	wp.mu.Lock()
	wp.paused = false
	var send []*AggregatedRecordRequest
	for _, r := range append(wp.queued, records...) {
		if r != nil && r.Entry != nil {
			send = append(send, r)
		}
	}
	wp.queued = nil
	if !wp.started || wp.closed {
		wp.queued = send
		send = nil
	}
	wp.waiting.Add(len(send))
	wp.mu.Unlock()
	for _, r := range send {
		wp.send(r)
	}
	wp.Flush()
}

// Close stops taking entries and sends what is queued; Wait returns when
// everything has an outcome. Errors is closed then.
func (wp *WorkerPool) Close() {
	wp.mu.Lock()
	if wp.closed {
		wp.mu.Unlock()
		return
	}
	wp.closed, wp.paused = true, false
	queued := wp.queued
	wp.queued = nil
	started := wp.started
	if started {
		wp.waiting.Add(len(queued))
	}
	wp.mu.Unlock()
	if !started {
		for _, r := range queued {
			wp.report(r, wp.stoppedErr())
		}
		if wp.p != nil {
			_ = wp.p.Stop(context.Background())
		}
		wp.finish()
		return
	}
	for _, r := range queued {
		wp.send(r)
	}
	wp.p.requestFlush()
	go func() {
		wp.waiting.Wait() // each entry delivered, failed for good or expired
		_ = wp.p.Stop(context.Background())
		wp.finish()
	}()
}

// Wait blocks until a closed pool has sent everything (each entry
// delivered, failed for good or expired after RecordTTL).
func (wp *WorkerPool) Wait() {
	<-wp.done
}

// Errors returns the channel failures are reported on (*FailureRecord).
// It is buffered (BacklogCount); when it is full, failures are logged and
// dropped rather than holding up sending.
func (wp *WorkerPool) Errors() chan error { return wp.errs }

func (wp *WorkerPool) report(r *AggregatedRecordRequest, err error) {
	fr := &FailureRecord{Err: err, PartitionKey: deref(r.Entry.PartitionKey), ExplicitHashKey: deref(r.Entry.ExplicitHashKey), UserRecords: r.UserRecords}
	wp.errMu.Lock()
	defer wp.errMu.Unlock()
	if wp.errsDone {
		wp.Logger.Error("failure not reported: the pool is closed", err, LogValue{"records", len(r.UserRecords)})
		return
	}
	select {
	case wp.errs <- fr:
	default:
		wp.Logger.Error("failure not reported: nobody reads WorkerPool.Errors", err, LogValue{"records", len(r.UserRecords)})
	}
}

// finish ends the pool: no more reports, Errors closed, Wait released.
func (wp *WorkerPool) finish() {
	wp.errMu.Lock()
	wp.errsDone = true
	close(wp.errs)
	wp.errMu.Unlock()
	close(wp.done)
}
