package aggregation

import (
	"crypto/md5"
	"sync"
	"sync/atomic"

	"github.com/klauspost/cpuid/v2"
	md5simd "github.com/minio/md5-simd"
)

// The MD5 that ends every aggregate costs as much as encoding it, and
// crypto/md5 hashes one buffer at a time. md5-simd hashes up to 16 buffers
// at once in the lanes of AVX-512 (or two AVX2 units) registers, several
// times faster in all when many buffers are queued together: Lanes.SumAll
// feeds it the aggregates of a whole request at once.
//
// md5-simd runs one server goroutine, which blocks on a channel while no
// hasher has input (an idle process pays no CPU for it), over about 1.5 MiB
// of buffers. One server serves the process while any Lanes is open, and
// stops with the last Close, so that a library user that stops its
// producers is left with no goroutine. Its hashers are never closed one by
// one: md5-simd v1.1.2 keeps a closed hasher in its server's tables, so one
// NewHash per aggregate would grow them without bound. Sets of hashers are
// made on demand, at most maxLaneSets, and reused.

const (
	// laneCount is how many buffers md5-simd hashes at once.
	laneCount = 16
	// laneChunk is how much of one aggregate is written to its hasher
	// before the next aggregate's turn: md5-simd's own buffer size, so
	// that every hasher has input queued and the lanes stay full.
	laneChunk = 32 << 10
	// maxLaneSets bounds the sets of hashers, one per concurrent caller;
	// callers beyond that use crypto/md5 on their own goroutine.
	maxLaneSets = 8
	// minLaneAggregates and minLaneBytes are the smallest batch worth
	// handing to the server: below, its channel round trips cost more
	// than crypto/md5 does (BenchmarkSumAll), and md5-simd itself hashes
	// fewer than 3 lanes one by one.
	minLaneAggregates = 3
	minLaneBytes      = 16 << 10
)

// lanes is the process's md5-simd server and its sets of hashers.
var lanes struct {
	mu   sync.Mutex
	open int            // Lanes not closed
	srv  md5simd.Server // nil while none is open, or without AVX2
	// gen counts servers started, so that a set of hashers of a stopped
	// server is never reused.
	gen  uint64
	free []*laneSet
	made int
}

// laneSet is laneCount hashers of one server, used by one caller at a time.
type laneSet struct {
	gen uint64
	h   [laneCount]md5simd.Hasher
}

// Lanes is a share of the process's SIMD MD5 server, open from OpenLanes
// to Close. A nil *Lanes is valid and sums with crypto/md5.
type Lanes struct {
	closed atomic.Bool
}

// OpenLanes returns a share of the SIMD MD5 server, starting it if this is
// the only open one. On a CPU without AVX2 it sums with crypto/md5.
func OpenLanes() *Lanes {
	lanes.mu.Lock()
	defer lanes.mu.Unlock()
	lanes.open++
	if lanes.open == 1 && cpuid.CPU.Supports(cpuid.AVX2) { // md5-simd's own test
		lanes.srv = md5simd.NewServer()
		lanes.gen++
	}
	return &Lanes{}
}

// PassLanes is how many aggregates SumAll hashes in one pass of the SIMD
// lanes on this CPU: 16 with AVX-512 (one 16-lane register pass), 8 with
// AVX2 only (an 8-lane pass; md5-simd runs two of them for 16 buffers, so
// more buffers at once cost the same CPU per byte there), 1 without AVX2
// (crypto/md5). A caller that sums aggregates in batches fills the lanes
// with batches of this many: on AVX-512, a batch of 8 costs as much as one
// of 16.
func PassLanes() int { return passLanes }

var passLanes = func() int {
	switch {
	case cpuid.CPU.Supports(cpuid.AVX512F, cpuid.AVX512DQ): // md5-simd's test for its AVX-512 code
		return 16
	case cpuid.CPU.Supports(cpuid.AVX2):
		return 8
	}
	return 1
}()

// Close gives the share back; the last Close stops the server. SumAll
// must not be running on l. Closing again does nothing.
func (l *Lanes) Close() {
	if l == nil || l.closed.Swap(true) {
		return
	}
	lanes.mu.Lock()
	defer lanes.mu.Unlock()
	lanes.open--
	if lanes.open == 0 && lanes.srv != nil {
		lanes.srv.Close()
		lanes.srv = nil
		clear(lanes.free)
		lanes.free, lanes.made = lanes.free[:0], 0
	}
}

