package producer

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"testing/synctest"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"

	"github.com/kinesis-kpl/fluent-bit-kinesis-kpl/aggregation"
)

func TestGroupExplicitHashKeysAndLargeRecords(t *testing.T) {
	for _, withMap := range []bool{true, false} {
		t.Run(fmt.Sprint("shard map ", withMap), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				f := newFake(4)
				p := newTestProducer(t, f, func(c *Config) {
					c.AggregateBatchSize = 2000
					if !withMap {
						c.GetShards = nil
					}
				})
				p.Start()
				tab, _ := newShardTable(mustShards(4))
				g := p.NewGroup()
				for i := range 200 {
					data := []byte(recordData(i))
					switch {
					case i%5 == 0:
						// Larger than an aggregate: sent alone.
						data = append(make([]byte, 3000), data...)
						g.Add(data, fmt.Sprint("big-", i))
					case i%2 == 0:
						g.AddWithHashKey(data, "same", hashIn(tab, i%4))
					default:
						g.Add(data, fmt.Sprint("key-", i%7))
					}
				}
				ctx := context.Background()
				if err := p.PutGroup(ctx, g); err != nil {
					t.Fatal(err)
				}
				if err := g.Wait(ctx); err != nil {
					t.Fatal(err)
				}
				if d, _, _, _ := g.Counts(); d != 200 {
					t.Fatalf("%d delivered", d)
				}
				for i := range 200 {
					if o := g.Outcome(i); i%2 == 0 && i%5 != 0 && o.ShardID != tab.ids[i%4] {
						t.Errorf("record %d with explicit hash key in shard %d landed on %s", i, i%4, o.ShardID)
					}
				}
				f.mu.Lock()
				defer f.mu.Unlock()
				if f.outOfShard != 0 {
					t.Errorf("%d aggregates outside their shard", f.outOfShard)
				}
				if f.maxBytes > p.cfg.BatchSize {
					t.Errorf("request of %d bytes", f.maxBytes)
				}
				g.Release()
				if err := p.Stop(ctx); err != nil {
					t.Fatal(err)
				}
			})
		})
	}
}

// hashIn returns a hash key inside shard s of tab.
func hashIn(tab *shardTable, s int) aggregation.HashKey {
	return aggregation.Midpoint(tab.starts[s], tab.ends[s])
}

func TestReshardWhileInFlight(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFake(8)
		f.script = []step{fail(apiError("ProvisionedThroughputExceededException"))}
		p, block := startHanging(t, f, func(c *Config) { c.GetShards = StaticGetShardsFunc(1) })
		g := p.NewGroup()
		for i := range 100 {
			g.Add([]byte(recordData(i)), fmt.Sprint("key-", i))
		}
		ctx := context.Background()
		if err := p.PutGroup(ctx, g); err != nil {
			t.Fatal(err)
		}
		p.requestFlush()
		synctest.Wait() // the one-shard aggregate is in flight
		if err := p.setShards(mustShards(8)); err != nil {
			t.Fatal(err)
		}
		close(block) // it comes back throttled: its records go to the new map
		if err := g.Wait(ctx); err != nil {
			t.Fatal(err)
		}
		f.mu.Lock()
		out, used := f.outOfShard, len(f.perShard)
		f.mu.Unlock()
		if out != 0 || used != 8 {
			t.Errorf("%d aggregates outside their shard, %d shards used", out, used)
		}
		if d, _, _, _ := g.Counts(); d != 100 {
			t.Errorf("%d delivered", d)
		}
		g.Release()
		if err := p.Stop(ctx); err != nil {
			t.Fatal(err)
		}
	})
}

func TestShardListErrorAtStartThenRefresh(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFake(4)
		f.listPages = []listPage{{err: apiError("AccessDeniedException")}}
		log := &testLogger{}
		p := newTestProducer(t, f, func(c *Config) {
			c.Logger = log
			c.ShardRefreshInterval = time.Minute
		})
		if p.Shards() != nil {
			t.Fatal("a shard map after ListShards failed")
		}
		if !log.has("AccessDeniedException") {
			t.Errorf("ListShards failure not logged: %q", log.all())
		}
		p.Start()
		synctest.Wait() // New asked for a refresh at once
		if n := len(p.Shards()); n != 4 {
			t.Fatalf("after the refresh: %d shards", n)
		}
		if err := p.Stop(context.Background()); err != nil {
			t.Fatal(err)
		}
	})
}

