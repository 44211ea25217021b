package fakekinesis_test

import (
	"bytes"
	"crypto/md5"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"

	"github.com/kinesis-kpl/fluent-bit-kinesis-kpl/test/fakekinesis"
)

func TestNewRejectsBadOptions(t *testing.T) {
	for _, opt := range []fakekinesis.Option{
		fakekinesis.WithMaxRequestBytes(0),
		fakekinesis.WithMaxRecordBytes(-1),
	} {
		if srv, err := fakekinesis.New(opt); !errors.Is(err, fakekinesis.ErrInvalidOption) {
			if srv != nil {
				srv.Close()
			}
			t.Errorf("New = %v, want ErrInvalidOption", err)
		}
	}
}

func TestCreateStreamErrors(t *testing.T) {
	srv := newServer(t)
	newStream(t, srv, "taken", 1)
	tests := []struct {
		name   string
		shards int
		want   error
	}{
		{"taken", 1, fakekinesis.ErrStreamExists},
		{"", 1, fakekinesis.ErrInvalidStreamName},
		{"has space", 1, fakekinesis.ErrInvalidStreamName},
		{strings.Repeat("a", 129), 1, fakekinesis.ErrInvalidStreamName},
		{"zero", 0, fakekinesis.ErrInvalidShardCount},
		{"many", fakekinesis.MaxShards + 1, fakekinesis.ErrInvalidShardCount},
	}
	for _, tt := range tests {
		if err := srv.CreateStream(tt.name, tt.shards); !errors.Is(err, tt.want) {
			t.Errorf("CreateStream(%.20q, %d) = %v, want %v", tt.name, tt.shards, err, tt.want)
		}
	}
	if err := srv.Reshard("missing", 2); !errors.Is(err, fakekinesis.ErrStreamNotFound) {
		t.Errorf("Reshard(missing) = %v, want ErrStreamNotFound", err)
	}
	if err := srv.Reshard("taken", 0); !errors.Is(err, fakekinesis.ErrInvalidShardCount) {
		t.Errorf("Reshard(taken, 0) = %v, want ErrInvalidShardCount", err)
	}
	if got := srv.Records("missing"); got != nil {
		t.Errorf("Records(missing) = %v, want nil", got)
	}
	if _, err := srv.UserRecords("missing"); !errors.Is(err, fakekinesis.ErrStreamNotFound) {
		t.Errorf("UserRecords(missing) = %v, want ErrStreamNotFound", err)
	}
}

