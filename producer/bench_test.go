package producer

import (
	"context"
	"fmt"
	"math/rand/v2"
	"testing"

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
	for _, shards := range []int{1, 80, 500} {
		for _, explicit := range []bool{false, true} {
			name := fmt.Sprintf("shards=%d/keys=random", shards)
			if explicit {
				name = fmt.Sprintf("shards=%d/keys=explicit", shards)
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
				p, err := New(&Config{
					StreamName: "bench",
					Client:     newNopPutter(),
					GetShards:  StaticGetShardsFunc(shards),
					RateLimit:  NoRateLimit,
				})
				if err != nil {
					b.Fatal(err)
				}
				p.Start()
				ctx := context.Background()
				b.SetBytes(int64(len(data)))
				b.ReportAllocs()
				b.ResetTimer()
				for done := 0; done < b.N; {
					n := min(groupSize, b.N-done)
					g := p.NewGroup()
					for i := range n {
						if explicit {
							g.AddWithHashKey(data, keys[i], hashes[i])
						} else {
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
				b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "records/s")
				if err := p.Stop(ctx); err != nil {
					b.Fatal(err)
				}
			})
		}
	}
}

// BenchmarkShardLookup measures finding the shard of a hash key among 4096.
func BenchmarkShardLookup(b *testing.B) {
	t, err := newShardTable(mustShards(4096))
	if err != nil {
		b.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(3, 4))
	keys := make([]aggregation.HashKey, 1<<16)
	for i := range keys {
		keys[i] = aggregation.HashKey{Hi: rng.Uint64(), Lo: rng.Uint64()}
	}
	b.ReportAllocs()
	sum := 0
	for i := 0; b.Loop(); i++ {
		sum += t.lookup(keys[i&(len(keys)-1)])
	}
	if sum < 0 {
		b.Fatal("lookup missed")
	}
}
