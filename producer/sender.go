package producer

import (
	"context"
	"errors"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"

	"github.com/kinesis-kpl/fluent-bit-kinesis-kpl/aggregation"
)

// request is one PutRecords call in preparation or in flight.
type request struct {
	// done is set once complete no longer uses the request (it may be
	// reused): a panic after that has nothing of it to fail.
	done    bool
	entries []*entry
	// The request as sent: body through a BodyPutter, in and records
	// through a plain Putter.
	body    []byte
	in      kinesis.PutRecordsInput
	records []types.PutRecordsRequestEntry
	result  RequestResult // for Config.Observe, reused
	scratch bodyScratch
	stream  BodyStream // a large body, written in windows (StreamPutter)
}

// idleKeptBodies is how many requests, each with its body buffer (up to
// about 4/3 BatchSize), stay kept for reuse once the producer is quiet.
// While busy every request kept for reuse keeps its body: at most
// MaxConnections, as many as the requests in flight hold anyway, so that
// a request does not allocate and clear a body of its own whenever more
// than a couple are in flight (with aggregation off, a chunk of a few
// thousand records makes several).
const idleKeptBodies = 2

func (p *Producer) newRequestLocked() *request { return p.freeRequests.get() }

func (p *Producer) freeRequestLocked(r *request) {
	clear(r.entries)
	r.entries = r.entries[:0]
	clear(r.records)
	r.records = r.records[:0]
	r.in = kinesis.PutRecordsInput{}
	r.done = false
	r.body = r.body[:0]
	p.freeRequests.put(r)
}

// trimFreeRequestsLocked leaves the requests kept but not needed since the
// last trim, and their bodies, to the garbage collector, down to
// idleKeptBodies.
func (p *Producer) trimFreeRequestsLocked() {
	p.freeRequests.trim(idleKeptBodies, func(*request) {})
}

// errCountMismatch is the last error of entries whose response did not
// have one result per entry.
var errCountMismatch = errors.New("producer: PutRecords response has a different number of results than the request had entries")

// worker sends requests until the producer stops.
func (p *Producer) worker() {
	defer p.wg.Done()
	for {
		select {
		case req := <-p.requests:
			p.serve(req)
		case <-p.stop:
			return
		}
	}
}

// put sends req once: its body written straight from the entries when the
// client is a BodyPutter, a PutRecordsInput otherwise. A panic in the
// client is turned into an error: the producer runs inside Fluent Bit.
func (p *Producer) put(req *request) (out *kinesis.PutRecordsOutput, err error) {
	ctx, cancel := context.WithTimeout(p.sendCtx, p.cfg.RequestTimeout)
	defer cancel()
	if p.bodies != nil {
		// The aggregates are written straight into the body, and summed
		// there.
		req.scratch.lanes = p.lanes
		if sp, ok := p.bodies.(StreamPutter); ok && bodyLenAbout(p.cfg.WireFormat, p.cfg.StreamName, req.entries) > streamMinBody {
			req.stream.begin(p.cfg.WireFormat, p.cfg.StreamName, req.entries, &req.scratch)
			defer func() {
				req.stream.end()
				p.releaseAggregates(req.entries, nil)
			}()
			return safePut(func() (*kinesis.PutRecordsOutput, error) {
				return sp.PutRecordsStream(ctx, p.cfg.StreamName, p.cfg.WireFormat, &req.stream)
			})
		}
		req.body = appendWholeBody(req.body[:0], p.cfg.WireFormat, p.cfg.StreamName, req.entries, &req.scratch)
		p.releaseAggregates(req.entries, nil)
		return safePut(func() (*kinesis.PutRecordsOutput, error) {
			return p.bodies.PutRecordsBody(ctx, p.cfg.StreamName, p.cfg.WireFormat, req.body)
		})
	}
	aggs := p.writeAggregates(req.entries)
	req.scratch.sums = sumEntries(p.lanes, req.entries, req.scratch.sums)
	defer p.releaseAggregates(req.entries, aggs) // the call reads them
	for _, e := range req.entries {
		re := types.PutRecordsRequestEntry{Data: e.data, PartitionKey: &e.pk}
		if e.ehk != "" {
			re.ExplicitHashKey = &e.ehk
		}
		req.records = append(req.records, re)
	}
	req.in.StreamName = &p.cfg.StreamName
	req.in.Records = req.records
	return safePut(func() (*kinesis.PutRecordsOutput, error) {
		return p.cfg.Client.PutRecords(ctx, &req.in)
	})
}