func TestCreateAndDescribeOverTheWire(t *testing.T) {
	srv := newServer(t)
	c := newClient(t, srv)
	ctx := testContext(t)

	if _, err := c.CreateStream(ctx, &kinesis.CreateStreamInput{StreamName: aws.String("wire"), ShardCount: aws.Int32(3)}); err != nil {
		t.Fatalf("CreateStream: %v", err)
	}
	_, err := c.CreateStream(ctx, &kinesis.CreateStreamInput{StreamName: aws.String("wire"), ShardCount: aws.Int32(3)})
	var inUse *types.ResourceInUseException
	if !errors.As(err, &inUse) {
		t.Fatalf("second CreateStream = %v, want ResourceInUseException", err)
	}
	if _, err := c.CreateStream(ctx, &kinesis.CreateStreamInput{
		StreamName: aws.String("big"), ShardCount: aws.Int32(1), MaxRecordSizeInKiB: aws.Int32(2048),
	}); err != nil {
		t.Fatalf("CreateStream(big): %v", err)
	}
	_, err = c.CreateStream(ctx, &kinesis.CreateStreamInput{StreamName: aws.String("none")})
	if got := errorCode(err); got != "InvalidArgumentException" {
		t.Errorf("CreateStream without ShardCount: code %q (%v), want InvalidArgumentException", got, err)
	}
	if _, err := c.CreateStream(ctx, &kinesis.CreateStreamInput{
		StreamName: aws.String("od"), StreamModeDetails: &types.StreamModeDetails{StreamMode: types.StreamModeOnDemand},
	}); err != nil {
		t.Fatalf("CreateStream(on demand): %v", err)
	}

	tests := []struct {
		in        kinesis.DescribeStreamSummaryInput
		name      string
		shards    int32
		recordKiB int32
	}{
		{kinesis.DescribeStreamSummaryInput{StreamName: aws.String("wire")}, "wire", 3, 1024},
		{kinesis.DescribeStreamSummaryInput{StreamARN: aws.String("arn:aws:kinesis:us-east-1:000000000000:stream/wire")}, "wire", 3, 1024},
		{kinesis.DescribeStreamSummaryInput{StreamName: aws.String("big")}, "big", 1, 2048},
		{kinesis.DescribeStreamSummaryInput{StreamName: aws.String("od")}, "od", 4, 1024},
	}
	for _, tt := range tests {
		out, err := c.DescribeStreamSummary(ctx, &tt.in)
		if err != nil {
			t.Fatalf("DescribeStreamSummary(%s): %v", tt.name, err)
		}
		d := out.StreamDescriptionSummary
		if aws.ToString(d.StreamName) != tt.name || d.StreamStatus != types.StreamStatusActive ||
			aws.ToInt32(d.OpenShardCount) != tt.shards || aws.ToInt32(d.MaxRecordSizeInKiB) != tt.recordKiB ||
			d.StreamCreationTimestamp == nil || d.StreamCreationTimestamp.IsZero() ||
			aws.ToString(d.StreamARN) != "arn:aws:kinesis:us-east-1:000000000000:stream/"+tt.name {
			t.Errorf("DescribeStreamSummary(%s) = %+v", tt.name, d)
		}
	}

	_, err = c.DescribeStreamSummary(ctx, &kinesis.DescribeStreamSummaryInput{StreamName: aws.String("missing")})
	var notFound *types.ResourceNotFoundException
	if !errors.As(err, &notFound) {
		t.Errorf("DescribeStreamSummary(missing) = %v, want ResourceNotFoundException", err)
	}

	// A 2 MiB stream takes a record over 1 MiB.
	big := []types.PutRecordsRequestEntry{{PartitionKey: aws.String("k"), Data: make([]byte, 1536<<10)}}
	if _, err := putRecords(ctx, c, "big", big); err != nil {
		t.Errorf("1.5 MiB record into a 2 MiB stream: %v", err)
	}
	if _, err := putRecords(ctx, c, "wire", big); errorCode(err) != "ValidationException" {
		t.Errorf("1.5 MiB record into a 1 MiB stream: %v, want ValidationException", err)
	}
}

// listAll pages through ListShards with the given page size.
func listAll(t *testing.T, c *kinesis.Client, stream string, page int32) (ids []string, pages []int) {
	t.Helper()
	ctx := testContext(t)
	in := &kinesis.ListShardsInput{StreamName: aws.String(stream), MaxResults: aws.Int32(page)}
	for {
		out, err := c.ListShards(ctx, in)
		if err != nil {
			t.Fatalf("ListShards: %v", err)
		}
		pages = append(pages, len(out.Shards))
		for _, s := range out.Shards {
			ids = append(ids, aws.ToString(s.ShardId))
		}
		if out.NextToken == nil {
			return ids, pages
		}
		in = &kinesis.ListShardsInput{NextToken: out.NextToken, MaxResults: aws.Int32(page)}
	}
}

func shardIDs(from, to int) []string {
	var out []string
	for i := from; i < to; i++ {
		out = append(out, fmt.Sprintf("shardId-%012d", i))
	}
	return out
}

