package fakekinesis_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"

	"github.com/kinesis-kpl/fluent-bit-kinesis-kpl/test/fakekinesis"
)

func TestEntryFaults(t *testing.T) {
	const pte, internal = "ProvisionedThroughputExceededException", "InternalFailure"
	tests := []struct {
		name     string
		faults   fakekinesis.Faults
		requests []int          // entries per PutRecords call
		failed   map[int]string // global entry index -> error code
	}{
		{"throttle every 3rd", fakekinesis.Faults{ThrottleEvery: 3}, []int{10},
			map[int]string{2: pte, 5: pte, 8: pte}},
		{"internal failure every 4th", fakekinesis.Faults{InternalErrorEvery: 4}, []int{10},
			map[int]string{3: internal, 7: internal}},
		{"throttle wins over internal failure", fakekinesis.Faults{ThrottleEvery: 2, InternalErrorEvery: 3}, []int{12},
			map[int]string{1: pte, 2: internal, 3: pte, 5: pte, 7: pte, 8: internal, 9: pte, 11: pte}},
		{"the count runs across requests", fakekinesis.Faults{ThrottleEvery: 4}, []int{3, 3, 3},
			map[int]string{3: pte, 7: pte}},
		{"every entry", fakekinesis.Faults{InternalErrorEvery: 1}, []int{2},
			map[int]string{0: internal, 1: internal}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := newServer(t)
			newStream(t, srv, "s", 2)
			srv.SetFaults(tt.faults)
			c := newClient(t, srv)
			ctx := testContext(t)
			var wantStored []string
			global := 0
			for _, n := range tt.requests {
				in := entries(n)
				for i := range in {
					in[i].PartitionKey = aws.String(fmt.Sprintf("pk-%d", global+i))
				}
				out, err := putRecords(ctx, c, "s", in)
				if err != nil {
					t.Fatalf("PutRecords: %v", err)
				}
				failed := 0
				for i, r := range out.Records {
					code := tt.failed[global+i]
					if aws.ToString(r.ErrorCode) != code {
						t.Errorf("entry %d: ErrorCode %q, want %q", global+i, aws.ToString(r.ErrorCode), code)
					}
					switch {
					case code == pte && !strings.HasPrefix(aws.ToString(r.ErrorMessage), "Rate exceeded for shard shardId-"):
						t.Errorf("entry %d: message %q", global+i, aws.ToString(r.ErrorMessage))
					case code != "" && (r.SequenceNumber != nil || r.ShardId != nil):
						t.Errorf("failed entry %d has a sequence number or shard", global+i)
					case code == "" && (r.SequenceNumber == nil || r.ShardId == nil):
						t.Errorf("accepted entry %d lacks sequence number or shard", global+i)
					}
					if code != "" {
						failed++
					} else {
						wantStored = append(wantStored, *in[i].PartitionKey)
					}
				}
				if int(aws.ToInt32(out.FailedRecordCount)) != failed {
					t.Errorf("FailedRecordCount %d, want %d", aws.ToInt32(out.FailedRecordCount), failed)
				}
				global += n
			}
			var stored []string
			for _, r := range srv.Records("s") {
				stored = append(stored, r.PartitionKey)
			}
			if !slices.Equal(stored, wantStored) {
				t.Errorf("stored %v, want %v", stored, wantStored)
			}
			st := srv.Stats()
			if st.EntriesSeen != global || st.EntriesFailed != len(tt.failed) || st.EntriesAccepted != global-len(tt.failed) {
				t.Errorf("Stats = %+v; want %d seen, %d failed", st, global, len(tt.failed))
			}
		})
	}
}

func TestPutRecordEntryFaults(t *testing.T) {
	srv := newServer(t)
	newStream(t, srv, "s", 1)
	c := newClient(t, srv)
	ctx := testContext(t)
	put := func() error {
		_, err := c.PutRecord(ctx, &kinesis.PutRecordInput{StreamName: aws.String("s"), PartitionKey: aws.String("k"), Data: []byte("d")})
		return err
	}
	srv.SetFaults(fakekinesis.Faults{ThrottleEvery: 2, InternalErrorEvery: 3})
	// Entry 1 passes, 2 is throttled, 3 fails internally.
	var throttled *types.ProvisionedThroughputExceededException
	if err := put(); err != nil {
		t.Errorf("first PutRecord: %v", err)
	}
	if err := put(); !errors.As(err, &throttled) || httpStatus(err) != 400 {
		t.Errorf("second PutRecord = %v, want ProvisionedThroughputExceededException, HTTP 400", err)
	}
	if err := put(); errorCode(err) != "InternalFailure" || httpStatus(err) != 500 {
		t.Errorf("third PutRecord = %v, want InternalFailure, HTTP 500", err)
	}
	if st := srv.Stats(); st.EntriesAccepted != 1 || st.EntriesFailed != 2 || len(srv.Records("s")) != 1 {
		t.Errorf("Stats = %+v", st)
	}
}

