package producer

import (
	"context"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"
)

// WorkerPool sends AggregatedRecordRequests with PutRecords: it batches
// them into requests of at most BatchCount entries and BatchSize bytes,
// keeps at most MaxConnections requests in flight, and retries only the
// failed entries, with jittered exponential backoff, until RecordTTL after
// they were added. Entries that fail for good or expire are reported on
// Errors as *FailureRecord. It is the sending block for callers
// that build entries themselves (with ShardMap); the Producer has its own
// buffer so it can track every user record.
type WorkerPool struct {
	*Config

	mu       sync.Mutex
	queue    []*poolItem
	paused   bool
	closed   bool
	started  bool
	flushing bool
	inflight int
	errs     chan error
	errMu    sync.Mutex // guards sending on and closing errs
	errsDone bool
	wake     chan struct{}
	done     chan struct{}
	start    time.Time
	ctx      context.Context
	cancel   context.CancelFunc
	wg       sync.WaitGroup
}

// Work is what one PutRecords call of a WorkerPool carries: the entries,
// in request order.
type Work struct {
	Records []*AggregatedRecordRequest
	items   []*poolItem
}

func newWork(items []*poolItem) *Work {
	w := &Work{Records: make([]*AggregatedRecordRequest, len(items)), items: items}
	for i, it := range items {
		w.Records[i] = it.req
	}
	return w
}

type poolItem struct {
	req      *AggregatedRecordRequest
	deadline int64
	due      int64
	tries    int
	lastErr  error
	solo     bool // send alone: isolating an entry the service rejects
}

// NewWorkerPool returns a WorkerPool for config; zero fields take the
// Config defaults. Client must be set.
func NewWorkerPool(config *Config) *WorkerPool {
	c := config.withDefaults()
	ctx, cancel := context.WithCancel(context.Background())
	return &WorkerPool{
		Config: &c,
		errs:   make(chan error, c.BacklogCount),
		wake:   make(chan struct{}, 1),
		done:   make(chan struct{}),
		start:  time.Now(),
		ctx:    ctx,
		cancel: cancel,
	}
}

func (wp *WorkerPool) now() int64 { return int64(time.Since(wp.start)) }

// Start starts sending. Calling it again does nothing.
func (wp *WorkerPool) Start() {
	wp.mu.Lock()
	defer wp.mu.Unlock()
	if wp.started || wp.closed {
		return
	}
	wp.started = true
	wp.wg.Add(1)
	go wp.loop()
}

// Add queues an entry. After Close it is reported on Errors as failed
// with ErrStoppedProducer.
func (wp *WorkerPool) Add(record *AggregatedRecordRequest) {
	if record == nil || record.Entry == nil {
		return
	}
	wp.mu.Lock()
	if wp.closed {
		wp.mu.Unlock()
		wp.report(record, &ErrStoppedProducer{})
		return
	}
	now := wp.now()
	wp.queue = append(wp.queue, &poolItem{req: record, deadline: now + int64(wp.RecordTTL)})
	full := len(wp.queue) >= wp.BatchCount
	wp.mu.Unlock()
	if full {
		wp.kick()
	}
}

// Flush sends the queued entries now, without waiting for a full request.
func (wp *WorkerPool) Flush() {
	wp.mu.Lock()
	wp.flushing = true
	wp.mu.Unlock()
	wp.kick()
}

// Pause stops sending new requests and returns the queued entries (not
// those in flight, which finish). Resume starts again.
func (wp *WorkerPool) Pause() []*AggregatedRecordRequest {
	wp.mu.Lock()
	defer wp.mu.Unlock()
	wp.paused = true
	out := make([]*AggregatedRecordRequest, 0, len(wp.queue))
	for _, it := range wp.queue {
		out = append(out, it.req)
	}
	wp.queue = nil
	return out
}

// Resume queues records (typically those Pause returned, redistributed)
// and starts sending again.
func (wp *WorkerPool) Resume(records []*AggregatedRecordRequest) {
	wp.mu.Lock()
	wp.paused = false
	now := wp.now()
	for _, r := range records {
		if r != nil && r.Entry != nil {
			wp.queue = append(wp.queue, &poolItem{req: r, deadline: now + int64(wp.RecordTTL)})
		}
	}
	wp.flushing = true
	wp.mu.Unlock()
	wp.kick()
}

// Close stops taking entries and sends what is queued; Wait returns when
// everything has an outcome. Errors is closed then.
func (wp *WorkerPool) Close() {
	wp.mu.Lock()
	if wp.closed {
		wp.mu.Unlock()
		return
	}
	wp.closed, wp.flushing, wp.paused = true, true, false
	started := wp.started
	var unsent []*poolItem
	if !started {
		unsent, wp.queue = wp.queue, nil
	}
	wp.mu.Unlock()
	if !started {
		for _, it := range unsent {
			wp.report(it.req, &ErrStoppedProducer{})
		}
		wp.finish()
		return
	}
	wp.kick()
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

func (wp *WorkerPool) kick() {
	select {
	case wp.wake <- struct{}{}:
	default:
	}
}

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
	wp.cancel()
	wp.errMu.Lock()
	wp.errsDone = true
	close(wp.errs)
	wp.errMu.Unlock()
	close(wp.done)
}

