package producer

import (
	"context"
	"errors"
	"fmt"
	"math/big"
	"sort"
	"testing"
	"testing/synctest"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"

	"github.com/kinesis-kpl/fluent-bit-kinesis-kpl/aggregation"
)

// hashRecord is a UserRecord with an explicit hash key.
type hashRecord struct {
	DataRecord
	ehk *big.Int
}

func (r *hashRecord) ExplicitHashKey() *big.Int { return r.ehk }

func deaggregate(t *testing.T, r *AggregatedRecordRequest) []aggregation.Record {
	t.Helper()
	recs, err := aggregation.Deaggregate(r.Entry.Data, deref(r.Entry.PartitionKey), deref(r.Entry.ExplicitHashKey))
	if err != nil {
		t.Fatal(err)
	}
	return recs
}

func TestAggregator(t *testing.T) {
	ehk := "12345"
	a := NewAggregator(&ehk)
	if r, err := a.Drain(); r != nil || err != nil {
		t.Fatalf("empty Drain: %v %v", r, err)
	}
	a.Put(NewDataRecord([]byte("one"), "k1"))
	if a.Count() != 1 || a.Size() != len("one")+len("k1") {
		t.Fatalf("Count %d Size %d", a.Count(), a.Size())
	}
	r, _ := a.Drain()
	if string(r.Entry.Data) != "one" || deref(r.Entry.PartitionKey) != "k1" || len(r.UserRecords) != 1 {
		t.Fatalf("single record not sent plain: %+v", r.Entry)
	}
	for i := range 3 {
		a.Put(NewDataRecord([]byte(fmt.Sprint("data", i)), fmt.Sprint("k", i%2)))
	}
	size := a.Size()
	r, _ = a.Drain()
	if len(r.Entry.Data)+len(deref(r.Entry.PartitionKey)) != size {
		t.Errorf("Size %d, entry %d", size, len(r.Entry.Data)+len(deref(r.Entry.PartitionKey)))
	}
	if deref(r.Entry.ExplicitHashKey) != ehk || deref(r.Entry.PartitionKey) != "k0" {
		t.Errorf("entry keys %q %q", deref(r.Entry.PartitionKey), deref(r.Entry.ExplicitHashKey))
	}
	recs := deaggregate(t, r)
	if len(recs) != 3 || string(recs[2].Data) != "data2" || recs[1].PartitionKey != "k1" {
		t.Fatalf("deaggregated %+v", recs)
	}
	if a.Count() != 0 {
		t.Fatal("Drain left records")
	}
	small := newAggregator(nil, 2, 100)
	small.Put(NewDataRecord(make([]byte, 40), "k"))
	if small.WillOverflow(NewDataRecord(make([]byte, 10), "k")) {
		t.Error("room left, WillOverflow true")
	}
	if !small.WillOverflow(NewDataRecord(make([]byte, 60), "k")) {
		t.Error("over the size, WillOverflow false")
	}
	small.Put(NewDataRecord(make([]byte, 1), "k"))
	if !small.WillOverflow(NewDataRecord(nil, "k")) {
		t.Error("at the count, WillOverflow false")
	}
}

