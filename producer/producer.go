package producer

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"

	"github.com/kinesis-kpl/fluent-bit-kinesis-kpl/aggregation"
)

// Producer life cycle.
const (
	stateNew = iota
	stateStarted
	stateStopping
	stateStopped
)

// Producer aggregates records per predicted shard, batches them into
// PutRecords requests and sends them with bounded concurrency, retrying
// failed entries until each record's time to live. Its methods are safe
// for concurrent use.
type Producer struct {
	cfg    Config
	bodies BodyPutter // cfg.Client's way to send a written body; nil for none
	// aggBufs keeps a buffer that aggregates were written into for a
	// request to a Putter that is not a BodyPutter (writeAggregates): one,
	// for the next request to reuse.
	aggBufs   chan []byte
	log       Logger
	groupPool sync.Pool
	epoch     time.Time // the producer clock counts from here

	// mu guards the buffer: aggregators, entries waiting for a request or
	// a retry, counters and the shard map. Lock order: mu before Group.mu.
	mu            sync.Mutex
	state         int
	table         *shardTable
	shardAggs     []*aggregator
	keyAggs       map[aggKey]*aggregator
	nonEmpty      []*aggregator // aggregators holding records
	ready         []*entry      // built entries waiting for a request, oldest first
	readySpare    []*entry
	readyBytes    int
	retry         []*entry // entries waiting for their backoff to end
	unverified    []*entry // aggregates stored on an unexpected shard, awaiting the map
	buckets       []bucket // per shard of table
	bufferedBytes int      // every record held: buffered, retrying, in flight
	inflight      int      // requests being sent
	assembly      uint64   // counts assembleLocked calls, for bucket.heldIn
	flushing      bool     // send partial requests until ready is empty
	inLoop        bool     // the loop holds mu: no need to kick it
	nextFlush     int64
	nextTrim      int64 // when the free entries and requests are trimmed next
	// asleep: nothing was buffered when the loop last ran, and it sleeps
	// until a record comes (addLocked) or a request ends, instead of
	// waking every FlushInterval for nothing.
	asleep         bool
	changed        chan struct{} // closed on progress, for waiters; nil when none
	freeAggs       freeList[aggregator]
	freeEntries    freeList[entry]
	freeEncoders   freeList[aggregation.Encoder]
	freeEntryBytes int // buffer capacity held by freeEntries
	freeRequests   freeList[request]
	lastRefresh    int64
	gapLogged      bool // a ShardBucketError was logged for this map
	failures       chan *FailureRecord
	dropped        int // failure notifications nobody had room for
	// reputWrongShard counts records put again because the aggregate
	// carrying them was stored on a shard that does not hold them all.
	reputWrongShard uint64
	moving          []recRef // records being redistributed over a new map
	panics          atomic.Uint64

	putMu    sync.Mutex
	putGroup *Group

	// lanes sums the aggregates of a request at once (KPL format, from
	// Start to Stop); nil sums them one by one.
	lanes *aggregation.Lanes

	wake       chan struct{} // capacity 1: the loop should look again
	refreshReq chan struct{} // capacity 1
	requests   chan *request
	stop       chan struct{} // closed when goroutines must exit
	sendCtx    context.Context
	cancelSend context.CancelFunc
	wg         sync.WaitGroup
}

// New checks cfg, fills in defaults and reads the shard map with
// cfg.GetShards. A GetShards failure is logged and the producer starts
// without a shard map, trying again at the next refresh.
func New(cfg *Config) (*Producer, error) {
	if cfg == nil {
		return nil, fmt.Errorf("%w: nil Config", ErrInvalidConfig)
	}
	c := cfg.withDefaults()
	if err := c.validate(); err != nil {
		return nil, err
	}
	p := &Producer{
		cfg:        c,
		epoch:      time.Now(),
		keyAggs:    make(map[aggKey]*aggregator),
		wake:       make(chan struct{}, 1),
		refreshReq: make(chan struct{}, 1),
		requests:   make(chan *request, c.MaxConnections),
		aggBufs:    make(chan []byte, 1),
		stop:       make(chan struct{}),
		failures:   make(chan *FailureRecord, c.BacklogCount),
	}
	p.bodies = BodyPutterOf(c.Client)
	p.log = safeLogger{l: c.Logger, panics: &p.panics}
	p.freeAggs.max, p.freeEntries.max = maxFreeAggregators, freeEntriesMax(&c)
	p.freeEncoders.max, p.freeRequests.max = maxFreeEncoders, c.MaxConnections
	p.groupPool.New = newGroupForPool
	p.lastRefresh = -int64(minShardRefreshGap) // the first mismatch may refresh at once
	p.sendCtx, p.cancelSend = context.WithCancel(context.Background())
	if c.GetShards != nil {
		ctx, cancel := context.WithTimeout(context.Background(), defaultShardListTimeout)
		shards, update, err := c.GetShards(ctx, nil)
		cancel()
		if err != nil {
			p.log.Error("reading the shard map; aggregating per partition key until a refresh succeeds", &ShardRefreshError{Err: err})
			p.requestRefresh()
		} else if update {
			if err := p.setShards(shards); err != nil {
				p.log.Error("bad shard map; aggregating per partition key", &ShardRefreshError{Err: err})
			}
		}
	}
	return p, nil
}