// loop batches due entries into requests and hands them to senders.
func (wp *WorkerPool) loop() {
	defer wp.wg.Done()
	timer := time.NewTimer(wp.FlushInterval)
	defer timer.Stop()
	var sends sync.WaitGroup
	for {
		wp.mu.Lock()
		now := wp.now()
		for !wp.paused && wp.inflight < wp.MaxConnections {
			batch, expired := wp.takeLocked(now)
			for _, it := range expired {
				wp.report(it.req, &expiredError{last: it.lastErr})
			}
			if len(batch) == 0 {
				break
			}
			wp.inflight++
			sends.Add(1)
			go func() {
				defer sends.Done()
				wp.send(newWork(batch))
			}()
		}
		if len(wp.queue) == 0 {
			wp.flushing = false
		}
		finished := wp.closed && len(wp.queue) == 0 && wp.inflight == 0
		next := int64(wp.FlushInterval)
		for _, it := range wp.queue {
			if it.due > now {
				next = min(next, it.due-now)
			}
		}
		wp.mu.Unlock()
		if finished {
			sends.Wait()
			wp.finish()
			return
		}
		timer.Reset(time.Duration(next))
		select {
		case <-timer.C:
			wp.mu.Lock()
			wp.flushing = true
			wp.mu.Unlock()
		case <-wp.wake:
		}
	}
}

// takeLocked takes due entries for one request: only when a request is
// full or a flush is due. It also removes expired entries.
func (wp *WorkerPool) takeLocked(now int64) (batch, expired []*poolItem) {
	due := 0
	for _, it := range wp.queue {
		if it.due <= now {
			due++
		}
	}
	if due == 0 || (!wp.flushing && due < wp.BatchCount) {
		return nil, nil
	}
	kept := wp.queue[:0]
	bytes := 0
	for i, it := range wp.queue {
		if it.deadline <= now {
			expired = append(expired, it)
			continue
		}
		if it.due > now {
			kept = append(kept, it)
			continue
		}
		if len(batch) >= wp.BatchCount || bytes+it.req.size() > wp.BatchSize ||
			(len(batch) > 0 && (it.solo || batch[0].solo)) {
			kept = append(kept, wp.queue[i:]...)
			break
		}
		batch = append(batch, it)
		bytes += it.req.size()
	}
	clear(wp.queue[len(kept):])
	wp.queue = kept
	return batch, expired
}

// send puts one Work and requeues or reports its failed entries.
func (wp *WorkerPool) send(work *Work) {
	batch := work.items
	in := &kinesis.PutRecordsInput{StreamName: &wp.StreamName, Records: make([]types.PutRecordsRequestEntry, len(work.Records))}
	for i, r := range work.Records {
		in.Records[i] = *r.Entry
	}
	ctx, cancel := context.WithTimeout(wp.ctx, wp.RequestTimeout)
	out, err := safePut(ctx, wp.Client, in)
	cancel()
	now := wp.now()
	var retry []*poolItem
	fail := func(it *poolItem, err error) { wp.report(it.req, err) }
	switch {
	case err != nil:
		class, code, msg := classifyError(err)
		if class == classPermanent && len(batch) == 1 {
			fail(batch[0], &EntryError{Code: code, Message: msg})
			break
		}
		wp.Logger.Error("PutRecords failed; retrying", err, LogValue{"entries", len(batch)})
		for _, it := range batch {
			it.lastErr = err
			if class == classPermanent {
				// Send each alone to find the entry at fault.
				it.solo, it.tries = true, -1
			}
			retry = append(retry, it)
		}
	case out == nil || len(out.Records) != len(batch):
		wp.Logger.Error("PutRecords response does not match the request; retrying every entry", errCountMismatch)
		for _, it := range batch {
			it.lastErr = errCountMismatch
			retry = append(retry, it)
		}
	default:
		for i, it := range batch {
			res := &out.Records[i]
			if res.ErrorCode == nil || *res.ErrorCode == "" {
				continue
			}
			code := *res.ErrorCode
			ee := &EntryError{Code: code, Message: deref(res.ErrorMessage), Retryable: classifyCode(code) != classPermanent}
			if !ee.Retryable {
				fail(it, ee)
				continue
			}
			it.lastErr = ee
			retry = append(retry, it)
		}
	}
	wp.mu.Lock()
	for _, it := range retry {
		it.tries++
		it.due = now
		if it.tries > 0 {
			it.due += retryDelay(it.tries - 1)
		}
		if it.deadline <= now {
			wp.mu.Unlock()
			fail(it, &expiredError{last: it.lastErr})
			wp.mu.Lock()
			continue
		}
		wp.queue = append(wp.queue, it)
	}
	wp.inflight--
	wp.mu.Unlock()
	wp.kick()
}

// safePut calls PutRecords, turning a panic into an error.
func safePut(ctx context.Context, c Putter, in *kinesis.PutRecordsInput) (out *kinesis.PutRecordsOutput, err error) {
	defer func() {
		if r := recover(); r != nil {
			out, err = nil, recovered("the PutRecords client", r)
		}
	}()
	return c.PutRecords(ctx, in)
}
