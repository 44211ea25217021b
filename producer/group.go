package producer

import (
	"context"
	"math/rand/v2"
	"slices"
	"sync"
	"unicode/utf8"
	"unsafe"

	"github.com/kinesis-kpl/fluent-bit-kinesis-kpl/aggregation"
)

// State is where a record of a Group stands.
type State uint8

const (
	// Pending: not handed to the producer yet, or buffered in it and not
	// yet part of a request.
	Pending State = iota
	// InFlight: part of a PutRecords request being sent.
	InFlight
	// Delivered: Kinesis accepted the record. Final; it is never sent again.
	Delivered
	// Failed: the record has a failed outcome. Outcome.Retryable tells
	// whether putting it again may succeed; a failure that is not
	// retryable is final.
	Failed
)

func (s State) String() string {
	switch s {
	case Pending:
		return "pending"
	case InFlight:
		return "in flight"
	case Delivered:
		return "delivered"
	case Failed:
		return "failed"
	}
	return "unknown"
}

// Outcome is what happened to one record of a Group.
type Outcome struct {
	State State
	// Err is why the record failed (State Failed), nil otherwise. It never
	// contains the record's data or partition key.
	Err error
	// Retryable is true for a failure that putting the record again may
	// fix: ErrRecordExpired, ErrCanceled, ErrStoppedProducer.
	Retryable bool
	// ShardID is the shard that accepted a Delivered record.
	ShardID string
}

// groupRecord is one record of a Group. Its bytes live in the group's
// arena at off: partition key, then explicit hash key in decimal (only
// for records added with one), then data. A record added with AddAnyKey
// has no key in the arena: hash is random.
type groupRecord struct {
	hash      aggregation.HashKey
	err       error
	shardID   string
	off       uint32
	dataLen   uint32
	epoch     uint32 // bumped on every hand-over; refs of older epochs are stale
	pkLen     uint16
	ehkLen    uint8
	explicit  bool
	anyKey    bool // no key of its own: hash is random, keys are made when sent
	state     State
	queued    bool // handed over and buffered, not in a request
	retryable bool
}

// size is the bytes Kinesis counts for the record: data and partition key.
func (r *groupRecord) size() int { return sentSize(int(r.pkLen), int(r.dataLen), r.anyKey) }

// sentSize is the size Kinesis counts for a record sent alone: data plus
// partition key, a random one (RandomKeyLen) for a record without its own.
func sentSize(pkLen, dataLen int, anyKey bool) int {
	if anyKey {
		pkLen = RandomKeyLen
	}
	return pkLen + dataLen
}

// sendable reports whether PutGroup should hand the record over: it is
// pending and not in the producer, or it failed in a way a new attempt
// may fix.
func (r *groupRecord) sendable() bool {
	return (r.state == Pending && !r.queued) || (r.state == Failed && r.retryable)
}

// Group is a set of records put and tracked together, such as the records
// of one Fluent Bit chunk. Get one with Producer.NewGroup, Add records,
// hand them over with Producer.PutGroup and Wait for their outcomes.
//
// Add, AddWithHashKey, PutGroup and Release must not run concurrently with
// each other on one group; Wait, Outcome, Counts, Len and Cancel may be
// called from any goroutine.
type Group struct {
	p        *Producer
	internal bool // holds records of Put and PutUserRecord

	mu    sync.Mutex
	arena []byte
	recs  []groupRecord
	// users are the UserRecords of an internal group, for FailureRecord.
	users []UserRecord
	// outstanding counts records handed over and not final.
	outstanding int
	// held counts the references the producer keeps into the arena; the
	// group is not reused while any remain.
	held      int
	releasing bool
	signal    chan struct{} // capacity 1: outstanding reached zero
	flushed   bool

	// From the producer's Config, for Add, which reads them without the
	// lock: they are set by NewGroup, before the group's owner adds.
	maxRecordSize int
	// keyEach: every record is sent alone (AggregateBatchCount 1), so a
	// record without a key of its own gets one at once (AddAnyKey), from
	// randomKeys, which only the group's owner uses and keeps across
	// recycling.
	keyEach    bool
	randomKeys *randomKeys
}

