package producer

import (
	"context"
	"fmt"
	"math/big"
	"math/rand/v2"
	"sort"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"

	"github.com/kinesis-kpl/fluent-bit-kinesis-kpl/aggregation"
)

// nopPutter accepts every entry and does nothing else: what is measured is
// the producer.
type nopPutter struct{ out *kinesis.PutRecordsOutput }

func newNopPutter() *nopPutter {
	out := &kinesis.PutRecordsOutput{Records: make([]types.PutRecordsResultEntry, kinesisMaxBatchCount)}
	return &nopPutter{out: out}
}

func (n *nopPutter) PutRecords(_ context.Context, in *kinesis.PutRecordsInput, _ ...func(*kinesis.Options)) (*kinesis.PutRecordsOutput, error) {
	out := *n.out
	out.Records = out.Records[:len(in.Records)]
	return &out, nil
}

// BenchmarkProducer measures Put + aggregate + batch + outcome marking per
// 100-byte record, in groups of 4096 as a Fluent Bit chunk would give.
// records/s is per benchmark (GOMAXPROCS) run.
func BenchmarkProducer(b *testing.B) {
	const groupSize = 4096
	var nsGroup80 float64 // shards=80/keys=random, the baseline's reference
	type benchCase struct {
		shards  int
		keyMode string // keys=any: records without a key of their own (AddAnyKey)
		aggOff  bool   // AggregateBatchCount 1: every record its own entry
	}
	var cases []benchCase
	for _, shards := range []int{1, 80, 500} {
		for _, keyMode := range []string{"random", "explicit", "any"} {
			cases = append(cases, benchCase{shards: shards, keyMode: keyMode})
		}
	}
	for _, keyMode := range []string{"random", "any"} {
		cases = append(cases, benchCase{shards: 80, keyMode: keyMode, aggOff: true})
	}
	for _, c := range cases {
		shards, keyMode := c.shards, c.keyMode
		name := fmt.Sprintf("shards=%d/keys=%s", shards, keyMode)
		if c.aggOff {
			name = "aggregation=off/" + name
		}
		b.Run(name, func(b *testing.B) {
			rng := rand.New(rand.NewPCG(1, 2))
			keys := make([]string, groupSize)
			hashes := make([]aggregation.HashKey, groupSize)
			for i := range keys {
				keys[i] = fmt.Sprintf("%016x", rng.Uint64())
				hashes[i] = aggregation.HashKey{Hi: rng.Uint64(), Lo: rng.Uint64()}
			}
			data := make([]byte, 100)
			for i := range data {
				data[i] = byte('a' + i%26)
			}
			p := startBenchProducer(b, newNopPutter(), shards, c.aggOff)
			ctx := context.Background()
			b.SetBytes(int64(len(data)))
			b.ReportAllocs()
			b.ResetTimer()
			cpu0 := cpuTime()
			for done := 0; done < b.N; {
				n := min(groupSize, b.N-done)
				g := p.NewGroup()
				for i := range n {
					switch keyMode {
					case "explicit":
						g.AddWithHashKey(data, keys[i], hashes[i])
					case "any":
						g.AddAnyKey(data)
					default:
						g.Add(data, keys[i])
					}
				}
				if err := p.PutGroup(ctx, g); err != nil {
					b.Fatal(err)
				}
				if err := g.Wait(ctx); err != nil {
					b.Fatal(err)
				}
				g.Release()
				done += n
			}
			b.StopTimer()
			cpu := cpuTime() - cpu0
			// Every goroutine's CPU time (caller, workers, GC) per
			// record: records per CPU-second is the per-core rate.
			b.ReportMetric(float64(b.N)/cpu.Seconds(), "records/cpu-s")
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "records/s")
			if shards == 80 && keyMode == "random" && !c.aggOff {
				nsGroup80 = float64(b.Elapsed().Nanoseconds()) / float64(b.N)
			}
			if err := p.Stop(ctx); err != nil {
				b.Fatal(err)
			}
		})
	}
	// Baseline, same run: the ShardMap building blocks (a DataRecord per
	// record, ShardMap.Put and Drain, no sending at all) at 80 shards.
	b.Run("baseline=ShardMap/shards=80/keys=random", func(b *testing.B) {
		rng := rand.New(rand.NewPCG(1, 2))
		keys := make([]string, groupSize)
		for i := range keys {
			keys[i] = fmt.Sprintf("%016x", rng.Uint64())
		}
		data := make([]byte, 100)
		m, err := NewShardMap(mustShards(80), 0, 0)
		if err != nil {
			b.Fatal(err)
		}
		b.SetBytes(int64(len(data)))
		b.ReportAllocs()
		for i := 0; b.Loop(); i++ {
			if _, err := m.Put(NewDataRecord(append([]byte(nil), data...), keys[i&(groupSize-1)])); err != nil {
				b.Fatal(err)
			}
			if i&(groupSize-1) == groupSize-1 {
				m.Drain()
			}
		}
		if nsGroup80 > 0 {
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/nsGroup80, "x-group-path")
		}
	})
}

