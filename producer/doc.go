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
// What the producer guarantees while embedded (in Fluent Bit, say): no
// panic escapes (a panicking client or GetShards becomes an error); memory
// is bounded by Config.BufferMaxBytes (plus aggregation copies of at most
// the same size and one reusable aggregate buffer per shard); every
// goroutine ends in Stop, which also bounds its own time with its context;
// and nothing blocks forever: PutGroup waits with its context, records
// expire after Config.RecordTTL, and NotifyFailures drops notifications
// nobody reads. The Putter must return when its context ends, as
// *kinesis.Client does.
//
// A Group may be Released at any time: records in flight finish, and the
// group is reused only after the producer dropped every reference into
// it. Release only after reading the outcomes you need.
//
// Records whose shard the map predicts are aggregated per shard, and the
// aggregate carries an ExplicitHashKey in the middle of that shard's
// range, so every sub-record lands where a KCL consumer expects it. An
// aggregate of one record is sent as a plain record. When a PutRecords
// result shows an entry landed on another shard than predicted (a reshard
// happened), the map is refreshed and buffered records are redistributed.
// Without a shard map, only records of the same partition key (or the
// same explicit hash key) share an aggregate.
//
// Errors are classified by the API error code (smithy.APIError) or the
// entry's ErrorCode: throttling, 5xx, network errors, timeouts and expired
// credentials are retried with jittered exponential backoff until the
// record's time to live; ResourceNotFound, AccessDenied and KMS key
// problems are retried too, and logged each time; only codes the service
// will never accept as sent (ValidationException, InvalidArgument) fail a
// record for good, and a request rejected as a whole is split so that
// only the entry at fault fails. Logs never carry record data or
// partition keys.
//
// The SDK's own retryer retries a PutRecords call only when the whole
// call failed (a network error, a throttled or 5xx response), in which
// case the service accepted none of its entries; a 200 response with
// failed entries is returned to the producer, which retries just those.
// The producer does not depend on the SDK retrying at all.
package producer
