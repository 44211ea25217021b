package aggregation

import (
	"bytes"
	"crypto/md5"
	"math/rand/v2"
	"runtime"
	"sync"
	"testing"
	"time"
)

// unsummedBatch makes aggregates of the given protobuf sizes as
// AppendUnsummed leaves them (magic, random protobuf bytes, 16 zero
// bytes), carved from one buffer with a guard byte after each, as a
// producer's buffers lie next to each other. It returns the aggregates
// and the whole buffer.
func unsummedBatch(r *rand.Rand, sizes []int) (aggs [][]byte, all []byte) {
	n := 0
	for _, s := range sizes {
		n += Overhead + s + 1
	}
	all = make([]byte, n)
	for i := range all {
		all[i] = byte(r.Uint32())
	}
	at := 0
	for _, s := range sizes {
		a := all[at : at+Overhead+s : at+Overhead+s]
		copy(a, Magic[:])
		clear(a[len(a)-checksumLen:])
		aggs = append(aggs, a)
		at += len(a) + 1
	}
	return aggs, all
}

// wantSummed is all with the MD5 of every aggregate's protobuf in its
// place, computed by crypto/md5.
func wantSummed(aggs [][]byte, all []byte) []byte {
	want := bytes.Clone(all)
	at := 0
	for _, a := range aggs {
		sum := md5.Sum(a[magicLen : len(a)-checksumLen])
		copy(want[at+len(a)-checksumLen:], sum[:])
		at += len(a) + 1
	}
	return want
}

// blockEdges are protobuf sizes at and around MD5's 64-byte blocks, the
// 56-byte padding limit and laneChunk.
var blockEdges = []int{0, 1, 55, 56, 57, 63, 64, 65, 119, 120, 128, 4095, 4096,
	laneChunk - 1, laneChunk, laneChunk + 1, 2*laneChunk + 63, 100_000}

func TestSumAll(t *testing.T) {
	l := openTestLanes(t)
	r := rand.New(rand.NewPCG(1, 2))
	randomSizes := func(n, maxSize int) []int {
		s := make([]int, n)
		for i := range s {
			s[i] = r.IntN(maxSize + 1)
		}
		return s
	}
	tests := []struct {
		name  string
		sizes []int
	}{
		{"no aggregates", nil},
		{"one empty protobuf", []int{0}},
		{"one", []int{5000}},
		{"two small", []int{10, 300}},
		{"block edges", blockEdges},
		{"17 of 50 KB", randomSizes(17, 50_000)},
		{"33 of mixed sizes", append(randomSizes(31, 2000), 200_000, 1)},
		{"100 small", randomSizes(100, 300)},
		{"16 equal", []int{64 * 100, 64 * 100, 64 * 100, 64 * 100, 64 * 100, 64 * 100, 64 * 100, 64 * 100,
			64 * 100, 64 * 100, 64 * 100, 64 * 100, 64 * 100, 64 * 100, 64 * 100, 64 * 100}},
	}
	for _, tt := range tests {
		for _, s := range sumFuncs {
			t.Run(tt.name+"/"+s.name, func(t *testing.T) {
				aggs, all := unsummedBatch(r, tt.sizes)
				want := wantSummed(aggs, all)
				s.fn(l, aggs)
				if !bytes.Equal(all, want) {
					t.Fatalf("bytes differ from crypto/md5's sums (first at %d)", firstDiff(all, want))
				}
				for i, a := range aggs {
					if len(tt.sizes) > 0 && tt.sizes[i] > 0 && !IsAggregated(a) {
						t.Fatalf("aggregate %d is not recognised after SumAll", i)
					}
				}
			})
		}
	}
}

// sumFuncs are the ways to sum that tests and benchmarks compare with
// crypto/md5: SumAll, and the lanes whatever the batch, so that small
// batches are checked on them too.
var sumFuncs = []struct {
	name string
	fn   func(*Lanes, [][]byte)
}{{"SumAll", (*Lanes).SumAll}, {"lanes", sumOnLanes}}

// sumOnLanes sums on the SIMD server, or serially on a machine without one.
func sumOnLanes(l *Lanes, aggs [][]byte) {
	if !l.sumLanes(aggs) {
		sumSerial(aggs)
	}
}

// openTestLanes opens a share of the server for the test.
func openTestLanes(t testing.TB) *Lanes {
	l := OpenLanes()
	t.Cleanup(l.Close)
	return l
}

func firstDiff(a, b []byte) int {
	for i := range min(len(a), len(b)) {
		if a[i] != b[i] {
			return i
		}
	}
	return min(len(a), len(b))
}