// openLanes opens a share of the process's SIMD MD5 server. Tests that
// run producers in synctest bubbles replace it: md5-simd's goroutine and
// channels must not belong to a bubble.
var openLanes = aggregation.OpenLanes

// now is the producer clock: monotonic nanoseconds since New.
func (p *Producer) now() int64 { return int64(time.Since(p.epoch)) }

// Start starts the sending goroutines. Calling it again does nothing.
func (p *Producer) Start() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.state != stateNew {
		return
	}
	p.state = stateStarted
	if p.cfg.AggregationFormat == AggregationKPL && p.cfg.AggregateBatchCount > 1 {
		// Without aggregates (one record each, sent plain) nothing is
		// summed: the SIMD server's buffers (1.6 MiB) are not needed.
		p.lanes = openLanes()
	}
	p.nextFlush = p.now() + int64(p.cfg.FlushInterval)
	p.wg.Add(2 + p.cfg.MaxConnections)
	go p.loop()
	go p.refreshLoop()
	for range p.cfg.MaxConnections {
		go p.worker()
	}
	p.log.Info("producer started", LogValue{"stream", p.cfg.StreamName}, LogValue{"shards", p.shardCountLocked()})
}

func (p *Producer) shardCountLocked() int {
	if p.table == nil {
		return 0
	}
	return len(p.table.ids)
}

// Stop sends what is buffered and waits, until ctx ends, for every record
// to get its outcome; then it aborts requests still in flight, gives every
// record left the retryable outcome ErrStoppedProducer, stops every
// goroutine and closes the NotifyFailures channel. It returns ctx.Err()
// when ctx ended first, nil otherwise. Stop before Start just releases
// the producer. Calling Stop again returns nil.
func (p *Producer) Stop(ctx context.Context) error {
	p.mu.Lock()
	switch p.state {
	case stateNew:
		p.state = stateStopped
		p.mu.Unlock()
		p.cancelSend()
		close(p.stop)
		close(p.failures)
		return nil
	case stateStopping, stateStopped:
		p.mu.Unlock()
		return nil
	}
	p.state = stateStopping
	p.flushLocked()
	p.signalChangedLocked() // waiting Puts see the state
	p.mu.Unlock()
	p.kick()

	err := p.waitIdle(ctx)

	// Abort what is still in flight; workers give those records
	// ErrStoppedProducer and return.
	p.cancelSend()
	p.mu.Lock()
	for p.inflight > 0 {
		ch := p.changedLocked()
		p.mu.Unlock()
		<-ch // requests end promptly: their context is canceled
		p.mu.Lock()
	}
	p.state = stateStopped
	p.failAllQueuedLocked(errOutcomeStopped)
	p.mu.Unlock()
	close(p.stop)
	p.wg.Wait()
	p.lanes.Close() // no worker sums any more

	p.putMu.Lock()
	if p.putGroup != nil {
		p.putGroup.Release()
		p.putGroup = nil
	}
	p.putMu.Unlock()
	p.mu.Lock()
	dropped := p.dropped
	p.mu.Unlock()
	if dropped > 0 {
		p.log.Error("failure notifications were dropped because nobody read them", nil, LogValue{"dropped", dropped})
	}
	close(p.failures)
	p.log.Info("producer stopped", LogValue{"stream", p.cfg.StreamName})
	return err
}

// Flush sends what is buffered now, without waiting for FlushInterval,
// and waits until nothing is buffered, waiting for a retry or in flight,
// or ctx ends. While other goroutines keep putting, it may wait for their
// records too.
func (p *Producer) Flush(ctx context.Context) error {
	p.requestFlush()
	return p.waitIdle(ctx)
}

// requestFlush asks for buffered records to go out now.
func (p *Producer) requestFlush() {
	p.mu.Lock()
	if p.state == stateStarted || p.state == stateStopping {
		p.flushLocked()
	}
	p.mu.Unlock()
}

