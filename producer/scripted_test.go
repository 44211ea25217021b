package producer

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"testing/synctest"
	"time"
)

func recordData(i int) string { return fmt.Sprintf("record-%04d", i) }

// putAndWait puts n records with distinct keys as one group and waits for
// their outcomes.
func putAndWait(t *testing.T, p *Producer, n int) *Group {
	t.Helper()
	g := p.NewGroup()
	for i := range n {
		g.Add([]byte(recordData(i)), fmt.Sprintf("key-%d", i))
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	if err := p.PutGroup(ctx, g); err != nil {
		t.Fatalf("PutGroup: %v", err)
	}
	if err := g.Wait(ctx); err != nil {
		t.Fatalf("Wait: %v", err)
	}
	return g
}

func TestScriptedResponses(t *testing.T) {
	throttled := apiError("ProvisionedThroughputExceededException")
	tests := []struct {
		name   string
		script []step
		n      int
		ttl    time.Duration
		// want
		delivered, permanent, retryable int
		calls                           int
		failedErr                       error  // errors.Is on every failed record
		failedCode                      string // EntryError code of failed records
		logged                          string // a log line containing this
	}{
		{name: "all accepted", n: 5, delivered: 5, calls: 1},
		{name: "partial failure retries only failed entries", n: 5,
			script:    []step{codes(map[int]string{1: "ProvisionedThroughputExceededException", 3: "InternalFailure"})},
			delivered: 5, calls: 2},
		{name: "KMS throttling entry", n: 3,
			script:    []step{codes(map[int]string{0: "KMSThrottlingException"})},
			delivered: 3, calls: 2},
		{name: "request throttled", n: 5, script: []step{fail(throttled)}, delivered: 5, calls: 2},
		{name: "5xx", n: 5, script: []step{fail(apiError("InternalFailure")), fail(apiError("ServiceUnavailable"))}, delivered: 5, calls: 3},
		{name: "network error", n: 5, script: []step{fail(errors.New("connection reset by peer"))}, delivered: 5, calls: 2},
		{name: "timeout", n: 5, script: []step{fail(context.DeadlineExceeded)}, delivered: 5, calls: 2},
		{name: "expired credentials", n: 5, script: []step{fail(apiError("ExpiredTokenException"))}, delivered: 5, calls: 2},
		{name: "fewer results than entries", n: 5, script: []step{{count: 2}}, delivered: 5, calls: 2,
			logged: "does not match"},
		{name: "more results than entries", n: 5, script: []step{{count: 8}}, delivered: 5, calls: 2},
		{name: "entry rejected for good fails alone", n: 5,
			script:    []step{codes(map[int]string{2: "ValidationException"})},
			delivered: 4, permanent: 1, calls: 1, failedCode: "ValidationException"},
		{name: "rejected request is split to find the bad entry", n: 4,
			script:    []step{fail(apiError("ValidationException")), ok(), fail(apiError("ValidationException")), ok(), ok()},
			delivered: 3, permanent: 1, calls: 5, failedCode: "ValidationException"},
		{name: "access denied is retried loudly", n: 3,
			script:    []step{fail(apiError("AccessDeniedException")), fail(apiError("AccessDeniedException"))},
			delivered: 3, calls: 3, logged: "permissions"},
		{name: "stream not found is retried loudly", n: 3,
			script:    []step{fail(apiError("ResourceNotFoundException"))},
			delivered: 3, calls: 2, logged: "check the stream"},
		{name: "records expire after their TTL", n: 3, ttl: 2 * time.Second,
			script:    repeat(fail(throttled), 1000),
			retryable: 3, failedErr: ErrRecordExpired, failedCode: "ProvisionedThroughputExceededException"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				f := newFake(1)
				f.script = tc.script
				log := &testLogger{}
				p := newTestProducer(t, f, func(c *Config) {
					c.AggregateBatchCount = 1 // one entry per record: scripts index records
					c.Logger = log
					if tc.ttl > 0 {
						c.RecordTTL = tc.ttl
					}
				})
				p.Start()
				g := putAndWait(t, p, tc.n)
				d, fp, fr, pend := g.Counts()
				if d != tc.delivered || fp != tc.permanent || fr != tc.retryable || pend != 0 {
					t.Fatalf("counts = %d delivered, %d permanent, %d retryable, %d pending; want %d, %d, %d, 0",
						d, fp, fr, pend, tc.delivered, tc.permanent, tc.retryable)
				}
				if tc.calls > 0 && f.callCount() != tc.calls {
					t.Errorf("PutRecords calls = %d, want %d", f.callCount(), tc.calls)
				}
				for i := range tc.n {
					o := g.Outcome(i)
					want := 0
					if o.State == Delivered {
						want = 1
						if o.ShardID == "" {
							t.Errorf("record %d delivered without a shard ID", i)
						}
					}
					if got := f.deliveredCount(recordData(i)); got != want {
						t.Errorf("record %d (%v) stored %d times, want %d", i, o.State, got, want)
					}
					if o.State != Failed {
						continue
					}
					if tc.failedErr != nil && !errors.Is(o.Err, tc.failedErr) {
						t.Errorf("record %d: err %v, want %v", i, o.Err, tc.failedErr)
					}
					var ee *EntryError
					if tc.failedCode != "" && !(errors.As(o.Err, &ee) && ee.Code == tc.failedCode) {
						if !strings.Contains(fmt.Sprint(o.Err), tc.failedCode) {
							t.Errorf("record %d: err %v, want code %s", i, o.Err, tc.failedCode)
						}
					}
				}
				if tc.logged != "" && !log.has(tc.logged) {
					t.Errorf("no log line containing %q in %q", tc.logged, log.all())
				}
				for _, line := range log.all() {
					if strings.Contains(line, "record-") || strings.Contains(line, "key-") {
						t.Errorf("log line carries record content: %q", line)
					}
				}
				g.Release()
				if err := p.Stop(context.Background()); err != nil {
					t.Fatal(err)
				}
			})
		})
	}
}

func repeat[T any](s T, n int) []T {
	out := make([]T, n)
	for i := range out {
		out[i] = s
	}
	return out
}