// TestSumAllConcurrent: more callers than sets of hashers, each summing
// its own batches at the same time, all get crypto/md5's sums; the server
// never gets more than maxLaneSets sets.
func TestSumAllConcurrent(t *testing.T) {
	const callers, rounds = maxLaneSets + 4, 8
	l := openTestLanes(t)
	var wg sync.WaitGroup
	errs := make(chan string, callers)
	for c := range callers {
		wg.Go(func() {
			r := rand.New(rand.NewPCG(uint64(c), 7))
			for range rounds {
				sizes := make([]int, 1+r.IntN(40))
				for i := range sizes {
					sizes[i] = r.IntN(20_000)
				}
				aggs, all := unsummedBatch(r, sizes)
				want := wantSummed(aggs, all)
				l.SumAll(aggs)
				if !bytes.Equal(all, want) {
					errs <- "a caller got sums that differ from crypto/md5's"
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Fatal(e)
	}
	lanes.mu.Lock()
	made, free := lanes.made, len(lanes.free)
	lanes.mu.Unlock()
	if made > maxLaneSets || free != made {
		t.Fatalf("%d sets of hashers made, %d free after every caller returned; want at most %d, all free", made, free, maxLaneSets)
	}
}

// TestSumAllEverySetTaken: a caller that finds every set in use sums on
// its own goroutine, correctly.
func TestSumAllEverySetTaken(t *testing.T) {
	l := openTestLanes(t)
	var taken []*laneSet
	for {
		set := takeLaneSet()
		if set == nil {
			break
		}
		taken = append(taken, set)
	}
	defer func() {
		for _, s := range taken {
			giveLaneSet(s)
		}
	}()
	r := rand.New(rand.NewPCG(3, 4))
	aggs, all := unsummedBatch(r, []int{40_000, 40_000, 70_000})
	want := wantSummed(aggs, all)
	l.SumAll(aggs)
	if !bytes.Equal(all, want) {
		t.Fatal("sums differ from crypto/md5's with every set of hashers taken")
	}
}

func TestSumAllShortBufferPanics(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Fatal("SumAll of a buffer shorter than Overhead did not panic")
		}
	}()
	openTestLanes(t).SumAll([][]byte{make([]byte, 40), make([]byte, Overhead-1)})
}

// TestAppendUnsummed: AppendUnsummed is AppendTo with zeros where the MD5
// goes, and SumAll makes it AppendTo's bytes.
func TestAppendUnsummed(t *testing.T) {
	l := openTestLanes(t)
	r := rand.New(rand.NewPCG(5, 6))
	var enc Encoder
	for _, n := range []int{1, 2, 50, 300} {
		enc.Reset()
		for _, rec := range randomRecords(r, n) {
			enc.Add(rec.pk, rec.ehk, rec.data)
		}
		prefix := []byte("kept")
		full := enc.AppendTo(bytes.Clone(prefix))
		unsummed := enc.AppendUnsummed(bytes.Clone(prefix))
		if len(unsummed) != len(prefix)+enc.Size() {
			t.Fatalf("%d records: AppendUnsummed appended %d bytes, Size is %d", n, len(unsummed)-len(prefix), enc.Size())
		}
		if !bytes.Equal(unsummed[:len(unsummed)-checksumLen], full[:len(full)-checksumLen]) ||
			!bytes.Equal(unsummed[len(unsummed)-checksumLen:], make([]byte, checksumLen)) {
			t.Fatalf("%d records: AppendUnsummed is not AppendTo with a zero MD5", n)
		}
		l.SumAll([][]byte{unsummed[len(prefix):], enc.AppendUnsummed(nil)})
		if !bytes.Equal(unsummed, full) {
			t.Fatalf("%d records: SumAll of AppendUnsummed differs from AppendTo", n)
		}
	}
}

// FuzzSumAll cuts data into aggregates at points drawn from seed and sums
// them on the lanes. Invariant: every sum is crypto/md5's, and no byte
// outside the sums changes.
func FuzzSumAll(f *testing.F) {
	l := openTestLanes(f)
	f.Add([]byte{}, uint64(0), uint8(1))
	f.Add(bytes.Repeat([]byte{0xAB}, 200), uint64(1), uint8(17))
	f.Add(bytes.Repeat([]byte("0123456789abcdef"), 5000), uint64(2), uint8(40))
	f.Fuzz(func(t *testing.T, data []byte, seed uint64, count uint8) {
		r := rand.New(rand.NewPCG(seed, 0))
		n := 1 + int(count)%48
		sizes := make([]int, n)
		rest := len(data)
		for i := range sizes[:n-1] {
			sizes[i] = r.IntN(rest + 1)
			rest -= sizes[i]
		}
		sizes[n-1] = rest
		aggs, all := unsummedBatch(r, sizes)
		from := 0
		for _, a := range aggs { // the fuzzer's bytes as the protobufs
			copy(a[magicLen:len(a)-checksumLen], data[from:])
			from += len(a) - Overhead
		}
		want := wantSummed(aggs, all)
		sumOnLanes(l, aggs)
		if !bytes.Equal(all, want) {
			t.Fatalf("bytes differ from crypto/md5's sums (first at %d)", firstDiff(all, want))
		}
	})
}

// TestLanesLifetime: the server runs while a Lanes is open and its
// goroutine is gone after the last Close; nil and closed Lanes still sum,
// with crypto/md5.
func TestLanesLifetime(t *testing.T) {
	r := rand.New(rand.NewPCG(8, 9))
	sumChecked := func(l *Lanes, what string) {
		t.Helper()
		aggs, all := unsummedBatch(r, []int{30_000, 30_000, 30_000, 30_000})
		want := wantSummed(aggs, all)
		l.SumAll(aggs)
		if !bytes.Equal(all, want) {
			t.Fatalf("%s: sums differ from crypto/md5's", what)
		}
	}
	a, b := OpenLanes(), OpenLanes()
	simd := !takeNoLaneSet() // false on a CPU without AVX2
	sumChecked(a, "open")
	a.Close()
	a.Close() // again: no effect on b's share
	if simd && (!serverGoroutine() || takeNoLaneSet()) {
		t.Fatal("the server stopped while a Lanes was still open")
	}
	sumChecked(b, "the other still open")
	sumChecked(a, "closed")
	sumChecked(nil, "nil")
	b.Close()
	deadline := time.Now().Add(10 * time.Second)
	for serverGoroutine() {
		if time.Now().After(deadline) {
			t.Fatal("the server's goroutine runs on after the last Close")
		}
		runtime.Gosched()
	}
}

// serverGoroutine reports whether an md5-simd server goroutine runs.
func serverGoroutine() bool {
	buf := make([]byte, 1<<20)
	return bytes.Contains(buf[:runtime.Stack(buf, true)], []byte("md5-simd.(*md5Server).process"))
}