// NewGroup returns an empty group from the producer's pool.
func (p *Producer) NewGroup() *Group {
	g := p.groupPool.Get().(*Group)
	g.mu.Lock()
	g.p = p
	g.maxRecordSize = p.cfg.MaxRecordSize
	g.keyEach = p.cfg.AggregateBatchCount == 1
	if g.keyEach && g.randomKeys == nil {
		g.randomKeys = new(randomKeys)
	}
	g.mu.Unlock()
	return g
}

// producer returns the group's producer, nil once recycled.
func (g *Group) producer() *Producer {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.p
}

func newGroupForPool() any {
	return &Group{signal: make(chan struct{}, 1)}
}

// Add copies data and partitionKey into the group and returns the record's
// index. A record that can never be sent (empty or too long partition key,
// too large) gets its final failed outcome at once.
func (g *Group) Add(data []byte, partitionKey string) int {
	return g.add(data, partitionKey, aggregation.PartitionKeyHash(partitionKey), false, false)
}

// AddWithHashKey is Add with an explicit hash key, which decides the shard
// instead of the partition key's hash.
func (g *Group) AddWithHashKey(data []byte, partitionKey string, explicitHashKey aggregation.HashKey) int {
	return g.add(data, partitionKey, explicitHashKey, true, false)
}

// RandomKeyLen is the length of every key AppendRandomKey makes, so that
// sizes counted with one random key hold for any other.
const RandomKeyLen = 13

// AppendRandomKey appends a random partition key of RandomKeyLen
// characters: a uint64 in base 36, zero-padded.
func AppendRandomKey(dst []byte) []byte {
	var digits [RandomKeyLen]byte
	n := rand.Uint64()
	for i := RandomKeyLen - 1; i >= 0; i-- {
		digits[i] = "0123456789abcdefghijklmnopqrstuvwxyz"[n%36]
		n /= 36
	}
	return append(dst, digits[:]...)
}

// AddAnyKey adds a record that has no partition key of its own, such as a
// log line without the configured key field: any key will do. Its shard is
// chosen at random (128 random bits, no hashing), so records spread over
// the shards, and no key is made for it: in an aggregate it carries the
// aggregate's random key (and, in a shard's aggregate, the shard's middle
// hash key), so the key tables hold one entry whatever the number of
// records; sent alone it gets a random key and its random hash as explicit
// hash key, made when its entry is built. Without a shard map such records
// share aggregates, all under one random key per aggregate, where records
// added with distinct keys of their own (Add) would each go out alone.
// With aggregation off (AggregateBatchCount 1) every record goes alone, so
// it gets a random key at once, which Kinesis routes by: an explicit hash
// key would add 39 bytes to every entry. That key comes from the group's
// randomKeys, which spares most records the making and hashing of a key;
// records may share one, as records with random keys of their own may.
func (g *Group) AddAnyKey(data []byte) int {
	if g.keyEach {
		key := g.randomKeys.next()
		pk := unsafe.String(&key.pk[0], RandomKeyLen) // copied into the arena by add
		return g.add(data, pk, key.hash, false, false)
	}
	hash := aggregation.HashKey{Hi: rand.Uint64(), Lo: rand.Uint64()}
	return g.add(data, "", hash, false, true)
}

// randomKeys is a pool of random partition keys, with their hashes, for
// records sent alone without a key of their own. Making a key and its MD5
// costs about as much as a small record's JSON; a key from the pool costs
// a random number. Each record takes a key from a slot picked at random,
// and one take in keyRenewEvery first replaces the slot's key with a new
// one, so keys keep changing: every record's hash is uniform over the
// hash key space, as a fresh key's is, and the keys in use are never a
// fixed few that would favour some shards of a stream with many.
type randomKeys struct {
	slots [keyPoolSize]randomKey
	takes uint32
}

type randomKey struct {
	pk   [RandomKeyLen]byte
	hash aggregation.HashKey
	made bool
}

const (
	keyPoolSize   = 256
	keyRenewEvery = 8
)

// next returns a key from a slot picked at random, renewed first when the
// slot is empty or the count of takes says so.
func (k *randomKeys) next() *randomKey {
	s := &k.slots[rand.Uint32N(keyPoolSize)]
	k.takes++
	if !s.made || k.takes%keyRenewEvery == 0 {
		AppendRandomKey(s.pk[:0])
		s.hash = aggregation.PartitionKeyHash(unsafe.String(&s.pk[0], RandomKeyLen))
		s.made = true
	}
	return s
}

