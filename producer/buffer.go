package producer

import (
	"math/rand/v2"
	"time"
	"unsafe"

	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"

	"github.com/kinesis-kpl/fluent-bit-kinesis-kpl/aggregation"
)

// entry is one PutRecords request entry: an aggregate of records
// predicted for one shard, or a single record sent plain.
//
// An aggregate's bytes are not kept while it waits: the entry holds its
// encoder (KPL format), whose records are references to the groups' bytes,
// or only its references (newline format), and the bytes are written out
// when a request is: straight into its body (bodyScratch), or, for a
// Putter that is not a BodyPutter, into a buffer the request gives back
// after its call (writeAggregates). So each record's bytes are held once
// while buffered, in its group, and written only into the request.
type entry struct {
	buf []byte // partition key, then explicit hash key (aggregates, records without a key)
	// data is a plain record's own bytes; for an aggregate it is set only
	// while its request is written (bodyScratch, writeAggregates).
	data    []byte
	enc     *aggregation.Encoder // a KPL aggregate's records; owned by the entry
	newline bool                 // a newline aggregate of refs' records
	dataLen int                  // len(data) once written
	pk      string               // views buf or a record's bytes
	ehk     string               // "" for none; views buf, a record's bytes or a shard table string
	refs    []recRef
	table   *shardTable // the map shard refers to
	shard   int         // predicted shard in table, -1 for none
	size    int         // data plus partition key, as Kinesis counts
	tries   int
	due     int64 // retry not before this (producer clock)
	lastErr error
	solo    bool // send in a request of its own (isolating a bad entry)
	// storedOn is the shard an aggregate was stored on when that was not
	// the predicted one; set while it waits for the map to tell whether
	// that shard holds all its records.
	storedOn string
	sent     bool // in a request whose outcome is not recorded yet
	anyKey   bool // from the aggregator of records without a key of their own (no shard)
	// unsummed: a KPL aggregate written without its MD5 yet. The MD5 is
	// written with the rest of its request's just before the request is
	// sent (sumEntries), so that they share SIMD lanes.
	unsummed bool
}

// Caps on the free lists and on open key aggregators: the producer's own
// memory stays within the ceiling doc.go gives whatever the keys.
const (
	// maxFreeEncoders bounds the encoders kept for reuse; an encoder holds
	// up to about 2*AggregateBatchSize bytes.
	maxFreeEncoders = 16
	// maxFreeAggregators bounds the (small) aggregators kept for reuse.
	maxFreeAggregators = 512
	// idleFreeEntries is how many entries stay kept for reuse once the
	// producer is quiet; while busy it keeps as many as its requests and
	// backlog hold (freeEntriesMax), so that a burst with an entry per
	// record (aggregation off) does not allocate them anew each time.
	// Their buffers together stay under Config.BatchSize
	// (freeEntryLocked).
	idleFreeEntries = 1024
	// freeTrimInterval is how often entries that were not needed during
	// the whole interval are left to the garbage collector, down to
	// idleFreeEntries.
	freeTrimInterval = 10 * time.Second
)

// freeEntriesMax bounds the entries kept for reuse: as many as the
// backlog and every request in flight hold at once.
func freeEntriesMax(c *Config) int {
	return max(idleFreeEntries, c.BacklogCount+c.MaxConnections*c.BatchCount)
}

// addLocked puts a handed-over record in the aggregator of its predicted
// shard, draining the aggregator first when the record would overflow it.
// An aggregator's first record is not encoded: it is copied into an
// encoder only when a second one comes to share the aggregate, so a record
// that goes out alone is never copied. With aggregation off
// (AggregateBatchCount 1) every record goes out alone, at once: an
// aggregator would only hold it until the next record of its shard came.
func (p *Producer) addLocked(ref recRef) {
	if p.asleep {
		// The first record after a quiet time waits a whole FlushInterval
		// for company, as if the loop had been ticking all along.
		p.asleep = false
		p.nextFlush = p.now() + int64(p.cfg.FlushInterval)
		if !p.inLoop {
			p.kick()
		}
	}
	shard := p.shardLocked(ref)
	lim := aggLimits{count: p.cfg.AggregateBatchCount, size: p.cfg.AggregateBatchSize}
	if lim.count == 1 || lim.alone(ref.size()) {
		e := p.newEntryLocked(shard)
		e.refs = append(e.refs, ref)
		e.buildPlain()
		p.pushReadyLocked(e)
		return
	}
	a := p.aggregatorLocked(ref, shard)
	pk, ehk := a.keysOf(&ref)
	if a.overflows(lim, pk, ehk, ref.data(), p) {
		p.drainLocked(a)
	}
	a.add(ref, p)
	if !a.listed {
		a.listed = true
		p.nonEmpty = append(p.nonEmpty, a)
	}
}