func httpStatus(err error) int {
	var re *awshttp.ResponseError
	if errors.As(err, &re) {
		return re.HTTPStatusCode()
	}
	return 0
}

// call is the expected outcome of one PutRecords call of 5 entries.
type call struct {
	code    string // API error code, "" for none
	status  int    // HTTP status of an API error
	noReply bool   // a transport error: no answer at all
	results int    // result entries on success
}

func TestRequestFaults(t *testing.T) {
	ok := call{results: 5}
	tests := []struct {
		name   string
		faults fakekinesis.Faults
		calls  []call
		stored int
		check  func(fakekinesis.Stats) bool
		left   fakekinesis.Faults // what Faults reports afterwards
	}{
		{"fail requests", fakekinesis.Faults{FailRequests: 2},
			[]call{{code: "InternalFailure", status: 500}, {code: "InternalFailure", status: 500}, ok}, 5,
			func(s fakekinesis.Stats) bool { return s.RequestsFailed == 2 }, fakekinesis.Faults{}},
		{"fail requests unavailable", fakekinesis.Faults{FailRequests: 1, FailUnavailable: true},
			[]call{{code: "ServiceUnavailable", status: 503}, ok}, 5,
			func(s fakekinesis.Stats) bool { return s.RequestsFailed == 1 }, fakekinesis.Faults{FailUnavailable: true}},
		{"throttle requests", fakekinesis.Faults{ThrottleRequests: 1},
			[]call{{code: "ProvisionedThroughputExceededException", status: 400}, ok}, 5,
			func(s fakekinesis.Stats) bool { return s.RequestsFailed == 1 }, fakekinesis.Faults{}},
		{"resource not found", fakekinesis.Faults{ResourceNotFound: true},
			[]call{{code: "ResourceNotFoundException", status: 400}, {code: "ResourceNotFoundException", status: 400}}, 0,
			func(s fakekinesis.Stats) bool { return s.RequestsFailed == 2 }, fakekinesis.Faults{ResourceNotFound: true}},
		{"access denied", fakekinesis.Faults{AccessDenied: true, FailRequests: 1},
			[]call{{code: "AccessDeniedException", status: 400}}, 0,
			func(s fakekinesis.Stats) bool { return s.RequestsFailed == 1 }, fakekinesis.Faults{AccessDenied: true, FailRequests: 1}},
		{"drop connections", fakekinesis.Faults{DropConnections: 1},
			[]call{{noReply: true}, ok}, 5,
			func(s fakekinesis.Stats) bool { return s.RequestsDropped == 1 }, fakekinesis.Faults{}},
		{"lose responses", fakekinesis.Faults{LoseResponses: 1},
			[]call{{noReply: true}, ok}, 10,
			func(s fakekinesis.Stats) bool { return s.ResponsesLost == 1 }, fakekinesis.Faults{}},
		{"response mismatch", fakekinesis.Faults{ResponseMismatch: 1},
			[]call{{results: 4}, ok}, 5,
			func(s fakekinesis.Stats) bool { return s.ResponsesMismatched == 1 }, fakekinesis.Faults{}},
		{"faults in order, one per request", fakekinesis.Faults{DropConnections: 1, FailRequests: 1, ThrottleRequests: 1, LoseResponses: 1, ResponseMismatch: 1},
			[]call{{noReply: true}, {code: "InternalFailure", status: 500}, {code: "ProvisionedThroughputExceededException", status: 400},
				{noReply: true}, {results: 4}, ok}, 10,
			func(s fakekinesis.Stats) bool {
				return s.RequestsDropped == 1 && s.RequestsFailed == 2 && s.ResponsesLost == 1 && s.ResponsesMismatched == 1
			}, fakekinesis.Faults{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := newServer(t)
			newStream(t, srv, "s", 2)
			srv.SetFaults(tt.faults)
			c := newClient(t, srv)
			ctx := testContext(t)
			for i, want := range tt.calls {
				out, err := putRecords(ctx, c, "s", entries(5))
				switch {
				case want.noReply:
					if err == nil || errorCode(err) != "" || ctx.Err() != nil {
						t.Errorf("call %d: %v, want a transport error", i, err)
					}
				case want.code != "":
					if errorCode(err) != want.code || httpStatus(err) != want.status {
						t.Errorf("call %d: %v (HTTP %d), want %s, HTTP %d", i, err, httpStatus(err), want.code, want.status)
					}
				case err != nil:
					t.Errorf("call %d: %v", i, err)
				case len(out.Records) != want.results || aws.ToInt32(out.FailedRecordCount) != 0:
					t.Errorf("call %d: %d results, %d failed; want %d, 0", i, len(out.Records), aws.ToInt32(out.FailedRecordCount), want.results)
				}
			}
			if n := len(srv.Records("s")); n != tt.stored {
				t.Errorf("stored %d records, want %d", n, tt.stored)
			}
			n := len(tt.calls)
			st := srv.Stats()
			if st.Requests != n || st.Operations["PutRecords"] != n || st.EntriesSeen != 5*n ||
				st.EntriesAccepted != tt.stored || st.EntriesFailed != 0 || !tt.check(st) {
				t.Errorf("Stats = %+v", st)
			}
			if got := srv.Faults(); got != tt.left {
				t.Errorf("Faults() = %+v, want %+v", got, tt.left)
			}
		})
	}
}

