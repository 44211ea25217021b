package producer

import (
	"bytes"
	"context"
	"errors"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"
)

// With aggregation off a backlog of ready entries is a request's worth:
// PutGroup hands full requests to idle workers and goes on, waiting for a
// response only when every connection is busy and the backlog is full.
func TestPutGroupWaitsOnlyWhenConnectionsAndBacklogAreFull(t *testing.T) {
	const batch, conns = 10, 3
	tests := []struct {
		name    string
		records int
		blocks  bool
	}{
		{name: "a request's worth", records: batch},
		{name: "every connection busy", records: conns * batch},
		{name: "every connection busy and the backlog full", records: conns*batch + batch},
		{name: "one record over", records: conns*batch + batch + 1, blocks: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				f := newFake(4)
				p, release := startHanging(t, f, func(c *Config) {
					c.AggregateBatchCount = 1
					c.BatchCount, c.BacklogCount, c.MaxConnections = batch, batch, conns
				})
				g := p.NewGroup()
				for i := range tc.records {
					g.AddAnyKey([]byte(recordData(i)))
				}
				done := make(chan error, 1)
				go func() { done <- p.PutGroup(context.Background(), g) }()
				synctest.Wait()
				select {
				case err := <-done:
					if tc.blocks {
						t.Fatalf("PutGroup returned (%v) with the backlog over its cap", err)
					}
					if err != nil {
						t.Fatal(err)
					}
				default:
					if !tc.blocks {
						t.Fatalf("PutGroup waits for a response with room in the backlog")
					}
				}
				if got, want := f.callCount(), min(conns, (tc.records+batch-1)/batch); got != want {
					t.Errorf("%d requests in flight, want %d", got, want)
				}
				close(release)
				if tc.blocks {
					if err := <-done; err != nil {
						t.Fatal(err)
					}
				}
				if err := g.Wait(context.Background()); err != nil {
					t.Fatal(err)
				}
				if d, _, _, _ := g.Counts(); d != tc.records {
					t.Fatalf("%d of %d delivered", d, tc.records)
				}
				g.Release()
				if err := p.Stop(context.Background()); err != nil {
					t.Fatal(err)
				}
			})
		})
	}
}

// A free list trims what was not needed since the last trim, never below
// its floor, oldest first.
func TestFreeListTrim(t *testing.T) {
	tests := []struct {
		name     string
		kept     int // put before the first trim
		used     int // got (and put back) between the trims
		floor    int
		wantKept int // after the second trim
	}{
		{name: "all used", kept: 10, used: 10, wantKept: 10},
		{name: "none used", kept: 10, used: 0, wantKept: 0},
		{name: "some used", kept: 10, used: 4, wantKept: 4},
		{name: "none used, floor", kept: 10, used: 0, floor: 3, wantKept: 3},
		{name: "some used, floor below", kept: 10, used: 4, floor: 2, wantKept: 4},
		{name: "fewer than the floor", kept: 2, used: 0, floor: 3, wantKept: 2},
		{name: "more used than kept", kept: 3, used: 5, wantKept: 5},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := freeList[int]{max: 100}
			for i := range tc.kept {
				f.put(&i)
			}
			f.trim(tc.floor, func(*int) {}) // starts the interval
			if len(f.items) != tc.kept {
				t.Fatalf("first trim left %d of %d: nothing was taken before it", len(f.items), tc.kept)
			}
			var got []*int
			for range tc.used {
				got = append(got, f.get())
			}
			for _, x := range got {
				f.put(x)
			}
			dropped := 0
			f.trim(tc.floor, func(*int) { dropped++ })
			if len(f.items) != tc.wantKept || dropped != max(tc.kept, tc.used)-tc.wantKept {
				t.Fatalf("kept %d, dropped %d; want %d kept of %d", len(f.items), dropped, tc.wantKept, max(tc.kept, tc.used))
			}
			for _, x := range f.items {
				if x == nil {
					t.Fatal("a trimmed list holds nil")
				}
			}
		})
	}
}

