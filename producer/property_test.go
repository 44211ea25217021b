package producer

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"testing"
	"testing/synctest"
	"time"
)

// TestEveryRecordOneOutcome puts groups through a service that fails at
// random (whole requests, single entries, garbled responses, permanent
// rejections, a panicking client) and reshards at random, cancels some
// groups and re-puts retryable failures. For every seed: each record ends
// with exactly one final outcome; a KCL consumer reads a record exactly
// once if Delivered and never otherwise, so nothing is sent again after
// it succeeded; the only other copies are those in aggregates KCL drops,
// and each of those was counted as put again.
func TestEveryRecordOneOutcome(t *testing.T) {
	for _, format := range formats {
		for seed := range uint64(propertySeeds) {
			t.Run(fmt.Sprint(format, "/seed=", seed), func(t *testing.T) {
				synctest.Test(t, func(t *testing.T) {
					checkOneOutcome(t, format, seed)
				})
			})
		}
	}
}

// checkOneOutcome runs one random case. In the newline format consumers
// read every line, so a Delivered record is read exactly once even after
// a reshard: nothing is ever put again for landing on another shard.
func checkOneOutcome(t *testing.T, format AggregationFormat, seed uint64) {
	rng := rand.New(rand.NewPCG(seed, 99))
	f := newFake(1 + rng.IntN(6))
	var script []step
	for range 400 {
		switch r := rng.IntN(10); {
		case r < 4:
			script = append(script, ok())
		case r < 6:
			m := map[int]string{}
			for range 1 + rng.IntN(5) {
				m[rng.IntN(20)] = []string{"ProvisionedThroughputExceededException", "InternalFailure", "KMSThrottlingException"}[rng.IntN(3)]
			}
			if rng.IntN(4) == 0 {
				m[rng.IntN(20)] = "ValidationException"
			}
			script = append(script, codes(m))
		case r < 8:
			script = append(script, fail(apiError([]string{"ProvisionedThroughputExceededException", "ServiceUnavailable", "ExpiredTokenException"}[rng.IntN(3)])))
		case r < 9:
			script = append(script, step{count: rng.IntN(30)})
		case rng.IntN(2) == 0:
			script = append(script, step{count: -1, panic: true})
		default:
			script = append(script, fail(errors.New("connection reset")))
		}
	}
	f.script = script
	// Split or merge the stream at a random call; the producer's map is
	// stale until a result shows it. (Two reshards closer than a refresh
	// may leave the producer unable to tell whether an aggregate stored on
	// the short-lived shard was whole; it then puts it again, see doc.go.)
	reshards := map[int]int{}
	if rng.IntN(3) > 0 {
		reshards[1+rng.IntN(40)] = 1 + rng.IntN(6)
	}
	f.onPut = func(call int) {
		if n, ok := reshards[call]; ok {
			f.setShards(renamed(mustShards(n), fmt.Sprint("gen", call)))
		}
	}
	p := newTestProducer(t, f, func(c *Config) {
		c.AggregateBatchCount = 1 + rng.IntN(8)
		c.AggregateBatchSize = 200 + rng.IntN(2000)
		c.BatchCount = 1 + rng.IntN(20)
		c.MaxConnections = 1 + rng.IntN(4)
		c.RecordTTL = time.Duration(1+rng.IntN(5)) * time.Second
		c.RateLimit = NoRateLimit
		c.AggregationFormat = format
	})
	p.Start()
	ctx := context.Background()
	var groups []*Group
	id := 0
	for range 6 {
		g := p.NewGroup()
		for range 1 + rng.IntN(60) {
			if data := []byte(fmt.Sprintf("r%06d", id)); rng.IntN(3) == 0 {
				g.AddAnyKey(data) // no key of its own
			} else {
				g.Add(data, fmt.Sprintf("key-%d", rng.IntN(25)))
			}
			id++
		}
		if err := p.PutGroup(ctx, g); err != nil {
			t.Fatal(err)
		}
		if rng.IntN(4) == 0 {
			g.Cancel()
		}
		groups = append(groups, g)
	}
	// Retryable failures are put again, a few rounds.
	for round := range 3 {
		for _, g := range groups {
			if err := g.Wait(ctx); err != nil {
				t.Fatalf("round %d: %v", round, err)
			}
			if _, _, retryable, _ := g.Counts(); retryable > 0 {
				if err := p.PutGroup(ctx, g); err != nil {
					t.Fatal(err)
				}
			}
		}
	}
	for _, g := range groups {
		if err := g.Wait(ctx); err != nil {
			t.Fatal(err)
		}
	}
	st := p.Stats()
	reput := st.RecordsReputWrongShard
	t.Logf("%d records put again after a reshard, %d panics recovered", reput, st.PanicsRecovered)
	if err := p.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	p.mu.Lock()
	if p.bufferedBytes != 0 {
		// Bytes are counted in and out by the same rule (recRef.size).
		t.Errorf("%d bytes still counted as buffered", p.bufferedBytes)
	}
	p.mu.Unlock()
	f.mu.Lock()
	defer f.mu.Unlock()
	total := 0
	for _, g := range groups {
		for i := range g.Len() {
			o := g.Outcome(i)
			stored := f.kclSeen[fmt.Sprintf("r%06d", total)]
			total++
			switch o.State {
			case Delivered:
				if stored != 1 {
					t.Errorf("delivered record stored %d times", stored)
				}
			case Failed:
				if stored != 0 {
					t.Errorf("failed record (%v) stored %d times", o.Err, stored)
				}
				if o.Err == nil {
					t.Error("failed record without an error")
				}
			default:
				t.Errorf("record left %v", o.State)
			}
		}
		g.Release()
	}
	copies := 0
	for data, n := range f.delivered {
		if f.kclSeen[data] > 1 {
			t.Errorf("%s read by KCL %d times", data, f.kclSeen[data])
		}
		copies += n - f.kclSeen[data]
	}
	if format == AggregationNewline && reput != 0 {
		t.Errorf("%d records of newline aggregates put again after a reshard", reput)
	}
	if copies != f.lostToKCL || uint64(copies) > reput {
		t.Errorf("%d copies KCL drops (%d by the fake), %d records counted as put again", copies, f.lostToKCL, reput)
	}
	if f.maxEntries > p.cfg.BatchCount {
		t.Errorf("a request had %d entries, BatchCount %d", f.maxEntries, p.cfg.BatchCount)
	}
}