// shardLocked returns ref's predicted shard, -1 without a map or in a gap
// of it.
func (p *Producer) shardLocked(ref recRef) int {
	t := p.table
	if t == nil {
		return -1
	}
	s := t.lookup(ref.hash)
	if s < 0 && !p.gapLogged {
		p.gapLogged = true
		p.log.Error("the shard map has a gap; records there are aggregated per key until the next refresh", &ShardBucketError{})
		p.requestRefreshLocked()
	}
	return s
}

// aggregatorLocked returns the aggregator for the predicted shard, or for
// ref's key when there is none.
func (p *Producer) aggregatorLocked(ref recRef, shard int) *aggregator {
	if shard >= 0 {
		a := p.shardAggs[shard]
		if a == nil {
			a = p.newAggregatorLocked()
			a.shard, a.mid = shard, p.table.mids[shard]
			p.shardAggs[shard] = a
		}
		return a
	}
	k := aggKeyOf(ref.hash, ref.ehkLen > 0, ref.anyKey)
	a := p.keyAggs[k]
	if a == nil {
		if len(p.keyAggs) >= p.cfg.BatchCount {
			// As many keys as a request takes: send them rather than
			// keep an aggregator per key (distinct keys rarely repeat).
			p.drainKeyAggsLocked()
		}
		a = p.newAggregatorLocked()
		a.shard, a.key = -1, k
		p.keyAggs[k] = a
	}
	return a
}

// freeList keeps up to max values for reuse; beyond that they are left
// to the garbage collector, so a burst does not pin its memory.
type freeList[T any] struct {
	items []*T
	max   int
	// low is the fewest values kept since the last trim: that many were
	// not needed all that time.
	low int
}

// get returns a kept value, or a new zero one.
func (f *freeList[T]) get() *T {
	n := len(f.items)
	if n == 0 {
		f.low = 0
		return new(T)
	}
	x := f.items[n-1]
	f.items[n-1] = nil
	f.items = f.items[:n-1]
	f.low = min(f.low, n-1)
	return x
}

// trim leaves to the garbage collector the values that were not needed
// since the last trim, keeping at least floor; dropped sees each first.
func (f *freeList[T]) trim(floor int, dropped func(*T)) {
	drop := max(min(f.low, len(f.items)-floor), 0)
	for _, x := range f.items[:drop] { // the bottom of the stack: the least used
		dropped(x)
	}
	kept := copy(f.items, f.items[drop:])
	clear(f.items[kept:])
	f.items = f.items[:kept]
	f.low = kept
}

// put keeps x unless max are kept already; it reports whether it did.
func (f *freeList[T]) put(x *T) bool {
	if len(f.items) >= f.max {
		return false
	}
	f.items = append(f.items, x)
	return true
}

func (p *Producer) newAggregatorLocked() *aggregator {
	a := p.freeAggs.get()
	a.newline = p.cfg.AggregationFormat == AggregationNewline
	return a
}

func (p *Producer) freeAggregatorLocked(a *aggregator) {
	if a.enc != nil {
		p.freeEncoderLocked(a.enc)
	}
	clear(a.refs)
	*a = aggregator{refs: a.refs[:0]} // no key or shard carried over
	p.freeAggs.put(a)
}

// newEncoder takes an encoder from the free list; caller holds p.mu.
func (p *Producer) newEncoder() *aggregation.Encoder { return p.freeEncoders.get() }

// freeEncoderLocked resets enc and keeps it for reuse.
func (p *Producer) freeEncoderLocked(enc *aggregation.Encoder) {
	enc.Reset()
	p.freeEncoders.put(enc)
}

