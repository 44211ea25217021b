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
// it. Records of one shard keep their order within one request, and the
// rate limit never lets a later entry of a shard overtake one it holds
// back; but a retried entry may land after records put later.
//
// What the producer guarantees while embedded (in Fluent Bit, say):
//
//   - No panic escapes. A panic in the Putter, in GetShards, in the Logger
//     or in any goroutine the producer starts (the send loop, the workers,
//     the shard map refresh) is recovered and logged with its stack
//     (Stats.PanicsRecovered counts them). The records the panicking code
//     held get the final, retryable outcome ErrPanicked (for the send loop
//     and the refresh: everything buffered, which they may have left half
//     updated), and the producer keeps running.
//   - Every goroutine ends in Stop, which also bounds its own time with its
//     context; nothing blocks forever: PutGroup waits with its context,
//     records expire after Config.RecordTTL, and NotifyFailures drops
//     notifications nobody reads. The Putter must return when its context
//     ends, as *kinesis.Client does.
//   - Memory has a ceiling, below.
//
// Memory. The records' own bytes live in the callers' groups; the
// producer holds at most Config.BufferMaxBytes of them (and at most
// BacklogCount built entries) before PutGroup waits. Beyond them, the heap
// the producer itself holds stays under about
//
//	BufferMaxBytes                        aggregates held: under 16 KiB as
//	                                      their bytes, larger as their
//	                                      encoders (at most 9 KiB each)
//	+ 300 B * R                           per record held (R records): an entry
//	                                      each when they go out alone
//	+ S * (2*AggregateBatchSize + 8 KiB)  one open encoder per shard (S shards)
//	+ BatchCount * 8 KiB                  open per-key aggregates, at most BatchCount
//	+ 16 * (2*AggregateBatchSize + 8 KiB) encoders kept for reuse
//	+ BatchSize                           entry buffers kept for reuse
//	+ (BacklogCount + MaxConnections * BatchCount) * 300 B
//	                                      entries kept for reuse while busy
//	                                      (1024 once quiet for 20 s)
//	+ MaxConnections * BatchCount * 200 B requests being sent
//	+ (MaxConnections + 1) * BatchSize    aggregates written for requests
//	                                      being sent, one buffer kept (a
//	                                      Putter that is not a BodyPutter
//	                                      only: a BodyPutter's are written
//	                                      straight into its bodies)
//	+ MaxConnections * (512 KiB + 4/3*MaxRecordSize)
//	                                      request bodies being sent or kept
//	                                      for reuse (2 once quiet for 20 s;
//	                                      BodyPutter only): a body of
//	                                      1 MiB or less whole, a larger one
//	                                      in windows of 512 KiB and one
//	                                      entry as it is sent (StreamPutter;
//	                                      a BodyPutter that is not one:
//	                                      4/3*BatchSize, whole)
//	+ 1.6 MiB                             the SIMD MD5 server's buffers, one
//	                                      per process (KPL format)
//
// whatever the keys: a record that goes out alone (a key of its own, no
// shard map) is never copied, and an aggregate of 16 KiB or more is
// written only into the requests that send it;
// without a shard map at most BatchCount per-key aggregates are open, and
// more distinct keys drain them into a request; free lists are capped.
// (A Putter that is not a BodyPutter holds the serialised bodies itself:
// the SDK needs as much for them.)
// With the defaults and no shard map that is about 250 MiB plus 300 B per
// record held (370 MiB when each of the 24 requests in flight held a
// whole body of 5 MiB); reached only when the buffer is full of
// aggregates and every connection busy.
//
// How the parts fit. One engine does the work, each rule in one place:
//
//   - group.go: Group, the caller's records (copied into an arena) and
//     their outcomes; recRef is the engine's handle on one record.
//   - aggregator.go: one aggregate, in the KPL or the newline format: the
//     oversize rule (aggLimits.alone), the overflow rule counted exactly
//     as encoded (aggregator.overflows),
//     the key records without a shard share by (aggKeyOf), and the entry's
//     bytes, one record sent plain (entry.build).
//   - buffer.go: one aggregator per predicted shard (or key), the ready
//     and retry queues, assembling requests within BatchCount, BatchSize,
//     the rate limit (ratelimit.go) and the buffer cap, redistributing
//     over a new map, and deciding aggregates stored on another shard.
//   - sender.go: the workers that build a PutRecords request and read
//     its response, the send loop, and the shard map refresh (shards.go).
//     body.go writes a request body (Config.WireFormat: JSON there, CBOR
//     in cbor.go) straight from the entries when the client is a
//     *kinesis.Client or another BodyPutter: whole when small, in windows
//     as it is sent when large (stream.go, BodyStream; a
//     *kinesis.Client's own sender only). An aggregate that waits as its
//     encoder or its references is written into the body itself
//     (bodyScratch), once per writing; the MD5s of the aggregates written
//     together are summed there at once on SIMD lanes (sumEntries over
//     aggregation.Lanes), and JSON's base64 (base64.go, segmentio/asm's
//     SIMD encoder) is then encoded over them in place.
//   - tlswrites.go: CoalesceTLSWrites, the http.Transport option (the
//     plugin sets it) that sends request bodies in writes of up to 128
//     KiB instead of one per TLS record, over HTTP/1.1.
//   - direct.go: sends such a body to the client's endpoint, signed with
//     its credentials, without the SDK's per-call middleware.
//   - cbor.go and jsonresponse.go: read a successful response without the
//     SDK's generic decoder; errors go to the SDK's own reader. Only the
//     failed entries are retried; classify.go says how.
//   - panics.go: recovering panics in all of the above.
//
// The seed's types are thin adapters over it: Aggregator is the engine's
// aggregator over records of its own; ShardMap is a shard table with one
// Aggregator per shard; WorkerPool is a Producer with AggregateBatchCount
// 1 and no shard map, each entry it is given one record sent as it is.
//
// A Group may be Released at any time: records in flight finish, and the
// group is reused only after the producer dropped every reference into
// it. Release only after reading the outcomes you need.
//
// Records whose shard the map predicts are aggregated per shard, and the
// aggregate carries an ExplicitHashKey in the middle of that shard's
// range, so every sub-record lands where a KCL consumer expects it. An
// aggregate of one record is sent as a plain record. Without a shard map,
// only records of the same partition key (or the same explicit hash key)
// share an aggregate; records added with Group.AddAnyKey (no key of their
// own, such as log lines without a key field) all share aggregates, one
// random key per aggregate, since any key will do for them.
//
// Such a record has no key at all until it is sent: its shard is chosen
// from 128 random bits (its hash), and in an aggregate it is encoded with
// the aggregate's random key and, with a shard map, the predicted shard's
// middle hash key, the one the entry carries: the key tables hold one
// entry each however many records share them, and KCL, which checks a
// sub-record's explicit hash key, keeps them on that shard. Sent alone it
// gets a random key and its hash as explicit hash key, so it lands on the
// shard predicted for it.
//
// Config.AggregationFormat AggregationNewline joins an aggregate's
// records with newlines instead (Fluent Bit's simple_aggregation), by the
// same rules: the same shard-awareness, the same explicit hash key, sizes
// counted exactly, one record sent plain. Nothing is encoded while records
// are added; the aggregate is written once, when it is drained. Consumers
// read it as plain text, one record a line, so the KPL reshard rule below
// does not apply to it: a newline aggregate stored on a shard other than
// the predicted one is delivered, its records' outcomes name that shard,
// and the map is refreshed as for any mismatch. Until then records of a
// key may be stored on a shard their key does not hash to, as records
// with an explicit hash key are; Stats.RecordsReputWrongShard stays 0.
//
// Reshards are handled as KPL handles them. A KCL consumer drops an
// aggregate any of whose records hash outside the shard that stored it.
// When a PutRecords result shows an aggregate stored on a shard other
// than the predicted one (a split or merge the map has not seen), its
// records are not yet delivered: the shard map is refreshed at once
// (refreshes stay a second apart), what is buffered is aggregated anew
// against the new map, and the aggregate is delivered if the new map
// shows that the shard that stored it holds all its records (a merge);
// otherwise its records are put again and counted in
// Stats.RecordsReputWrongShard. (Records without a key of their own are
// checked by the explicit hash key they carry, which also decided the
// shard that stored the aggregate: an aggregate of only such records is
// delivered once the map knows that shard.) A KCL consumer then reads every record
// exactly once. The cost: a consumer that does not apply KCL's rule (a
// Lambda with the AWS deaggregation libraries, say) reads those records
// twice. If the refresh fails, or the shard that stored the aggregate is
// already closed again by a second reshard, the producer cannot check the
// range and puts the records again: a KCL consumer may then read them
// twice. A plain record is delivered wherever it lands. Entries waiting
// for a retry keep their backoff across a map update and are aggregated
// anew when due.
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
// The SDK's own retryer (the client's, asked by direct.go as the SDK's
// stack asks it, without its retry quota) retries a PutRecords call only
// when the whole call failed (a network error, a throttled or 5xx
// response); a 200 response with failed entries is returned to the producer, which retries
// just those. A throttled or 5xx answer means the service stored none of
// the request's entries. A connection reset or a timeout after the request
// was sent does not: the service may have stored some or all of them, and
// the SDK's retry (or the producer's) sends them again, so those records
// can reach the stream twice. The producer does not depend on the SDK
// retrying at all.
package producer