// writeAggregates writes the aggregates among entries, for a Putter that
// is not a BodyPutter, in one buffer sized for them all, taken from the
// spares when one is large enough; it returns the buffer, nil when there
// are none. Entries wait in the buffer without their bytes
// (entry.aggregate): they are written only when sent, once per try (a
// BodyPutter's straight into the body, bodyScratch), so every byte in
// flight is held by its group and its request, not a third time by its
// entry.
func (p *Producer) writeAggregates(entries []*entry) []byte {
	n := 0
	for _, e := range entries {
		if e.aggregate() {
			n += e.dataLen
		}
	}
	if n == 0 {
		return nil
	}
	var buf []byte
	select {
	case buf = <-p.aggBufs:
	default:
	}
	if cap(buf) < n {
		buf = make([]byte, 0, n)
	}
	buf = buf[:0]
	for _, e := range entries {
		if e.aggregate() {
			buf = e.writeData(buf)
		}
	}
	return buf
}

// releaseAggregates forgets the written bytes of entries' aggregates and
// keeps buf, from writeAggregates (nil for a body), for the next request
// unless one is kept already or it is larger than a request: a buffer per
// request in flight would be a request's worth of memory per connection.
func (p *Producer) releaseAggregates(entries []*entry, buf []byte) {
	for _, e := range entries {
		if e.aggregate() {
			e.data = nil
		}
	}
	if buf == nil || cap(buf) > p.cfg.BatchSize {
		return
	}
	select {
	case p.aggBufs <- buf[:0]:
	default:
	}
}

// sumEntries writes the MD5 of the aggregates among entries that have none
// yet, all in one call so that they share SIMD lanes, and returns scratch
// emptied for reuse. Every path that sends an entry or hands its data out
// goes through it first.
func sumEntries(lanes *aggregation.Lanes, entries []*entry, scratch [][]byte) [][]byte {
	aggs := scratch[:0]
	for _, e := range entries {
		if e.unsummed {
			aggs = append(aggs, e.data)
		}
	}
	lanes.SumAll(aggs)
	for _, e := range entries {
		e.unsummed = false // only now: a panic in SumAll leaves them unsummed
	}
	clear(aggs) // hold no entry's bytes
	return aggs[:0]
}

// outcome kinds for finishRefs.
const (
	outcomeDelivered = iota
	outcomeFailed
	outcomeRetry // back to Pending, buffered again
)