func TestShardRangesSplitTheKeySpaceEvenly(t *testing.T) {
	for _, n := range []int{1, 2, 3, 4, 7, 16, 1000} {
		t.Run(strconv.Itoa(n), func(t *testing.T) {
			srv := newServer(t)
			newStream(t, srv, "s", n)
			out, err := newClient(t, srv).ListShards(testContext(t), &kinesis.ListShardsInput{StreamName: aws.String("s")})
			if err != nil {
				t.Fatalf("ListShards: %v", err)
			}
			if len(out.Shards) != n || out.NextToken != nil {
				t.Fatalf("got %d shards, NextToken %v; want %d and none", len(out.Shards), out.NextToken, n)
			}
			for i, s := range out.Shards {
				start, end := expectedRange(i, n)
				if got := aws.ToString(s.ShardId); got != fmt.Sprintf("shardId-%012d", i) {
					t.Errorf("shard %d id %q", i, got)
				}
				if mustBig(t, s.HashKeyRange.StartingHashKey).Cmp(start) != 0 || mustBig(t, s.HashKeyRange.EndingHashKey).Cmp(end) != 0 {
					t.Errorf("shard %d range [%s, %s], want [%s, %s]", i,
						*s.HashKeyRange.StartingHashKey, *s.HashKeyRange.EndingHashKey, start, end)
				}
				if s.SequenceNumberRange == nil || s.SequenceNumberRange.StartingSequenceNumber == nil {
					t.Errorf("shard %d has no starting sequence number", i)
				}
			}
		})
	}
	// Kinesis' own split of 3 shards, as its console shows it.
	start, end := expectedRange(0, 3)
	if start.Sign() != 0 || end.String() != "113427455640312821154458202477256070484" {
		t.Errorf("reference range of shard 0 of 3 is [%s, %s]", start, end)
	}
}

func TestListShardsPaging(t *testing.T) {
	srv := newServer(t)
	newStream(t, srv, "s", 7)
	c := newClient(t, srv)
	all := shardIDs(0, 7)
	for _, tt := range []struct {
		page  int32
		pages []int
	}{
		{1, []int{1, 1, 1, 1, 1, 1, 1}},
		{2, []int{2, 2, 2, 1}},
		{3, []int{3, 3, 1}},
		{7, []int{7}},
		{10000, []int{7}},
	} {
		ids, pages := listAll(t, c, "s", tt.page)
		if !slices.Equal(ids, all) || !slices.Equal(pages, tt.pages) {
			t.Errorf("page size %d: ids %v in pages %v, want %v in %v", tt.page, ids, pages, all, tt.pages)
		}
	}

	ctx := testContext(t)
	out, err := c.ListShards(ctx, &kinesis.ListShardsInput{StreamName: aws.String("s"), ExclusiveStartShardId: aws.String(all[3]), MaxResults: aws.Int32(2)})
	if err != nil {
		t.Fatalf("ListShards(ExclusiveStartShardId): %v", err)
	}
	if got := idsOf(out.Shards); !slices.Equal(got, all[4:6]) || out.NextToken == nil {
		t.Errorf("after %s: %v (NextToken %v), want %v and a token", all[3], got, out.NextToken, all[4:6])
	}
	out, err = c.ListShards(ctx, &kinesis.ListShardsInput{NextToken: out.NextToken})
	if err != nil {
		t.Fatalf("ListShards(NextToken): %v", err)
	}
	if got := idsOf(out.Shards); !slices.Equal(got, all[6:]) || out.NextToken != nil {
		t.Errorf("last page: %v (NextToken %v), want %v", got, out.NextToken, all[6:])
	}
	out, err = c.ListShards(ctx, &kinesis.ListShardsInput{StreamName: aws.String("s"),
		ShardFilter: &types.ShardFilter{Type: types.ShardFilterTypeAfterShardId, ShardId: aws.String(all[5])}})
	if err != nil {
		t.Fatalf("ListShards(AFTER_SHARD_ID): %v", err)
	}
	if got := idsOf(out.Shards); !slices.Equal(got, all[6:]) {
		t.Errorf("AFTER_SHARD_ID %s: %v", all[5], got)
	}

	token := aws.String("bm90IGEgdG9rZW4")
	for _, tt := range []struct {
		name string
		in   kinesis.ListShardsInput
		code string
	}{
		{"token and name", kinesis.ListShardsInput{StreamName: aws.String("s"), NextToken: token}, "InvalidArgumentException"},
		{"bad token", kinesis.ListShardsInput{NextToken: token}, "InvalidArgumentException"},
		{"no stream", kinesis.ListShardsInput{}, "InvalidArgumentException"},
		{"page 0", kinesis.ListShardsInput{StreamName: aws.String("s"), MaxResults: aws.Int32(0)}, "ValidationException"},
		{"page 10001", kinesis.ListShardsInput{StreamName: aws.String("s"), MaxResults: aws.Int32(10001)}, "ValidationException"},
		{"unknown stream", kinesis.ListShardsInput{StreamName: aws.String("missing")}, "ResourceNotFoundException"},
	} {
		_, err := c.ListShards(ctx, &tt.in)
		if got := errorCode(err); got != tt.code {
			t.Errorf("%s: code %q (%v), want %s", tt.name, got, err, tt.code)
		}
	}
}

