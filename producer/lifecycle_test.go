package producer

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	// Most tests run producers in synctest bubbles, where md5-simd's
	// server must not start (its goroutine and channels would belong to
	// the bubble): they sum with crypto/md5. withLanes turns the server on.
	openLanes = noLanes
	// Every producer a test starts must be gone when the tests end.
	goleak.VerifyTestMain(m)
	_ = os.Stdout
}

// waitCalls waits (in a synctest bubble) until the fake saw n calls.
func waitCalls(t *testing.T, f *fakeKinesis, n int) {
	t.Helper()
	synctest.Wait()
	if got := f.callCount(); got < n {
		t.Fatalf("%d PutRecords calls, want %d", got, n)
	}
}

func TestCancelWithdrawsBufferedRecords(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFake(1)
		p, block := startHanging(t, f, oneRecordPerEntry)
		g := p.NewGroup()
		for i := range 6 {
			g.Add([]byte(recordData(i)), fmt.Sprintf("key-%d", i))
		}
		ctx := context.Background()
		if err := p.PutGroup(ctx, g); err != nil {
			t.Fatal(err)
		}
		p.requestFlush()
		waitCalls(t, f, 1)
		if o := g.Outcome(0); o.State != InFlight {
			t.Fatalf("record 0 is %v (%v) at %v, want in flight", o.State, o.Err, time.Now())
		}
		g.Cancel()
		for i := 2; i < 6; i++ {
			o := g.Outcome(i)
			if o.State != Failed || !o.Retryable || !errors.Is(o.Err, ErrCanceled) {
				t.Fatalf("record %d after Cancel: %+v", i, o)
			}
		}
		close(block)
		if err := g.Wait(ctx); err != nil {
			t.Fatal(err)
		}
		synctest.Wait()
		if n := f.callCount(); n != 1 {
			t.Fatalf("%d requests after Cancel, want only the one in flight", n)
		}
		for i := range 6 {
			want := 0
			if i < 2 {
				want = 1
			}
			if got := f.deliveredCount(recordData(i)); got != want {
				t.Errorf("record %d stored %d times, want %d", i, got, want)
			}
		}
		// Putting the group again sends only the canceled records.
		rePutDeliversEachOnce(t, p, f, g, 6)
	})
}

// rePutDeliversEachOnce puts g again, waits for it, and checks that records
// 0..n-1 were each stored exactly once; then it releases g and stops p.
func rePutDeliversEachOnce(t *testing.T, p *Producer, f *fakeKinesis, g *Group, n int) {
	t.Helper()
	putWait(t, p, g)
	for i := range n {
		if got := f.deliveredCount(recordData(i)); got != 1 {
			t.Errorf("after re-put, record %d stored %d times, want 1", i, got)
		}
	}
	g.Release()
	if err := p.Stop(context.Background()); err != nil {
		t.Fatal(err)
	}
}

func TestRePutAfterExpirySendsOnlyUndelivered(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFake(1)
		f.script = append([]step{codes(map[int]string{0: "InternalFailure", 2: "InternalFailure"})},
			repeat(fail(apiError("ServiceUnavailable")), 200)...)
		p := newTestProducer(t, f, func(c *Config) {
			c.AggregateBatchCount = 1
			c.RecordTTL = 3 * time.Second
		})
		p.Start()
		g := putAndWait(t, p, 4)
		if d, _, fr, _ := g.Counts(); d != 2 || fr != 2 {
			t.Fatalf("first put: %d delivered, %d retryable; want 2, 2", d, fr)
		}
		f.mu.Lock()
		f.script = nil
		f.mu.Unlock()
		rePutDeliversEachOnce(t, p, f, g, 4)
	})
}