func TestListShardsDenied(t *testing.T) {
	srv := newServer(t)
	newStream(t, srv, "s", 2)
	srv.SetFaults(fakekinesis.Faults{ListShardsDenied: true})
	c := newClient(t, srv)
	ctx := testContext(t)
	_, err := c.ListShards(ctx, &kinesis.ListShardsInput{StreamName: aws.String("s")})
	var denied *types.AccessDeniedException
	if !errors.As(err, &denied) {
		t.Fatalf("ListShards = %v, want AccessDeniedException", err)
	}
	if _, err := putRecords(ctx, c, "s", entries(3)); err != nil {
		t.Errorf("PutRecords while ListShards is denied: %v", err)
	}
	if st := srv.Stats(); st.RequestsFailed != 1 || st.EntriesAccepted != 3 {
		t.Errorf("Stats = %+v", st)
	}
}

// TestSDKRetries checks that each fault is retried or not by the SDK's
// standard retryer exactly as the same answer from Kinesis would be.
func TestSDKRetries(t *testing.T) {
	tests := []struct {
		name     string
		faults   fakekinesis.Faults
		entries  int
		requests int  // requests the SDK makes (3 attempts at most)
		success  bool // the call succeeds in the end
	}{
		{"internal failure is retried", fakekinesis.Faults{FailRequests: 2}, 5, 3, true},
		{"service unavailable is retried", fakekinesis.Faults{FailRequests: 2, FailUnavailable: true}, 5, 3, true},
		{"throttling is retried", fakekinesis.Faults{ThrottleRequests: 2}, 5, 3, true},
		{"a dropped connection is retried", fakekinesis.Faults{DropConnections: 2}, 5, 3, true},
		{"a lost response is retried", fakekinesis.Faults{LoseResponses: 1}, 5, 2, true},
		{"attempts run out", fakekinesis.Faults{FailRequests: 3}, 5, 3, false},
		{"unknown stream is final", fakekinesis.Faults{ResourceNotFound: true}, 5, 1, false},
		{"access denied is final", fakekinesis.Faults{AccessDenied: true}, 5, 1, false},
		{"a validation error is final", fakekinesis.Faults{}, 501, 1, false},
		{"partial failure is a success", fakekinesis.Faults{ThrottleEvery: 2}, 5, 1, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := newServer(t)
			newStream(t, srv, "s", 2)
			srv.SetFaults(tt.faults)
			_, err := putRecords(testContext(t), newClient(t, srv, withRetries()), "s", entries(tt.entries))
			if (err == nil) != tt.success {
				t.Errorf("PutRecords = %v, want success %v", err, tt.success)
			}
			if err != nil && tt.requests == 1 && retry.IsErrorRetryables(retry.DefaultRetryables).IsErrorRetryable(err) == aws.TrueTernary {
				t.Errorf("final error %v classified retryable", err)
			}
			if st := srv.Stats(); st.Operations["PutRecords"] != tt.requests {
				t.Errorf("%d PutRecords requests, want %d (Stats %+v)", st.Operations["PutRecords"], tt.requests, st)
			}
		})
	}
}