func idsOf(shards []types.Shard) []string {
	var out []string
	for _, s := range shards {
		out = append(out, aws.ToString(s.ShardId))
	}
	return out
}

// shardOf returns the index of the shard of n that holds hash key h.
func shardOf(h *big.Int, n int) int {
	for i := range n {
		if _, end := expectedRange(i, n); h.Cmp(end) <= 0 {
			return i
		}
	}
	return -1
}

func md5Key(pk string) *big.Int {
	sum := md5.Sum([]byte(pk))
	return new(big.Int).SetBytes(sum[:])
}

func TestPutRecordsRoutesByHashKey(t *testing.T) {
	const shards = 5
	srv := newServer(t)
	newStream(t, srv, "s", shards)
	c := newClient(t, srv)
	ctx := testContext(t)

	// Partition keys of all kinds, and explicit hash keys on every shard
	// boundary and at both ends of the key space.
	in := entries(300)
	in[7].PartitionKey = aws.String(strings.Repeat("é", 256))
	in[8].PartitionKey = aws.String("日本語のキー")
	max := new(big.Int).Sub(new(big.Int).Lsh(big.NewInt(1), 128), big.NewInt(1))
	var ehks []*big.Int
	for i := range shards {
		start, end := expectedRange(i, shards)
		ehks = append(ehks, start, end)
	}
	ehks = append(ehks, max, big.NewInt(1))
	for i, h := range ehks {
		in[100+i].ExplicitHashKey = aws.String(h.String())
	}

	want := make([]string, len(in))
	for i, e := range in {
		h := md5Key(*e.PartitionKey)
		if e.ExplicitHashKey != nil {
			h, _ = new(big.Int).SetString(*e.ExplicitHashKey, 10)
		}
		want[i] = fmt.Sprintf("shardId-%012d", shardOf(h, shards))
	}

	out, err := putRecords(ctx, c, "s", in)
	if err != nil {
		t.Fatalf("PutRecords: %v", err)
	}
	if aws.ToInt32(out.FailedRecordCount) != 0 || len(out.Records) != len(in) {
		t.Fatalf("FailedRecordCount %d, %d results; want 0 and %d", aws.ToInt32(out.FailedRecordCount), len(out.Records), len(in))
	}
	stored := srv.Records("s")
	if len(stored) != len(in) {
		t.Fatalf("stored %d records, want %d", len(stored), len(in))
	}
	used := map[string]bool{}
	prev := big.NewInt(-1)
	for i, r := range out.Records {
		if got := aws.ToString(r.ShardId); got != want[i] {
			t.Errorf("entry %d routed to %s, want %s", i, got, want[i])
		}
		used[want[i]] = true
		s := stored[i]
		if s.ShardID != want[i] || s.SequenceNumber != aws.ToString(r.SequenceNumber) ||
			s.PartitionKey != *in[i].PartitionKey || s.ExplicitHashKey != aws.ToString(in[i].ExplicitHashKey) ||
			string(s.Data) != string(in[i].Data) {
			t.Errorf("stored record %d = %+v, want entry %d as answered", i, s, i)
		}
		seq := mustBig(t, r.SequenceNumber)
		if seq.Cmp(prev) <= 0 || (i > 0 && s.SequenceNumber <= stored[i-1].SequenceNumber) {
			t.Errorf("sequence number %d (%s) does not increase", i, s.SequenceNumber)
		}
		prev = seq
	}
	if len(used) != shards {
		t.Errorf("records reached %d of %d shards", len(used), shards)
	}

	// PutRecord routes the same way.
	one, err := c.PutRecord(ctx, &kinesis.PutRecordInput{StreamName: aws.String("s"), PartitionKey: in[0].PartitionKey, Data: []byte("one")})
	if err != nil {
		t.Fatalf("PutRecord: %v", err)
	}
	if aws.ToString(one.ShardId) != want[0] || aws.ToString(one.SequenceNumber) <= stored[len(stored)-1].SequenceNumber {
		t.Errorf("PutRecord = shard %s seq %s", aws.ToString(one.ShardId), aws.ToString(one.SequenceNumber))
	}

	st := srv.Stats()
	if st.Requests != 2 || st.Operations["PutRecords"] != 1 || st.Operations["PutRecord"] != 1 ||
		st.EntriesSeen != 301 || st.EntriesAccepted != 301 || st.EntriesFailed != 0 || st.RequestsRejected != 0 {
		t.Errorf("Stats = %+v", st)
	}
}