// propertySeeds is how many random runs the property test makes; raise it
// locally when changing the buffer.
var propertySeeds = 12

func init() {
	if s := os.Getenv("PRODUCER_PROPERTY_SEEDS"); s != "" {
		fmt.Sscan(s, &propertySeeds)
	}
}

// TestConcurrentUse has several goroutines put, wait for, cancel and
// re-put groups, and Put single records, while the service fails at
// random; run with -race. Every delivered record is stored exactly once.
func TestConcurrentUse(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		rng := rand.New(rand.NewPCG(7, 8))
		f := newFake(6)
		var script []step
		for range 2000 {
			switch rng.IntN(6) {
			case 0:
				script = append(script, codes(map[int]string{rng.IntN(10): "ProvisionedThroughputExceededException"}))
			case 1:
				script = append(script, fail(apiError("InternalFailure")))
			default:
				script = append(script, ok())
			}
		}
		f.script = script
		p := newTestProducer(t, f, func(c *Config) {
			c.AggregateBatchSize = 500
			c.BatchCount = 20
			c.MaxConnections = 3
			c.BufferMaxBytes = 1 << 20
		})
		p.Start()
		ctx := context.Background()
		done := make(chan []*Group)
		for w := range 4 {
			go func() {
				var mine []*Group
				for gi := range 15 {
					g := p.NewGroup()
					for i := range 100 {
						g.Add([]byte(fmt.Sprintf("w%d-g%d-r%d", w, gi, i)), fmt.Sprint("k", i%13))
					}
					if err := p.PutGroup(ctx, g); err != nil {
						t.Error(err)
					}
					if gi%3 == 0 {
						g.Cancel()
					}
					if err := p.Put([]byte(fmt.Sprintf("put-w%d-%d", w, gi)), "pk"); err != nil {
						t.Error(err)
					}
					for {
						if err := g.Wait(ctx); err != nil {
							t.Error(err)
						}
						if _, _, retryable, _ := g.Counts(); retryable == 0 {
							break
						}
						if err := p.PutGroup(ctx, g); err != nil {
							t.Error(err)
						}
					}
					mine = append(mine, g)
				}
				done <- mine
			}()
		}
		var all []*Group
		for range 4 {
			all = append(all, <-done...)
		}
		if err := p.Stop(ctx); err != nil {
			t.Fatal(err)
		}
		for _, g := range all {
			if d, fp, fr, pend := g.Counts(); d != g.Len() {
				t.Errorf("group: %d delivered, %d %d %d not", d, fp, fr, pend)
			}
			g.Release()
		}
		f.mu.Lock()
		defer f.mu.Unlock()
		for data, n := range f.delivered {
			if n != 1 {
				t.Errorf("%s stored %d times", data, n)
			}
		}
		if len(f.delivered) != 4*15*101 {
			t.Errorf("%d records stored, want %d", len(f.delivered), 4*15*101)
		}
	})
}