// startPut runs one PutRecords of n entries in the background.
func startPut(ctx context.Context, c *kinesis.Client, n int) <-chan error {
	done := make(chan error, 1)
	go func() {
		_, err := putRecords(ctx, c, "s", entries(n))
		done <- err
	}()
	return done
}

func waitFor(t *testing.T, srv *fakekinesis.Server, what string, cond func(fakekinesis.Stats) bool) fakekinesis.Stats {
	t.Helper()
	st, err := srv.WaitFor(testContext(t), cond)
	if err != nil {
		t.Fatalf("waiting for %s: %v (Stats %+v)", what, err, st)
	}
	return st
}

func held(n int) func(fakekinesis.Stats) bool {
	return func(s fakekinesis.Stats) bool { return s.Held == n }
}

func TestDelay(t *testing.T) {
	srv := newServer(t)
	newStream(t, srv, "s", 1)
	c := newClient(t, srv)

	srv.SetFaults(fakekinesis.Faults{Delay: time.Millisecond})
	if _, err := putRecords(testContext(t), c, "s", entries(2)); err != nil {
		t.Fatalf("PutRecords with a short delay: %v", err)
	}

	// A client that gives up during a delay gets no answer; nothing is stored.
	srv.SetFaults(fakekinesis.Faults{Delay: time.Hour})
	ctx, cancel := context.WithCancel(testContext(t))
	done := startPut(ctx, c, 3)
	waitFor(t, srv, "the request to be held", held(1))
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled PutRecords = %v, want context.Canceled", err)
	}
	st := waitFor(t, srv, "the request to be abandoned", func(s fakekinesis.Stats) bool { return s.RequestsAbandoned == 1 && s.Held == 0 })
	if st.EntriesAccepted != 2 {
		t.Errorf("an abandoned request stored records: %+v", st)
	}

	// Shortening the delay releases a held request.
	done = startPut(testContext(t), c, 4)
	waitFor(t, srv, "the request to be held", held(1))
	srv.SetFaults(fakekinesis.Faults{})
	if err := <-done; err != nil {
		t.Errorf("released PutRecords: %v", err)
	}
	if n := len(srv.Records("s")); n != 6 {
		t.Errorf("stored %d records, want 6", n)
	}
}

func TestHangReleasedUnderNewFaults(t *testing.T) {
	srv := newServer(t)
	newStream(t, srv, "s", 1)
	c := newClient(t, srv)
	srv.SetFaults(fakekinesis.Faults{Hang: true})
	ctx := testContext(t)
	done := make(chan *kinesis.PutRecordsOutput, 2)
	for range 2 {
		go func() {
			out, err := putRecords(ctx, c, "s", entries(2))
			if err != nil {
				t.Errorf("PutRecords: %v", err)
			}
			done <- out
		}()
	}
	waitFor(t, srv, "two held requests", held(2))
	if n := len(srv.Records("s")); n != 0 {
		t.Fatalf("hanging requests stored %d records", n)
	}
	srv.SetFaults(fakekinesis.Faults{ThrottleEvery: 1})
	for range 2 {
		if out := <-done; out == nil || aws.ToInt32(out.FailedRecordCount) != 2 {
			t.Errorf("released request = %+v, want both entries throttled", out)
		}
	}
}

func TestCloseReleasesHungRequests(t *testing.T) {
	srv, err := fakekinesis.New()
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	newStream(t, srv, "s", 1)
	c := newClient(t, srv)
	srv.SetFaults(fakekinesis.Faults{Hang: true})
	done := startPut(testContext(t), c, 1)
	waitFor(t, srv, "the request to be held", held(1))

	ctx := testContext(t)
	waiting := make(chan error, 1)
	go func() {
		_, err := srv.WaitFor(ctx, func(fakekinesis.Stats) bool { return false })
		waiting <- err
	}()
	if err := srv.Close(); err != nil {
		t.Errorf("Close: %v", err)
	}
	if err := <-done; err == nil || errorCode(err) != "" {
		t.Errorf("PutRecords cut by Close = %v, want a transport error", err)
	}
	if err := <-waiting; !errors.Is(err, fakekinesis.ErrClosed) {
		t.Errorf("WaitFor across Close = %v, want ErrClosed", err)
	}
	if err := srv.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	if n := len(srv.Records("s")); n != 0 {
		t.Errorf("stored %d records", n)
	}
}

