package main

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"

	"github.com/kinesis-kpl/fluent-bit-kinesis-kpl/aggregation"
)

// fakeStream is an in-memory stream behind kinesisAPI. Shards, records and
// faults can change while a reader runs; calls records what was asked, in
// order, so tests can check the order shards were read in.
type fakeStream struct {
	mu     sync.Mutex
	name   string
	shards []*fakeShard
	calls  []string // "iterator shardId-…" and "records shardId-…"
	// faults, consumed in order: "expire" or "throttle" for the next
	// GetRecords call.
	faults []string
	limit  int // records per GetRecords; 0: all
	// listPage is the number of shards per ListShards page; 0: all.
	listPage int
	// onRecords runs (without the lock) after each GetRecords call.
	onRecords func(shard string, n int)
}

type fakeShard struct {
	id               string
	parent, adjacent string
	start, end       aggregation.HashKey
	closed           bool
	records          []types.Record
}

func newFakeStream(name string) *fakeStream { return &fakeStream{name: name} }

// addShard adds a shard over [start, end] with the given parents.
func (f *fakeStream) addShard(start, end aggregation.HashKey, parents ...string) string {
	f.mu.Lock()
	defer f.mu.Unlock()
	s := &fakeShard{id: fmt.Sprintf("shardId-%012d", len(f.shards)), start: start, end: end}
	if len(parents) > 0 {
		s.parent = parents[0]
	}
	if len(parents) > 1 {
		s.adjacent = parents[1]
	}
	f.shards = append(f.shards, s)
	return s.id
}

func (f *fakeStream) shard(id string) *fakeShard {
	for _, s := range f.shards {
		if s.id == id {
			return s
		}
	}
	return nil
}

func (f *fakeStream) close(id string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.shard(id).closed = true
}

// put stores a record with data in shard id, arriving at at.
func (f *fakeStream) put(id, partitionKey string, data []byte, at time.Time) {
	f.mu.Lock()
	defer f.mu.Unlock()
	s := f.shard(id)
	seq := fmt.Sprintf("%s-%06d", strings.TrimPrefix(id, "shardId-"), len(s.records))
	s.records = append(s.records, types.Record{
		Data: data, PartitionKey: aws.String(partitionKey), SequenceNumber: aws.String(seq),
		ApproximateArrivalTimestamp: aws.Time(at),
	})
}

func (f *fakeStream) log(format string, args ...any) {
	f.calls = append(f.calls, fmt.Sprintf(format, args...))
}

func (f *fakeStream) ListShards(_ context.Context, in *kinesis.ListShardsInput, _ ...func(*kinesis.Options)) (*kinesis.ListShardsOutput, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	from := 0
	switch {
	case in.NextToken != nil && in.StreamName != nil:
		return nil, errors.New("fake: NextToken and StreamName together")
	case in.NextToken != nil:
		from, _ = strconv.Atoi(*in.NextToken)
	case aws.ToString(in.StreamName) != f.name:
		return nil, &types.ResourceNotFoundException{Message: aws.String("no such stream")}
	}
	to := len(f.shards)
	if f.listPage > 0 {
		to = min(to, from+f.listPage)
	}
	out := &kinesis.ListShardsOutput{}
	for _, s := range f.shards[from:to] {
		sh := types.Shard{
			ShardId: aws.String(s.id),
			HashKeyRange: &types.HashKeyRange{
				StartingHashKey: aws.String(s.start.String()), EndingHashKey: aws.String(s.end.String()),
			},
			SequenceNumberRange: &types.SequenceNumberRange{StartingSequenceNumber: aws.String("0")},
		}
		if s.parent != "" {
			sh.ParentShardId = aws.String(s.parent)
		}
		if s.adjacent != "" {
			sh.AdjacentParentShardId = aws.String(s.adjacent)
		}
		if s.closed {
			sh.SequenceNumberRange.EndingSequenceNumber = aws.String("9")
		}
		out.Shards = append(out.Shards, sh)
	}
	if to < len(f.shards) {
		out.NextToken = aws.String(strconv.Itoa(to))
	}
	return out, nil
}

func (f *fakeStream) GetShardIterator(_ context.Context, in *kinesis.GetShardIteratorInput, _ ...func(*kinesis.Options)) (*kinesis.GetShardIteratorOutput, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	id := aws.ToString(in.ShardId)
	f.log("iterator %s %s", id, in.ShardIteratorType)
	s := f.shard(id)
	if s == nil || aws.ToString(in.StreamName) != f.name {
		return nil, &types.ResourceNotFoundException{Message: aws.String("no such shard")}
	}
	pos := 0
	switch in.ShardIteratorType {
	case types.ShardIteratorTypeTrimHorizon:
	case types.ShardIteratorTypeLatest:
		pos = len(s.records)
	case types.ShardIteratorTypeAtTimestamp:
		for pos < len(s.records) && s.records[pos].ApproximateArrivalTimestamp.Before(*in.Timestamp) {
			pos++
		}
	case types.ShardIteratorTypeAfterSequenceNumber:
		for pos < len(s.records) && aws.ToString(s.records[pos].SequenceNumber) != aws.ToString(in.StartingSequenceNumber) {
			pos++
		}
		pos++
	default:
		return nil, fmt.Errorf("fake: iterator type %s", in.ShardIteratorType)
	}
	return &kinesis.GetShardIteratorOutput{ShardIterator: aws.String(id + "/" + strconv.Itoa(pos))}, nil
}

func (f *fakeStream) GetRecords(_ context.Context, in *kinesis.GetRecordsInput, _ ...func(*kinesis.Options)) (*kinesis.GetRecordsOutput, error) {
	f.mu.Lock()
	id, p, _ := strings.Cut(aws.ToString(in.ShardIterator), "/")
	pos, _ := strconv.Atoi(p)
	f.log("records %s", id)
	if len(f.faults) > 0 {
		fault := f.faults[0]
		f.faults = f.faults[1:]
		f.mu.Unlock()
		if fault == "expire" {
			return nil, &types.ExpiredIteratorException{Message: aws.String("expired")}
		}
		return nil, &types.ProvisionedThroughputExceededException{Message: aws.String("slow down")}
	}
	s := f.shard(id)
	end := len(s.records)
	if f.limit > 0 {
		end = min(end, pos+f.limit)
	}
	out := &kinesis.GetRecordsOutput{Records: append([]types.Record(nil), s.records[pos:end]...), MillisBehindLatest: aws.Int64(0)}
	if end < len(s.records) {
		out.MillisBehindLatest = aws.Int64(1000)
	}
	if !(s.closed && pos == len(s.records)) {
		out.NextShardIterator = aws.String(id + "/" + strconv.Itoa(end))
	}
	hook := f.onRecords
	f.mu.Unlock()
	if hook != nil {
		hook(id, len(out.Records))
	}
	return out, nil
}

func (f *fakeStream) callLog() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.calls...)
}