// Grow makes room for n more bytes of records (data and keys), so that a
// caller that knows about how much it will add (a chunk's size) has the
// group's arena allocated once, rather than copied at every growth with
// each old copy left to the garbage collector.
func (g *Group) Grow(n int) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.arena = slices.Grow(g.arena, n)
}

// add is Add, AddWithHashKey (explicit) and AddAnyKey (anyKey), under one
// lock per record. Nothing it does under the lock can panic (it reads no
// producer), so it unlocks without a defer.
func (g *Group) add(data []byte, partitionKey string, hash aggregation.HashKey, explicit, anyKey bool) int {
	var invalid error
	switch {
	case !anyKey && !validPartitionKey(partitionKey):
		invalid = errOutcomeIllegalKey
	case sentSize(len(partitionKey), len(data), anyKey) > g.maxRecordSize:
		invalid = errOutcomeTooLarge
	}
	g.mu.Lock()
	i := len(g.recs)
	if invalid != nil {
		g.recs = append(g.recs, groupRecord{state: Failed, err: invalid})
		g.mu.Unlock()
		return i
	}
	rec := groupRecord{
		hash:     hash,
		off:      uint32(len(g.arena)),
		dataLen:  uint32(len(data)),
		pkLen:    uint16(len(partitionKey)),
		explicit: explicit,
		anyKey:   anyKey,
	}
	g.arena = append(g.arena, partitionKey...)
	if explicit {
		n := len(g.arena)
		g.arena = hash.AppendDecimal(g.arena)
		rec.ehkLen = uint8(len(g.arena) - n)
	}
	g.arena = append(g.arena, data...)
	g.recs = append(g.recs, rec)
	g.mu.Unlock()
	return i
}

func validPartitionKey(pk string) bool {
	if len(pk) == 0 {
		return false
	}
	return len(pk) <= kinesisMaxPartitionKeyChars || utf8.RuneCountInString(pk) <= kinesisMaxPartitionKeyChars
}

// ref returns the producer's reference to record i for the current epoch.
// Caller holds g.mu.
func (g *Group) ref(i int, deadline int64) recRef {
	r := &g.recs[i]
	end := int(r.off) + int(r.pkLen) + int(r.ehkLen) + int(r.dataLen)
	return recRef{
		g:        g,
		rec:      g.arena[r.off:end:end],
		hash:     r.hash,
		deadline: deadline,
		idx:      uint32(i),
		epoch:    r.epoch,
		pkLen:    r.pkLen,
		ehkLen:   r.ehkLen,
		anyKey:   r.anyKey,
	}
}

// Len returns the number of records added.
func (g *Group) Len() int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return len(g.recs)
}

// Outcome returns record i's outcome so far.
func (g *Group) Outcome(i int) Outcome {
	g.mu.Lock()
	defer g.mu.Unlock()
	r := &g.recs[i]
	return Outcome{State: r.state, Err: r.err, Retryable: r.retryable, ShardID: r.shardID}
}

// Counts returns how many records are delivered, failed for good, failed
// but retryable, and not final yet (pending or in flight).
func (g *Group) Counts() (delivered, failedPermanent, failedRetryable, pending int) {
	g.mu.Lock()
	defer g.mu.Unlock()
	for i := range g.recs {
		switch r := &g.recs[i]; {
		case r.state == Delivered:
			delivered++
		case r.state == Failed && r.retryable:
			failedRetryable++
		case r.state == Failed:
			failedPermanent++
		default:
			pending++
		}
	}
	return
}

// Wait returns nil once every record of the group has a final outcome
// (delivered or failed), and ctx.Err() if ctx ends first. It asks the
// producer to send the group's buffered records now rather than at the
// next FlushInterval. It returns ErrNotHandedOver when records that were
// never handed to the producer are all that is left.
func (g *Group) Wait(ctx context.Context) error {
	return g.wait(ctx, true)
}

