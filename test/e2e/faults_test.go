package e2e

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/kinesis-kpl/fluent-bit-kinesis-kpl/test/fakekinesis"
)

// Fault tests: a real Fluent Bit with the plugin against the project's fake
// Kinesis, which fails requests and entries on a script and counts exactly
// what it stored.

func fakeKinesis(t *testing.T, stream string, shards int) *fakekinesis.Server {
	t.Helper()
	srv, err := fakekinesis.New()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	if err := srv.CreateStream(stream, shards); err != nil {
		t.Fatal(err)
	}
	return srv
}

// faultOutput is the [OUTPUT] section of the fault tests: chunks are
// retried for as long as it takes.
func faultOutput(endpoint string, extra ...string) string {
	return output("*", "logs", endpoint, append([]string{"partition_key pk", "Retry_Limit False"}, extra...)...)
}

func fakeRecords(t *testing.T, srv *fakekinesis.Server, stream string) []userRecord {
	t.Helper()
	urs, err := srv.UserRecords(stream)
	if err != nil {
		t.Fatalf("the fake cannot read what it stored: %v", err)
	}
	return fromFake(urs)
}

// fromFake returns the fake's user records as the consumer's.
func fromFake(urs []fakekinesis.UserRecord) []userRecord {
	out := make([]userRecord, len(urs))
	for i, u := range urs {
		out[i] = userRecord{Shard: u.ShardID, Seq: u.SequenceNumber, Sub: u.SubIndex, Aggregated: u.Aggregated,
			PK: u.PartitionKey, EHK: u.ExplicitHashKey, InShard: u.InShard, Data: u.Data, ResponseLost: u.ResponseLost}
	}
	return out
}

// finish waits until the fake holds want user records, stops Fluent Bit
// and returns everything the fake stored.
func finish(t *testing.T, srv *fakekinesis.Server, fb *proc, want int) []userRecord {
	t.Helper()
	pollUntil(t, fb, 90*time.Second, func() bool { return len(fakeRecords(t, srv, "logs")) >= want })
	fb.shutdown(t)
	return fakeRecords(t, srv, "logs")
}

// waitLog polls Fluent Bit's log until it holds n lines containing s.
func waitLog(t *testing.T, fb *proc, s string, n int, within time.Duration) {
	t.Helper()
	pollUntil(t, fb, within, func() bool { return strings.Count(fb.output(), s) >= n })
	if strings.Count(fb.output(), s) < n {
		t.Fatalf("the log does not show %q %d times within %s\n%s", s, n, within, fb.output())
	}
}

func TestFaultsPartialFailuresAndFailedRequests(t *testing.T) {
	e := setup(t)
	srv := fakeKinesis(t, "logs", 4)
	srv.SetFaults(fakekinesis.Faults{
		ThrottleEvery:      5,
		InternalErrorEvery: 13,
		FailRequests:       3,
		ThrottleRequests:   3,
		DropConnections:    2,
		ResponseMismatch:   2,
	})
	fb, port := pipeline(t, e, faultOutput(srv.URL()))

	records := makeRecords(10000, 50, "faults")
	post(t, port, "app", records)
	got := finish(t, srv, fb, len(records))
	checkExactlyOnce(t, records, got)
	st := srv.Stats()
	t.Logf("stats: %d requests, %d entries seen, %d accepted, %d failed by fault, %d requests failed, %d dropped, %d mismatched",
		st.Requests, st.EntriesSeen, st.EntriesAccepted, st.EntriesFailed, st.RequestsFailed, st.RequestsDropped, st.ResponsesMismatched)
	if st.EntriesFailed == 0 || st.RequestsFailed < 6 || st.RequestsDropped != 2 || st.ResponsesMismatched != 2 {
		t.Errorf("the faults did not all happen: %+v", st)
	}
}

// A request that hangs past flush_timeout makes the flush answer RETRY;
// when Fluent Bit hands the chunk again, the plugin continues with the
// records it already has in flight instead of sending them twice.
func TestFaultsHangingRequestsResumeFromTheLedger(t *testing.T) {
	e := setup(t)
	srv := fakeKinesis(t, "logs", 2)
	srv.SetFaults(fakekinesis.Faults{Hang: true})
	fb, port := pipeline(t, e, faultOutput(srv.URL(), "flush_timeout 1s"))

	records := makeRecords(2000, 50, "hang")
	post(t, port, "app", records)
	// Two flushes of the chunk answer RETRY while its requests hang.
	waitLog(t, fb, "the chunk will be retried", 2, 60*time.Second)
	waitLog(t, fb, "continuing a retried chunk", 1, 60*time.Second)
	srv.SetFaults(fakekinesis.Faults{})
	checkExactlyOnce(t, records, finish(t, srv, fb, len(records)))
}

// A stream that is missing (or a role without permission) is retried with
// a loud log, never dropped.
func TestFaultsMissingStreamIsRetriedNotDropped(t *testing.T) {
	e := setup(t)
	srv := fakeKinesis(t, "logs", 3)
	srv.SetFaults(fakekinesis.Faults{ResourceNotFound: true})
	fb, port := pipeline(t, e, faultOutput(srv.URL(), "flush_timeout 1s"))

	records := makeRecords(1000, 50, "missing")
	post(t, port, "app", records)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if _, err := srv.WaitFor(ctx, func(s fakekinesis.Stats) bool { return s.RequestsFailed >= 3 }); err != nil {
		t.Fatalf("no failed requests: %v\n%s", err, fb.output())
	}
	srv.SetFaults(fakekinesis.Faults{})
	checkExactlyOnce(t, records, finish(t, srv, fb, len(records)))
	if !strings.Contains(fb.output(), "ResourceNotFoundException") {
		t.Errorf("the log does not say the stream was not found:\n%s", fb.output())
	}
}

// A response lost after Kinesis stored the records cannot be told from a
// failure: the records are sent again. Nothing is lost; the duplicates are
// only those of the lost responses.
func TestFaultsLostResponsesLoseNothing(t *testing.T) {
	e := setup(t)
	srv := fakeKinesis(t, "logs", 2)
	srv.SetFaults(fakekinesis.Faults{LoseResponses: 1})
	fb, port := pipeline(t, e, faultOutput(srv.URL()))

	records := makeRecords(3000, 50, "lost")
	post(t, port, "app", records)
	got := finish(t, srv, fb, len(records))
	seen := map[string]int{}
	for _, r := range got {
		seen[string(r.Data)]++
	}
	dups := 0
	for _, r := range records {
		switch n := seen[string(r)]; {
		case n == 0:
			t.Fatalf("a record was lost")
		case n > 1:
			dups += n - 1
		}
	}
	if st := srv.Stats(); st.ResponsesLost != 1 {
		t.Fatalf("responses lost = %d, want 1", st.ResponsesLost)
	}
	t.Logf("%d records, %d duplicates from one lost response", len(records), dups)
}
