package instance

import (
	"hash/maphash"
	"sync"
	"time"
)

// ledger remembers, for each chunk that Fluent Bit was told to retry, the
// group of records built from it: which records are delivered, which failed
// for good, which still need sending. When Fluent Bit hands the same chunk
// again, the flush continues with that group instead of sending everything
// twice.
//
// Fluent Bit gives a Go plugin no chunk id, so a chunk is known by a
// fingerprint of its tag and bytes. A byte-identical chunk with the same tag
// arriving while an entry waits is taken for the retry: that is the one
// trade the ledger makes, and users can turn it off (retry_ledger off).
//
// The ledger is bounded by entries, by the bytes its entries really hold
// (each record's copy in its group and the group's per-record state, not
// the chunk's msgpack size) and by age; an entry pushed out is handed to
// evict, which lets its records in flight finish and forgets it. Age is
// checked on every put and take and by a timer set for the oldest entry, so
// the entries of chunks that Fluent Bit gave up on (Retry_Limit reached)
// leave within maxAge even when no other chunk comes.
type ledger struct {
	mu      sync.Mutex
	seed    maphash.Seed
	entries map[uint64]*pending
	order   []*pending // oldest first; removed entries are nil-ed lazily
	bytes   int        // sum of held over entries
	timer   *time.Timer
	stopped bool

	maxEntries int
	maxBytes   int
	maxAge     time.Duration
	now        func() time.Time
	evict      func(*pending)
}

// chunkID names a chunk in the ledger: its tag, its size and the
// fingerprint of both with its bytes.
type chunkID struct {
	key  uint64
	tag  string
	size int
}

// pending is one chunk awaiting its retry.
type pending struct {
	key   uint64
	tag   string
	size  int // the chunk's size, part of its identity
	held  int // bytes its work keeps alive (chunkWork.held)
	added time.Time
	work  *chunkWork
}

func newLedger(maxEntries, maxBytes int, maxAge time.Duration, evict func(*pending)) *ledger {
	return &ledger{
		seed:       maphash.MakeSeed(),
		entries:    make(map[uint64]*pending),
		maxEntries: maxEntries,
		maxBytes:   maxBytes,
		maxAge:     maxAge,
		now:        time.Now,
		evict:      evict,
	}
}

// fingerprint hashes the tag and every byte of the chunk, on every flush.
// Nothing cheaper tells apart two chunks of one tag and size that differ
// anywhere: sampled bytes miss a difference elsewhere, and the address of
// Fluent Bit's buffer can be a later chunk's. Only a flush that ends in
// a retry needs the fingerprint, but none knows that before its first wait,
// and the chunk may be freed after it (see Instance.Flush). maphash reads
// about 13 GB/s (BenchmarkLedgerFingerprint), some 40 ns per 525-byte record.
func (l *ledger) fingerprint(tag string, chunk []byte) uint64 {
	var h maphash.Hash
	h.SetSeed(l.seed)
	h.WriteString(tag)
	h.WriteByte(0)
	h.Write(chunk)
	return h.Sum64()
}

// id names a chunk for take and put.
func (l *ledger) id(tag string, chunk []byte) chunkID {
	return chunkID{key: l.fingerprint(tag, chunk), tag: tag, size: len(chunk)}
}

// take removes and returns the entry for this chunk, if one waits.
func (l *ledger) take(id chunkID) *pending {
	l.mu.Lock()
	out := l.trimLocked()
	p := l.entries[id.key]
	if p != nil && p.tag == id.tag && p.size == id.size {
		l.removeLocked(p)
	} else {
		p = nil
	}
	l.mu.Unlock()
	for _, o := range out {
		l.evict(o)
	}
	return p
}

// put stores work for this chunk until its retry, evicting what no longer fits.
func (l *ledger) put(id chunkID, w *chunkWork) {
	p := &pending{key: id.key, tag: id.tag, size: id.size, held: w.held, added: l.now(), work: w}
	var out []*pending
	l.mu.Lock()
	if old := l.entries[p.key]; old != nil {
		// Two identical chunks awaiting retry at once: keep both sendable by
		// evicting the older one, whose undelivered records Fluent Bit will
		// hand again and which are then sent anew.
		l.removeLocked(old)
		out = append(out, old)
	}
	l.entries[p.key] = p
	l.order = append(l.order, p)
	l.bytes += p.held
	out = append(out, l.trimLocked()...)
	l.armLocked()
	l.mu.Unlock()
	for _, o := range out {
		l.evict(o)
	}
}

// drain removes and returns every entry.
func (l *ledger) drain() []*pending {
	l.mu.Lock()
	defer l.mu.Unlock()
	var all []*pending
	for _, p := range l.order {
		if p != nil && l.entries[p.key] == p {
			all = append(all, p)
		}
	}
	clear(l.entries)
	l.order = nil
	l.bytes = 0
	l.stopped = true
	if l.timer != nil {
		l.timer.Stop()
	}
	return all
}

// armLocked sets the timer for the oldest entry's expiry, if none is set.
func (l *ledger) armLocked() {
	if l.timer != nil || l.stopped || len(l.entries) == 0 {
		return
	}
	var oldest *pending
	for _, p := range l.order {
		if p != nil {
			oldest = p
			break
		}
	}
	if oldest == nil {
		return
	}
	wait := oldest.added.Add(l.maxAge).Sub(l.now())
	l.timer = time.AfterFunc(max(wait, 0)+time.Millisecond, l.expire)
}

// expire drops the entries that are too old, then waits for the next one.
func (l *ledger) expire() {
	l.mu.Lock()
	l.timer = nil
	out := l.trimLocked()
	l.armLocked()
	l.mu.Unlock()
	for _, o := range out {
		l.evict(o)
	}
}

func (l *ledger) len() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.entries)
}

func (l *ledger) removeLocked(p *pending) {
	delete(l.entries, p.key)
	l.bytes -= p.held
	for i, q := range l.order {
		if q == p {
			l.order[i] = nil
			break
		}
	}
}

func (l *ledger) trimLocked() []*pending {
	var out []*pending
	now := l.now()
	i := 0
	for ; i < len(l.order); i++ {
		p := l.order[i]
		if p == nil {
			continue
		}
		if len(l.entries) <= l.maxEntries && l.bytes <= l.maxBytes && now.Sub(p.added) <= l.maxAge {
			break
		}
		delete(l.entries, p.key)
		l.bytes -= p.held
		out = append(out, p)
	}
	l.order = l.order[i:]
	if cap(l.order) > 64 && len(l.order) < cap(l.order)/4 {
		l.order = append([]*pending(nil), l.order...)
	}
	return out
}