func TestPutRecordsValidation(t *testing.T) {
	pow128 := new(big.Int).Lsh(big.NewInt(1), 128)
	max := new(big.Int).Sub(pow128, big.NewInt(1))
	tests := []struct {
		name   string
		opts   []fakekinesis.Option
		stream string
		edit   func([]types.PutRecordsRequestEntry) []types.PutRecordsRequestEntry
		code   string // "" for success
	}{
		{name: "valid", code: ""},
		{name: "500 entries", edit: func(e []types.PutRecordsRequestEntry) []types.PutRecordsRequestEntry { return entries(500) }},
		{name: "501 entries", code: "ValidationException",
			edit: func(e []types.PutRecordsRequestEntry) []types.PutRecordsRequestEntry { return entries(501) }},
		{name: "empty partition key", code: "ValidationException",
			edit: func(e []types.PutRecordsRequestEntry) []types.PutRecordsRequestEntry {
				e[1].PartitionKey = aws.String("")
				return e
			}},
		{name: "257 character partition key", code: "ValidationException",
			edit: func(e []types.PutRecordsRequestEntry) []types.PutRecordsRequestEntry {
				e[1].PartitionKey = aws.String(strings.Repeat("a", 257))
				return e
			}},
		{name: "256 character partition key of 768 bytes",
			edit: func(e []types.PutRecordsRequestEntry) []types.PutRecordsRequestEntry {
				e[1].PartitionKey = aws.String(strings.Repeat("€", 256))
				return e
			}},
		{name: "hash key 2^128-1",
			edit: func(e []types.PutRecordsRequestEntry) []types.PutRecordsRequestEntry {
				e[0].ExplicitHashKey = aws.String(max.String())
				return e
			}},
		{name: "hash key 0",
			edit: func(e []types.PutRecordsRequestEntry) []types.PutRecordsRequestEntry {
				e[0].ExplicitHashKey = aws.String("0")
				return e
			}},
		{name: "hash key 2^128", code: "InvalidArgumentException",
			edit: func(e []types.PutRecordsRequestEntry) []types.PutRecordsRequestEntry {
				e[2].ExplicitHashKey = aws.String(pow128.String())
				return e
			}},
		{name: "hash key with leading zero", code: "ValidationException",
			edit: func(e []types.PutRecordsRequestEntry) []types.PutRecordsRequestEntry {
				e[0].ExplicitHashKey = aws.String("01")
				return e
			}},
		{name: "negative hash key", code: "ValidationException",
			edit: func(e []types.PutRecordsRequestEntry) []types.PutRecordsRequestEntry {
				e[0].ExplicitHashKey = aws.String("-1")
				return e
			}},
		{name: "empty hash key", code: "ValidationException",
			edit: func(e []types.PutRecordsRequestEntry) []types.PutRecordsRequestEntry {
				e[0].ExplicitHashKey = aws.String("")
				return e
			}},
		{name: "40 digit hash key", code: "ValidationException",
			edit: func(e []types.PutRecordsRequestEntry) []types.PutRecordsRequestEntry {
				e[0].ExplicitHashKey = aws.String("1" + strings.Repeat("0", 39))
				return e
			}},
		{name: "record at the limit", opts: []fakekinesis.Option{fakekinesis.WithMaxRecordBytes(1000)},
			edit: func(e []types.PutRecordsRequestEntry) []types.PutRecordsRequestEntry {
				e[0] = types.PutRecordsRequestEntry{PartitionKey: aws.String("0123456789"), Data: make([]byte, 990)}
				return e
			}},
		{name: "record over the limit by its key", code: "ValidationException", opts: []fakekinesis.Option{fakekinesis.WithMaxRecordBytes(1000)},
			edit: func(e []types.PutRecordsRequestEntry) []types.PutRecordsRequestEntry {
				e[0] = types.PutRecordsRequestEntry{PartitionKey: aws.String("0123456789a"), Data: make([]byte, 990)}
				return e
			}},
		{name: "request at the limit", opts: []fakekinesis.Option{fakekinesis.WithMaxRequestBytes(5 * 1000)},
			edit: func([]types.PutRecordsRequestEntry) []types.PutRecordsRequestEntry { return sized(5, 1000) }},
		{name: "request over the limit", code: "InvalidArgumentException", opts: []fakekinesis.Option{fakekinesis.WithMaxRequestBytes(5*1000 - 1)},
			edit: func([]types.PutRecordsRequestEntry) []types.PutRecordsRequestEntry { return sized(5, 1000) }},
		{name: "unknown stream", stream: "missing", code: "ResourceNotFoundException"},
		{name: "invalid stream name", stream: "no spaces allowed", code: "ValidationException"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := newServer(t, tt.opts...)
			newStream(t, srv, "s", 3)
			stream := "s"
			if tt.stream != "" {
				stream = tt.stream
			}
			in := entries(5)
			if tt.edit != nil {
				in = tt.edit(in)
			}
			out, err := putRecords(testContext(t), newClient(t, srv), stream, in)
			if got := errorCode(err); got != tt.code || (tt.code == "" && err != nil) {
				t.Fatalf("PutRecords: code %q (%v), want %q", got, err, tt.code)
			}
			st := srv.Stats()
			if tt.code != "" {
				if n := len(srv.Records("s")); n != 0 || st.RequestsRejected != 1 || st.EntriesAccepted != 0 {
					t.Errorf("rejected request stored %d records; Stats %+v", n, st)
				}
				if strings.Contains(err.Error(), "data-") || strings.Contains(err.Error(), "pk-") {
					t.Errorf("error message carries record content: %v", err)
				}
				return
			}
			if len(out.Records) != len(in) || st.EntriesAccepted != len(in) || st.RequestsRejected != 0 {
				t.Errorf("accepted %d of %d; Stats %+v", len(out.Records), len(in), st)
			}
		})
	}
}