// wait is Wait; flush false leaves the sending to the producer's batching.
func (g *Group) wait(ctx context.Context, flush bool) error {
	asked := !flush
	for {
		g.mu.Lock()
		p := g.p
		outstanding := g.outstanding
		notHanded := false
		if outstanding == 0 {
			for i := range g.recs {
				if g.recs[i].state == Pending {
					notHanded = true
					break
				}
			}
		}
		g.mu.Unlock()
		if outstanding == 0 {
			if notHanded {
				return ErrNotHandedOver
			}
			return nil
		}
		if !asked {
			asked = true
			p.requestFlush()
		}
		select {
		case <-g.signal:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// Cancel withdraws the group's records that are buffered in the producer
// but not yet in a request: their outcome becomes a retryable failure with
// ErrCanceled. Records in flight keep going and get their real outcome.
// Once Cancel returns, no record of the group that was not already in
// flight will be sent.
func (g *Group) Cancel() {
	g.mu.Lock()
	for i := range g.recs {
		r := &g.recs[i]
		if r.state == Pending && r.queued {
			r.state, r.err, r.retryable, r.queued = Failed, ErrCanceled, true, false
			g.outstanding--
		}
	}
	g.signalIfDoneLocked()
	g.mu.Unlock()
}

// Release returns the group to the producer's pool. The caller must not
// use g afterwards. Records still in flight finish normally; the group is
// reused only after the producer dropped every reference into it, so
// Release is safe at any time.
func (g *Group) Release() {
	g.mu.Lock()
	g.releasing = true
	recycle := g.held == 0
	g.mu.Unlock()
	if recycle {
		g.recycle()
	}
}

// recycle resets the group and puts it in the pool. Called exactly once,
// by whoever sees releasing with held == 0 (under g.mu) first.
func (g *Group) recycle() {
	g.mu.Lock()
	p := g.p
	if len(g.arena) > maxPooledArena {
		g.arena = nil
	}
	g.arena = g.arena[:0]
	clear(g.recs) // drop errors and shard IDs
	g.recs = g.recs[:0]
	clear(g.users)
	g.users = g.users[:0]
	g.outstanding, g.held, g.releasing, g.internal, g.flushed = 0, 0, false, false, false
	select {
	case <-g.signal:
	default:
	}
	g.p = nil
	g.mu.Unlock()
	p.groupPool.Put(g)
}

// maxPooledArena keeps a single huge group from pinning its arena in the
// pool forever.
const maxPooledArena = 16 << 20

// signalIfDoneLocked wakes Wait when nothing is outstanding.
func (g *Group) signalIfDoneLocked() {
	if g.outstanding == 0 {
		select {
		case g.signal <- struct{}{}:
		default:
		}
	}
}

// dropRefLocked forgets one producer reference; it reports whether the
// group must now be recycled (after g.mu is released).
func (g *Group) dropRefLocked() bool {
	g.held--
	return g.held == 0 && g.releasing
}

// recRef is the producer's handle on one handed-over record: where its
// bytes are (stable while the reference is held) and which hand-over it
// belongs to.
type recRef struct {
	g        *Group
	rec      []byte // partition key, explicit hash key decimal, data
	hash     aggregation.HashKey
	deadline int64 // producer clock, nanoseconds
	idx      uint32
	epoch    uint32
	pkLen    uint16
	ehkLen   uint8
	anyKey   bool
}

// partitionKey views the key in place; the arena is not reused while the
// reference is held. It is "" for a record without a key of its own
// (anyKey): aggregator.keysOf and entry.buildPlain give it one.
func (r *recRef) partitionKey() string {
	return unsafe.String(unsafe.SliceData(r.rec), int(r.pkLen))
}

// explicitHashKey is the decimal explicit hash key, "" for none.
func (r *recRef) explicitHashKey() string {
	if r.ehkLen == 0 {
		return ""
	}
	return unsafe.String(&r.rec[r.pkLen], int(r.ehkLen))
}

func (r *recRef) data() []byte { return r.rec[int(r.pkLen)+int(r.ehkLen):] }

// size is the bytes Kinesis counts for the record sent alone.
func (r *recRef) size() int {
	return sentSize(int(r.pkLen), len(r.rec)-int(r.pkLen)-int(r.ehkLen), r.anyKey)
}