// complete records the outcome of every entry of req and puts retried
// entries back in the buffer.
func (p *Producer) complete(req *request, out *kinesis.PutRecordsOutput, err error) {
	freed := 0
	var fails []failureBatch // one per failed entry with Put records
	refresh := false
	// The entries' records are finished in request order under one lock
	// per run of records of one group, released before anything else.
	var locks groupLocks
	defer locks.abandon()
	finish := func(e *entry, kind int, oerr error, retryable bool, shardID string) {
		f, fb := p.finishRefs(e, kind, oerr, retryable, shardID, &locks)
		freed += f
		if len(fb.records) > 0 {
			fb.ehk = strings.Clone(e.ehk)
			fails = append(fails, fb)
		}
	}
	var retries, isolate, misplaced []*entry
	var pe *panicError
	switch {
	case errors.As(err, &pe):
		// The Putter panicked: whether the service stored anything is
		// unknown, and trying again may panic again.
		p.logPanic(pe)
		for _, e := range req.entries {
			finish(e, outcomeFailed, pe, true, "")
		}
	case err != nil && p.sendCtx.Err() != nil:
		// Stop's deadline passed: the request was aborted.
		for _, e := range req.entries {
			finish(e, outcomeFailed, errOutcomeStopped, true, "")
		}
	case err != nil:
		class, code, msg := classifyError(err)
		switch {
		case class == classPermanent && len(req.entries) > 1:
			// One entry may be at fault: send each alone to find it.
			p.log.Error("PutRecords rejected a request; sending its entries one by one", err, LogValue{"entries", len(req.entries)})
			for _, e := range req.entries {
				e.solo, e.lastErr = true, err
				finish(e, outcomeRetry, nil, false, "")
				isolate = append(isolate, e)
			}
		case class == classPermanent:
			p.log.Error("PutRecords rejected an entry for good", err)
			ee := &EntryError{Code: code, Message: msg}
			for _, e := range req.entries {
				finish(e, outcomeFailed, ee, false, "")
			}
		default:
			if class == classRetryLoud {
				p.log.Error("PutRecords failed; retrying until the records' time to live, check the stream and the permissions", err, LogValue{"stream", p.cfg.StreamName})
			} else if p.cfg.Verbose {
				p.log.Error("PutRecords failed; retrying", err, LogValue{"entries", len(req.entries)})
			}
			for _, e := range req.entries {
				e.lastErr = err
				finish(e, outcomeRetry, nil, false, "")
				retries = append(retries, e)
			}
		}
	case out == nil || len(out.Records) != len(req.entries):
		n := 0
		if out != nil {
			n = len(out.Records)
		}
		p.log.Error("PutRecords response does not match the request; retrying every entry", errCountMismatch,
			LogValue{"entries", len(req.entries)}, LogValue{"results", n})
		for _, e := range req.entries {
			e.lastErr = errCountMismatch
			finish(e, outcomeRetry, nil, false, "")
			retries = append(retries, e)
		}
	default:
		// Per-entry failures are logged once per request and code, not
		// once per entry.
		failed, rejected, loud := 0, 0, 0
		var rejectedErr, loudErr *EntryError
		for i, e := range req.entries {
			res := &out.Records[i]
			if res.ErrorCode == nil || *res.ErrorCode == "" {
				shardID := deref(res.ShardId)
				if e.shard >= 0 && shardID == e.table.ids[e.shard] {
					// The map's own string: a record's outcome then keeps
					// nothing of the response.
					shardID = e.table.ids[e.shard]
				} else if e.shard >= 0 && shardID != "" {
					// A reshard the map has not seen. A plain record is
					// fine wherever it lands, and so is a newline
					// aggregate (plain text to every consumer); a KPL
					// aggregate is delivered only if the shard that
					// stored it holds all its records, which the new
					// map will tell.
					refresh = true
					if len(e.refs) > 1 && p.cfg.AggregationFormat == AggregationKPL {
						e.storedOn = shardID
						misplaced = append(misplaced, e)
						continue
					}
				}
				finish(e, outcomeDelivered, nil, false, shardID)
				continue
			}
			failed++
			code := *res.ErrorCode
			class := classifyCode(code)
			ee := &EntryError{Code: code, Message: deref(res.ErrorMessage), Retryable: class != classPermanent}
			if class == classPermanent {
				rejected++
				rejectedErr = ee
				finish(e, outcomeFailed, ee, false, "")
				continue
			}
			if class == classRetryLoud {
				loud++
				loudErr = ee
			}
			e.lastErr = ee
			finish(e, outcomeRetry, nil, false, "")
			retries = append(retries, e)
		}
		locks.unlock() // the Logger runs with no group locked
		if rejected > 0 {
			p.log.Error("Kinesis rejected records for good", rejectedErr, LogValue{"entries", rejected})
		}
		if loud > 0 {
			p.log.Error("Kinesis failed records; retrying until their time to live, check the stream and the permissions", loudErr, LogValue{"entries", loud})
		}
		if p.cfg.Verbose {
			p.log.Info("PutRecords done", LogValue{"entries", len(req.entries)}, LogValue{"failed", failed})
		}
	}

	locks.unlock()
	testHook("complete")
	p.mu.Lock()
	defer p.unlockAfterComplete(req)
	testHook("complete locked")
	// Each entry leaves the request (sent false) as it is placed: freed,
	// back in the buffer or awaiting the map. Until then a panic fails
	// its records (abandon).
	p.bufferedBytes -= freed
	for _, e := range req.entries {
		if len(e.refs) == 0 {
			p.freeEntryLocked(e)
		}
	}
	for _, e := range isolate {
		if len(e.refs) > 0 {
			e.sent = false
			p.requeueLocked(e, 0)
		}
	}
	// The entries of one request back off together, so that they are
	// retried in one request again.
	tries := 0
	for _, e := range retries {
		tries = max(tries, e.tries)
	}
	due := p.now() + retryDelay(tries)
	for _, e := range retries {
		if len(e.refs) > 0 {
			e.sent = false
			p.requeueLocked(e, due)
		}
	}
	for _, e := range misplaced {
		e.sent = false
	}
	p.unverified = append(p.unverified, misplaced...)
	p.inflight--
	req.done = true
	p.freeRequestLocked(req)
	for i := range fails {
		p.notifyLocked(&fails[i])
	}
	if refresh {
		p.requestRefreshLocked()
	}
	if p.cfg.GetShards == nil {
		p.resolveMisplacedLocked() // no refresh will come
	}
	p.signalChangedLocked()
	p.dispatchLocked()
	if len(retries) > 0 || len(isolate) > 0 {
		p.kick()
	}
}