// sized returns n entries of exactly size bytes each (data plus key).
func sized(n, size int) []types.PutRecordsRequestEntry {
	out := entries(n)
	for i := range out {
		out[i].Data = make([]byte, size-len(*out[i].PartitionKey))
	}
	return out
}

// stripErrorType removes X-Amzn-ErrorType from responses, so that the SDK
// must find the error code in the body.
type stripErrorType struct{ next http.RoundTripper }

func (s stripErrorType) RoundTrip(r *http.Request) (*http.Response, error) {
	resp, err := s.next.RoundTrip(r)
	if resp != nil {
		resp.Header.Del("X-Amzn-ErrorType")
	}
	return resp, err
}

func TestErrorCodeFromBodyAlone(t *testing.T) {
	srv := newServer(t)
	newStream(t, srv, "s", 1)
	transport := newTransport(t)
	c := newClient(t, srv, func(o *kinesis.Options) {
		o.HTTPClient = &http.Client{Transport: stripErrorType{transport}}
	})
	ctx := testContext(t)
	_, err := putRecords(ctx, c, "missing", entries(1))
	var notFound *types.ResourceNotFoundException
	if !errors.As(err, &notFound) || !strings.Contains(notFound.ErrorMessage(), "missing") {
		t.Errorf("unknown stream = %v, want ResourceNotFoundException naming it", err)
	}
	srv.SetFaults(fakekinesis.Faults{FailRequests: 1})
	if _, err := putRecords(ctx, c, "s", entries(1)); errorCode(err) != "InternalFailure" {
		t.Errorf("FailRequests = %v, want InternalFailure", err)
	}
}

