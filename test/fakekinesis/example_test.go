package fakekinesis_test

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"

	"github.com/kinesis-kpl/fluent-bit-kinesis-kpl/test/fakekinesis"
)

// A producer test points the SDK at the server, scripts a fault, and
// checks exactly what arrived.
func Example() {
	srv, err := fakekinesis.New()
	if err != nil {
		panic(err)
	}
	defer srv.Close()
	if err := srv.CreateStream("logs", 2); err != nil {
		panic(err)
	}
	client := sdkClient(srv.URL())

	srv.SetFaults(fakekinesis.Faults{ThrottleEvery: 2})
	out, err := client.PutRecords(context.Background(), &kinesis.PutRecordsInput{
		StreamName: aws.String("logs"),
		Records: []types.PutRecordsRequestEntry{
			{PartitionKey: aws.String("a"), Data: []byte("first")},
			{PartitionKey: aws.String("b"), Data: []byte("second")},
		},
	})
	if err != nil {
		panic(err)
	}
	fmt.Println("failed:", aws.ToInt32(out.FailedRecordCount), aws.ToString(out.Records[1].ErrorCode))
	for _, r := range srv.Records("logs") {
		fmt.Printf("stored: %s in %s\n", r.Data, r.ShardID)
	}
	st := srv.Stats()
	fmt.Println("seen:", st.EntriesSeen, "accepted:", st.EntriesAccepted, "failed:", st.EntriesFailed)
	// Output:
	// failed: 1 ProvisionedThroughputExceededException
	// stored: first in shardId-000000000000
	// seen: 2 accepted: 1 failed: 1
}

// Time-driven faults run on the server's clock; a test that injects one
// moves time by hand instead of sleeping.
func Example_shardLimitAndOutage() {
	clock := newManualClock()
	srv, err := fakekinesis.New(fakekinesis.WithClock(clock.Now))
	if err != nil {
		panic(err)
	}
	defer srv.Close()
	if err := srv.CreateStream("logs", 1); err != nil {
		panic(err)
	}
	client := sdkClient(srv.URL())
	put := func() (*kinesis.PutRecordsOutput, error) {
		return client.PutRecords(context.Background(), &kinesis.PutRecordsInput{
			StreamName: aws.String("logs"),
			Records: []types.PutRecordsRequestEntry{
				{PartitionKey: aws.String("a"), Data: []byte("1")},
				{PartitionKey: aws.String("a"), Data: []byte("2")},
				{PartitionKey: aws.String("a"), Data: []byte("3")},
			},
		})
	}

	srv.SetFaults(fakekinesis.Faults{
		ShardLimit: fakekinesis.ShardLimit{RecordsPerSecond: 2},
		Outage:     fakekinesis.Outage{Every: 5 * time.Second, For: 2 * time.Second},
	})
	out, _ := put()
	fmt.Println("over the limit:", aws.ToInt32(out.FailedRecordCount), aws.ToString(out.Records[2].ErrorCode))
	clock.Advance(3 * time.Second)
	_, err = put()
	fmt.Println("in the outage:", err != nil && strings.Contains(err.Error(), "StatusCode: 503"))
	clock.Advance(2 * time.Second)
	out, _ = put()
	fmt.Println("after it:", aws.ToInt32(out.FailedRecordCount), "failed")
	st := srv.Stats()
	fmt.Println("stored:", st.EntriesAccepted, "over the limit:", st.EntriesOverLimit, "in the outage:", st.RequestsInOutage)
	// Output:
	// over the limit: 1 ProvisionedThroughputExceededException
	// in the outage: true
	// after it: 1 failed
	// stored: 4 over the limit: 2 in the outage: 1
}

// sdkClient is the unmodified SDK client pointed at a fake: any
// credentials do, and retries are off so that every fault shows.
func sdkClient(url string) *kinesis.Client {
	return kinesis.NewFromConfig(aws.Config{
		Region:      "us-east-1",
		Credentials: credentials.NewStaticCredentialsProvider("a", "b", ""),
	}, func(o *kinesis.Options) {
		o.BaseEndpoint = aws.String(url)
		o.Retryer = aws.NopRetryer{}
	})
}