func TestBackpressure(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFake(1)
		p, block := startHanging(t, f, func(c *Config) {
			c.MaxRecordSize = 1000
			c.AggregateBatchSize = 1000
			c.BatchSize = 1000
			c.BufferMaxBytes = 1000
		})
		g := p.NewGroup()
		for i := range 50 {
			g.Add([]byte(fmt.Sprintf("%-90d", i)), fmt.Sprintf("key-%04d", i))
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		err := p.PutGroup(ctx, g)
		cancel()
		if !errors.Is(err, ErrBufferFull) || !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("PutGroup under backpressure: %v", err)
		}
		p.mu.Lock()
		buffered := p.bufferedBytes
		p.mu.Unlock()
		if buffered > 1000 {
			t.Fatalf("buffered %d bytes, cap 1000", buffered)
		}
		_, _, _, pending := g.Counts()
		if pending != 50 {
			t.Fatalf("%d pending, want 50 (none final yet)", pending)
		}
		close(block)
		if err := p.PutGroup(context.Background(), g); err != nil {
			t.Fatal(err)
		}
		if err := g.Wait(context.Background()); err != nil {
			t.Fatal(err)
		}
		if d, _, _, _ := g.Counts(); d != 50 {
			t.Fatalf("%d delivered, want 50", d)
		}
		f.mu.Lock()
		for data, n := range f.delivered {
			if n != 1 {
				t.Errorf("%q stored %d times", data, n)
			}
		}
		f.mu.Unlock()
		g.Release()
		if err := p.Stop(context.Background()); err != nil {
			t.Fatal(err)
		}
	})
}

func TestStopDeadlineFailsWhatIsLeft(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFake(1)
		p, _ := startHanging(t, f, oneRecordPerEntry) // never released
		g := p.NewGroup()
		for i := range 5 {
			g.Add([]byte(recordData(i)), fmt.Sprintf("key-%d", i))
		}
		if err := p.PutGroup(context.Background(), g); err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		if err := p.Stop(ctx); !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("Stop: %v, want deadline exceeded", err)
		}
		if err := g.Wait(context.Background()); err != nil {
			t.Fatal(err)
		}
		for i := range 5 {
			o := g.Outcome(i)
			if o.State != Failed || !o.Retryable || !errors.Is(o.Err, &ErrStoppedProducer{}) {
				t.Errorf("record %d: %+v, want retryable ErrStoppedProducer", i, o)
			}
		}
		if err := p.PutGroup(context.Background(), g); !errors.Is(err, &ErrStoppedProducer{}) {
			t.Errorf("PutGroup after Stop: %v", err)
		}
		if err := p.Put([]byte("x"), "k"); !errors.Is(err, &ErrStoppedProducer{}) {
			t.Errorf("Put after Stop: %v", err)
		}
		if err := p.Stop(context.Background()); err != nil {
			t.Errorf("second Stop: %v", err)
		}
		g.Release()
	})
}

func TestStopWithoutStart(t *testing.T) {
	p := newTestProducer(t, newFake(1), nil)
	if err := p.Stop(context.Background()); err != nil {
		t.Fatal(err)
	}
	g := p.NewGroup()
	g.Add([]byte("x"), "k")
	if err := p.PutGroup(context.Background(), g); err == nil {
		t.Fatal("PutGroup on a stopped producer succeeded")
	}
	goleak.VerifyNone(t, goleak.IgnoreCurrent())
}

func TestNotifyFailures(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFake(1)
		f.script = []step{codes(map[int]string{0: "ValidationException"})}
		p := newTestProducer(t, f, func(c *Config) { c.AggregateBatchCount = 1 })
		failures := p.NotifyFailures()
		p.Start()
		if err := p.Put([]byte("bad-record"), "k1"); err != nil {
			t.Fatal(err)
		}
		if err := p.Put([]byte("good-record"), "k2"); err != nil {
			t.Fatal(err)
		}
		if err := p.Flush(context.Background()); err != nil {
			t.Fatal(err)
		}
		fr := <-failures
		var ee *EntryError
		if !errors.As(fr, &ee) || ee.Code != "ValidationException" || len(fr.UserRecords) != 1 ||
			string(fr.UserRecords[0].Data()) != "bad-record" || fr.PartitionKey != "k1" {
			t.Fatalf("failure record: %+v", fr)
		}
		if err := p.Stop(context.Background()); err != nil {
			t.Fatal(err)
		}
		if _, open := <-failures; open {
			t.Fatal("failures channel still open after Stop")
		}
		if f.deliveredCount("good-record") != 1 {
			t.Fatal("good record not delivered")
		}
	})
}

