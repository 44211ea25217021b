// Package producer is a KPL-like batch producer for Amazon Kinesis Data
// Streams on aws-sdk-go-v2: it aggregates user records per predicted shard
// in the KPL aggregated-record format, batches them into PutRecords
// requests, sends them with bounded concurrency and a per-shard rate
// limit, retries only the entries that failed until each record's time to
// live, and tells the caller the outcome of every record.
//
// The package owns the shard map, the buffer, batching, retries, rate
// limiting and per-record outcomes. It must not know about Fluent Bit or
// any caller's record format, and it leaves the aggregated-record byte
// format to package aggregation (which also holds the pb and deaggregation
// packages).
//
// Usage, tracking the outcome of a group of records (for example one
// Fluent Bit chunk):
//
//	client := kinesis.NewFromConfig(awsCfg)
//	p, err := producer.New(&producer.Config{
//		StreamName:           "logs",
//		Client:               client,
//		GetShards:            producer.GetKinesisShardsFunc(client, "logs"),
//		ShardRefreshInterval: time.Minute,
//	})
//	if err != nil {
//		return err
//	}
//	p.Start()
//	defer p.Stop(stopCtx)
//
//	g := p.NewGroup()
//	defer g.Release()
//	for _, rec := range records {
//		g.Add(rec.Data, rec.Key)
//	}
//	if err := p.PutGroup(ctx, g); err != nil {
//		return err // buffer full until ctx ended, or stopped
//	}
//	if err := g.Wait(ctx); err != nil {
//		return err
//	}
//	delivered, failedForGood, failedRetryable, _ := g.Counts()
//
// Delivery is at least once. A Delivered record is never sent again by
// the producer, and PutGroup skips it when a group is put again, so a
// caller that re-puts a group after a retryable failure sends only what
// was not delivered. A record can still reach the stream twice when a
// PutRecords response is lost (a timeout, a connection reset, or Stop
// aborting a request): the producer cannot know that the service accepted
// it. Records of one shard keep their order within one request, but a
// retried entry may land after records put later.
//
// The SDK's own retryer retries a PutRecords call only when the whole
// call failed (a network error, a throttled or 5xx response), in which
// case the service accepted none of its entries; a 200 response with
// failed entries is returned to the producer, which retries just those.
// The producer does not depend on the SDK retrying at all.
package producer