// finishRefs gives every current record of e the outcome kind. For
// outcomeRetry the records become buffered again and e keeps them; for
// the others e's references are dropped. It returns the bytes freed and
// the failures to notify. It does not take p.mu. The group locks it takes
// stay with locks, for the next entry's records.
func (p *Producer) finishRefs(e *entry, kind int, err error, retryable bool, shardID string, locks *groupLocks) (freed int, fails failureBatch) {
	live := e.refs[:0]
	for _, ref := range e.refs {
		g := locks.lock(ref.g)
		r := &g.recs[ref.idx]
		current := r.epoch == ref.epoch && (r.state == InFlight || (r.state == Pending && r.queued))
		if current && kind == outcomeRetry {
			r.state, r.queued = Pending, true
			live = append(live, ref)
			continue
		}
		if current {
			switch kind {
			case outcomeDelivered:
				r.state, r.shardID = Delivered, shardID
			case outcomeFailed:
				r.state, r.err, r.retryable = Failed, err, retryable
				fails.add(g, ref, err)
			}
			r.queued = false
			g.outstanding--
		}
		freed += ref.size()
		locks.dropRef()
	}
	clear(e.refs[len(live):])
	e.refs = live
	return freed, fails
}

// finishEntry is finishRefs for one entry on its own.
func (p *Producer) finishEntry(e *entry, kind int, err error, retryable bool, shardID string) (freed int, fails failureBatch) {
	var locks groupLocks
	defer locks.abandon()
	freed, fails = p.finishRefs(e, kind, err, retryable, shardID, &locks)
	locks.unlock()
	return freed, fails
}

// failureBatch collects the failed records of Put and PutUserRecord for
// NotifyFailures.
type failureBatch struct {
	err     error
	records []UserRecord
	pk      string
	ehk     string
}

// add notes a failed record if it came through Put or PutUserRecord.
// Caller holds g.mu.
func (f *failureBatch) add(g *Group, ref recRef, err error) {
	if !g.internal {
		return
	}
	var ur UserRecord
	if int(ref.idx) < len(g.users) {
		ur = g.users[ref.idx]
	}
	if ur == nil {
		ur = NewDataRecord(append([]byte(nil), ref.data()...), strings.Clone(ref.partitionKey()))
	}
	if f.err == nil {
		f.err, f.pk = err, ur.PartitionKey()
	}
	f.records = append(f.records, ur)
}

// notifyEntryLocked notifies the failures of entry e's records.
func (p *Producer) notifyEntryLocked(e *entry, f *failureBatch) {
	if len(f.records) > 0 {
		f.ehk = strings.Clone(e.ehk)
		p.notifyLocked(f)
	}
}

// notifyLocked sends f on the failures channel without ever blocking.
func (p *Producer) notifyLocked(f *failureBatch) {
	if len(f.records) == 0 {
		return
	}
	fr := &FailureRecord{Err: f.err, PartitionKey: f.pk, ExplicitHashKey: f.ehk, UserRecords: f.records}
	select {
	case p.failures <- fr:
	default:
		p.dropped++
	}
}

// requestRefresh asks the refresh goroutine for a new shard map.
func (p *Producer) requestRefresh() {
	select {
	case p.refreshReq <- struct{}{}:
	default:
	}
}

// requestRefreshLocked asks for a refresh; refreshLoop keeps calls
// minShardRefreshGap apart, so a request is never dropped.
func (p *Producer) requestRefreshLocked() {
	if p.cfg.GetShards == nil {
		return
	}
	p.requestRefresh()
}

// idleSleep is how long the loop sleeps with nothing buffered; it is woken
// before, when there is something to do.
const idleSleep = time.Hour

// loop flushes on FlushInterval, promotes due retries and wakes rate
// limited shards. With nothing buffered it sleeps until woken.
func (p *Producer) loop() {
	defer p.wg.Done()
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for {
		timer.Reset(p.loopStep())
		select {
		case <-timer.C:
		case <-p.wake:
		case <-p.stop:
			return
		}
	}
}

