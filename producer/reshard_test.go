package producer

import (
	"context"
	"fmt"
	"testing"
	"testing/synctest"

	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"
)

// renamed gives shards new IDs, as a reshard does: children and merged
// shards never reuse a parent's ID.
func renamed(shards []types.Shard, prefix string) []types.Shard {
	for i := range shards {
		shards[i].ShardId = ptr(fmt.Sprintf("%s-%d", prefix, i))
	}
	return shards
}

// TestReshardMidRun reshards the fake stream while records flow and checks
// KPL's rule: every record reaches a KCL consumer exactly once, records of
// an aggregate stored on a shard that does not hold them all are put
// again and counted, and an aggregate that a merged shard holds whole is
// delivered without a second put. In the newline format every aggregate
// is delivered wherever it lands, and the map is still refreshed.
func TestReshardMidRun(t *testing.T) {
	tests := []reshardCase{
		{name: "split", before: renamed(mustShards(2), "parent"), after: renamed(mustShards(4), "child"),
			reshardAt: 3, wantReput: true, wantShards: 4},
		{name: "merge", before: renamed(mustShards(4), "parent"), after: renamed(mustShards(2), "merged"),
			reshardAt: 3, wantReput: false, wantShards: 2},
		{name: "stale map predicts one shard for a stream of two", before: renamed(mustShards(2), "child"),
			stale: renamed(mustShards(1), "parent"), wantReput: true, wantShards: 2},
		// Records without a key of their own carry the predicted shard's
		// middle as explicit hash key: the child that stores their
		// aggregate holds them all, so nothing is put again.
		{name: "split, any key", before: renamed(mustShards(2), "parent"), after: renamed(mustShards(4), "child"),
			reshardAt: 3, keys: anyKeys, wantReput: false, wantShards: 4},
		{name: "stale map, any key", before: renamed(mustShards(2), "child"),
			stale: renamed(mustShards(1), "parent"), keys: anyKeys, wantReput: false, wantShards: 2},
		// Records of both kinds in one aggregate: those with keys of
		// their own decide.
		{name: "split, mixed keys", before: renamed(mustShards(2), "parent"), after: renamed(mustShards(4), "child"),
			reshardAt: 3, keys: mixedKeys, wantReput: true, wantShards: 4},
		{name: "merge, mixed keys", before: renamed(mustShards(4), "parent"), after: renamed(mustShards(2), "merged"),
			reshardAt: 3, keys: mixedKeys, wantReput: false, wantShards: 2},
	}
	for _, format := range formats {
		for _, tc := range tests {
			t.Run(format.String()+"/"+tc.name, func(t *testing.T) {
				checkReshardMidRun(t, format, tc)
			})
		}
	}
}

// reshardCase is one case of TestReshardMidRun.
type reshardCase struct {
	name string
	// before is the stream (and the producer's first map); after, the
	// stream from PutRecords call reshardAt on. stale, when set, is the
	// only map the producer reads at New.
	before, after []types.Shard
	stale         []types.Shard
	reshardAt     int
	keys          recordKeys
	wantReput     bool // in the KPL format; the newline format never puts again
	wantShards    int
}

// recordKeys says how a test adds its records.
type recordKeys int

const (
	ownKeys   recordKeys = iota // Add, 40 distinct keys
	anyKeys                     // AddAnyKey
	mixedKeys                   // both, alternating
)

// add adds record data, i-th of its group, to g as k says.
func (k recordKeys) add(g *Group, data string, i int) {
	if k == anyKeys || (k == mixedKeys && i%2 == 1) {
		g.AddAnyKey([]byte(data))
		return
	}
	g.Add([]byte(data), fmt.Sprintf("key-%d", i%40))
}