// drainLocked turns an aggregator's records into a ready entry: an
// aggregate, or one record sent plain.
func (p *Producer) drainLocked(a *aggregator) {
	if len(a.refs) == 0 {
		return
	}
	e := p.newEntryLocked(a.shard)
	pk := a.outerPK()
	e.refs = a.takeRefs(e.refs)
	e.anyKey = a.key.anyKey
	p.buildLocked(e, a.enc, pk)
	if e.enc != nil {
		a.enc = nil // the entry's now; the next aggregate gets another
	}
	if a.enc != nil {
		if a.shard >= 0 {
			a.enc.Reset() // a shard's encoder serves its next aggregate
		} else {
			p.freeEncoderLocked(a.enc)
			a.enc = nil
		}
	}
	p.pushReadyLocked(e)
}

// drainAllLocked drains every aggregator. Key aggregators are given back
// to the free list: their keys rarely repeat.
func (p *Producer) drainAllLocked() {
	for _, a := range p.nonEmpty {
		p.drainLocked(a)
		a.listed = false
		if a.shard < 0 {
			delete(p.keyAggs, a.key)
			p.freeAggregatorLocked(a)
		}
	}
	clear(p.nonEmpty)
	p.nonEmpty = p.nonEmpty[:0]
}

// drainKeyAggsLocked drains the key aggregators only.
func (p *Producer) drainKeyAggsLocked() {
	kept := p.nonEmpty[:0]
	for _, a := range p.nonEmpty {
		if a.shard >= 0 {
			kept = append(kept, a)
			continue
		}
		p.drainLocked(a)
		a.listed = false
		delete(p.keyAggs, a.key)
		p.freeAggregatorLocked(a)
	}
	clear(p.nonEmpty[len(kept):])
	p.nonEmpty = kept
}

func (p *Producer) newEntryLocked(shard int) *entry {
	e := p.freeEntries.get()
	p.freeEntryBytes -= cap(e.buf)
	e.table, e.shard = p.table, shard
	return e
}

// trimFreeEntriesLocked leaves the entries kept but not needed since the
// last trim to the garbage collector, down to idleFreeEntries.
func (p *Producer) trimFreeEntriesLocked() {
	p.freeEntries.trim(idleFreeEntries, func(e *entry) { p.freeEntryBytes -= cap(e.buf) })
}

// freeEntryLocked recycles an entry whose references were all dropped.
// The buffers kept total at most BatchSize bytes.
func (p *Producer) freeEntryLocked(e *entry) {
	if e.enc != nil {
		p.freeEncoderLocked(e.enc)
	}
	clear(e.refs)
	buf := e.buf[:0]
	if cap(buf) > minLazyAggregate+1024 || p.freeEntryBytes+cap(buf) > p.cfg.BatchSize {
		buf = nil
	}
	*e = entry{buf: buf, refs: e.refs[:0]}
	if p.freeEntries.put(e) {
		p.freeEntryBytes += cap(buf)
	}
}

// buildLocked fills e's request fields from e.refs, whose records enc holds
// encoded in the same order when there are several (KPL format; nil in the
// newline format), under the aggregate's partition key pk
// (aggregator.outerPK). An aggregate takes enc; an encoder e held before
// goes back to the free list.
func (p *Producer) buildLocked(e *entry, enc *aggregation.Encoder, pk string) {
	old := e.enc
	newline := p.cfg.AggregationFormat == AggregationNewline
	if e.shard >= 0 {
		// The middle of the predicted shard's range: the aggregate
		// lands inside the shard every sub-record was predicted for.
		// The table's strings outlive the entry.
		e.build(enc, newline, pk, e.table.mids[e.shard], true)
	} else {
		e.build(enc, newline, pk, e.refs[0].explicitHashKey(), false)
	}
	if old != nil && old != e.enc {
		p.freeEncoderLocked(old)
	}
}