// After a burst with an entry per record the producer keeps its entries
// for the next one while busy, and gives them back down to
// idleFreeEntries once quiet, then sleeps.
func TestFreeEntriesAreGivenBackWhenQuiet(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var steps int
		testHookPanic = func(where string) {
			if where == "loop" {
				steps++ // the loop runs one step at a time, under p.mu
			}
		}
		defer func() { testHookPanic = nil }()
		f := newFake(4)
		p := newTestProducer(t, f, func(c *Config) { c.AggregateBatchCount = 1 })
		p.Start()
		defer p.Stop(context.Background())
		const n = 3 * idleFreeEntries
		g := p.NewGroup()
		for i := range n {
			g.AddAnyKey([]byte(recordData(i)))
		}
		if err := p.PutGroup(context.Background(), g); err != nil {
			t.Fatal(err)
		}
		if err := g.Wait(context.Background()); err != nil {
			t.Fatal(err)
		}
		g.Release()
		synctest.Wait()
		kept := func() (int, int) {
			p.mu.Lock()
			defer p.mu.Unlock()
			return len(p.freeEntries.items), p.freeEntryBytes
		}
		if k, _ := kept(); k <= idleFreeEntries {
			t.Fatalf("%d entries kept after a burst of %d", k, n)
		}
		time.Sleep(2*freeTrimInterval + time.Second)
		synctest.Wait()
		k, bytes := kept()
		if k > idleFreeEntries || bytes < 0 {
			t.Fatalf("quiet for %v: %d entries kept (%d buffer bytes), want at most %d", 2*freeTrimInterval, k, bytes, idleFreeEntries)
		}
		p.mu.Lock()
		requests := len(p.freeRequests.items)
		p.mu.Unlock()
		if requests > idleKeptBodies {
			t.Fatalf("quiet for %v: %d requests kept, want at most %d", 2*freeTrimInterval, requests, idleKeptBodies)
		}
		p.mu.Lock()
		before := steps
		p.mu.Unlock()
		time.Sleep(time.Minute)
		synctest.Wait()
		p.mu.Lock()
		after := steps
		p.mu.Unlock()
		if after != before {
			t.Fatalf("the quiet loop ran %d times in a minute after the trims", after-before)
		}
	})
}

// gatedBodies is a BodyPutter that holds every call until its gate opens,
// accepts every entry of a JSON body, and notes each body buffer it was
// given.
type gatedBodies struct {
	mu      sync.Mutex
	gate    chan struct{}
	buffers map[*byte]bool
}

func (f *gatedBodies) PutRecords(context.Context, *kinesis.PutRecordsInput, ...func(*kinesis.Options)) (*kinesis.PutRecordsOutput, error) {
	return nil, errors.New("gatedBodies takes bodies only")
}

func (f *gatedBodies) PutRecordsBody(ctx context.Context, _ string, _ WireFormat, body []byte) (*kinesis.PutRecordsOutput, error) {
	f.mu.Lock()
	f.buffers[&body[:1][0]] = true
	gate := f.gate
	f.mu.Unlock()
	select {
	case <-gate:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	n := bytes.Count(body, []byte(`"PartitionKey":`))
	return &kinesis.PutRecordsOutput{Records: make([]types.PutRecordsResultEntry, n)}, nil
}

// While busy, requests keep their body buffers for the next ones: a round
// of requests in flight after another reuses every body of the first.
func TestBusyRequestsReuseTheirBodies(t *testing.T) {
	const batch, conns = 10, 4
	synctest.Test(t, func(t *testing.T) {
		f := &gatedBodies{buffers: map[*byte]bool{}}
		p, err := New(&Config{
			StreamName: "test", Client: f, Logger: &testLogger{}, RateLimit: NoRateLimit,
			AggregateBatchCount: 1, BatchCount: batch, BacklogCount: batch, MaxConnections: conns,
		})
		if err != nil {
			t.Fatal(err)
		}
		p.Start()
		defer p.Stop(context.Background())
		for round := range 2 {
			gate := make(chan struct{})
			f.mu.Lock()
			f.gate = gate
			f.mu.Unlock()
			g := p.NewGroup()
			for i := range conns * batch {
				g.AddAnyKey([]byte(recordData(i)))
			}
			if err := p.PutGroup(context.Background(), g); err != nil {
				t.Fatal(err)
			}
			synctest.Wait() // every connection holds a request
			close(gate)
			if err := g.Wait(context.Background()); err != nil {
				t.Fatal(err)
			}
			if d, _, _, _ := g.Counts(); d != conns*batch {
				t.Fatalf("round %d: %d of %d delivered", round, d, conns*batch)
			}
			g.Release()
		}
		if n := len(f.buffers); n != conns {
			t.Fatalf("%d body buffers for two rounds of %d requests in flight, want %d", n, conns, conns)
		}
	})
}