func TestShardMap(t *testing.T) {
	shards := mustShards(4)
	m, err := NewShardMap(shards, 0, 1000)
	if err != nil {
		t.Fatal(err)
	}
	tab, _ := newShardTable(shards)
	var entries []*AggregatedRecordRequest
	for i := range 400 {
		var r UserRecord = NewDataRecord([]byte(fmt.Sprint("d", i)), fmt.Sprint("key-", i))
		if i%10 == 0 {
			r = &hashRecord{DataRecord: *NewDataRecord([]byte(fmt.Sprint("d", i)), "k"), ehk: big.NewInt(int64(i))}
		}
		drained, err := m.Put(r)
		if err != nil {
			t.Fatal(err)
		}
		if drained != nil {
			entries = append(entries, drained)
		}
	}
	if m.Size() == 0 {
		t.Fatal("Size 0 with records buffered")
	}
	rest, errs := m.Drain()
	if len(errs) != 0 {
		t.Fatal(errs)
	}
	entries = append(entries, rest...)
	seen := 0
	for _, e := range entries {
		if size := len(e.Entry.Data) + len(deref(e.Entry.PartitionKey)); size > 1000 {
			t.Errorf("entry of %d bytes, limit 1000", size)
		}
		h, err := aggregation.ParseHashKey(deref(e.Entry.ExplicitHashKey))
		if err != nil {
			t.Fatal(err)
		}
		s := tab.lookup(h)
		recs := deaggregate(t, e)
		if err := aggregation.CheckShardRange(recs, tab.starts[s], tab.ends[s]); err != nil {
			t.Errorf("entry for shard %d: %v", s, err)
		}
		seen += len(recs)
	}
	if seen != 400 || m.Size() != 0 {
		t.Fatalf("%d records out, Size %d after Drain", seen, m.Size())
	}
	if len(m.Shards()) != 4 {
		t.Fatal("Shards")
	}

	// Reshard with records buffered and pending: all are redistributed.
	for i := range 50 {
		m.Put(NewDataRecord([]byte(fmt.Sprint("x", i)), fmt.Sprint("key-", i)))
	}
	pending := []*AggregatedRecordRequest{NewAggregatedRecordRequest(nil, nil, nil, []UserRecord{NewDataRecord([]byte("p"), "pk")})}
	drained, err := m.UpdateShards(mustShards(16), pending)
	if err != nil {
		t.Fatal(err)
	}
	rest, _ = m.Drain()
	tab16, _ := newShardTable(mustShards(16))
	n := 0
	for _, e := range append(drained, rest...) {
		h, _ := aggregation.ParseHashKey(deref(e.Entry.ExplicitHashKey))
		recs := deaggregate(t, e)
		if deref(e.Entry.ExplicitHashKey) == "" {
			h = aggregation.PartitionKeyHash(deref(e.Entry.PartitionKey))
		}
		s := tab16.lookup(h)
		if err := aggregation.CheckShardRange(recs, tab16.starts[s], tab16.ends[s]); err != nil {
			t.Error(err)
		}
		n += len(recs)
	}
	if n != 51 {
		t.Fatalf("%d records after UpdateShards, want 51", n)
	}
	if _, err := m.UpdateShards([]types.Shard{shard("a", "5", "1", false)}, nil); err == nil {
		t.Error("bad shard list accepted")
	}
}

func TestShardMapWithoutShards(t *testing.T) {
	m, err := NewShardMap(nil, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 30 {
		m.Put(NewDataRecord([]byte(fmt.Sprint("d", i)), fmt.Sprint("key-", i%3)))
	}
	entries, _ := m.Drain()
	if len(entries) != 3 {
		t.Fatalf("%d entries, want one per partition key", len(entries))
	}
	for _, e := range entries {
		for _, r := range deaggregate(t, e) {
			if r.PartitionKey != deref(e.Entry.PartitionKey) {
				t.Errorf("key %q aggregated under %q", r.PartitionKey, deref(e.Entry.PartitionKey))
			}
		}
	}
	if _, err := m.Put(NewDataRecord([]byte("x"), "")); err == nil {
		t.Error("empty partition key accepted")
	}
}

func TestWorkerPool(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFake(2)
		f.script = []step{
			codes(map[int]string{0: "ProvisionedThroughputExceededException", 1: "ValidationException"}),
			fail(apiError("ServiceUnavailable")),
		}
		wp := NewWorkerPool(&Config{StreamName: "s", Client: f, BatchCount: 10, Logger: &testLogger{}})
		wp.Start()
		var sent []string
		for i := range 25 {
			d := fmt.Sprint("wp-", i)
			sent = append(sent, d)
			pk := fmt.Sprint("k", i)
			wp.Add(NewAggregatedRecordRequest([]byte(d), &pk, nil, []UserRecord{NewDataRecord([]byte(d), pk)}))
		}
		paused := wp.Pause()
		wp.Resume(paused)
		wp.Flush()
		wp.Close()
		wp.Wait()
		var failures []*FailureRecord
		for err := range wp.Errors() {
			failures = append(failures, err.(*FailureRecord))
		}
		if len(failures) != 1 {
			t.Fatalf("%d failures, want 1", len(failures))
		}
		var ee *EntryError
		if !errors.As(failures[0], &ee) || ee.Code != "ValidationException" {
			t.Fatalf("failure %v", failures[0])
		}
		bad := string(failures[0].UserRecords[0].Data())
		sort.Strings(sent)
		for _, d := range sent {
			want := 1
			if d == bad {
				want = 0
			}
			if got := f.deliveredCount(d); got != want {
				t.Errorf("%s stored %d times, want %d", d, got, want)
			}
		}
		if f.maxEntries > 10 {
			t.Errorf("request of %d entries, BatchCount 10", f.maxEntries)
		}
	})
}

