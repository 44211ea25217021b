package fakekinesis_test

import (
	"errors"
	"fmt"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"

	"github.com/kinesis-kpl/fluent-bit-kinesis-kpl/aggregation"
	"github.com/kinesis-kpl/fluent-bit-kinesis-kpl/test/fakekinesis"
)

// manualClock is a clock that moves only when the test says so.
type manualClock struct {
	mu  sync.Mutex
	now time.Time
}

func newManualClock() *manualClock {
	return &manualClock{now: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)}
}

func (c *manualClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *manualClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// shardEntries returns n entries of size bytes each (data plus partition
// key) whose explicit hash key puts them on shard i of shards.
func shardEntries(i, shards, n, size int) []types.PutRecordsRequestEntry {
	start, _ := expectedRange(i, shards)
	out := make([]types.PutRecordsRequestEntry, n)
	for k := range out {
		pk := fmt.Sprintf("pk-%d-%05d", i, k)
		out[k] = types.PutRecordsRequestEntry{
			PartitionKey:    aws.String(pk),
			ExplicitHashKey: aws.String(start.String()),
			Data:            make([]byte, size-len(pk)),
		}
	}
	return out
}

// step is one PutRecords call of a shard limit test, after the clock moved.
type step struct {
	advance time.Duration
	shard   int // the shard the entries go to
	n, size int // entries, and bytes each
	pass    int // how many pass: the first ones
}

func TestShardLimit(t *testing.T) {
	const mib = 1 << 20
	tests := []struct {
		name   string
		shards int
		limit  fakekinesis.ShardLimit
		steps  []step
	}{
		{"a second of records, then a tenth", 1, fakekinesis.KinesisShardLimit, []step{
			{0, 0, 500, 10, 500}, {0, 0, 500, 10, 500}, {0, 0, 10, 10, 0},
			{100 * time.Millisecond, 0, 500, 10, 100},
			{time.Millisecond, 0, 2, 10, 1},
		}},
		{"a second of bytes", 1, fakekinesis.KinesisShardLimit, []step{
			{0, 0, 9, mib / 8, 8},
			{250 * time.Millisecond, 0, 3, mib / 8, 2},
		}},
		{"the burst is one second however long the shard idled", 1, fakekinesis.KinesisShardLimit, []step{
			{0, 0, 10, 10, 10},
			{time.Hour, 0, 500, 10, 500}, {0, 0, 500, 10, 500}, {0, 0, 500, 10, 0},
		}},
		{"each shard has its own room", 2, fakekinesis.ShardLimit{RecordsPerSecond: 10}, []step{
			{0, 0, 15, 10, 10}, {0, 1, 15, 10, 10}, {0, 0, 1, 10, 0},
		}},
		{"a full bucket admits a record over a second of bytes", 1, fakekinesis.ShardLimit{BytesPerSecond: 1000}, []step{
			// The second after it pays the 500 bytes over, and half a second more
			// gives room for 600.
			{0, 0, 2, 1500, 1}, {time.Second, 0, 1, 600, 0}, {500 * time.Millisecond, 0, 1, 600, 1},
		}},
		{"no limit", 1, fakekinesis.ShardLimit{}, []step{
			{0, 0, 500, 10, 500}, {0, 0, 500, 10, 500}, {0, 0, 500, 10, 500},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clock := newManualClock()
			srv := newServer(t, fakekinesis.WithClock(clock.Now))
			newStream(t, srv, "s", tt.shards)
			srv.SetFaults(fakekinesis.Faults{ShardLimit: tt.limit})
			c := newClient(t, srv)
			ctx := testContext(t)
			passed, over := 0, 0
			for i, s := range tt.steps {
				clock.Advance(s.advance)
				out, err := putRecords(ctx, c, "s", shardEntries(s.shard, tt.shards, s.n, s.size))
				if err != nil {
					t.Fatalf("step %d: %v", i, err)
				}
				for k, r := range out.Records {
					want := ""
					if k >= s.pass {
						want = "ProvisionedThroughputExceededException"
					}
					if got := aws.ToString(r.ErrorCode); got != want {
						t.Errorf("step %d, entry %d: ErrorCode %q, want %q", i, k, got, want)
					}
					if want != "" && !strings.HasPrefix(aws.ToString(r.ErrorMessage), "Rate exceeded for shard shardId-") {
						t.Errorf("step %d, entry %d: message %q", i, k, aws.ToString(r.ErrorMessage))
					}
				}
				if int(aws.ToInt32(out.FailedRecordCount)) != s.n-s.pass {
					t.Errorf("step %d: FailedRecordCount %d, want %d", i, aws.ToInt32(out.FailedRecordCount), s.n-s.pass)
				}
				passed += s.pass
				over += s.n - s.pass
			}
			st := srv.Stats()
			if st.EntriesAccepted != passed || st.EntriesOverLimit != over || st.EntriesFailed != over || len(srv.Records("s")) != passed {
				t.Errorf("Stats = %+v; want %d accepted, %d over the limit", st, passed, over)
			}
		})
	}
}

// An aggregate takes one record of room whatever it carries, and entries
// failed by another fault take none.
func TestShardLimitCountsEntries(t *testing.T) {
	clock := newManualClock()
	srv := newServer(t, fakekinesis.WithClock(clock.Now))
	newStream(t, srv, "s", 1)
	srv.SetFaults(fakekinesis.Faults{ShardLimit: fakekinesis.ShardLimit{RecordsPerSecond: 3}, ThrottleEvery: 2})
	c := newClient(t, srv)

	var enc aggregation.Encoder
	for i := range 100 {
		enc.Add(fmt.Sprintf("user-%d", i), "", []byte("sub-record"))
	}
	aggregate := enc.AppendTo(nil)
	in := make([]types.PutRecordsRequestEntry, 6)
	for i := range in {
		in[i] = types.PutRecordsRequestEntry{PartitionKey: aws.String("outer"), Data: aggregate}
	}
	out, err := putRecords(testContext(t), c, "s", in)
	if err != nil {
		t.Fatal(err)
	}
	// Entries 2, 4 and 6 are throttled by ThrottleEvery; 1, 3 and 5 fill the
	// shard's three records of room.
	for k, r := range out.Records {
		if failed := r.ErrorCode != nil; failed != (k%2 == 1) {
			t.Errorf("entry %d: ErrorCode %q", k, aws.ToString(r.ErrorCode))
		}
	}
	urs, err := srv.UserRecords("s")
	if err != nil || len(urs) != 300 {
		t.Errorf("UserRecords: %d, %v; want 300 user records in 3 aggregates", len(urs), err)
	}
	if st := srv.Stats(); st.EntriesOverLimit != 0 || st.EntriesFailed != 3 {
		t.Errorf("Stats = %+v", st)
	}
}

func TestShardLimitPutRecord(t *testing.T) {
	clock := newManualClock()
	srv := newServer(t, fakekinesis.WithClock(clock.Now))
	newStream(t, srv, "s", 1)
	srv.SetFaults(fakekinesis.Faults{ShardLimit: fakekinesis.ShardLimit{RecordsPerSecond: 1}})
	c := newClient(t, srv)
	ctx := testContext(t)
	put := func() error {
		_, err := c.PutRecord(ctx, &kinesis.PutRecordInput{StreamName: aws.String("s"), PartitionKey: aws.String("k"), Data: []byte("d")})
		return err
	}
	var throttled *types.ProvisionedThroughputExceededException
	if err := put(); err != nil {
		t.Fatalf("first PutRecord: %v", err)
	}
	if err := put(); !errors.As(err, &throttled) || httpStatus(err) != 400 {
		t.Errorf("second PutRecord = %v, want ProvisionedThroughputExceededException, HTTP 400", err)
	}
	clock.Advance(time.Second)
	if err := put(); err != nil {
		t.Errorf("PutRecord a second later: %v", err)
	}
}

func TestOutage(t *testing.T) {
	outage := fakekinesis.Outage{Every: 5 * time.Second, For: 2 * time.Second}
	reset := outage
	reset.Reset = true
	tests := []struct {
		name   string
		outage fakekinesis.Outage
		at     []time.Duration // since SetFaults
		down   []bool
	}{
		{"503 for the last 2 s of every 5 s", outage,
			[]time.Duration{0, 2999 * time.Millisecond, 3 * time.Second, 4999 * time.Millisecond, 5 * time.Second, 8 * time.Second, 10 * time.Second},
			[]bool{false, false, true, true, false, true, false}},
		{"resets on the same schedule", reset,
			[]time.Duration{time.Second, 4 * time.Second, 6 * time.Second, 9 * time.Second},
			[]bool{false, true, false, true}},
		{"down all the time", fakekinesis.Outage{Every: time.Second, For: time.Second},
			[]time.Duration{0, 500 * time.Millisecond, time.Minute}, []bool{true, true, true}},
		{"never down without a period", fakekinesis.Outage{For: time.Second},
			[]time.Duration{0, time.Minute}, []bool{false, false}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clock := newManualClock()
			srv := newServer(t, fakekinesis.WithClock(clock.Now))
			newStream(t, srv, "s", 1)
			srv.SetFaults(fakekinesis.Faults{Outage: tt.outage})
			c := newClient(t, srv)
			ctx := testContext(t)
			var elapsed time.Duration
			stored, downs := 0, 0
			for i, at := range tt.at {
				clock.Advance(at - elapsed)
				elapsed = at
				_, putErr := putRecords(ctx, c, "s", entries(2))
				_, listErr := c.ListShards(ctx, &kinesis.ListShardsInput{StreamName: aws.String("s")})
				for op, err := range map[string]error{"PutRecords": putErr, "ListShards": listErr} {
					switch {
					case !tt.down[i] && err != nil:
						t.Errorf("%s at %s: %v, want success", op, at, err)
					case tt.down[i] && tt.outage.Reset && !errors.Is(err, syscall.ECONNRESET):
						t.Errorf("%s at %s: %v, want a connection reset", op, at, err)
					case tt.down[i] && !tt.outage.Reset && (errorCode(err) != "ServiceUnavailable" || httpStatus(err) != 503):
						t.Errorf("%s at %s: %v, want ServiceUnavailable, HTTP 503", op, at, err)
					}
				}
				if tt.down[i] {
					downs += 2
				} else {
					stored += 2
				}
			}
			st := srv.Stats()
			if st.RequestsInOutage != downs || st.EntriesAccepted != stored || len(srv.Records("s")) != stored ||
				st.RequestsFailed != 0 || st.RequestsDropped != 0 {
				t.Errorf("Stats = %+v; want %d requests in outage, %d stored", st, downs, stored)
			}
		})
	}
}

