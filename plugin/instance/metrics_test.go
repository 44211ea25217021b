package instance

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"
	"github.com/aws/smithy-go"
	"github.com/prometheus/client_golang/prometheus/testutil"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/kinesis-kpl/fluent-bit-kinesis-kpl/aggregation"
	"github.com/kinesis-kpl/fluent-bit-kinesis-kpl/conf"
	"github.com/kinesis-kpl/fluent-bit-kinesis-kpl/producer"
)

// scriptedPutter sits between the instance and fakeKinesis: it throttles
// every entry of the first call, rejects the first entry of the second
// call for good, and counts what it saw with the independent
// deaggregator, so the metrics are checked against numbers of its own.
type scriptedPutter struct {
	next *fakeKinesis

	mu                 sync.Mutex
	calls              int
	throttledUsers     int
	droppedUsers       int
	acceptedEntries    int
	acceptedUsers      int
	acceptedBytes      int
	throttledAggregate bool // some throttled entry held more than one record
}

func (s *scriptedPutter) PutRecords(ctx context.Context, in *kinesis.PutRecordsInput, optFns ...func(*kinesis.Options)) (*kinesis.PutRecordsOutput, error) {
	s.mu.Lock()
	s.calls++
	call := s.calls
	s.mu.Unlock()
	out := &kinesis.PutRecordsOutput{}
	if call > 1 {
		var err error
		if out, err = s.next.PutRecords(ctx, in, optFns...); err != nil {
			return nil, err
		}
	} else {
		out.Records = make([]types.PutRecordsResultEntry, len(in.Records))
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for i, e := range in.Records {
		recs, err := aggregation.Deaggregate(e.Data, aws.ToString(e.PartitionKey), aws.ToString(e.ExplicitHashKey))
		if err != nil {
			return nil, err
		}
		switch {
		case call == 1:
			out.Records[i] = types.PutRecordsResultEntry{ErrorCode: aws.String("ProvisionedThroughputExceededException"), ErrorMessage: aws.String("Rate exceeded")}
			s.throttledUsers += len(recs)
			s.throttledAggregate = s.throttledAggregate || len(recs) > 1
		case call == 2 && i == 0:
			out.Records[i] = types.PutRecordsResultEntry{ErrorCode: aws.String("InvalidArgumentException"), ErrorMessage: aws.String("bad entry")}
			s.droppedUsers += len(recs)
		default:
			s.acceptedEntries++
			s.acceptedUsers += len(recs)
			s.acceptedBytes += len(e.Data) + len(aws.ToString(e.PartitionKey))
		}
	}
	return out, nil
}

// scrape reads an instance's endpoint and parses the text format.
func scrape(t *testing.T, addr string) (map[string]*dto.MetricFamily, string) {
	t.Helper()
	client := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	resp, err := client.Get("http://" + addr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("scrape: %d %v", resp.StatusCode, err)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(strings.NewReader(string(body)))
	if err != nil {
		t.Fatalf("scrape does not parse: %v\n%s", err, body)
	}
	return fams, string(body)
}

// sample finds the metric of a family whose labels include want.
func sample(t *testing.T, fams map[string]*dto.MetricFamily, name string, want map[string]string) *dto.Metric {
	t.Helper()
	f := fams[name]
	if f == nil {
		t.Fatalf("no series %s", name)
	}
next:
	for _, m := range f.Metric {
		have := map[string]string{}
		for _, l := range m.Label {
			have[l.GetName()] = l.GetValue()
		}
		if have["name"] != "kinesis_kpl.0" || have["stream"] != "s" {
			t.Fatalf("%s has labels %v, want name and stream", name, have)
		}
		for k, v := range want {
			if have[k] != v {
				continue next
			}
		}
		return m
	}
	t.Fatalf("no %s with labels %v", name, want)
	return nil
}

func value(t *testing.T, fams map[string]*dto.MetricFamily, name string) float64 {
	t.Helper()
	m := sample(t, fams, name, nil)
	switch {
	case m.Counter != nil:
		return m.Counter.GetValue()
	case m.Gauge != nil:
		return m.Gauge.GetValue()
	}
	t.Fatalf("%s is neither counter nor gauge", name)
	return 0
}

// A chunk flushed through an instance, with one throttled call and one
// entry rejected for good, shows up in the scrape with the exact counts.
func TestMetricsEndpointAfterAFlush(t *testing.T) {
	fk := &fakeKinesis{}
	sp := &scriptedPutter{next: fk}
	in, _ := newInstanceWith(t, sp, nil, nil)
	if err := in.metrics.serve("127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	c, want := makeChunk(300, true)
	if got := in.Flush("app", c); got != OK {
		t.Fatalf("Flush = %s, want OK", got)
	}
	fams, body := scrape(t, in.metrics.ln.Addr().String())
	t.Logf("scrape:\n%s", body)

	sp.mu.Lock()
	defer sp.mu.Unlock()
	if sp.throttledUsers == 0 || sp.droppedUsers == 0 || !sp.throttledAggregate {
		t.Fatalf("the script did not run: %+v", sp)
	}
	n := float64(len(want))
	counts := []struct {
		name string
		want float64
	}{
		{"kinesis_kpl_chunks_total", 1},
		{"kinesis_kpl_records_in_total", n},
		{"kinesis_kpl_records_delivered_total", n - float64(sp.droppedUsers)},
		{"kinesis_kpl_records_throttled_total", float64(sp.throttledUsers)},
		{"kinesis_kpl_records_retried_total", float64(sp.throttledUsers)},
		{"kinesis_kpl_records_expired_total", 0},
		{"kinesis_kpl_chunk_retries_total", 0},
		{"kinesis_kpl_chunks_malformed_total", 0},
		{"kinesis_kpl_kinesis_records_total", float64(sp.acceptedEntries)},
		{"kinesis_kpl_bytes_total", float64(sp.acceptedBytes)},
		{"kinesis_kpl_reshards_total", 0},
		{"kinesis_kpl_shard_map_refresh_errors_total", 0},
		{"kinesis_kpl_ledger_hits_total", 0},
		{"kinesis_kpl_ledger_evictions_total", 0},
		{"kinesis_kpl_ledger_entries", 0},
		{"kinesis_kpl_buffered_bytes", 0}, // every record delivered: nothing held
	}
	for _, c := range counts {
		if got := value(t, fams, c.name); got != c.want {
			t.Errorf("%s = %v, want %v", c.name, got, c.want)
		}
	}
	if got := value(t, fams, "kinesis_kpl_shard_map_refreshes_total"); got < 1 {
		t.Errorf("shard map refreshes = %v, want at least the first read", got)
	}
	dropped := sample(t, fams, "kinesis_kpl_records_dropped_total", map[string]string{"reason": "InvalidArgumentException"})
	if got := dropped.Counter.GetValue(); got != float64(sp.droppedUsers) {
		t.Errorf("dropped{InvalidArgumentException} = %v, want %d", got, sp.droppedUsers)
	}
	per := sample(t, fams, "kinesis_kpl_user_records_per_kinesis_record", nil).Histogram
	if per.GetSampleCount() != uint64(sp.acceptedEntries) || per.GetSampleSum() != float64(sp.acceptedUsers) {
		t.Errorf("user records per Kinesis record: count %d sum %v, want %d and %d",
			per.GetSampleCount(), per.GetSampleSum(), sp.acceptedEntries, sp.acceptedUsers)
	}
	lat := sample(t, fams, "kinesis_kpl_put_records_duration_seconds", nil).Histogram
	if lat.GetSampleCount() != uint64(sp.calls) || lat.GetSampleSum() <= 0 {
		t.Errorf("PutRecords latency: count %d sum %v, want %d calls", lat.GetSampleCount(), lat.GetSampleSum(), sp.calls)
	}
	if strings.Contains(body, "pod-") || strings.Contains(body, "quoted") {
		t.Error("the scrape shows record data or keys")
	}
}

// Instances of the same name in one process each have a registry of
// their own: nothing clashes and each counts only its records.
func TestInstancesHaveRegistriesOfTheirOwn(t *testing.T) {
	var addrs []string
	for i := 1; i <= 2; i++ {
		in, _ := newInstance(t, &fakeKinesis{}, nil)
		if err := in.metrics.serve("127.0.0.1:0"); err != nil {
			t.Fatal(err)
		}
		c, _ := makeChunk(10*i, false)
		if got := in.Flush("app", c); got != OK {
			t.Fatalf("Flush = %s", got)
		}
		addrs = append(addrs, in.metrics.ln.Addr().String())
	}
	for i, addr := range addrs {
		fams, _ := scrape(t, addr)
		if got, want := value(t, fams, "kinesis_kpl_records_in_total"), float64(10*(i+1)); got != want {
			t.Errorf("instance %d: records in = %v, want %v", i, got, want)
		}
	}
}

// metricsConfig starts a fake Kinesis and returns options for it with
// metrics_listen on a port of 127.0.0.1 that is bound now, and its listener.
func metricsConfig(t *testing.T) (conf.Config, net.Listener) {
	isolateAWS(t)
	_, kin := startKinesis(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	return load(t, conf.MapGetter{"stream": "s", "endpoint": kin.URL, "allow_http": "on", "metrics_listen": ln.Addr().String()}), ln
}

func TestMetricsListenAddressInUseFailsOpen(t *testing.T) {
	cfg, taken := metricsConfig(t)
	in, err := Open(context.Background(), "x", cfg, NewLogger(io.Discard, "x", slog.LevelError))
	if err == nil {
		in.Close(context.Background())
		t.Fatal("Open succeeded on an address in use")
	}
	if !strings.HasPrefix(err.Error(), "metrics_listen: cannot listen on "+taken.Addr().String()) {
		t.Fatalf("Open = %v, want an error naming metrics_listen and the address", err)
	}
}

// Open serves the endpoint and Close stops it (TestMain checks that no
// goroutine is left).
func TestOpenServesMetricsUntilClose(t *testing.T) {
	cfg, free := metricsConfig(t)
	addr := cfg.MetricsListen
	free.Close() // for Open to bind
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	in, err := Open(ctx, "kinesis_kpl.0", cfg, NewLogger(io.Discard, "x", slog.LevelError))
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close(ctx)
	c, _ := makeChunk(25, true)
	if got := in.Flush("app", c); got != OK {
		t.Fatalf("Flush = %s", got)
	}
	fams, _ := scrape(t, addr)
	if got := value(t, fams, "kinesis_kpl_records_delivered_total"); got != 25 {
		t.Errorf("delivered = %v, want 25", got)
	}
	if got := sample(t, fams, "kinesis_kpl_put_records_duration_seconds", nil).Histogram.GetSampleCount(); got == 0 {
		t.Error("no PutRecords call was timed through the real client")
	}
	if got := value(t, fams, "kinesis_kpl_shard_map_refreshes_total"); got < 1 {
		t.Errorf("shard map refreshes = %v, want the ListShards at start", got)
	}
	if err := in.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if conn, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
		conn.Close()
		t.Fatal("the endpoint still answers after Close")
	}
}

// The shard map watcher counts reads, failures and changes of the open
// shards.
func TestWatchShardsCountsRefreshesAndReshards(t *testing.T) {
	shards := func(ids ...string) []types.Shard {
		var s []types.Shard
		for _, id := range ids {
			s = append(s, types.Shard{ShardId: aws.String(id)})
		}
		return s
	}
	type read struct {
		shards []types.Shard
		update bool
		err    error
	}
	cases := []struct {
		name                        string
		reads                       []read
		refreshes, errors, reshards int64
	}{
		{"first read is no reshard", []read{{shards("a", "b"), true, nil}}, 1, 0, 0},
		{"same shards", []read{{shards("a", "b"), true, nil}, {shards("b", "a"), true, nil}}, 2, 0, 0},
		{"split", []read{{shards("a", "b"), true, nil}, {shards("a", "c", "d"), true, nil}}, 2, 0, 1},
		{"merge then split", []read{{shards("a", "b"), true, nil}, {shards("c"), true, nil}, {shards("d", "e"), true, nil}}, 3, 0, 2},
		{"no update reported", []read{{shards("a"), true, nil}, {nil, false, nil}}, 2, 0, 0},
		{"failures keep the map", []read{{shards("a"), true, nil}, {nil, false, errors.New("AccessDenied")}, {shards("a"), true, nil}}, 2, 1, 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			m := newMetrics("x", "s")
			i := 0
			get := m.watchShards(func(context.Context, []types.Shard) ([]types.Shard, bool, error) {
				r := tc.reads[i]
				i++
				return r.shards, r.update, r.err
			})
			var current []types.Shard
			for range tc.reads {
				s, update, err := get(context.Background(), current)
				if err == nil && update {
					current = s
				}
			}
			if got := [3]int64{m.shardRefreshes.Load(), m.refreshErrors.Load(), m.reshards.Load()}; got != [3]int64{tc.refreshes, tc.errors, tc.reshards} {
				t.Fatalf("refreshes, errors, reshards = %v, want %v", got, [3]int64{tc.refreshes, tc.errors, tc.reshards})
			}
		})
	}
	if newMetrics("x", "s").watchShards(nil) != nil {
		t.Fatal("no shard map must stay no shard map")
	}
}

type apiError struct{ code string }

func (e apiError) Error() string                 { return e.code }
func (e apiError) ErrorCode() string             { return e.code }
func (e apiError) ErrorMessage() string          { return "" }
func (e apiError) ErrorFault() smithy.ErrorFault { return smithy.FaultServer }

type timeoutError struct{}

func (timeoutError) Error() string   { return "i/o timeout" }
func (timeoutError) Timeout() bool   { return true }
func (timeoutError) Temporary() bool { return true }

// A call that fails as a whole counts all its user records as retried
// (and throttled, when it was), except for permanent codes.
func TestFailedCallsByCode(t *testing.T) {
	entries := []producer.EntryResult{{UserRecords: 3, Bytes: 100}, {UserRecords: 1, Bytes: 6}}
	cases := []struct {
		err                error
		mismatch           bool
		code               string
		throttled, retried int64
	}{
		{fmt.Errorf("op: %w", apiError{"ProvisionedThroughputExceededException"}), false, "ProvisionedThroughputExceededException", 4, 4},
		{apiError{"LimitExceededException"}, false, "LimitExceededException", 4, 4},
		{apiError{"InternalFailure"}, false, "InternalFailure", 0, 4},
		{apiError{"ValidationException"}, false, "ValidationException", 0, 0},
		{context.DeadlineExceeded, false, "timeout", 0, 4},
		{&net.OpError{Op: "read", Err: timeoutError{}}, false, "timeout", 0, 4},
		{context.Canceled, false, "canceled", 0, 4},
		{errors.New("connection reset by peer"), false, "network", 0, 4},
		{nil, true, "response_mismatch", 0, 4},
	}
	for _, tc := range cases {
		t.Run(tc.code, func(t *testing.T) {
			m := newMetrics("x", "s")
			m.observePut(&producer.RequestResult{Took: time.Millisecond, Err: tc.err, Mismatch: tc.mismatch, Entries: entries})
			if got := errorCode(tc.err); tc.err != nil && got != tc.code {
				t.Fatalf("code %q, want %q", got, tc.code)
			}
			if m.throttled.Load() != tc.throttled || m.retried.Load() != tc.retried || m.requestErrors.Load() != 1 || m.kinesisRecords.Load() != 0 {
				t.Fatalf("throttled %d retried %d errors %d accepted %d, want %d %d 1 0",
					m.throttled.Load(), m.retried.Load(), m.requestErrors.Load(), m.kinesisRecords.Load(), tc.throttled, tc.retried)
			}
		})
	}
}

func TestDropReason(t *testing.T) {
	cases := []struct {
		err  error
		want string
	}{
		{&producer.EntryError{Code: "InvalidArgumentException", Message: "x"}, "InvalidArgumentException"},
		{fmt.Errorf("wrapped: %w", &producer.EntryError{Code: "ValidationException"}), "ValidationException"},
		{&producer.EntryError{Code: "SomethingNew"}, reasonOther},
		{&producer.ErrIllegalPartitionKey{}, reasonPartitionKey},
		{&producer.ErrRecordSizeExceeded{}, reasonTooLarge},
		{&producer.FailureRecord{Err: &producer.EntryError{Code: "SerializationException"}}, "SerializationException"},
		{errors.New("what"), reasonOther},
	}
	for _, tc := range cases {
		if got := dropReason(tc.err); got != tc.want {
			t.Errorf("dropReason(%v) = %q, want %q", tc.err, got, tc.want)
		}
	}
}

// aggregateOf encodes n records as one KPL aggregate.
func aggregateOf(n int) []byte {
	var enc aggregation.Encoder
	for i := range n {
		enc.Add(fmt.Sprint("k", i%3), "", []byte(fmt.Sprint(`{"log":"`, i, `"}`)))
	}
	return enc.AppendTo(nil)
}

// The README's metrics table lists exactly the series an instance serves.
func TestReadmeListsEveryMetric(t *testing.T) {
	in, _ := newInstance(t, &fakeKinesis{}, nil)
	in.metrics.observePut(&producer.RequestResult{Err: errors.New("reset")}) // the errors series appears with a failure
	fams, err := in.metrics.reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	served := map[string]bool{}
	for _, f := range fams {
		served[f.GetName()] = true
	}
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	listed := map[string]bool{}
	for _, m := range regexp.MustCompile("(?m)^\\| `(kinesis_kpl_[a-z_]+)").FindAllSubmatch(readme, -1) {
		listed[string(m[1])] = true
	}
	for name := range served {
		if !listed[name] {
			t.Errorf("%s is served but not in the README's metrics table", name)
		}
	}
	for name := range listed {
		if !served[name] {
			t.Errorf("the README lists %s, which is not served", name)
		}
	}
}

// Records whose record_ttl runs out while Kinesis throttles them are
// counted as expired when their chunk goes back to Fluent Bit.
func TestExpiredRecordsAreCounted(t *testing.T) {
	fk := &fakeKinesis{failNext: 1 << 30}
	in, _ := newInstance(t, fk, func(c *conf.Config) { c.RecordTTL, c.FlushTimeout = 100*time.Millisecond, 5*time.Second })
	c, want := makeChunk(50, false)
	if got := in.Flush("app", c); got != Retry {
		t.Fatalf("Flush = %s, want RETRY", got)
	}
	m := in.metrics
	if got := m.expired.Load(); got != int64(len(want)) {
		t.Fatalf("expired = %d, want %d", got, len(want))
	}
	if m.throttled.Load() < int64(len(want)) || m.throttled.Load() != m.retried.Load() {
		t.Fatalf("throttled %d, retried %d: want every record throttled at least once, and retried as often", m.throttled.Load(), m.retried.Load())
	}
}

// Two byte-identical chunks awaiting a retry at once: the ledger keeps the
// later and lets the earlier go, which is counted.
func TestLedgerEvictionsAreCounted(t *testing.T) {
	fk := &fakeKinesis{block: make(chan struct{})}
	in, _ := newInstance(t, fk, func(c *conf.Config) { c.FlushTimeout = time.Second })
	c, _ := makeChunk(20, false)
	var wg sync.WaitGroup
	for range 2 {
		wg.Go(func() {
			if got := in.Flush("app", c); got != Retry {
				t.Errorf("Flush = %s, want RETRY", got)
			}
		})
	}
	wg.Wait()
	close(fk.block) // the evicted chunk's request may end now
	if got := in.metrics.evictions.Load(); got != 1 {
		t.Fatalf("evictions = %d, want 1", got)
	}
	if got := in.metrics.ledgerSize(); got != 1 {
		t.Fatalf("ledger entries = %d, want 1", got)
	}
}

// An event that cannot become a record is dropped for good, counted under
// bad_event; the rest of its chunk is delivered.
func TestBadEventsAreCountedAsDropped(t *testing.T) {
	in, _ := newInstance(t, &fakeKinesis{}, nil)
	c, want := makeChunk(3, false)
	c = append(append(c, 0x92, 0xd7, 0x00, 0, 0, 0, 1, 0, 0, 0, 0), mpStr(nil, "not a map")...) // [time, "string"]
	if got := in.Flush("app", c); got != OK {
		t.Fatalf("Flush = %s, want OK", got)
	}
	if got := testutil.ToFloat64(in.metrics.dropped.WithLabelValues(reasonBadEvent)); got != 1 {
		t.Fatalf("dropped{bad_event} = %v, want 1", got)
	}
	if got := in.Stats().Delivered.Load(); got != int64(len(want)) {
		t.Fatalf("delivered %d, want %d", got, len(want))
	}
}
