package producer

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"testing/synctest"
	"time"
)

// TestEndToEndGroup puts records of 37 keys on 4 shards, in both
// aggregation formats: each is delivered once, inside the shard its key
// hashes to (the data names the key, for the newline format's check).
func TestEndToEndGroup(t *testing.T) {
	for _, format := range formats {
		t.Run(format.String(), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				f := newFake(4)
				p := newTestProducer(t, f, func(c *Config) { c.AggregationFormat = format })
				p.Start()
				data := func(i int) string { return fmt.Sprintf("key-%d|record-%d", i%37, i) }
				g := p.NewGroup()
				for i := range 1000 {
					g.Add([]byte(data(i)), fmt.Sprintf("key-%d", i%37))
				}
				ctx := context.Background()
				if err := p.PutGroup(ctx, g); err != nil {
					t.Fatal(err)
				}
				if err := g.Wait(ctx); err != nil {
					t.Fatal(err)
				}
				d, fp, fr, pend := g.Counts()
				if d != 1000 || fp+fr+pend != 0 {
					t.Fatalf("counts %d %d %d %d", d, fp, fr, pend)
				}
				for i := range 1000 {
					if n := f.deliveredCount(data(i)); n != 1 {
						t.Fatalf("record %d delivered %d times", i, n)
					}
				}
				f.mu.Lock()
				out, entries := f.outOfShard, f.entries
				f.mu.Unlock()
				if out != 0 {
					t.Fatalf("%d entries with records outside their shard", out)
				}
				if entries > 40 {
					t.Errorf("%d entries for 1000 records on 4 shards: not aggregated", entries)
				}
				g.Release()
				if err := p.Stop(ctx); err != nil {
					t.Fatal(err)
				}
			})
		})
	}
}

func TestPartialFailureRetriesOnlyFailed(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFake(1)
		f.script = []step{codes(map[int]string{0: "ProvisionedThroughputExceededException"})}
		p := newTestProducer(t, f, func(c *Config) { c.AggregateBatchSize = 100 })
		p.Start()
		g := p.NewGroup()
		for i := range 20 {
			g.Add([]byte(fmt.Sprintf("record-%02d-xxxxxxxxxxxxxxxxxxxxxxxxxxxx", i)), fmt.Sprintf("k%d", i))
		}
		ctx := context.Background()
		if err := p.PutGroup(ctx, g); err != nil {
			t.Fatal(err)
		}
		if err := g.Wait(ctx); err != nil {
			t.Fatal(err)
		}
		for i := range 20 {
			if n := f.deliveredCount(fmt.Sprintf("record-%02d-xxxxxxxxxxxxxxxxxxxxxxxxxxxx", i)); n != 1 {
				t.Fatalf("record %d delivered %d times", i, n)
			}
		}
		if f.callCount() != 2 {
			t.Fatalf("calls = %d, want 2", f.callCount())
		}
		if err := p.Stop(ctx); err != nil {
			t.Fatal(err)
		}
	})
}

var _ = errors.Is
var _ = time.Second