// build fills e's request fields from e.refs: one record goes plain, as it
// is; several go as one aggregate under partition key pk and ehk ("" for
// none): joined by newlines, or in the KPL format, which enc holds encoded
// in the same order. A KPL aggregate of at least minLazyAggregate bytes
// keeps enc, and its bytes, like a newline aggregate's, are written when
// it is sent (writeData); a smaller one is written into e's buffer now. pk
// is copied into e's buffer, and so is ehk unless shared (immutable and
// outliving e). This is the one place an entry's bytes are decided.
func (e *entry) build(enc *aggregation.Encoder, newline bool, pk, ehk string, shared bool) {
	e.enc, e.newline, e.data, e.unsummed = nil, false, nil, false
	if len(e.refs) == 1 {
		e.buildPlain()
		return
	}
	buf := e.buf[:0]
	switch {
	case newline:
		e.newline = true
		e.dataLen = 0
		for i := range e.refs {
			e.dataLen += joinedLen(e.refs[i].data())
		}
	case enc.Size() >= minLazyAggregate:
		e.enc = enc
		e.dataLen = enc.Size()
	default:
		buf = enc.AppendUnsummed(buf)
		e.dataLen = len(buf)
		e.unsummed = true
	}
	at := len(buf) // the data's end when written now
	buf = append(buf, pk...)
	if ehk != "" && !shared {
		buf = append(buf, ehk...)
		ehk = unsafe.String(&buf[at+len(pk)], len(ehk))
	}
	e.buf = buf
	if !e.aggregate() {
		e.data = buf[:at:at]
	}
	e.pk = unsafe.String(unsafe.SliceData(buf[at:]), len(pk))
	e.ehk = ehk
	e.size = e.dataLen + len(pk)
}

// minLazyAggregate is the smallest KPL aggregate whose entry keeps its
// encoder rather than its bytes until it is sent. An encoder's key tables
// take some KiB whatever the aggregate's size: below this, the bytes
// weigh less.
const minLazyAggregate = 16 << 10

// aggregate reports whether e's bytes are written only when it is sent
// (writeData).
func (e *entry) aggregate() bool { return e.enc != nil || e.newline }

// writeData appends e's aggregate to dst and points e.data at it: the KPL
// aggregate without its MD5 (unsummed, for sumEntries), or the newline
// one. The bytes of its records stay put while e holds their references.
func (e *entry) writeData(dst []byte) []byte {
	start := len(dst)
	if e.newline {
		dst = appendJoined(dst, e.refs)
	} else {
		dst = e.enc.AppendUnsummed(dst)
		e.unsummed = true
	}
	e.data = dst[start:len(dst):len(dst)]
	return dst
}

// buildPlain fills e from its single record, sent as it is with its own
// keys: a record going out alone is never copied. A record without a key
// of its own gets a random one, and its random hash as explicit hash key,
// so it lands on the shard predicted for it.
func (e *entry) buildPlain() {
	r := &e.refs[0]
	// The record's own bytes are stable while referenced: no copy.
	data := r.data()
	e.data = data
	e.pk = r.partitionKey()
	e.ehk = r.explicitHashKey()
	if r.anyKey {
		buf := r.hash.AppendDecimal(AppendRandomKey(e.buf[:0]))
		e.buf = buf
		e.pk = unsafe.String(&buf[0], RandomKeyLen)
		e.ehk = unsafe.String(&buf[RandomKeyLen], len(buf)-RandomKeyLen)
	}
	e.size = len(data) + len(e.pk)
	e.dataLen = len(data)
	e.unsummed = false
}

func (p *Producer) pushReadyLocked(e *entry) {
	p.ready = append(p.ready, e)
	p.readyBytes += e.size
}

// flushLocked makes everything buffered go out now.
func (p *Producer) flushLocked() {
	p.drainAllLocked()
	p.flushing = true
	p.dispatchLocked()
}

// requestFull reports whether ready entries fill a request.
func (p *Producer) requestFullLocked() bool {
	return len(p.ready) >= p.cfg.BatchCount || p.readyBytes >= p.cfg.BatchSize
}

