package main

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"

	"github.com/kinesis-kpl/fluent-bit-kinesis-kpl/aggregation"
)

// kinesisAPI is the part of the Kinesis client kplcat uses; tests give it a
// fake.
type kinesisAPI interface {
	ListShards(context.Context, *kinesis.ListShardsInput, ...func(*kinesis.Options)) (*kinesis.ListShardsOutput, error)
	GetShardIterator(context.Context, *kinesis.GetShardIteratorInput, ...func(*kinesis.Options)) (*kinesis.GetShardIteratorOutput, error)
	GetRecords(context.Context, *kinesis.GetRecordsInput, ...func(*kinesis.Options)) (*kinesis.GetRecordsOutput, error)
}

// startAt is where reading a shard begins.
type startAt struct {
	kind types.ShardIteratorType // TRIM_HORIZON, LATEST or AT_TIMESTAMP
	at   time.Time               // for AT_TIMESTAMP
}

// shardInfo is what kplcat needs of a shard from ListShards.
type shardInfo struct {
	id         string
	parents    []string // parent and adjacent parent, when present
	start, end aggregation.HashKey
	closed     bool // has an ending sequence number: no more records will arrive
}

// reader reads a stream shard by shard, in the order a KCL consumer would:
// a shard starts only when every parent of it still listed has been read to
// its end.
type reader struct {
	api    kinesisAPI
	stream string
	from   startAt
	only   string // read this shard only
	follow bool
	// idle is the wait after an empty response at the tip of an open shard
	// (with follow); pace is the least time between two GetRecords calls
	// on one shard (Kinesis allows five per second).
	idle, pace time.Duration
	out        *printer
}

// shardState is where a shard stands in one run.
type shardState int

const (
	pending  shardState = iota // waits for its parents
	running                    // being read
	finished                   // read to its end (or skipped as older than LATEST)
	stopped                    // read up to the tip while still open
)

type shardDone struct {
	id     string
	closed bool // the shard was read to its end
	err    error
}

// run reads until every shard is caught up (or, with follow, until ctx
// ends). It returns the first error a shard reader or ListShards met.
func (r *reader) run(ctx context.Context) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	shards, order, err := r.listShards(ctx)
	if err != nil {
		return err
	}
	if r.only != "" {
		s, ok := shards[r.only]
		if !ok {
			return fmt.Errorf("--shard: stream %s has no shard %q", r.stream, r.only)
		}
		r.out.shardStarted()
		closed, err := r.readShard(ctx, s, r.from)
		if err == nil && closed {
			r.out.note("shard %s is closed and was read to its end; its children are not read with --shard", s.id)
		}
		return err
	}

	state := make(map[string]shardState, len(shards))
	if r.from.kind == types.ShardIteratorTypeLatest {
		// Closed shards hold nothing newer than LATEST; the open ones are
		// the leaves of the lineage.
		for id, s := range shards {
			if s.closed {
				state[id] = finished
			}
		}
	}
	done := make(chan shardDone)
	inFlight := 0
	initial := true
	startReady := func() {
		for _, id := range order {
			if state[id] != pending || !parentsFinished(shards, state, shards[id]) {
				continue
			}
			state[id] = running
			inFlight++
			from := r.childStart()
			if initial {
				from = r.from
			}
			r.out.shardStarted()
			go func(s shardInfo) {
				closed, err := r.readShard(ctx, s, from)
				done <- shardDone{id: s.id, closed: closed, err: err}
			}(shards[id])
		}
		initial = false
	}
	startReady()
	var firstErr error
	for inFlight > 0 {
		d := <-done
		inFlight--
		switch {
		case d.err != nil:
			if firstErr == nil {
				firstErr = d.err
				cancel()
			}
			continue
		case !d.closed:
			state[d.id] = stopped
			continue
		}
		state[d.id] = finished
		if firstErr != nil || ctx.Err() != nil {
			continue
		}
		// A closed shard may have children the first listing did not show
		// (a reshard while reading).
		more, moreOrder, err := r.listShards(ctx)
		if err != nil {
			firstErr = err
			cancel()
			continue
		}
		for _, id := range moreOrder {
			if _, known := shards[id]; !known {
				order = append(order, id)
			}
			shards[id] = more[id]
		}
		startReady()
	}
	return firstErr
}

// childStart is where a shard whose parents were read to their end begins:
// its first record, or the requested time.
func (r *reader) childStart() startAt {
	if r.from.kind == types.ShardIteratorTypeAtTimestamp {
		return r.from
	}
	return startAt{kind: types.ShardIteratorTypeTrimHorizon}
}

// parentsFinished reports whether every parent of s that is still listed
// was read to its end. A parent past the stream's retention is not listed
// and holds nothing to wait for.
func parentsFinished(shards map[string]shardInfo, state map[string]shardState, s shardInfo) bool {
	for _, p := range s.parents {
		if _, listed := shards[p]; listed && state[p] != finished {
			return false
		}
	}
	return true
}