func TestGetShardsPanicIsAnError(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFake(1)
		calls := 0
		log := &testLogger{}
		p := newTestProducer(t, f, func(c *Config) {
			c.Logger = log
			c.ShardRefreshInterval = time.Second
			c.GetShards = func(context.Context, []types.Shard) ([]types.Shard, bool, error) {
				calls++
				if calls > 1 {
					panic("bad GetShards")
				}
				return nil, false, errors.New("first call fails")
			}
		})
		p.Start()
		time.Sleep(1500 * time.Millisecond) // virtual: one refresh tick
		synctest.Wait()
		if err := p.Stop(context.Background()); err != nil {
			t.Fatal(err)
		}
		if !log.has("panicked") {
			t.Errorf("panic not turned into a logged error: %q", log.all())
		}
	})
}

func TestShardMapGapIsLoggedNotDropped(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFake(1)
		log := &testLogger{}
		// The map covers only the lower half of the hash key space.
		half := mustShards(2)[:1]
		p := newTestProducer(t, f, func(c *Config) {
			c.Logger = log
			c.GetShards = func(context.Context, []types.Shard) ([]types.Shard, bool, error) { return half, true, nil }
		})
		p.Start()
		g := putAndWait(t, p, 50)
		if d, _, _, _ := g.Counts(); d != 50 {
			t.Fatalf("%d delivered", d)
		}
		if !log.has("gap") {
			t.Errorf("gap not logged: %q", log.all())
		}
		g.Release()
		if err := p.Stop(context.Background()); err != nil {
			t.Fatal(err)
		}
	})
}

// TestAnyKeyRecords: records without a key of their own share aggregates
// without a shard map (one random key per aggregate) and spread over the
// shards with one, each aggregate inside its shard.
func TestAnyKeyRecords(t *testing.T) {
	tests := []struct {
		name       string
		shards     int // 0: no shard map
		maxEntries int
		minShards  int
	}{
		{name: "no shard map", maxEntries: 4, minShards: 1},
		{name: "four shards", shards: 4, maxEntries: 40, minShards: 4},
	}
	for _, format := range formats {
		for _, tc := range tests {
			t.Run(format.String()+"/"+tc.name, func(t *testing.T) {
				checkAnyKeyRecords(t, format, tc.shards, tc.maxEntries, tc.minShards)
			})
		}
	}
}

// checkAnyKeyRecords runs one case of TestAnyKeyRecords.
func checkAnyKeyRecords(t *testing.T, format AggregationFormat, shards, maxEntries, minShards int) {
	const n = 2000
	synctest.Test(t, func(t *testing.T) {
		f := newFake(max(shards, 1))
		p := newTestProducer(t, f, func(c *Config) {
			c.AggregationFormat = format
			if shards == 0 {
				c.GetShards = nil
			}
		})
		p.Start()
		g := p.NewGroup()
		for i := range n {
			g.AddAnyKey([]byte(fmt.Sprintf("%-50s", recordData(i))))
		}
		putAllAndStop(t, p, g, n)
		f.mu.Lock()
		defer f.mu.Unlock()
		if f.entries > maxEntries || len(f.perShard) < minShards || f.outOfShard != 0 {
			t.Errorf("%d entries over %d shards, %d outside their shard; want at most %d entries over %d shards",
				f.entries, len(f.perShard), f.outOfShard, maxEntries, minShards)
		}
		if len(f.kclSeen) != n {
			t.Errorf("%d distinct records read", len(f.kclSeen))
		}
		if format == AggregationKPL {
			checkAnyKeyTables(t, f, shards > 0)
		}
	})
}