// SetFaults starts the outage period again.
func TestOutageCountsFromSetFaults(t *testing.T) {
	clock := newManualClock()
	srv := newServer(t, fakekinesis.WithClock(clock.Now))
	newStream(t, srv, "s", 1)
	c := newClient(t, srv)
	ctx := testContext(t)
	clock.Advance(4 * time.Second) // would be down if the period began at New
	srv.SetFaults(fakekinesis.Faults{Outage: fakekinesis.Outage{Every: 5 * time.Second, For: 2 * time.Second}})
	if _, err := putRecords(ctx, c, "s", entries(1)); err != nil {
		t.Errorf("PutRecords right after SetFaults: %v", err)
	}
	clock.Advance(3 * time.Second)
	if _, err := putRecords(ctx, c, "s", entries(1)); httpStatus(err) != 503 {
		t.Errorf("PutRecords 3 s after SetFaults: %v, want HTTP 503", err)
	}
}

func TestPutRecordsOnlyPolicy(t *testing.T) {
	srv := newServer(t)
	newStream(t, srv, "s", 2)
	srv.SetFaults(fakekinesis.Faults{ListShardsDenied: true, DescribeStreamSummaryDenied: true})
	c := newClient(t, srv)
	ctx := testContext(t)
	for _, stream := range []string{"s", "missing"} {
		_, listErr := c.ListShards(ctx, &kinesis.ListShardsInput{StreamName: aws.String(stream)})
		_, descErr := c.DescribeStreamSummary(ctx, &kinesis.DescribeStreamSummaryInput{StreamName: aws.String(stream)})
		for op, err := range map[string]error{"ListShards": listErr, "DescribeStreamSummary": descErr} {
			var denied *types.AccessDeniedException
			if !errors.As(err, &denied) || httpStatus(err) != 400 ||
				!strings.Contains(err.Error(), "kinesis:"+op+" on resource: arn:aws:kinesis:us-east-1:000000000000:stream/"+stream) {
				t.Errorf("%s(%s) = %v, want AccessDeniedException naming the action and stream", op, stream, err)
			}
		}
	}
	if _, err := putRecords(ctx, c, "s", entries(3)); err != nil {
		t.Errorf("PutRecords: %v", err)
	}
	if _, err := c.PutRecord(ctx, &kinesis.PutRecordInput{StreamName: aws.String("s"), PartitionKey: aws.String("k"), Data: []byte("d")}); err != nil {
		t.Errorf("PutRecord: %v", err)
	}
	if st := srv.Stats(); st.RequestsFailed != 4 || st.EntriesAccepted != 4 {
		t.Errorf("Stats = %+v", st)
	}

	// Each denial on its own.
	srv.SetFaults(fakekinesis.Faults{DescribeStreamSummaryDenied: true})
	if _, err := c.ListShards(ctx, &kinesis.ListShardsInput{StreamName: aws.String("s")}); err != nil {
		t.Errorf("ListShards with only DescribeStreamSummary denied: %v", err)
	}
	srv.SetFaults(fakekinesis.Faults{ListShardsDenied: true})
	if _, err := c.DescribeStreamSummary(ctx, &kinesis.DescribeStreamSummaryInput{StreamName: aws.String("s")}); err != nil {
		t.Errorf("DescribeStreamSummary with only ListShards denied: %v", err)
	}
}

