package fakekinesis_test

import (
	"errors"
	"fmt"
	"slices"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"

	"github.com/kinesis-kpl/fluent-bit-kinesis-kpl/aggregation"
	"github.com/kinesis-kpl/fluent-bit-kinesis-kpl/test/fakekinesis"
)

// keysInShard returns n partition keys whose MD5 falls in shard i of
// shards, and one that does not.
func keysInShard(t *testing.T, i, shards, n int) (in []string, out string) {
	t.Helper()
	for k := 0; len(in) < n || out == ""; k++ {
		pk := fmt.Sprintf("key-%d", k)
		if shardOf(md5Key(pk), shards) == i {
			if len(in) < n {
				in = append(in, pk)
			}
		} else if out == "" {
			out = pk
		}
	}
	return in, out
}

func TestUserRecords(t *testing.T) {
	const shards = 4
	srv := newServer(t)
	newStream(t, srv, "s", shards)
	c := newClient(t, srv)
	ctx := testContext(t)

	inShard, outside := keysInShard(t, 1, shards, 3)
	start, end := expectedRange(1, shards)
	lo, err1 := aggregation.ParseHashKey(start.String())
	hi, err2 := aggregation.ParseHashKey(end.String())
	if err1 != nil || err2 != nil {
		t.Fatal(err1, err2)
	}
	mid := aggregation.Midpoint(lo, hi)

	var enc aggregation.Encoder
	for i, pk := range inShard {
		enc.Add(pk, "", []byte(fmt.Sprintf("user-%d", i)))
	}
	enc.Add(outside, "", []byte("stray"))
	enc.Add("any key", start.String(), []byte("by explicit hash key"))
	aggregate := enc.AppendTo(nil)

	out, err := putRecords(ctx, c, "s", []types.PutRecordsRequestEntry{
		{PartitionKey: aws.String("outer"), ExplicitHashKey: aws.String(mid.String()), Data: aggregate},
		{PartitionKey: aws.String("plain"), Data: []byte("plain record")},
	})
	if err != nil || aws.ToInt32(out.FailedRecordCount) != 0 {
		t.Fatalf("PutRecords: %v", err)
	}
	if got := aws.ToString(out.Records[0].ShardId); got != "shardId-000000000001" {
		t.Fatalf("aggregate stored in %s, want shardId-000000000001", got)
	}

	users, err := srv.UserRecords("s")
	if err != nil {
		t.Fatalf("UserRecords: %v", err)
	}
	type summary struct {
		pk, ehk, data     string
		index             int
		aggregated, where bool
	}
	var got []summary
	for _, u := range users {
		got = append(got, summary{u.PartitionKey, u.ExplicitHashKey, string(u.Data), u.SubIndex, u.Aggregated, u.InShard})
	}
	want := []summary{
		{inShard[0], "", "user-0", 0, true, true},
		{inShard[1], "", "user-1", 1, true, true},
		{inShard[2], "", "user-2", 2, true, true},
		{outside, "", "stray", 3, true, false},
		{"any key", start.String(), "by explicit hash key", 4, true, true},
		{"plain", "", "plain record", 0, false, true},
	}
	if !slices.Equal(got, want) {
		t.Errorf("UserRecords =\n%v\nwant\n%v", got, want)
	}
	if n, err := srv.UserRecordCount("s"); n != len(want) || err != nil {
		t.Errorf("UserRecordCount = %d, %v; want %d", n, err, len(want))
	}
	stored := srv.Records("s")
	for i, u := range users {
		r := stored[min(i/5, 1)]
		if u.ShardID != r.ShardID || u.SequenceNumber != r.SequenceNumber {
			t.Errorf("user record %d carried by %s/%s, want %s/%s", i, u.ShardID, u.SequenceNumber, r.ShardID, r.SequenceNumber)
		}
	}

	// A corrupt aggregate is reported, not passed through.
	aggregate[len(aggregate)-1] ^= 0xff
	if _, err := putRecords(ctx, c, "s", []types.PutRecordsRequestEntry{{PartitionKey: aws.String("bad"), Data: aggregate}}); err != nil {
		t.Fatal(err)
	}
	_, err = srv.UserRecords("s")
	if !errors.Is(err, aggregation.ErrChecksum) || !errors.Is(err, aggregation.ErrMalformed) {
		t.Errorf("UserRecords with a corrupt aggregate = %v, want ErrChecksum", err)
	}
	if _, err := srv.UserRecordCount("s"); !errors.Is(err, aggregation.ErrChecksum) {
		t.Errorf("UserRecordCount with a corrupt aggregate = %v, want ErrChecksum", err)
	}
}

// UserRecordCount follows what is stored between calls, counting each
// record once.
func TestUserRecordCount(t *testing.T) {
	srv := newServer(t)
	newStream(t, srv, "s", 2)
	c := newClient(t, srv)
	ctx := testContext(t)
	var enc aggregation.Encoder
	for i := range 7 {
		enc.Add(fmt.Sprintf("k%d", i), "", []byte("sub"))
	}
	aggregate := enc.AppendTo(nil)
	for i, want := range []int{3, 10, 13, 20} {
		in := entries(3)
		if i%2 == 1 {
			in = []types.PutRecordsRequestEntry{{PartitionKey: aws.String("agg"), Data: aggregate}}
		}
		if _, err := putRecords(ctx, c, "s", in); err != nil {
			t.Fatal(err)
		}
		n, err := srv.UserRecordCount("s")
		users, _ := srv.UserRecords("s")
		if n != want || err != nil || len(users) != want {
			t.Errorf("after put %d: UserRecordCount = %d, %v; UserRecords %d; want %d", i, n, err, len(users), want)
		}
	}
	if _, err := srv.UserRecordCount("missing"); !errors.Is(err, fakekinesis.ErrStreamNotFound) {
		t.Errorf("UserRecordCount(missing) = %v", err)
	}
}