func TestWaitForHonoursContext(t *testing.T) {
	srv := newServer(t)
	ctx, cancel := context.WithCancel(testContext(t))
	cancel()
	if _, err := srv.WaitFor(ctx, func(fakekinesis.Stats) bool { return false }); !errors.Is(err, context.Canceled) {
		t.Errorf("WaitFor = %v, want context.Canceled", err)
	}
}

func TestConcurrentUse(t *testing.T) {
	const workers, calls, perCall = 6, 8, 25
	srv := newServer(t)
	newStream(t, srv, "s", 3)
	srv.SetFaults(fakekinesis.Faults{ThrottleEvery: 7})
	c := newClient(t, srv)
	ctx := testContext(t)

	var wg sync.WaitGroup
	failed := make([]int, workers)
	for w := range workers {
		wg.Go(func() {
			for range calls {
				out, err := putRecords(ctx, c, "s", entries(perCall))
				if err != nil {
					t.Errorf("PutRecords: %v", err)
					return
				}
				failed[w] += int(aws.ToInt32(out.FailedRecordCount))
			}
		})
	}
	// Script changes, reshards and reads race with the writers.
	wg.Go(func() {
		for i := range 20 {
			srv.SetFaults(fakekinesis.Faults{ThrottleEvery: 5 + i%3, InternalErrorEvery: 11})
			_ = srv.Reshard("s", 2+i%3)
			_ = srv.Stats()
			_ = srv.Records("s")
			if _, err := srv.UserRecords("s"); err != nil {
				t.Errorf("UserRecords: %v", err)
			}
		}
	})
	wg.Wait()

	total := workers * calls * perCall
	st := srv.Stats()
	sumFailed := 0
	for _, f := range failed {
		sumFailed += f
	}
	records := srv.Records("s")
	if st.EntriesSeen != total || st.EntriesAccepted+st.EntriesFailed != total || st.EntriesFailed != sumFailed ||
		len(records) != st.EntriesAccepted || st.Operations["PutRecords"] != workers*calls {
		t.Errorf("Stats = %+v; %d records stored, %d failures reported, %d entries sent", st, len(records), sumFailed, total)
	}
	for i := 1; i < len(records); i++ {
		if records[i].SequenceNumber <= records[i-1].SequenceNumber {
			t.Fatalf("records out of sequence order at %d", i)
		}
	}
	users, err := srv.UserRecords("s")
	if err != nil {
		t.Fatal(err)
	}
	for i, u := range users {
		if !u.InShard {
			t.Errorf("user record %d stored in %s outside its hash range", i, u.ShardID)
		}
	}
}

// Records stored by a request whose answer was lost say so, and so do
// their user records: a resend of them is a duplicate the sender could not
// avoid.
func TestLostResponsesAreMarked(t *testing.T) {
	srv := newServer(t)
	newStream(t, srv, "s", 1)
	srv.SetFaults(fakekinesis.Faults{LoseResponses: 1})
	c := newClient(t, srv)
	ctx := testContext(t)
	if _, err := putRecords(ctx, c, "s", entries(3)); err == nil {
		t.Fatal("the first PutRecords got an answer")
	}
	if _, err := putRecords(ctx, c, "s", entries(2)); err != nil {
		t.Fatal(err)
	}
	if _, err := c.PutRecord(ctx, &kinesis.PutRecordInput{StreamName: aws.String("s"), PartitionKey: aws.String("k"), Data: []byte("d")}); err != nil {
		t.Fatal(err)
	}
	want := []bool{true, true, true, false, false, false}
	var got []bool
	for _, r := range srv.Records("s") {
		got = append(got, r.ResponseLost)
	}
	users, err := srv.UserRecords("s")
	if err != nil {
		t.Fatal(err)
	}
	var gotUsers []bool
	for _, u := range users {
		gotUsers = append(gotUsers, u.ResponseLost)
	}
	if !slices.Equal(got, want) || !slices.Equal(gotUsers, want) {
		t.Errorf("ResponseLost of records %v, of user records %v; want %v", got, gotUsers, want)
	}
}