// dispatchLocked hands requests to idle workers while some are due.
func (p *Producer) dispatchLocked() {
	for p.inflight < p.cfg.MaxConnections && len(p.ready) > 0 && (p.flushing || p.requestFullLocked()) {
		req := p.assembleLocked()
		if req == nil {
			// Every ready entry waits for its shard's rate limit: the
			// loop sets a timer for the first to go.
			if !p.inLoop {
				p.kick()
			}
			break
		}
		p.inflight++
		p.requests <- req // never blocks: capacity MaxConnections
	}
	if len(p.ready) == 0 && len(p.nonEmpty) == 0 {
		p.flushing = false
	}
}

// assembleLocked takes ready entries, oldest first, into one request
// within BatchCount, BatchSize and the shards' rate limits, claiming their
// records (InFlight). It returns nil when no entry can go now.
func (p *Producer) assembleLocked() *request {
	var locks groupLocks
	defer locks.abandon()
	now := p.now()
	p.assembly++
	req := p.newRequestLocked()
	kept := p.readySpare[:0]
	bytes := 0
	for i, e := range p.ready {
		if len(req.entries) >= p.cfg.BatchCount || bytes+e.size > p.cfg.BatchSize || (e.solo && len(req.entries) > 0) {
			kept = append(kept, p.ready[i:]...)
			break
		}
		if len(req.entries) == 1 && req.entries[0].solo {
			kept = append(kept, p.ready[i:]...)
			break
		}
		b := p.bucketLocked(e)
		if b != nil && (b.heldIn == p.assembly || !b.allow(now, e.size, p.cfg.RateLimit)) {
			// Held back by its shard's rate limit; later entries of
			// the same shard wait behind it, so the limit never
			// reorders a shard's records.
			b.heldIn = p.assembly
			kept = append(kept, e)
			continue
		}
		p.readyBytes -= e.size
		if !p.claimLocked(e, now, &locks) {
			p.freeEntryLocked(e)
			continue
		}
		if b != nil {
			b.take(e.size)
		}
		e.sent = true
		req.entries = append(req.entries, e)
		bytes += e.size
	}
	locks.unlock()
	clear(p.ready) // becomes the spare: hold no entries
	p.readySpare, p.ready = p.ready[:0], kept
	if len(req.entries) == 0 {
		p.freeRequestLocked(req)
		return nil
	}
	return req
}

// claimLocked marks e's records InFlight. References that went stale
// (the record was canceled, re-put or stopped) are dropped and records
// past their deadline expire; if any were, the entry is rebuilt from the
// rest. It reports whether anything is left to send. The group locks it
// takes stay with locks, for the next entry's records.
func (p *Producer) claimLocked(e *entry, now int64, locks *groupLocks) bool {
	dropped := false
	live := e.refs[:0]
	var fails failureBatch
	for _, ref := range e.refs {
		g := locks.lock(ref.g)
		r := &g.recs[ref.idx]
		if r.epoch == ref.epoch && r.state == Pending && r.queued {
			if ref.deadline > now {
				r.state, r.queued = InFlight, false
				live = append(live, ref)
				continue
			}
			r.state, r.queued, r.retryable = Failed, false, true
			r.err = &expiredError{last: e.lastErr}
			g.outstanding--
			fails.add(g, ref, r.err)
		}
		dropped = true
		p.bufferedBytes -= ref.size()
		locks.dropRef()
	}
	p.notifyEntryLocked(e, &fails)
	clear(e.refs[len(live):])
	e.refs = live
	if dropped {
		// Room was freed: whoever waits for room or idleness looks again.
		p.signalChangedLocked()
	}
	if len(live) == 0 {
		return false
	}
	if dropped {
		p.rebuildLocked(e)
	}
	return true
}

// rebuildLocked re-encodes e from its remaining references, by the rules
// of the aggregator it came from (records without a key of their own get
// a new aggregate key).
func (p *Producer) rebuildLocked(e *entry) {
	a := aggregator{shard: e.shard, key: aggKey{anyKey: e.anyKey}, newline: p.cfg.AggregationFormat == AggregationNewline}
	if e.shard >= 0 {
		a.mid = e.table.mids[e.shard]
	}
	for _, ref := range e.refs {
		a.add(ref, p) // e holds ref until after the build
	}
	p.buildLocked(e, a.enc, a.outerPK())
	if a.enc != nil && a.enc != e.enc {
		p.freeEncoderLocked(a.enc)
	}
}

