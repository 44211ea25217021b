package producer

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/kinesis-kpl/fluent-bit-kinesis-kpl/aggregation"
)

// noLanes is openLanes in tests that run producers in synctest bubbles.
func noLanes() *aggregation.Lanes { return nil }

// withLanes has the producers a test starts sum on md5-simd's lanes; such
// a test runs on real time, outside any synctest bubble.
func withLanes(t *testing.T) {
	openLanes = aggregation.OpenLanes
	t.Cleanup(func() { openLanes = noLanes })
}

// TestAggregatesSentWithMD5: whatever path an aggregate takes to the
// service (sent once, retried after failed entries, a failed request or a
// garbled response, isolated after a rejected request), every aggregate
// the service stores has the MD5 of its protobuf, and every record
// arrives once. The records fill requests with many aggregates of several
// KiB, which are summed on the lanes.
func TestAggregatesSentWithMD5(t *testing.T) {
	tests := []struct {
		name   string
		script []step
	}{
		{"sent once", nil},
		{"failed entries retried", []step{codes(map[int]string{0: "ProvisionedThroughputExceededException", 3: "InternalFailure"})}},
		{"failed request retried", []step{fail(apiError("ServiceUnavailable"))}},
		{"garbled response retried", []step{{count: 1}}},
		{"rejected request isolated", []step{fail(apiError("ValidationException"))}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			withLanes(t)
			f := newFake(8)
			f.script = tt.script
			p := newTestProducer(t, f, func(c *Config) {
				c.AggregateBatchSize = 20 << 10
				c.ShardRefreshInterval = time.Hour
			})
			p.Start()
			if p.lanes == nil {
				t.Fatal("a KPL producer did not open the lanes")
			}
			const n = 3000
			g := p.NewGroup()
			pad := strings.Repeat("x", 300)
			for i := range n {
				g.Add([]byte(recordData(i)+pad), fmt.Sprint("k", i))
			}
			putAllAndStop(t, p, g, n)
			for i := range n {
				if c := f.deliveredCount(recordData(i) + pad); c != 1 {
					t.Fatalf("record %d delivered %d times", i, c)
				}
			}
			f.mu.Lock()
			defer f.mu.Unlock()
			if len(f.script) > 0 {
				t.Fatalf("%d scripted faults not reached", len(f.script))
			}
			aggregates := 0
			for i, e := range f.sent {
				if !bytes.HasPrefix([]byte(e.data), aggregation.Magic[:]) {
					continue
				}
				aggregates++
				if !aggregation.IsAggregated([]byte(e.data)) {
					t.Fatalf("entry %d stored: an aggregate without the MD5 of its protobuf", i)
				}
			}
			if aggregates < 20 {
				t.Fatalf("%d aggregates stored: the test did not aggregate", aggregates)
			}
		})
	}
}

// TestSumEntriesOnce: sumEntries writes the MD5 of unsummed aggregates
// only; an entry summed before (sent again after a failure) and a plain
// record are left as they are.
func TestSumEntriesOnce(t *testing.T) {
	var enc aggregation.Encoder
	for i := range 3 {
		enc.Add(fmt.Sprint("k", i), "", bytes.Repeat([]byte{'a' + byte(i)}, 10_000))
	}
	want := enc.AppendTo(nil)
	aggs := make([]*entry, 4)
	for i := range aggs {
		data := enc.AppendUnsummed(nil)
		aggs[i] = &entry{data: data, unsummed: true}
	}
	plain := &entry{data: []byte("plain record, no MD5")}
	entries := append(aggs, plain)
	lanes := aggregation.OpenLanes()
	defer lanes.Close()
	scratch := sumEntries(lanes, entries, nil)
	for i, e := range aggs {
		if !bytes.Equal(e.data, want) || e.unsummed {
			t.Fatalf("aggregate %d after sumEntries: unsummed %v, equal to AppendTo %v", i, e.unsummed, bytes.Equal(e.data, want))
		}
	}
	if len(scratch) != 0 || (cap(scratch) > 0 && scratch[:1][0] != nil) {
		t.Fatal("sumEntries's scratch holds an entry's bytes")
	}
	// Mark the sums: a second sumEntries of the same entries must not
	// write them again.
	for _, e := range aggs {
		e.data[len(e.data)-1] ^= 0xFF
	}
	sumEntries(lanes, entries, scratch)
	for i, e := range aggs {
		if bytes.Equal(e.data, want) {
			t.Fatalf("aggregate %d was summed twice", i)
		}
	}
	if string(plain.data) != "plain record, no MD5" {
		t.Fatal("sumEntries changed a plain record")
	}
}

// TestAggregatorDrainSummed: the exported Aggregator hands out complete
// aggregates.
func TestAggregatorDrainSummed(t *testing.T) {
	a := NewAggregator(nil)
	for i := range 5 {
		a.Put(NewDataRecord([]byte(recordData(i)), fmt.Sprint("k", i)))
	}
	req, err := a.Drain()
	if err != nil {
		t.Fatal(err)
	}
	if !aggregation.IsAggregated(req.Entry.Data) {
		t.Fatal("Drain returned an aggregate without the MD5 of its protobuf")
	}
	if recs, err := aggregation.Deaggregate(req.Entry.Data, "", ""); err != nil || len(recs) != 5 {
		t.Fatalf("Drain's aggregate: %d records, %v", len(recs), err)
	}
}

// TestLanesOnlyForAggregates: the SIMD MD5 server's share is opened only
// by a producer that makes KPL aggregates; one that sends every record
// plain (AggregateBatchCount 1) or joins them with newlines sums nothing.
func TestLanesOnlyForAggregates(t *testing.T) {
	for _, tc := range []struct {
		name  string
		set   func(*Config)
		lanes bool
	}{
		{"KPL", func(*Config) {}, true},
		{"one record each", func(c *Config) { c.AggregateBatchCount = 1 }, false},
		{"newline", func(c *Config) { c.AggregationFormat = AggregationNewline }, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			opened := 0
			openLanes = func() *aggregation.Lanes { opened++; return nil }
			t.Cleanup(func() { openLanes = noLanes })
			p := newTestProducer(t, newFake(2), tc.set)
			p.Start()
			defer p.Stop(context.Background())
			if got := opened == 1; got != tc.lanes {
				t.Fatalf("lanes opened %d times, want opened %v", opened, tc.lanes)
			}
		})
	}
}