// SumAll writes into each aggregate made by AppendUnsummed the MD5 of its
// protobuf (the bytes between the magic and the last 16), making it a
// complete aggregate. Aggregates summed together share the SIMD lanes of
// one pass, so a caller passes every aggregate it has at hand in one call;
// a few small ones are summed with crypto/md5, which is faster for them.
// SumAll is safe for concurrent use; the aggregates must not overlap. It
// panics if an aggregate is shorter than Overhead.
func (l *Lanes) SumAll(aggs [][]byte) {
	total := 0
	for _, a := range aggs {
		if len(a) < Overhead {
			panic("aggregation: SumAll of a buffer shorter than an aggregate's overhead")
		}
		total += len(a) - Overhead
	}
	if len(aggs) < minLaneAggregates || total < minLaneBytes || !l.sumLanes(aggs) {
		sumSerial(aggs)
	}
}

// sumLanes sums aggs on the SIMD server; it reports false, having done
// nothing, when l is nil or closed, there is no server, or every set of
// hashers is in use.
func (l *Lanes) sumLanes(aggs [][]byte) bool {
	if l == nil || l.closed.Load() {
		return false
	}
	set := takeLaneSet()
	if set == nil {
		return false
	}
	set.sum(aggs)
	giveLaneSet(set)
	return true
}

func sumSerial(aggs [][]byte) {
	for _, a := range aggs {
		sumOne(a)
	}
}

// sumOne writes the MD5 of agg's protobuf into its last 16 bytes.
func sumOne(agg []byte) {
	end := len(agg) - checksumLen
	sum := md5.Sum(agg[magicLen:end])
	copy(agg[end:], sum[:])
}

// takeLaneSet returns a set of hashers for the caller alone, nil when
// there is no server or every set is in use.
func takeLaneSet() *laneSet {
	lanes.mu.Lock()
	defer lanes.mu.Unlock()
	if lanes.srv == nil {
		return nil
	}
	if n := len(lanes.free); n > 0 {
		set := lanes.free[n-1]
		lanes.free[n-1] = nil
		lanes.free = lanes.free[:n-1]
		return set
	}
	if lanes.made == maxLaneSets {
		return nil
	}
	lanes.made++
	set := &laneSet{gen: lanes.gen}
	for i := range set.h {
		set.h[i] = lanes.srv.NewHash()
	}
	return set
}

// giveLaneSet keeps set for reuse unless its server was stopped.
func giveLaneSet(set *laneSet) {
	lanes.mu.Lock()
	defer lanes.mu.Unlock()
	if lanes.srv != nil && set.gen == lanes.gen {
		lanes.free = append(lanes.free, set)
	}
}

// sum fills in the MD5 of aggs in passes of at most laneCount, as even as
// can be (17 go as 9 and 8, not 16 and 1, which md5-simd would hash
// alone). Each hasher's writes are queued to the server without waiting;
// the aggregates are written a chunk each in turn, so that the server
// finds every lane with input, and only then is each sum collected.
func (s *laneSet) sum(aggs [][]byte) {
	h := &s.h
	for passes := (len(aggs) + laneCount - 1) / laneCount; passes > 0; passes-- {
		batch := aggs[:(len(aggs)+passes-1)/passes]
		aggs = aggs[len(batch):]
		longest := 0
		for i, a := range batch {
			h[i].Reset() // queued ahead of the writes: no state carried over
			longest = max(longest, len(a)-Overhead)
		}
		for off := 0; off < longest; off += laneChunk {
			for i, a := range batch {
				body := a[magicLen : len(a)-checksumLen]
				if off < len(body) {
					_, _ = h[i].Write(body[off:min(off+laneChunk, len(body))]) // never fails while open
				}
			}
		}
		for i, a := range batch {
			// Sum appends the digest in place, in the room left for it;
			// the copy keeps that true whatever Sum does.
			end := len(a) - checksumLen
			copy(a[end:], h[i].Sum(a[:end:len(a)])[end:])
		}
	}
}