// groupLocks holds the lock of one group at a time while references are
// handled in order, so that consecutive references to one group, within
// an entry or across the entries of a request, take its lock once rather
// than once per record or per entry. Whoever uses one defers abandon: a
// panic must not leave a group locked.
type groupLocks struct {
	g *Group
	// recycle: the group's last reference was dropped after it was
	// released; it is recycled once unlocked.
	recycle bool
}

// lock makes g the locked group, unlocking the one before, and returns g.
func (l *groupLocks) lock(g *Group) *Group {
	if l.g != g {
		l.unlock()
		g.mu.Lock()
		l.g = g
	}
	return g
}

// dropRef forgets one reference into the locked group.
func (l *groupLocks) dropRef() {
	l.recycle = l.g.dropRefLocked() || l.recycle
}

// unlock wakes the locked group's Wait if nothing of it is outstanding,
// unlocks it and recycles it if its last reference was dropped.
func (l *groupLocks) unlock() {
	g, recycle := l.g, l.recycle
	if g == nil {
		return
	}
	l.g, l.recycle = nil, false
	g.signalIfDoneLocked()
	g.mu.Unlock()
	if recycle {
		g.recycle()
	}
}

// abandon unlocks the locked group, if any, after a panic.
func (l *groupLocks) abandon() {
	if l.g != nil {
		l.g.mu.Unlock()
		l.g = nil
	}
}

// bucketLocked returns the rate limiter of e's shard, nil when none
// applies.
func (p *Producer) bucketLocked(e *entry) *bucket {
	if p.cfg.RateLimit == NoRateLimit || e.shard < 0 || e.table != p.table {
		return nil
	}
	return &p.buckets[e.shard]
}

// retryDelay is a full-jitter exponential backoff for the n-th retry.
func retryDelay(n int) int64 {
	window := retryBaseDelay << min(n, 16)
	if window > retryMaxDelay || window <= 0 {
		window = retryMaxDelay
	}
	return rand.Int64N(int64(window)) + 1
}

// requeueLocked puts an entry whose records are Pending again (after a
// retryable failure) back into the buffer: at due, or at once (due 0)
// when it must be isolated. An entry predicted on an older shard map
// keeps its backoff; its records are aggregated anew when it is due.
func (p *Producer) requeueLocked(e *entry, due int64) {
	if due == 0 {
		if e.table != p.table {
			p.redistributeLocked(e)
			return
		}
		p.pushReadyLocked(e)
		p.flushing = true
		return
	}
	e.tries++
	e.due = due
	p.retry = append(p.retry, e)
}

// promoteRetriesLocked moves retries whose backoff ended, or whose first
// record expires, to the ready queue; it returns when the next one is due
// (0 for none).
func (p *Producer) promoteRetriesLocked(now int64) int64 {
	var next int64
	kept := p.retry[:0]
	for _, e := range p.retry {
		due := e.due
		for i := range e.refs {
			due = min(due, e.refs[i].deadline)
		}
		if due <= now {
			if e.table != p.table {
				p.redistributeLocked(e)
			} else {
				p.pushReadyLocked(e)
			}
			p.flushing = true
			continue
		}
		kept = append(kept, e)
		if next == 0 || due < next {
			next = due
		}
	}
	clear(p.retry[len(kept):])
	p.retry = kept
	return next
}

// redistributeLocked splits e up and aggregates its records (Pending,
// queued) anew against the current map, to go out at once: they already
// waited.
func (p *Producer) redistributeLocked(e *entry) {
	for _, ref := range e.refs {
		p.addLocked(ref)
	}
	clear(e.refs)
	e.refs = e.refs[:0]
	p.freeEntryLocked(e)
	p.drainAllLocked()
	p.flushing = true
}

// failAllQueuedLocked gives every buffered record (not in a request being
// sent) the outcome err and drops the buffer.
func (p *Producer) failAllQueuedLocked(err error) {
	p.drainAllLocked()
	all := append(append(p.ready, p.retry...), p.unverified...)
	p.ready, p.retry, p.unverified, p.readyBytes = p.ready[:0], nil, nil, 0
	for _, e := range all {
		freed, fails := p.finishEntry(e, outcomeFailed, err, true, "")
		p.bufferedBytes -= freed
		p.notifyEntryLocked(e, &fails)
		p.freeEntryLocked(e)
	}
}