// waitIdle waits until the producer holds no record or ctx ends.
func (p *Producer) waitIdle(ctx context.Context) error {
	p.mu.Lock()
	for !p.idleLocked() {
		if p.state == stateStopped || p.state == stateNew {
			break
		}
		ch := p.changedLocked()
		p.mu.Unlock()
		select {
		case <-ch:
		case <-ctx.Done():
			return ctx.Err()
		}
		p.mu.Lock()
	}
	p.mu.Unlock()
	return nil
}

func (p *Producer) idleLocked() bool {
	return len(p.nonEmpty) == 0 && len(p.ready) == 0 && len(p.retry) == 0 && len(p.unverified) == 0 && p.inflight == 0
}

// Stats are the producer's counters since New.
type Stats struct {
	// RecordsReputWrongShard counts user records put again because the
	// aggregate carrying them was stored on a shard whose hash key range
	// does not hold them all (a split or merge the shard map had not seen
	// yet). KCL consumers drop such an aggregate, so each of these
	// records reaches them once, from the second put; a consumer that
	// does not apply KCL's rule (a Lambda with the AWS deaggregation
	// libraries, say) sees each of them twice.
	RecordsReputWrongShard uint64
	// PanicsRecovered counts panics recovered in the producer's
	// goroutines, the Putter, GetShards and the Logger.
	PanicsRecovered uint64
	// BufferedBytes is the data and keys of every record the producer
	// holds now (buffered, waiting for a retry, or in flight), the figure
	// BufferMaxBytes caps.
	BufferedBytes int
}

// Stats returns the producer's counters.
func (p *Producer) Stats() Stats {
	p.mu.Lock()
	defer p.mu.Unlock()
	return Stats{RecordsReputWrongShard: p.reputWrongShard, PanicsRecovered: p.panics.Load(), BufferedBytes: p.bufferedBytes}
}

// PutGroup hands every record of g that is pending and not in the
// producer, or failed retryably, to the producer. Delivered records,
// permanently failed ones and those already buffered or in flight are
// skipped, so a group can be put again after a retryable failure without
// sending anything twice. Under backpressure it waits with ctx; if ctx
// ends first it returns an error matching ErrBufferFull and ctx.Err(), and
// the records not handed over stay Pending. After Stop it returns an
// error matching *ErrStoppedProducer.
func (p *Producer) PutGroup(ctx context.Context, g *Group) error {
	if g.producer() != p {
		return ErrForeignGroup
	}
	g.mu.Lock()
	n := len(g.recs)
	g.mu.Unlock()
	return p.handOver(ctx, g, 0, n)
}

// handOverBatch bounds how long one PutGroup holds the producer lock.
const handOverBatch = 256

func (p *Producer) handOver(ctx context.Context, g *Group, from, to int) error {
	i := from
	for i < to {
		p.mu.Lock()
		switch p.state {
		case stateNew:
			p.mu.Unlock()
			return ErrNotStarted
		case stateStopping, stateStopped:
			p.mu.Unlock()
			return errOutcomeStopped
		}
		deadline := p.now() + int64(p.cfg.RecordTTL)
		full := false
		g.mu.Lock()
		for n := 0; i < to && n < handOverBatch; i++ {
			r := &g.recs[i]
			if !r.sendable() {
				continue
			}
			size := r.size()
			if !p.roomLocked(size) {
				full = true
				break
			}
			r.state, r.err, r.retryable, r.queued, r.shardID = Pending, nil, false, true, ""
			r.epoch++
			g.outstanding++
			g.held++
			p.bufferedBytes += size
			p.addLocked(g.ref(i, deadline))
			n++
		}
		g.mu.Unlock()
		if full {
			// Ready entries fill requests that idle workers take at once
			// (the backlog is a request's worth): that is room without
			// waiting for a response.
			ready := len(p.ready)
			p.dispatchLocked()
			if len(p.ready) < ready {
				p.mu.Unlock()
				continue
			}
			// Make room: send partial requests rather than wait for the
			// flush interval.
			p.flushLocked()
			ch := p.changedLocked()
			p.mu.Unlock()
			p.kick()
			select {
			case <-ch:
			case <-ctx.Done():
				return fmt.Errorf("%w: %w", ErrBufferFull, ctx.Err())
			}
			continue
		}
		p.dispatchLocked()
		p.mu.Unlock()
	}
	return nil
}

