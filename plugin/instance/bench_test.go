package instance

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"strconv"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"

	"github.com/kinesis-kpl/fluent-bit-kinesis-kpl/conf"
	"github.com/kinesis-kpl/fluent-bit-kinesis-kpl/producer"
)

// acceptAll answers every PutRecords entry with success, reusing its
// response, so that the benchmark measures the plugin and the producer.
type acceptAll struct{ out kinesis.PutRecordsOutput }

func (a *acceptAll) PutRecords(_ context.Context, in *kinesis.PutRecordsInput, _ ...func(*kinesis.Options)) (*kinesis.PutRecordsOutput, error) {
	out := &kinesis.PutRecordsOutput{FailedRecordCount: aws.Int32(0), Records: make([]types.PutRecordsResultEntry, len(in.Records))}
	for i := range out.Records {
		// No ShardId: this fake models no shards, and a shard other than
		// the predicted one would make the producer put aggregates again.
		out.Records[i].SequenceNumber = aws.String("1")
	}
	return out, nil
}

// containerChunk is a chunk of n container-log events (about 400 bytes of
// JSON each) over 50 pods, in the 2.1+ event form.
func containerChunk(n int) []byte {
	var c []byte
	for i := 0; i < n; i++ {
		pod := "checkout-7d9c" + strconv.Itoa(i%50) + "f8b6-x2k2q"
		c = event(c, true,
			"time", "2026-11-25T12:00:00.049123456Z",
			"stream", "stdout",
			"log", fmt.Sprintf("2026-11-25T12:00:00.049Z INFO checkout request_id=%x path=/api/v1/cart/%d status=200 duration_ms=%d msg=\"handled request\"", 1e9+i*7919, i%37, i%900),
			"pod_name", pod,
			"namespace_name", "shop",
			"container_name", "checkout",
			"host", "ip-10-0-1-17.ec2.internal",
			"container_image", "registry.example.com/checkout:1.4.2",
		)
	}
	return c
}

// BenchmarkFlush is the whole hot path of one chunk: read in place,
// transcode to JSON, look up the partition key, aggregate per shard, batch
// into PutRecords and wait for every outcome.
func BenchmarkFlush(b *testing.B) {
	const records = 1000
	for _, shards := range []int{1, 4, 80} {
		b.Run(fmt.Sprintf("shards=%d", shards), func(b *testing.B) {
			cfg, err := conf.Load(conf.MapGetter{"stream": "s", "partition_key": "pod_name"})
			if err != nil {
				b.Fatal(err)
			}
			prod, err := producer.New(&producer.Config{
				StreamName:    "s",
				Client:        &acceptAll{},
				GetShards:     producer.StaticGetShardsFunc(shards),
				FlushInterval: time.Millisecond,
				RateLimit:     producer.NoRateLimit, // measure CPU, not Kinesis' per-shard limits
				Logger:        producer.NopLogger{},
			})
			if err != nil {
				b.Fatal(err)
			}
			prod.Start()
			in := New("bench", cfg, prod, NewLogger(io.Discard, "bench", slog.LevelError))
			defer in.Close(context.Background())
			c := containerChunk(records)
			if in.Flush("kube.app", c) != OK { // warm the pools
				b.Fatal("warm-up flush failed")
			}
			b.SetBytes(int64(len(c)))
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				if st := in.Flush("kube.app", c); st != OK {
					b.Fatalf("Flush = %s", st)
				}
			}
			b.StopTimer()
			b.ReportMetric(float64(b.N*records)/b.Elapsed().Seconds(), "records/s")
		})
	}
}