func TestReshardAfter(t *testing.T) {
	tests := []struct {
		name         string
		shards, to   int
		after        int
		wantShards   int
		firstNewHere int // the index of the first entry stored on a new shard
	}{
		{"split 2 into 4", 2, 4, 5, 4, 5},
		{"split every shard in two by default", 3, 0, 1, 6, 1},
		{"merge 4 into 1", 4, 1, 7, 1, 7},
		{"not reached", 2, 4, 9, 2, 8},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := newServer(t)
			newStream(t, srv, "s", tt.shards)
			srv.SetFaults(fakekinesis.Faults{ReshardAfter: tt.after, ReshardTo: tt.to})
			c := newClient(t, srv)
			ctx := testContext(t)
			out, err := putRecords(ctx, c, "s", entries(8))
			if err != nil {
				t.Fatal(err)
			}
			oldID := fmt.Sprintf("shardId-%012d", tt.shards) // the first id a reshard hands out
			for i, r := range out.Records {
				if isNew := aws.ToString(r.ShardId) >= oldID; isNew != (i >= tt.firstNewHere) {
					t.Errorf("entry %d stored on %s", i, aws.ToString(r.ShardId))
				}
			}
			list, err := c.ListShards(ctx, &kinesis.ListShardsInput{StreamName: aws.String("s")})
			if err != nil || len(list.Shards) != tt.wantShards {
				t.Fatalf("ListShards: %v, %d shards, want %d", err, len(list.Shards), tt.wantShards)
			}
			fired := tt.after <= 8
			if left := srv.Faults().ReshardAfter; (left == 0) != fired {
				t.Errorf("ReshardAfter left %d", left)
			}
			if st := srv.Stats(); st.Reshards != map[bool]int{true: 1, false: 0}[fired] {
				t.Errorf("Stats.Reshards = %d", st.Reshards)
			}
			// It fires once.
			if _, err := putRecords(ctx, c, "s", entries(8)); err != nil {
				t.Fatal(err)
			}
			if st := srv.Stats(); fired && st.Reshards != 1 {
				t.Errorf("Stats.Reshards = %d after more records", st.Reshards)
			}
		})
	}
}

func TestWithClockNil(t *testing.T) {
	if _, err := fakekinesis.New(fakekinesis.WithClock(nil)); !errors.Is(err, fakekinesis.ErrInvalidOption) {
		t.Errorf("New(WithClock(nil)) = %v, want ErrInvalidOption", err)
	}
}