func TestWorkerPoolExpiry(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFake(1)
		f.script = repeat(fail(apiError("ProvisionedThroughputExceededException")), 1000)
		wp := NewWorkerPool(&Config{StreamName: "s", Client: f, RecordTTL: 2 * time.Second, Logger: &testLogger{}})
		wp.Start()
		pk := "k"
		wp.Add(NewAggregatedRecordRequest([]byte("x"), &pk, nil, nil))
		wp.Close()
		wp.Wait()
		err := <-wp.Errors()
		if !errors.Is(err, ErrRecordExpired) {
			t.Fatalf("err %v, want ErrRecordExpired", err)
		}
		// Close without Start ends at once.
		wp2 := NewWorkerPool(&Config{StreamName: "s", Client: f})
		wp2.Close()
		wp2.Wait()
		_ = context.Background()
	})
}

func TestPutUserRecordExplicitHashKey(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFake(4)
		p := newTestProducer(t, f, nil)
		p.Start()
		tab, _ := newShardTable(mustShards(4))
		for i := range 40 {
			r := &hashRecord{DataRecord: *NewDataRecord([]byte(fmt.Sprint("u", i)), "same-key"), ehk: tab.starts[i%4].BigInt()}
			if err := p.PutUserRecord(r); err != nil {
				t.Fatal(err)
			}
		}
		if err := p.Put([]byte("plain"), "k"); err != nil {
			t.Fatal(err)
		}
		if err := p.PutUserRecord(&hashRecord{DataRecord: *NewDataRecord([]byte("x"), "k"), ehk: new(big.Int).Lsh(big.NewInt(1), 128)}); err == nil {
			t.Error("explicit hash key of 2^128 accepted")
		}
		if err := p.Stop(context.Background()); err != nil {
			t.Fatal(err)
		}
		f.mu.Lock()
		defer f.mu.Unlock()
		if len(f.perShard) != 4 || f.outOfShard != 0 {
			t.Errorf("shards used %v, %d outside", f.perShard, f.outOfShard)
		}
		for i := range 40 {
			if f.delivered[fmt.Sprint("u", i)] != 1 {
				t.Errorf("u%d stored %d times", i, f.delivered[fmt.Sprint("u", i)])
			}
		}
		if f.delivered["plain"] != 1 {
			t.Error("plain record not stored")
		}
	})
}

func TestWorkerPoolAddAfterClose(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFake(1)
		wp := NewWorkerPool(&Config{StreamName: "s", Client: f, Logger: &testLogger{}})
		pk := "k"
		wp.Add(NewAggregatedRecordRequest([]byte("never started"), &pk, nil, nil))
		wp.Close()
		wp.Wait()
		if err := <-wp.Errors(); !errors.Is(err, &ErrStoppedProducer{}) {
			t.Fatalf("unsent entry: %v", err)
		}
		wp.Add(NewAggregatedRecordRequest([]byte("late"), &pk, nil, nil)) // must not panic
	})
}

// TestWorkerPoolUsesTheEngineLimits: the WorkerPool gets MaxRecordSize and
// the per-shard rate limit from the engine it adapts.
func TestWorkerPoolUsesTheEngineLimits(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFake(1)
		wp := NewWorkerPool(&Config{StreamName: "s", Client: f, Logger: &testLogger{},
			GetShards: StaticGetShardsFunc(1), RateLimit: 10, // 100 entries/s after a burst of 100
			MaxRecordSize: 1000, BatchSize: 1000})
		wp.Start()
		start := time.Now()
		pk := "k"
		wp.Add(NewAggregatedRecordRequest(make([]byte, 2000), &pk, nil, nil))
		for i := range 300 {
			wp.Add(NewAggregatedRecordRequest([]byte(fmt.Sprint("wp-", i)), &pk, nil, nil))
		}
		wp.Close()
		wp.Wait()
		took := time.Since(start)
		var failures []error
		for err := range wp.Errors() {
			failures = append(failures, err)
		}
		var tooLarge *ErrRecordSizeExceeded
		if len(failures) != 1 || !errors.As(failures[0], &tooLarge) {
			t.Errorf("failures %v, want one ErrRecordSizeExceeded", failures)
		}
		if took < 2*time.Second {
			t.Errorf("300 entries went in %v: the rate limit did not apply", took)
		}
		for i := range 300 {
			if n := f.deliveredCount(fmt.Sprint("wp-", i)); n != 1 {
				t.Errorf("wp-%d stored %d times", i, n)
			}
		}
	})
}
