package producer

import (
	"context"
	"fmt"
	"math/rand/v2"
	"runtime"
	"testing"
	"testing/synctest"
	"unsafe"
)

// memoryCeiling is the bound doc.go gives for the heap the producer holds
// beyond the callers' groups, with shards shards and held records in it.
func memoryCeiling(c Config, shards, held int) int {
	const perRecord, perEncoder, perRequestEntry, perFreeEntry = 300, 8 << 10, 200, 300
	return c.BufferMaxBytes + perRecord*held +
		shards*(2*c.AggregateBatchSize+perEncoder) + c.BatchCount*perEncoder +
		maxFreeEncoders*(2*c.AggregateBatchSize+perEncoder) +
		c.BatchSize + freeEntriesMax(&c)*perFreeEntry +
		c.MaxConnections*c.BatchCount*perRequestEntry +
		(c.MaxConnections+1)*c.BatchSize
}

func heapInUse() int {
	runtime.GC()
	runtime.GC() // a second time empties the sync.Pool victim caches
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return int(m.HeapAlloc)
}

// TestMemoryCeiling fills the producer to its buffer cap against a
// service that does not answer, with 100,000 records of random keys and
// no shard map, and holds the heap the producer adds to the ceiling of
// doc.go; then it lets the records through and checks what stays after
// (the free lists) is within the same bound with nothing held.
func TestMemoryCeiling(t *testing.T) {
	const n, size = 100_000, 100
	tests := []struct {
		name        string
		format      AggregationFormat
		anyKey      bool
		wantEntries func(int) bool
	}{
		{name: "distinct random keys", wantEntries: func(e int) bool { return e == n }},
		// One random key per aggregate: 50 KiB aggregates of ~105-byte records.
		{name: "no key of their own", anyKey: true, wantEntries: func(e int) bool { return e <= n/400 }},
		{name: "no key of their own, newline aggregates", format: AggregationNewline, anyKey: true, wantEntries: func(e int) bool { return e <= n/400 }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				f := newFake(1)
				p, release := startHanging(t, f, func(c *Config) {
					c.GetShards = nil
					c.BufferMaxBytes = 4 << 20
					c.AggregationFormat = tc.format
				})
				base := heapInUse()
				rng := rand.New(rand.NewPCG(3, 4))
				data := make([]byte, size)
				g := p.NewGroup()
				for i := range n {
					data[0], data[1], data[2] = byte(i), byte(i>>8), byte(i>>16)
					if tc.anyKey {
						g.AddAnyKey(data)
					} else {
						g.Add(data, fmt.Sprintf("%016x", rng.Uint64()))
					}
				}
				withGroup := heapInUse()
				ctx, cancel := context.WithCancel(context.Background())
				done := make(chan error)
				go func() { done <- p.PutGroup(ctx, g) }()
				synctest.Wait() // the buffer is full; requests hang
				held := 0
				g.mu.Lock()
				for i := range g.recs {
					if r := &g.recs[i]; r.queued || r.state == InFlight {
						held++
					}
				}
				g.mu.Unlock()
				grown := heapInUse() - withGroup
				limit := memoryCeiling(p.cfg, 0, held)
				t.Logf("%d records held, producer heap %.1f MiB, ceiling %.1f MiB", held, mib(grown), mib(limit))
				if held == 0 || held == n {
					t.Fatalf("%d of %d records held: the buffer cap did not apply", held, n)
				}
				if grown > limit {
					t.Errorf("producer heap %.1f MiB over the ceiling %.1f MiB", mib(grown), mib(limit))
				}
				close(release)
				if err := <-done; err != nil {
					t.Fatal(err)
				}
				cancel()
				if err := g.Wait(context.Background()); err != nil {
					t.Fatal(err)
				}
				if d, _, _, _ := g.Counts(); d != n {
					t.Fatalf("%d of %d delivered", d, n)
				}
				g.Release()
				f.mu.Lock()
				entries := f.entries
				f.delivered, f.kclSeen, f.sent = nil, nil, nil // the fake's own memory
				f.mu.Unlock()
				if !tc.wantEntries(entries) {
					t.Errorf("%d PutRecords entries for %d records", entries, n)
				}
				idle := heapInUse() - base
				t.Logf("%d PutRecords entries; after: %.1f MiB", entries, mib(idle))
				if idle > memoryCeiling(p.cfg, 0, 0) {
					t.Errorf("after the run the producer keeps %.1f MiB, over the ceiling %.1f MiB", mib(idle), mib(memoryCeiling(p.cfg, 0, 0)))
				}
				if err := p.Stop(context.Background()); err != nil {
					t.Fatal(err)
				}
			})
		})
	}
}

func mib(n int) float64 { return float64(n) / (1 << 20) }

// TestGroupGrow: after Grow(n), records of n bytes in all go into the
// arena without moving it, so filling a group from a chunk of known size
// leaves no copies of the arena to the garbage collector.
func TestGroupGrow(t *testing.T) {
	tests := []struct {
		name  string
		grow  bool
		moves bool
	}{
		{name: "grown", grow: true},
		{name: "not grown", moves: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := newTestProducer(t, newFake(1), nil)
			g := p.NewGroup()
			defer g.Release()
			data := make([]byte, 500)
			const n = 1000
			if tc.grow {
				g.Grow(n * (len(data) + len("key")))
			}
			g.Add(data, "key")
			first := unsafe.SliceData(g.arena)
			for range n - 1 {
				g.Add(data, "key")
			}
			if moved := unsafe.SliceData(g.arena) != first; moved != tc.moves {
				t.Errorf("arena moved %v, want %v", moved, tc.moves)
			}
		})
	}
}
