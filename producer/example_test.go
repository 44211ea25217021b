package producer_test

import (
	"context"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"

	"github.com/kinesis-kpl/fluent-bit-kinesis-kpl/producer"
)

// acceptAll stands in for *kinesis.Client: it accepts every entry.
type acceptAll struct{}

func (acceptAll) PutRecords(_ context.Context, in *kinesis.PutRecordsInput, _ ...func(*kinesis.Options)) (*kinesis.PutRecordsOutput, error) {
	out := &kinesis.PutRecordsOutput{Records: make([]types.PutRecordsResultEntry, len(in.Records))}
	for i := range out.Records {
		out.Records[i].ShardId = aws("shardId-000000000000")
		out.Records[i].SequenceNumber = aws(fmt.Sprint(i))
	}
	return out, nil
}

func aws(s string) *string { return &s }

// A group of records (one Fluent Bit chunk, say) is put and waited for;
// every record then has its outcome.
func ExampleProducer_PutGroup() {
	p, err := producer.New(&producer.Config{
		StreamName: "logs",
		Client:     acceptAll{}, // a *kinesis.Client in production
		GetShards:  producer.StaticGetShardsFunc(1),
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	p.Start()
	defer p.Stop(context.Background())

	g := p.NewGroup()
	defer g.Release()
	g.Add([]byte(`{"log":"one"}`), "host-a")
	g.Add([]byte(`{"log":"two"}`), "host-b")
	g.Add([]byte(`{"log":"three"}`), "") // an empty partition key can never be sent

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := p.PutGroup(ctx, g); err != nil {
		fmt.Println(err)
		return
	}
	if err := g.Wait(ctx); err != nil {
		fmt.Println(err)
		return
	}
	delivered, failedForGood, failedRetryable, pending := g.Counts()
	fmt.Println(delivered, failedForGood, failedRetryable, pending)
	fmt.Println(g.Outcome(0).State, g.Outcome(2).State, g.Outcome(2).Err)
	// Output:
	// 2 1 0 0
	// delivered failed producer: partition key must be 1 to 256 Unicode characters
}

// The record-at-a-time API: Put, with failures reported on NotifyFailures.
func ExampleProducer_Put() {
	p, err := producer.New(&producer.Config{StreamName: "logs", Client: acceptAll{}})
	if err != nil {
		fmt.Println(err)
		return
	}
	failures := p.NotifyFailures()
	p.Start()
	for i := range 3 {
		if err := p.Put([]byte(fmt.Sprint("record ", i)), "key"); err != nil {
			fmt.Println(err)
		}
	}
	if err := p.Stop(context.Background()); err != nil {
		fmt.Println(err)
	}
	n := 0
	for range failures { // closed by Stop
		n++
	}
	fmt.Println("failures:", n)
	// Output:
	// failures: 0
}