// closedEarlyBody is a request body as smithy-go hands it to net/http: a
// reader that gives io.EOF once closed, from WriteTo too. Its last read
// (net/http's look for bytes beyond Content-Length) waits until the caller
// has closed it, as when the answer came first and the SDK closed the body
// before that read was scheduled.
type closedEarlyBody struct {
	r        *bytes.Reader
	closed   chan struct{} // closed by the first Close: the caller's
	reclosed chan struct{} // closed by the second: net/http's, once done with it
	closes   atomic.Int32
}

func newClosedEarlyBody(b []byte) *closedEarlyBody {
	return &closedEarlyBody{r: bytes.NewReader(b), closed: make(chan struct{}), reclosed: make(chan struct{})}
}

func (b *closedEarlyBody) Read(p []byte) (int, error) {
	if b.r.Len() == 0 {
		<-b.closed
		return 0, io.EOF
	}
	return b.r.Read(p)
}

func (b *closedEarlyBody) WriteTo(io.Writer) (int64, error) {
	<-b.closed
	return 0, io.EOF
}

func (b *closedEarlyBody) Close() error {
	switch b.closes.Add(1) {
	case 1:
		close(b.closed)
	case 2:
		close(b.reclosed)
	}
	return nil
}

// The SDK closes a request body as soon as the answer came, which can be
// before net/http has read the body to its end: the test transport must
// keep the connection, and the answer readable, all the same.
func TestBodyClosedBeforeItsLastRead(t *testing.T) {
	srv := newServer(t)
	newStream(t, srv, "s", 1)
	// Larger than net/http's write buffer, so that the server has the
	// whole body before net/http's last read of it.
	var in bytes.Buffer
	in.WriteString(`{"StreamName":"s","Records":[`)
	const n = 500
	for i := range n {
		if i > 0 {
			in.WriteByte(',')
		}
		fmt.Fprintf(&in, `{"PartitionKey":"pk-%d","Data":"ZGF0YQ=="}`, i)
	}
	in.WriteString(`]}`)
	body := newClosedEarlyBody(in.Bytes())
	ctx := testContext(t)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, srv.URL()+"/", body)
	if err != nil {
		t.Fatal(err)
	}
	req.ContentLength = int64(in.Len())
	req.Header.Set("X-Amz-Target", op("PutRecords"))
	req.Header.Set("Content-Type", jsonType)

	resp, err := (&http.Client{Transport: newTransport(t)}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body.Close()
	select {
	case <-body.reclosed: // net/http has made its last read and judged the request written
	case <-ctx.Done():
		t.Fatal("net/http never closed the request body")
	}
	var out struct{ Records []json.RawMessage }
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil || resp.StatusCode != http.StatusOK || len(out.Records) != n {
		t.Fatalf("answer: HTTP %d, %d records, %v; want HTTP 200, %d records", resp.StatusCode, len(out.Records), err, n)
	}
}