func TestNotifyFailuresNeverBlocks(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFake(1)
		script := make([]step, 100)
		for i := range script {
			script[i] = codes(map[int]string{0: "ValidationException"})
		}
		f.script = script
		log := &testLogger{}
		p := newTestProducer(t, f, func(c *Config) {
			c.AggregateBatchCount = 1
			c.BatchCount = 1
			c.BacklogCount = 1
			c.Logger = log
		})
		_ = p.NotifyFailures() // registered, never read
		p.Start()
		for i := range 20 {
			if err := p.Put([]byte(recordData(i)), "k"); err != nil {
				t.Fatal(err)
			}
		}
		if err := p.Flush(context.Background()); err != nil {
			t.Fatal(err)
		}
		if err := p.Stop(context.Background()); err != nil {
			t.Fatal(err)
		}
		if !log.has("dropped") {
			t.Errorf("dropped notifications not logged: %q", log.all())
		}
	})
}

func TestPutUserRecordValidation(t *testing.T) {
	p := newTestProducer(t, newFake(1), func(c *Config) {
		c.MaxRecordSize = 100
		c.AggregateBatchSize = 100
		c.BatchSize = 1000
		c.BufferMaxBytes = 1000
	})
	p.Start()
	defer p.Stop(context.Background())
	var illegal *ErrIllegalPartitionKey
	if err := p.Put([]byte("x"), ""); !errors.As(err, &illegal) {
		t.Errorf("empty key: %v", err)
	}
	long := make([]byte, 257)
	for i := range long {
		long[i] = 'k'
	}
	if err := p.Put([]byte("x"), string(long)); !errors.As(err, &illegal) {
		t.Errorf("257-character key: %v", err)
	}
	var tooLarge *ErrRecordSizeExceeded
	if err := p.Put(make([]byte, 100), "k"); !errors.As(err, &tooLarge) || tooLarge.UserRecord == nil {
		t.Errorf("too large: %v", err)
	}
	g := p.NewGroup()
	i := g.Add(make([]byte, 100), "k")
	if o := g.Outcome(i); o.State != Failed || o.Retryable || !errors.As(o.Err, &tooLarge) {
		t.Errorf("too large in group: %+v", o)
	}
	j := g.Add([]byte("x"), "")
	if o := g.Outcome(j); o.State != Failed || o.Retryable || !errors.As(o.Err, &illegal) {
		t.Errorf("empty key in group: %+v", o)
	}
	// 256 characters of 3 bytes each are a legal key.
	wide := ""
	for range 256 {
		wide += "€"
	}
	if !validPartitionKey(wide) || validPartitionKey(wide+"€") {
		t.Errorf("multi-byte keys are counted in bytes, not characters")
	}
	// A record without a key of its own is sent with a random key of
	// RandomKeyLen bytes, counted against MaxRecordSize.
	k := g.AddAnyKey(make([]byte, 100-RandomKeyLen+1))
	if o := g.Outcome(k); o.State != Failed || o.Retryable || !errors.As(o.Err, &tooLarge) {
		t.Errorf("too large with a random key: %+v", o)
	}
	if o := g.Outcome(g.AddAnyKey(make([]byte, 100-RandomKeyLen))); o.State != Pending {
		t.Errorf("largest record with a random key: %+v", o)
	}
	g.Release()
}