// startBenchProducer starts a producer for benchmarks: shards static
// shards, no rate limit, aggregation off (AggregateBatchCount 1) if asked.
func startBenchProducer(b *testing.B, client Putter, shards int, aggOff bool) *Producer {
	cfg := &Config{
		StreamName: "bench",
		Client:     client,
		GetShards:  StaticGetShardsFunc(shards),
		RateLimit:  NoRateLimit,
	}
	if aggOff {
		cfg.AggregateBatchCount = 1
	}
	p, err := New(cfg)
	if err != nil {
		b.Fatal(err)
	}
	p.Start()
	return p
}

// cpuTime is the process's user plus system CPU time.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkShardLookup measures finding the shard of a hash key among 4096:
// the producer's lookup, against a binary search over all shards and the
// big.Int search a straightforward port would do (baselines, same run).
func BenchmarkShardLookup(b *testing.B) {
	shards := mustShards(4096)
	t, err := newShardTable(shards)
	if err != nil {
		b.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(3, 4))
	keys := make([]aggregation.HashKey, 1<<16)
	for i := range keys {
		keys[i] = aggregation.HashKey{Hi: rng.Uint64(), Lo: rng.Uint64()}
	}
	bigEnds := make([]*big.Int, len(shards))
	for i, s := range shards {
		bigEnds[i], _ = new(big.Int).SetString(*s.HashKeyRange.EndingHashKey, 10)
	}
	var nsLookup float64
	b.Run("impl=prefix-table", func(b *testing.B) {
		b.ReportAllocs()
		sum := 0
		for i := 0; b.Loop(); i++ {
			sum += t.lookup(keys[i&(len(keys)-1)])
		}
		if sum < 0 {
			b.Fatal("lookup missed")
		}
		nsLookup = float64(b.Elapsed().Nanoseconds()) / float64(b.N)
	})
	b.Run("impl=binary-search", func(b *testing.B) {
		b.ReportAllocs()
		sum := 0
		for i := 0; b.Loop(); i++ {
			sum += t.lastStartAtOrBelow(keys[i&(len(keys)-1)], 0, len(t.starts)-1)
		}
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/nsLookup, "x-prefix-table")
		_ = sum
	})
	b.Run("impl=big.Int", func(b *testing.B) {
		b.ReportAllocs()
		sum := 0
		for i := 0; b.Loop(); i++ {
			k := keys[i&(len(keys)-1)].BigInt()
			sum += sort.Search(len(bigEnds), func(j int) bool { return bigEnds[j].Cmp(k) >= 0 })
		}
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/nsLookup, "x-prefix-table")
		_ = sum
	})
}

// BenchmarkPut measures Put (one record per call, failures
// on NotifyFailures) on the same pipeline, at 80 shards with random keys.
func BenchmarkPut(b *testing.B) {
	rng := rand.New(rand.NewPCG(1, 2))
	keys := make([]string, 4096)
	for i := range keys {
		keys[i] = fmt.Sprintf("%016x", rng.Uint64())
	}
	data := make([]byte, 100)
	p, err := New(&Config{StreamName: "bench", Client: newNopPutter(), GetShards: StaticGetShardsFunc(80), RateLimit: NoRateLimit})
	if err != nil {
		b.Fatal(err)
	}
	p.Start()
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	cpu0 := cpuTime()
	for i := 0; b.Loop(); i++ {
		if err := p.Put(data, keys[i&(len(keys)-1)]); err != nil {
			b.Fatal(err)
		}
	}
	if err := p.Flush(context.Background()); err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(float64(b.N)/(cpuTime()-cpu0).Seconds(), "records/cpu-s")
	if err := p.Stop(context.Background()); err != nil {
		b.Fatal(err)
	}
}

// BenchmarkAddAnyKey measures adding a record without a key of its own
// with aggregation off, where it needs a random key routed by its MD5:
// from the group's pool (AddAnyKey), against a fresh key hashed for every
// record (the baseline, what AddAnyKey did before the pool). Only the add
// is measured; nothing is sent.
func BenchmarkAddAnyKey(b *testing.B) {
	p, err := New(&Config{StreamName: "bench", Client: newNopPutter(), GetShards: StaticGetShardsFunc(80),
		RateLimit: NoRateLimit, AggregateBatchCount: 1})
	if err != nil {
		b.Fatal(err)
	}
	data := make([]byte, 100)
	run := func(b *testing.B, add func(*Group)) {
		b.ReportAllocs()
		g := p.NewGroup()
		for i := 0; b.Loop(); i++ {
			if i%4096 == 0 {
				g.mu.Lock()
				g.arena, g.recs = g.arena[:0], g.recs[:0]
				g.mu.Unlock()
			}
			add(g)
		}
		g.Release()
	}
	b.Run("baseline/fresh-key", func(b *testing.B) {
		run(b, func(g *Group) {
			var buf [RandomKeyLen]byte
			pk := string(AppendRandomKey(buf[:0]))
			g.add(data, pk, aggregation.PartitionKeyHash(pk), false, false)
		})
	})
	b.Run("pool", func(b *testing.B) { run(b, func(g *Group) { g.AddAnyKey(data) }) })
}
