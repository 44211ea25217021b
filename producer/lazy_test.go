package producer

import (
	"context"
	"fmt"
	"testing"
)

// TestAggregatesWrittenWhenSent: an aggregate of minLazyAggregate bytes or
// more (KPL), and every newline aggregate, waits for its request without
// its bytes, and is written when sent, again for a retry; a smaller KPL
// aggregate is written at once. Every record arrives once, the KPL
// aggregates with a valid MD5 (the fake deaggregates them).
func TestAggregatesWrittenWhenSent(t *testing.T) {
	const n, size = 2000, 100
	tests := []struct {
		name     string
		format   AggregationFormat
		aggSize  int
		lazyFrom int // the smallest aggregate written when sent
	}{
		{name: "KPL, 50 KiB aggregates", aggSize: 50 << 10, lazyFrom: minLazyAggregate},
		{name: "KPL, 8 KiB aggregates", aggSize: 8 << 10, lazyFrom: minLazyAggregate},
		{name: "newline, 8 KiB aggregates", format: AggregationNewline, aggSize: 8 << 10},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := newFake(1)
			// The first request's first entry fails and is retried.
			f.script = []step{codes(map[int]string{0: "ProvisionedThroughputExceededException"})}
			p, release := startHanging(t, f, func(c *Config) {
				c.AggregationFormat = tc.format
				c.MaxRecordSize = 64 << 10
				c.AggregateBatchSize = tc.aggSize
				c.BatchSize = 64 << 10 // one aggregate a request
				c.MaxConnections = 1
			})
			g := p.NewGroup()
			for i := range n {
				data := fmt.Appendf(nil, "%08d|", i)
				for len(data) < size {
					data = append(data, 'x')
				}
				g.Add(data, "key")
			}
			ctx := context.Background()
			if err := p.PutGroup(ctx, g); err != nil {
				t.Fatal(err)
			}
			// The first request hangs at the fake; the rest wait.
			p.mu.Lock()
			p.flushLocked()
			waiting := 0
			for _, e := range p.ready {
				if len(e.refs) < 2 {
					continue
				}
				waiting++
				if want := e.dataLen >= tc.lazyFrom; e.aggregate() != want {
					t.Errorf("entry of %d bytes written when sent %v, want %v", e.dataLen, e.aggregate(), want)
				}
				if e.aggregate() && e.data != nil {
					t.Errorf("entry of %d bytes holds its bytes while it waits", e.dataLen)
				}
				if !e.aggregate() && len(e.data) != e.dataLen {
					t.Errorf("entry holds %d bytes, want %d", len(e.data), e.dataLen)
				}
			}
			p.mu.Unlock()
			if waiting == 0 {
				t.Fatal("no aggregate waits for a request")
			}
			close(release)
			if err := g.Wait(ctx); err != nil {
				t.Fatal(err)
			}
			if d, _, _, _ := g.Counts(); d != n {
				t.Fatalf("%d of %d delivered", d, n)
			}
			f.mu.Lock()
			defer f.mu.Unlock()
			if len(f.delivered) != n || f.calls < 2 {
				t.Fatalf("%d distinct records at the fake in %d calls, want %d in at least 2", len(f.delivered), f.calls, n)
			}
			for data, times := range f.delivered {
				if times != 1 {
					t.Fatalf("record %.8s stored %d times", data, times)
				}
			}
			g.Release()
			if err := p.Stop(ctx); err != nil {
				t.Fatal(err)
			}
		})
	}
}