func TestWaitWithoutPut(t *testing.T) {
	p := newTestProducer(t, newFake(1), nil)
	g := p.NewGroup()
	g.Add([]byte("x"), "k")
	if err := g.Wait(context.Background()); !errors.Is(err, ErrNotHandedOver) {
		t.Fatalf("Wait: %v", err)
	}
	if err := p.PutGroup(context.Background(), g); !errors.Is(err, ErrNotStarted) {
		t.Fatalf("PutGroup before Start: %v", err)
	}
	g.Release()
	_ = p.Stop(context.Background())
}

func TestReshardDetectedFromResults(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFake(2) // the stream has two shards
		var calls atomic.Int32
		real := GetKinesisShardsFunc(f, "test")
		getShards := func(ctx context.Context, old []types.Shard) ([]types.Shard, bool, error) {
			if calls.Add(1) == 1 {
				// A stale map: the parent shard the two came from.
				parent := mustShards(1)
				parent[0].ShardId = ptr("shardId-parent")
				return parent, true, nil
			}
			return real(ctx, old)
		}
		p := newTestProducer(t, f, func(c *Config) { c.GetShards = getShards })
		p.Start()
		g := putAndWait(t, p, 200)
		if d, _, _, _ := g.Counts(); d != 200 {
			t.Fatalf("%d delivered", d)
		}
		synctest.Wait()
		if n := len(p.Shards()); n != 2 {
			t.Fatalf("after a mismatch the map has %d shards, want 2", n)
		}
		f.mu.Lock()
		before := f.outOfShard
		f.mu.Unlock()
		g.Release()
		g = p.NewGroup()
		for i := range 200 {
			g.Add([]byte(recordData(1000+i)), fmt.Sprintf("other-%d", i))
		}
		if err := p.PutGroup(context.Background(), g); err != nil {
			t.Fatal(err)
		}
		if err := g.Wait(context.Background()); err != nil {
			t.Fatal(err)
		}
		f.mu.Lock()
		after := f.outOfShard
		f.mu.Unlock()
		if after != before {
			t.Errorf("%d aggregates outside their shard after the refresh", after-before)
		}
		g.Release()
		if err := p.Stop(context.Background()); err != nil {
			t.Fatal(err)
		}
	})
}

func TestUpdateShardsRedistributesBuffered(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFake(8)
		p := newTestProducer(t, f, func(c *Config) { c.GetShards = StaticGetShardsFunc(1) })
		p.Start()
		g := p.NewGroup()
		for i := range 500 {
			g.Add([]byte(recordData(i)), fmt.Sprintf("key-%d", i))
		}
		if err := p.PutGroup(context.Background(), g); err != nil {
			t.Fatal(err)
		}
		// The stream is resharded while everything is still buffered.
		if err := p.setShards(mustShards(8)); err != nil {
			t.Fatal(err)
		}
		if err := g.Wait(context.Background()); err != nil {
			t.Fatal(err)
		}
		f.mu.Lock()
		out, shards := f.outOfShard, len(f.perShard)
		f.mu.Unlock()
		if out != 0 || shards != 8 {
			t.Errorf("%d aggregates outside their shard, %d shards used; want 0, 8", out, shards)
		}
		if d, _, _, _ := g.Counts(); d != 500 {
			t.Errorf("%d delivered", d)
		}
		g.Release()
		if err := p.Stop(context.Background()); err != nil {
			t.Fatal(err)
		}
	})
}