func TestRecordsAreCopies(t *testing.T) {
	srv := newServer(t)
	newStream(t, srv, "s", 1)
	if _, err := putRecords(testContext(t), newClient(t, srv), "s", entries(1)); err != nil {
		t.Fatal(err)
	}
	srv.Records("s")[0].Data[0] = 'X'
	u, _ := srv.UserRecords("s")
	u[0].Data[0] = 'Y'
	if got := string(srv.Records("s")[0].Data); got != "data-0" {
		t.Errorf("stored data changed through a returned slice: %q", got)
	}
}

func TestReshard(t *testing.T) {
	srv := newServer(t)
	newStream(t, srv, "s", 2)
	c := newClient(t, srv)
	ctx := testContext(t)
	if _, err := putRecords(ctx, c, "s", entries(50)); err != nil {
		t.Fatal(err)
	}
	if err := srv.Reshard("s", 3); err != nil {
		t.Fatalf("Reshard: %v", err)
	}

	ls, err := c.ListShards(ctx, &kinesis.ListShardsInput{StreamName: aws.String("s")})
	if err != nil {
		t.Fatal(err)
	}
	if got := idsOf(ls.Shards); !slices.Equal(got, shardIDs(2, 5)) {
		t.Fatalf("shards after reshard: %v, want %v", got, shardIDs(2, 5))
	}
	for i, s := range ls.Shards {
		start, end := expectedRange(i, 3)
		if mustBig(t, s.HashKeyRange.StartingHashKey).Cmp(start) != 0 || mustBig(t, s.HashKeyRange.EndingHashKey).Cmp(end) != 0 {
			t.Errorf("new shard %d range [%s, %s]", i, *s.HashKeyRange.StartingHashKey, *s.HashKeyRange.EndingHashKey)
		}
	}
	sum, err := c.DescribeStreamSummary(ctx, &kinesis.DescribeStreamSummaryInput{StreamName: aws.String("s")})
	if err != nil || aws.ToInt32(sum.StreamDescriptionSummary.OpenShardCount) != 3 {
		t.Errorf("DescribeStreamSummary after reshard: %v, %+v", err, sum)
	}

	out, err := putRecords(ctx, c, "s", entries(50))
	if err != nil {
		t.Fatal(err)
	}
	for i, r := range out.Records {
		want := fmt.Sprintf("shardId-%012d", 2+shardOf(md5Key(fmt.Sprintf("pk-%d", i)), 3))
		if aws.ToString(r.ShardId) != want {
			t.Errorf("entry %d after reshard in %s, want %s", i, aws.ToString(r.ShardId), want)
		}
	}

	users, err := srv.UserRecords("s")
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for i, u := range users {
		seen[u.ShardID] = true
		if !u.InShard {
			t.Errorf("user record %d in %s judged outside its shard", i, u.ShardID)
		}
	}
	if len(users) != 100 || len(seen) != 5 {
		t.Errorf("%d user records over shards %v; want 100 over 5 shards", len(users), seen)
	}
}

// TakeUserRecords hands each stored record over once, and leaves what
// arrives later for the next call.
func TestTakeUserRecords(t *testing.T) {
	srv := newServer(t)
	newStream(t, srv, "s", 2)
	c := newClient(t, srv)
	ctx := testContext(t)
	var enc aggregation.Encoder
	for i := range 4 {
		enc.Add(fmt.Sprintf("k%d", i), "", []byte("sub"))
	}
	aggregate := enc.AppendTo(nil)
	put := func(in []types.PutRecordsRequestEntry) {
		t.Helper()
		if _, err := putRecords(ctx, c, "s", in); err != nil {
			t.Fatal(err)
		}
	}
	put(append(entries(3), types.PutRecordsRequestEntry{PartitionKey: aws.String("agg"), Data: aggregate}))
	if n, _ := srv.UserRecordCount("s"); n != 7 {
		t.Fatalf("UserRecordCount = %d, want 7", n)
	}
	got, err := srv.TakeUserRecords("s")
	if err != nil || len(got) != 7 {
		t.Fatalf("first take: %d user records, %v; want 7", len(got), err)
	}
	if n, _ := srv.UserRecordCount("s"); n != 0 || len(srv.Records("s")) != 0 {
		t.Errorf("after the take: UserRecordCount %d, %d records; want none", n, len(srv.Records("s")))
	}
	put(entries(2))
	got, err = srv.TakeUserRecords("s")
	if err != nil || len(got) != 2 || string(got[1].Data) != "data-1" {
		t.Errorf("second take: %d user records, %v; want the 2 new ones", len(got), err)
	}
	if got, err := srv.TakeUserRecords("s"); err != nil || len(got) != 0 {
		t.Errorf("third take: %d user records, %v; want none", len(got), err)
	}
	if st := srv.Stats(); st.EntriesAccepted != 6 {
		t.Errorf("Stats count what was accepted, taken or not: %+v", st)
	}

	// A corrupt record fails the take and stays.
	aggregate[len(aggregate)-1] ^= 0xff
	put([]types.PutRecordsRequestEntry{{PartitionKey: aws.String("bad"), Data: aggregate}})
	if _, err := srv.TakeUserRecords("s"); !errors.Is(err, aggregation.ErrChecksum) || len(srv.Records("s")) != 1 {
		t.Errorf("take of a corrupt aggregate: %v, %d records left; want ErrChecksum and the record kept", err, len(srv.Records("s")))
	}
	if _, err := srv.TakeUserRecords("missing"); !errors.Is(err, fakekinesis.ErrStreamNotFound) {
		t.Errorf("TakeUserRecords(missing) = %v", err)
	}
}