// listShards returns every shard of the stream still within its retention,
// by id, and the ids in the order ListShards gave them.
func (r *reader) listShards(ctx context.Context) (map[string]shardInfo, []string, error) {
	shards := make(map[string]shardInfo)
	var order []string
	in := &kinesis.ListShardsInput{StreamName: aws.String(r.stream)}
	for {
		out, err := r.api.ListShards(ctx, in)
		if err != nil {
			return nil, nil, fmt.Errorf("ListShards %s: %w", r.stream, err)
		}
		for _, s := range out.Shards {
			info, err := toShardInfo(s)
			if err != nil {
				return nil, nil, fmt.Errorf("ListShards %s: %w", r.stream, err)
			}
			if _, dup := shards[info.id]; !dup {
				order = append(order, info.id)
			}
			shards[info.id] = info
		}
		if aws.ToString(out.NextToken) == "" {
			return shards, order, nil
		}
		// The API takes either a stream name or a token, never both.
		in = &kinesis.ListShardsInput{NextToken: out.NextToken}
	}
}

func toShardInfo(s types.Shard) (shardInfo, error) {
	id := aws.ToString(s.ShardId)
	if id == "" || s.HashKeyRange == nil {
		return shardInfo{}, errors.New("a shard without an id or hash key range")
	}
	start, err := aggregation.ParseHashKey(aws.ToString(s.HashKeyRange.StartingHashKey))
	if err != nil {
		return shardInfo{}, fmt.Errorf("shard %s: starting hash key: %w", id, err)
	}
	end, err := aggregation.ParseHashKey(aws.ToString(s.HashKeyRange.EndingHashKey))
	if err != nil {
		return shardInfo{}, fmt.Errorf("shard %s: ending hash key: %w", id, err)
	}
	info := shardInfo{id: id, start: start, end: end}
	for _, p := range []*string{s.ParentShardId, s.AdjacentParentShardId} {
		if aws.ToString(p) != "" {
			info.parents = append(info.parents, *p)
		}
	}
	info.closed = s.SequenceNumberRange != nil && aws.ToString(s.SequenceNumberRange.EndingSequenceNumber) != ""
	return info, nil
}

// readShard prints the records of one shard from from. It returns
// closed=true when it read the shard to its end (GetRecords gave no next
// iterator). Without follow it stops at the tip of an open shard; with
// follow it waits for more until ctx ends, which is not an error.
func (r *reader) readShard(ctx context.Context, s shardInfo, from startAt) (closed bool, err error) {
	it, err := r.iterator(ctx, s.id, from, "")
	if err != nil {
		return false, quiet(ctx, err)
	}
	b := newBatch()
	last := "" // sequence number of the last record printed
	for {
		out, err := r.api.GetRecords(ctx, &kinesis.GetRecordsInput{ShardIterator: it})
		var expired *types.ExpiredIteratorException
		var throttled *types.ProvisionedThroughputExceededException
		switch {
		case errors.As(err, &expired):
			if it, err = r.iterator(ctx, s.id, from, last); err != nil {
				return false, quiet(ctx, err)
			}
			continue
		case errors.As(err, &throttled):
			if wait(ctx, r.idle) != nil {
				return false, nil
			}
			continue
		case err != nil:
			return false, quiet(ctx, fmt.Errorf("shard %s: GetRecords: %w", s.id, err))
		}
		if err := r.out.print(s, out.Records, b); err != nil {
			return false, err
		}
		if n := len(out.Records); n > 0 {
			last = aws.ToString(out.Records[n-1].SequenceNumber)
		}
		if out.NextShardIterator == nil {
			return true, nil
		}
		it = out.NextShardIterator
		atTip := len(out.Records) == 0 && aws.ToInt64(out.MillisBehindLatest) == 0
		pause := r.pace
		if atTip {
			// A closed shard is read until Kinesis says it ended, even
			// without follow, so that its children can start.
			if !r.follow && !s.closed {
				return false, nil
			}
			pause = max(pause, r.idle)
		}
		if wait(ctx, pause) != nil {
			return false, nil
		}
	}
}

// iterator returns a shard iterator at from, or just after the sequence
// number after when it is set (to resume once an iterator expired).
func (r *reader) iterator(ctx context.Context, shard string, from startAt, after string) (*string, error) {
	in := &kinesis.GetShardIteratorInput{StreamName: aws.String(r.stream), ShardId: aws.String(shard), ShardIteratorType: from.kind}
	switch {
	case after != "":
		in.ShardIteratorType = types.ShardIteratorTypeAfterSequenceNumber
		in.StartingSequenceNumber = aws.String(after)
	case from.kind == types.ShardIteratorTypeAtTimestamp:
		in.Timestamp = aws.Time(from.at)
	}
	out, err := r.api.GetShardIterator(ctx, in)
	if err != nil {
		return nil, fmt.Errorf("shard %s: GetShardIterator: %w", shard, err)
	}
	return out.ShardIterator, nil
}

// quiet drops the error of a call that failed because ctx ended: with
// follow, that is how kplcat is stopped.
func quiet(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		return nil
	}
	return err
}

// wait returns after d, or ctx's error if ctx ends first.
func wait(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