// roomLocked reports whether a record of size bytes fits under the caps.
// An empty producer always takes one record, so a record as large as the
// cap cannot wait forever.
func (p *Producer) roomLocked(size int) bool {
	if p.bufferedBytes == 0 {
		return true
	}
	return p.bufferedBytes+size <= p.cfg.BufferMaxBytes && len(p.ready) < p.cfg.BacklogCount
}

// Put puts data with partitionKey. It copies data. It waits while the
// buffer is full, until there is room or the producer stops. Records
// that fail later are reported on NotifyFailures.
func (p *Producer) Put(data []byte, partitionKey string) error {
	return p.putInternal(context.Background(), data, partitionKey, aggregation.PartitionKeyHash(partitionKey), false, nil)
}

// PutUserRecord puts a UserRecord as Put does; its ExplicitHashKey, when
// not nil, decides the shard. The record itself is given back in
// FailureRecord.UserRecords if it fails.
func (p *Producer) PutUserRecord(userRecord UserRecord) error {
	if userRecord == nil {
		return &ErrIllegalPartitionKey{}
	}
	pk := userRecord.PartitionKey()
	hash, explicit := aggregation.PartitionKeyHash(pk), false
	if ehk := userRecord.ExplicitHashKey(); ehk != nil {
		h, err := aggregation.HashKeyFromBigInt(ehk)
		if err != nil {
			return fmt.Errorf("producer: explicit hash key: %w", err)
		}
		hash, explicit = h, true
	}
	return p.putInternal(context.Background(), userRecord.Data(), pk, hash, explicit, userRecord)
}

// Internal groups take at most this many records or arena bytes before a
// new one is started, so a finished one can be recycled.
const (
	internalGroupRecords = 4096
	internalGroupBytes   = 1 << 20
)

func (p *Producer) putInternal(ctx context.Context, data []byte, pk string, hash aggregation.HashKey, explicit bool, ur UserRecord) error {
	if !validPartitionKey(pk) {
		return &ErrIllegalPartitionKey{UserRecord: userRecordOf(ur, data, pk)}
	}
	if len(pk)+len(data) > p.cfg.MaxRecordSize {
		return &ErrRecordSizeExceeded{UserRecord: userRecordOf(ur, data, pk)}
	}
	p.putMu.Lock()
	defer p.putMu.Unlock()
	g := p.putGroup
	if g == nil || len(g.recs) >= internalGroupRecords || len(g.arena) >= internalGroupBytes {
		if g != nil {
			g.Release()
		}
		g = p.NewGroup()
		g.internal = true
		p.putGroup = g
	}
	i := g.add(data, pk, hash, explicit, false)
	if ur != nil {
		g.mu.Lock()
		for len(g.users) < i {
			g.users = append(g.users, nil)
		}
		g.users = append(g.users, ur)
		g.mu.Unlock()
	}
	err := p.handOver(ctx, g, i, i+1)
	if err != nil {
		// The record stays in the group, pending; mark it so the
		// group can be recycled.
		g.mu.Lock()
		if r := &g.recs[i]; r.state == Pending && !r.queued {
			r.state, r.err = Failed, err
		}
		g.mu.Unlock()
		var stopped *ErrStoppedProducer
		if errors.As(err, &stopped) {
			return &ErrStoppedProducer{UserRecord: userRecordOf(ur, data, pk)}
		}
	}
	return err
}

func userRecordOf(ur UserRecord, data []byte, pk string) UserRecord {
	if ur != nil {
		return ur
	}
	return NewDataRecord(append([]byte(nil), data...), pk)
}

// NotifyFailures returns the channel on which records put with Put and
// PutUserRecord that failed are reported, one FailureRecord per failed
// entry. The channel is buffered (BacklogCount); when it is full the
// notification is dropped and counted, so a reader that is slow or absent
// never holds up delivery. It is closed by Stop. Group records are not
// reported here: their outcomes are in the group.
func (p *Producer) NotifyFailures() <-chan *FailureRecord {
	return p.failures
}

// kick wakes the loop.
func (p *Producer) kick() {
	select {
	case p.wake <- struct{}{}:
	default:
	}
}

// changedLocked returns a channel closed at the next progress.
func (p *Producer) changedLocked() chan struct{} {
	if p.changed == nil {
		p.changed = make(chan struct{})
	}
	return p.changed
}

// signalChangedLocked wakes everyone waiting for progress.
func (p *Producer) signalChangedLocked() {
	if p.changed != nil {
		close(p.changed)
		p.changed = nil
	}
}

// Shards returns the shard map in use, sorted by starting hash key; nil
// without one. The slice must not be modified.
func (p *Producer) Shards() []types.Shard {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.table == nil {
		return nil
	}
	return p.table.shards
}