// loopStep does one round of the loop and returns how long to sleep. A
// panic fails what is buffered; the loop goes on.
func (p *Producer) loopStep() (sleep time.Duration) {
	defer func() {
		if v := recover(); v != nil {
			pe := recovered("the send loop", v)
			p.logPanic(pe)
			p.failBufferAfterPanic(pe)
			sleep = time.Millisecond
		}
	}()
	p.mu.Lock()
	defer p.mu.Unlock()
	p.inLoop = true
	testHook("loop")
	now := p.now()
	if now >= p.nextFlush {
		p.flushLocked()
		p.nextFlush = now + int64(p.cfg.FlushInterval)
	}
	next := p.nextFlush
	if r := p.promoteRetriesLocked(now); r > 0 && r < next {
		next = r
	}
	p.dispatchLocked()
	if now >= p.nextTrim {
		p.trimFreeEntriesLocked()
		p.trimFreeRequestsLocked()
		p.nextTrim = now + int64(freeTrimInterval)
	}
	if len(p.nonEmpty) == 0 && len(p.ready) == 0 && len(p.retry) == 0 {
		// Idle: a record to buffer or a request ending wakes the loop;
		// before that, trims give back what a burst left kept, or will
		// leave once its requests in flight end.
		p.asleep = true
		p.inLoop = false
		if p.inflight > 0 || len(p.freeEntries.items) > idleFreeEntries || len(p.freeRequests.items) > idleKeptBodies {
			return time.Duration(max(p.nextTrim-now, int64(time.Millisecond)))
		}
		return idleSleep
	}
	if w := p.rateWaitLocked(now); w > 0 && w < next {
		next = w
	}
	p.inLoop = false
	return time.Duration(max(next-now, int64(time.Millisecond)))
}

// rateWaitLocked returns when a ready entry held back by its shard's rate
// limit may go (0 when none waits).
func (p *Producer) rateWaitLocked(now int64) int64 {
	if p.cfg.RateLimit == NoRateLimit || len(p.ready) == 0 || p.inflight >= p.cfg.MaxConnections {
		return 0
	}
	var next int64
	for _, e := range p.ready {
		b := p.bucketLocked(e)
		if b == nil {
			continue
		}
		at := now + b.wait(now, e.size, p.cfg.RateLimit)
		if next == 0 || at < next {
			next = at
		}
	}
	return next
}

// refreshLoop calls GetShards on ShardRefreshInterval and on request.
func (p *Producer) refreshLoop() {
	defer p.wg.Done()
	if p.cfg.GetShards == nil {
		<-p.stop
		return
	}
	var tick <-chan time.Time
	if p.cfg.ShardRefreshInterval > 0 {
		t := time.NewTicker(p.cfg.ShardRefreshInterval)
		defer t.Stop()
		tick = t.C
	}
	for {
		select {
		case <-p.stop:
			return
		case <-tick:
		case <-p.refreshReq:
			// Keep refreshes a gap apart while a reshard settles,
			// but never drop a request: misplaced aggregates wait for
			// it.
			p.mu.Lock()
			wait := p.lastRefresh + int64(minShardRefreshGap) - p.now()
			p.mu.Unlock()
			if wait > 0 {
				t := time.NewTimer(time.Duration(wait))
				select {
				case <-p.stop:
					t.Stop()
					return
				case <-t.C:
				}
			}
		}
		p.safeRefresh()
	}
}

// safeRefresh refreshes the map; a panic fails the records being moved
// to the new map and what is buffered, and the refresh goroutine goes on.
func (p *Producer) safeRefresh() {
	defer func() {
		if v := recover(); v != nil {
			pe := recovered("the shard map refresh", v)
			p.logPanic(pe)
			p.failBufferAfterPanic(pe)
		}
	}()
	p.refresh()
}

func (p *Producer) refresh() {
	p.mu.Lock()
	p.lastRefresh = p.now()
	var old []types.Shard
	if p.table != nil {
		old = p.table.shards
	}
	p.mu.Unlock()
	ctx, cancel := context.WithTimeout(p.sendCtx, defaultShardListTimeout)
	shards, update, err := p.getShards(ctx, old)
	cancel()
	if err == nil && update {
		err = p.setShards(shards) // resolves misplaced aggregates
		if err == nil {
			p.log.Info("shard map updated", LogValue{"shards", len(shards)})
			p.kick()
			return
		}
	}
	if err != nil {
		p.log.Error("refreshing the shard map; keeping the current one", &ShardRefreshError{Err: err})
	}
	// The map stays: decide misplaced aggregates with it.
	p.mu.Lock()
	p.resolveMisplacedLocked()
	p.dispatchLocked()
	p.mu.Unlock()
	p.kick()
}

// getShards calls GetShards, turning a panic into an error.
func (p *Producer) getShards(ctx context.Context, old []types.Shard) (shards []types.Shard, update bool, err error) {
	defer func() {
		if r := recover(); r != nil {
			pe := recovered("GetShards", r)
			p.logPanic(pe)
			shards, update, err = nil, false, pe
		}
	}()
	return p.cfg.GetShards(ctx, old)
}

// safePut makes the PutRecords call, turning a panic into an error.
func safePut(call func() (*kinesis.PutRecordsOutput, error)) (out *kinesis.PutRecordsOutput, err error) {
	defer func() {
		if r := recover(); r != nil {
			out, err = nil, recovered("the PutRecords client", r)
		}
	}()
	return call()
}