func TestRateLimit(t *testing.T) {
	tests := []struct {
		name    string
		n, size int
		minTime time.Duration
	}{
		// 1,000 records/s with a burst of one second: 2,500 records need
		// 1.5 s more.
		{name: "records", n: 2500, size: 10, minTime: 1500 * time.Millisecond},
		// 1 MiB/s: 3 MiB need 2 s after the first second's burst.
		{name: "bytes", n: 300, size: 10 << 10, minTime: 1900 * time.Millisecond},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				f := newFake(1)
				p := newTestProducer(t, f, func(c *Config) {
					c.AggregateBatchCount = 1
					c.RateLimit = 100
				})
				p.Start()
				start := time.Now()
				g := p.NewGroup()
				data := make([]byte, tc.size)
				for i := range tc.n {
					g.Add(data, fmt.Sprintf("k%d", i))
				}
				ctx := context.Background()
				if err := p.PutGroup(ctx, g); err != nil {
					t.Fatal(err)
				}
				if err := g.Wait(ctx); err != nil {
					t.Fatal(err)
				}
				took := time.Since(start)
				if d, _, _, _ := g.Counts(); d != tc.n {
					t.Fatalf("%d delivered", d)
				}
				if took < tc.minTime || took > 2*tc.minTime+time.Second {
					t.Errorf("took %v (virtual), want about %v", took, tc.minTime)
				}
				g.Release()
				if err := p.Stop(ctx); err != nil {
					t.Fatal(err)
				}
			})
		})
	}
}

// TestNoGoroutineLeftAfterStop runs a producer on real time and checks
// that Stop leaves no goroutine behind.
func TestNoGoroutineLeftAfterStop(t *testing.T) {
	defer goleak.VerifyNone(t)
	f := newFake(4)
	f.script = []step{codes(map[int]string{0: "InternalFailure"}), fail(apiError("ServiceUnavailable"))}
	p := newTestProducer(t, f, func(c *Config) { c.ShardRefreshInterval = time.Hour })
	p.Start()
	g := p.NewGroup()
	for i := range 300 {
		g.Add([]byte(recordData(i)), fmt.Sprint("k", i))
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := p.PutGroup(ctx, g); err != nil {
		t.Fatal(err)
	}
	if err := p.Put([]byte("seed"), "k"); err != nil {
		t.Fatal(err)
	}
	if err := g.Wait(ctx); err != nil {
		t.Fatal(err)
	}
	g.Release()
	if err := p.Stop(ctx); err != nil {
		t.Fatal(err)
	}
}

func TestForeignGroup(t *testing.T) {
	a := newTestProducer(t, newFake(1), nil)
	b := newTestProducer(t, newFake(1), nil)
	g := a.NewGroup()
	if err := b.PutGroup(context.Background(), g); !errors.Is(err, ErrForeignGroup) {
		t.Fatalf("PutGroup of another producer's group: %v", err)
	}
	g.Release()
	_ = a.Stop(context.Background())
	_ = b.Stop(context.Background())
}

// TestRateLimitKeepsShardOrder: an entry held back by its shard's rate
// limit is not overtaken by a later, smaller entry of the same shard.
func TestRateLimitKeepsShardOrder(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFake(1)
		p := newTestProducer(t, f, func(c *Config) {
			c.RateLimit = 10 // a burst of about 100 KiB per shard
			c.MaxConnections = 1
		})
		p.Start()
		big := func(tag string) []byte { return append([]byte(tag), make([]byte, 90<<10)...) }
		g := p.NewGroup()
		g.Add(big("big-0001"), "k")
		g.Add(big("big-0002"), "k")
		for i := range 10 {
			g.Add([]byte(fmt.Sprintf("small-%02d", i)), "k")
		}
		ctx := context.Background()
		if err := p.PutGroup(ctx, g); err != nil {
			t.Fatal(err)
		}
		if err := g.Wait(ctx); err != nil {
			t.Fatal(err)
		}
		f.mu.Lock()
		order := append([]string(nil), f.order...)
		f.mu.Unlock()
		if len(order) != 12 || order[0] != "big-0001" || order[1] != "big-0002" {
			t.Errorf("stored in order %q, want the two big records first", order)
		}
		g.Release()
		if err := p.Stop(ctx); err != nil {
			t.Fatal(err)
		}
	})
}