// checkReshardMidRun runs one case of TestReshardMidRun. A newline
// aggregate is plain text to consumers: wherever it lands it is delivered
// and nothing is put again.
func checkReshardMidRun(t *testing.T, format AggregationFormat, tc reshardCase) {
	synctest.Test(t, func(t *testing.T) {
		f := newFake(1)
		f.setShards(tc.before)
		if tc.reshardAt > 0 {
			f.onPut = func(call int) {
				if call == tc.reshardAt {
					f.setShards(tc.after)
				}
			}
		}
		real := GetKinesisShardsFunc(f, "test")
		first := true
		p := newTestProducer(t, f, func(c *Config) {
			c.AggregateBatchCount = 20
			c.AggregationFormat = format
			c.BatchCount = 10
			c.MaxConnections = 1
			c.GetShards = func(ctx context.Context, old []types.Shard) ([]types.Shard, bool, error) {
				if first && tc.stale != nil {
					first = false
					return tc.stale, true, nil
				}
				return real(ctx, old)
			}
		})
		p.Start()
		const groups, perGroup = 5, 200
		ctx := context.Background()
		for gi := range groups {
			g := p.NewGroup()
			for i := range perGroup {
				tc.keys.add(g, recordData(gi*perGroup+i), i)
			}
			if err := p.PutGroup(ctx, g); err != nil {
				t.Fatal(err)
			}
			if err := g.Wait(ctx); err != nil {
				t.Fatal(err)
			}
			if d, _, _, _ := g.Counts(); d != perGroup {
				t.Fatalf("group %d: %d of %d delivered", gi, d, perGroup)
			}
			g.Release()
		}
		synctest.Wait()
		if n := len(p.Shards()); n != tc.wantShards {
			t.Errorf("map has %d shards, want %d", n, tc.wantShards)
		}
		reput := p.Stats().RecordsReputWrongShard
		if err := p.Stop(ctx); err != nil {
			t.Fatal(err)
		}
		f.mu.Lock()
		defer f.mu.Unlock()
		for i := range groups * perGroup {
			if n := f.kclSeen[recordData(i)]; n != 1 {
				t.Errorf("record %d reaches a KCL consumer %d times", i, n)
			}
		}
		if uint64(f.lostToKCL) != reput {
			t.Errorf("%d records stored in aggregates KCL drops, %d counted as put again", f.lostToKCL, reput)
		}
		if (reput > 0) != (tc.wantReput && format == AggregationKPL) {
			t.Errorf("%d records put again, want some: %v", reput, tc.wantReput)
		}
		t.Logf("records put again: %d; stored in aggregates KCL drops: %d", reput, f.lostToKCL)
	})
}

// TestMapUpdateKeepsRetryBackoff: entries waiting for a retry keep their
// backoff when the shard map changes, and are aggregated against the new
// map when due.
func TestMapUpdateKeepsRetryBackoff(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFake(4)
		f.script = []step{fail(apiError("ProvisionedThroughputExceededException"))}
		p := newTestProducer(t, f, func(c *Config) { c.GetShards = StaticGetShardsFunc(1) })
		p.Start()
		g := p.NewGroup()
		for i := range 100 {
			g.Add([]byte(recordData(i)), fmt.Sprint("key-", i))
		}
		ctx := context.Background()
		if err := p.PutGroup(ctx, g); err != nil {
			t.Fatal(err)
		}
		p.requestFlush()
		synctest.Wait() // throttled: the aggregate waits for its retry
		p.mu.Lock()
		var due []int64
		for _, e := range p.retry {
			due = append(due, e.due)
		}
		p.mu.Unlock()
		if len(due) == 0 {
			t.Fatal("nothing waits for a retry")
		}
		if err := p.setShards(mustShards(4)); err != nil {
			t.Fatal(err)
		}
		p.mu.Lock()
		var after []int64
		for _, e := range p.retry {
			after = append(after, e.due)
		}
		p.mu.Unlock()
		if fmt.Sprint(after) != fmt.Sprint(due) {
			t.Errorf("retries due at %v before the map update, %v after", due, after)
		}
		if err := g.Wait(ctx); err != nil {
			t.Fatal(err)
		}
		if d, _, _, _ := g.Counts(); d != 100 {
			t.Errorf("%d delivered", d)
		}
		f.mu.Lock()
		out, used := f.outOfShard, len(f.perShard)
		f.mu.Unlock()
		if out != 0 || used != 4 {
			t.Errorf("%d aggregates outside their shard, %d shards used; want 0, 4", out, used)
		}
		g.Release()
		if err := p.Stop(ctx); err != nil {
			t.Fatal(err)
		}
	})
}