// setShards installs a new shard map and redistributes every buffered
// record (not in flight) over it.
func (p *Producer) setShards(shards []types.Shard) error {
	t, err := newShardTable(shards)
	if err != nil {
		return err
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	// Collect every buffered reference before the map changes, where a
	// panic can find them (failBufferAfterPanic).
	refs := p.moving[:0]
	for _, a := range p.nonEmpty {
		refs = append(refs, a.refs...)
		clear(a.refs)
		a.takeRefs(a.refs)
		if a.enc != nil {
			p.freeEncoderLocked(a.enc)
			a.enc = nil
		}
		a.listed = false
		if a.shard < 0 {
			delete(p.keyAggs, a.key)
			p.freeAggregatorLocked(a)
		}
	}
	p.nonEmpty = p.nonEmpty[:0]
	// Entries waiting for a retry keep their backoff: they are split up
	// when due (promoteRetriesLocked).
	for _, e := range p.ready {
		refs = append(refs, e.refs...)
		clear(e.refs)
		e.refs = e.refs[:0]
		p.freeEntryLocked(e)
	}
	clear(p.ready)
	p.ready, p.readyBytes = p.ready[:0], 0
	p.moving = refs

	// Keep the rate limiters of shards that stay.
	old := map[string]bucket{}
	if p.table != nil {
		for i, id := range p.table.ids {
			old[id] = p.buckets[i]
		}
	}
	for _, a := range p.shardAggs {
		if a != nil {
			p.freeAggregatorLocked(a)
		}
	}
	p.table = t
	p.gapLogged = false
	p.shardAggs, p.buckets = nil, nil
	if t != nil {
		p.shardAggs = make([]*aggregator, len(t.ids))
		p.buckets = make([]bucket, len(t.ids))
		for i, id := range t.ids {
			if b, ok := old[id]; ok {
				p.buckets[i] = b
			} else {
				p.buckets[i] = newBucket(p.now(), p.cfg.RateLimit)
			}
		}
	}
	testHook("setShards")
	for len(p.moving) > 0 {
		ref := p.moving[0]
		p.moving = p.moving[1:]
		p.addLocked(ref)
	}
	p.moving = nil
	if len(refs) > 0 {
		p.flushing = true
	}
	p.resolveMisplacedLocked()
	p.dispatchLocked()
	return nil
}

// resolveMisplacedLocked decides, with the map now in use, the aggregates
// that were stored on a shard other than the predicted one. KCL consumers
// drop an aggregate any of whose records hash outside the shard that
// stored it, so such an aggregate is delivered only when the map knows
// that shard and its range holds every record; otherwise its records are
// put again, aggregated against the current map, and counted, as KPL
// does. Records are never taken for delivered on a guess.
func (p *Producer) resolveMisplacedLocked() {
	if len(p.unverified) == 0 {
		return
	}
	reput := 0
	for _, e := range p.unverified {
		switch {
		case p.state == stateStopped:
			freed, fails := p.finishEntry(e, outcomeFailed, errOutcomeStopped, true, "")
			p.bufferedBytes -= freed
			p.notifyEntryLocked(e, &fails)
			p.freeEntryLocked(e)
		case p.table.holdsAll(e.storedOn, e):
			freed, _ := p.finishEntry(e, outcomeDelivered, nil, false, e.storedOn)
			p.bufferedBytes -= freed
			p.freeEntryLocked(e)
		default:
			freed, _ := p.finishEntry(e, outcomeRetry, nil, false, "")
			p.bufferedBytes -= freed
			reput += len(e.refs)
			p.redistributeLocked(e)
		}
	}
	clear(p.unverified)
	p.unverified = p.unverified[:0]
	if reput > 0 {
		p.reputWrongShard += uint64(reput)
		p.log.Info("an aggregate was stored on a shard that does not hold all its records; putting them again",
			LogValue{"records", reput})
	}
	p.signalChangedLocked()
}