// checkAnyKeyTables decodes every aggregate f accepted as a KCL consumer
// does and checks that its records are all kept on the shard that stored
// it, and that they share one partition key (the entry's) and, with a
// shard map, one explicit hash key (the entry's, the shard's middle).
// Caller holds f.mu.
func checkAnyKeyTables(t *testing.T, f *fakeKinesis, withMap bool) {
	t.Helper()
	aggregates := 0
	for i, e := range f.sent {
		if !aggregation.IsAggregated([]byte(e.data)) {
			continue
		}
		aggregates++
		recs, err := aggregation.DeaggregateKCL([]byte(e.data), e.pk, e.ehk)
		if err != nil {
			t.Fatalf("entry %d: %v", i, err)
		}
		if err := aggregation.CheckShardRange(recs, f.table.starts[e.shardIdx], f.table.ends[e.shardIdx]); err != nil {
			t.Errorf("entry %d: %v", i, err)
		}
		wantEHK := ""
		if withMap {
			wantEHK = f.table.mids[e.shardIdx]
			if e.ehk != wantEHK {
				t.Errorf("entry %d: explicit hash key %s, want the shard's middle %s", i, e.ehk, wantEHK)
			}
		}
		for _, r := range recs {
			if r.PartitionKey != e.pk || r.ExplicitHashKey != wantEHK {
				t.Fatalf("entry %d: a record has keys %q, %q; want the aggregate's %q, %q",
					i, r.PartitionKey, r.ExplicitHashKey, e.pk, wantEHK)
			}
		}
	}
	if aggregates == 0 {
		t.Error("no aggregate sent")
	}
}

// TestAnyKeyRecordAlone: a record without a key of its own that goes out
// alone carries a random partition key and its random hash as explicit
// hash key, and lands on the shard predicted for it.
func TestAnyKeyRecordAlone(t *testing.T) {
	tests := []struct {
		name string
		mod  func(*Config)
		size int
		// ehk: sent with an explicit hash key; with aggregation off a
		// record gets a random key of its own, routed by its MD5.
		ehk bool
		// pooled: keys come from the group's pool (randomKeys), where
		// records may share one; else each record has a key of its own.
		pooled bool
	}{
		{name: "aggregation off", mod: oneRecordPerEntry, size: 50, pooled: true},
		{name: "too big to aggregate", mod: func(c *Config) { c.AggregateBatchSize = 1000 }, size: 2000, ehk: true},
		{name: "newline format, too big", mod: func(c *Config) {
			c.AggregationFormat = AggregationNewline
			c.AggregateBatchSize = 1000
		}, size: 2000, ehk: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				const n = 40
				f := newFake(4)
				p := newTestProducer(t, f, tc.mod)
				p.Start()
				g := p.NewGroup()
				for i := range n {
					g.AddAnyKey([]byte(fmt.Sprintf("%-*s", tc.size, recordData(i))))
				}
				putWait(t, p, g)
				f.mu.Lock()
				tab := f.table // the stream's map, which the producer reads
				f.mu.Unlock()
				g.mu.Lock()
				for i := range n {
					r := &g.recs[i]
					if want := tab.ids[tab.lookup(r.hash)]; r.state != Delivered || r.shardID != want {
						t.Errorf("record %d: %v on %s, predicted %s", i, r.state, r.shardID, want)
					}
				}
				g.mu.Unlock()
				g.Release()
				if err := p.Stop(context.Background()); err != nil {
					t.Fatal(err)
				}
				f.mu.Lock()
				defer f.mu.Unlock()
				keys := map[string]bool{}
				for i, e := range f.sent {
					if len(e.pk) != RandomKeyLen || (e.ehk != "") != tc.ehk {
						t.Fatalf("entry %d: partition key of %d bytes, explicit hash key %q", i, len(e.pk), e.ehk)
					}
					keys[e.pk] = true
				}
				// 40 takes from 256 slots share a key about 3 times.
				wantKeys := n
				if tc.pooled {
					wantKeys = n / 2
				}
				if len(f.sent) != n || len(keys) < wantKeys || f.outOfShard != 0 {
					t.Errorf("%d entries, %d distinct keys, %d outside their shard; want %d, at least %d, 0",
						len(f.sent), len(keys), f.outOfShard, n, wantKeys)
				}
			})
		})
	}
}
