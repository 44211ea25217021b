package instance

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net"
	"net/http"
	"os"
	"regexp"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"
	"github.com/aws/smithy-go"
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

// parsePage parses a page with Prometheus' own parser of the text format.
func parsePage(t testing.TB, page []byte) map[string]*dto.MetricFamily {
	t.Helper()
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(bytes.NewReader(page))
	if err != nil {
		t.Fatalf("the page does not parse: %v\n%s", err, page)
	}
	return fams
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
	if got := resp.Header.Get("Content-Type"); got != "text/plain; version=0.0.4; charset=utf-8" {
		t.Fatalf("Content-Type %q, want the text format 0.0.4", got)
	}
	if got := expfmt.ResponseFormat(resp.Header); got.FormatType() != expfmt.TypeTextPlain {
		t.Fatalf("Prometheus reads the response as %v, want the text format", got)
	}
	return parsePage(t, body), string(body)
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
	served := map[string]bool{}
	for name := range parsePage(t, in.metrics.reg.appendPage(nil)) {
		served[name] = true
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
	if got := in.metrics.dropped.WithLabelValues(reasonBadEvent).value(); got != 1 {
		t.Fatalf("dropped{bad_event} = %v, want 1", got)
	}
	if got := in.Stats().Delivered.Load(); got != int64(len(want)) {
		t.Fatalf("delivered %d, want %d", got, len(want))
	}
}

// The page is the text format 0.0.4 to the byte: help and label values
// escaped, samples in the order of names and label values, histograms
// with cumulative buckets up to +Inf, a vec without values left out; and
// Prometheus' parser reads back every value, label and help as written.
func TestPageFormat(t *testing.T) {
	r := newRegistry(label{"stream", "s"}, label{"name", "a\"b\\c\nd"})
	codes := newCounterVec("code")
	r.add("t_errors_total", "Calls that failed, by code: \\ and\nthe next line; \"quoted\".", typeCounter, codes)
	codes.WithLabelValues(`say "hi"`).Inc()
	codes.WithLabelValues(`back\slash`).Add(2.5)
	codes.WithLabelValues("new\nline").Add(3)
	codes.WithLabelValues("not \xffUTF-8").Inc()
	codes.WithLabelValues("zero").Add(-1) // a counter never goes down
	r.add("t_level", "A gauge.", typeGauge, valueFunc(func() float64 { return -1.5 }))
	r.add("t_big_total", "A large count.", typeCounter, valueFunc(func() float64 { return 1e6 }))
	h := newHistogram([]float64{0.5, 1})
	r.add("t_seconds", "A histogram.", typeHistogram, h)
	for _, v := range []float64{0.25, 1, 7} {
		h.Observe(v)
	}
	r.add("t_unused_total", "No value counted yet.", typeCounter, newCounterVec("code"))

	const labels = `name="a\"b\\c\nd",stream="s"`
	want := `# HELP t_big_total A large count.
# TYPE t_big_total counter
t_big_total{` + labels + `} 1e+06
# HELP t_errors_total Calls that failed, by code: \\ and\nthe next line; "quoted".
# TYPE t_errors_total counter
t_errors_total{code="back\\slash",` + labels + `} 2.5
t_errors_total{code="new\nline",` + labels + `} 3
t_errors_total{code="not ` + "\uFFFD" + `UTF-8",` + labels + `} 1
t_errors_total{code="say \"hi\"",` + labels + `} 1
t_errors_total{code="zero",` + labels + `} 0
# HELP t_level A gauge.
# TYPE t_level gauge
t_level{` + labels + `} -1.5
# HELP t_seconds A histogram.
# TYPE t_seconds histogram
t_seconds_bucket{` + labels + `,le="0.5"} 1
t_seconds_bucket{` + labels + `,le="1"} 2
t_seconds_bucket{` + labels + `,le="+Inf"} 3
t_seconds_sum{` + labels + `} 8.25
t_seconds_count{` + labels + `} 3
`
	page := r.appendPage(nil)
	if string(page) != want {
		t.Fatalf("page:\n%s\nwant:\n%s", page, want)
	}

	fams := parsePage(t, page)
	if len(fams) != 4 {
		t.Fatalf("%d families, want 4", len(fams))
	}
	if got := fams["t_errors_total"].GetHelp(); got != "Calls that failed, by code: \\ and\nthe next line; \"quoted\"." {
		t.Errorf("help read back as %q", got)
	}
	errs := map[string]float64{}
	for _, m := range fams["t_errors_total"].Metric {
		have := labelMap(m)
		if have["name"] != "a\"b\\c\nd" || have["stream"] != "s" || len(have) != 3 {
			t.Fatalf("labels read back as %q", have)
		}
		errs[have["code"]] = m.Counter.GetValue()
	}
	if want := map[string]float64{`say "hi"`: 1, `back\slash`: 2.5, "new\nline": 3, "not \uFFFDUTF-8": 1, "zero": 0}; !maps.Equal(errs, want) {
		t.Errorf("counts by code read back as %v, want %v", errs, want)
	}
	if got := fams["t_level"].Metric[0].Gauge.GetValue(); got != -1.5 {
		t.Errorf("gauge read back as %v", got)
	}
	if got := fams["t_big_total"].Metric[0].Counter.GetValue(); got != 1e6 {
		t.Errorf("large count read back as %v", got)
	}
	hist := fams["t_seconds"].Metric[0].Histogram
	if hist.GetSampleCount() != 3 || hist.GetSampleSum() != 8.25 || len(hist.Bucket) != 3 || hist.Bucket[1].GetCumulativeCount() != 2 {
		t.Errorf("histogram read back as %v", hist)
	}
}

func labelMap(m *dto.Metric) map[string]string {
	have := map[string]string{}
	for _, l := range m.Label {
		have[l.GetName()] = l.GetValue()
	}
	return have
}

// The whole page of an instance, parsed by Prometheus' parser, has every
// family with its type and labels, and the values the instance counted;
// names and label values that need escaping read back as they are.
func TestPageMatchesTheInstance(t *testing.T) {
	in, _ := newInstance(t, &fakeKinesis{}, nil)
	const name, stream = "out \"a\\b\"\nnext", "s"
	m := newMetrics(name, stream)
	m.watch(in)

	// A distinct count in every running total.
	st := &in.stats
	for i, n := range []*atomic.Int64{&st.Chunks, &st.Records, &st.Delivered, &st.Retries, &st.Malformed, &st.LedgerResumes,
		&st.Truncated, &st.RandomKeys, &st.FastRetries, &m.throttled, &m.retried, &m.expired, &m.shardRefreshes,
		&m.refreshErrors, &m.reshards, &m.evictions} {
		n.Store(int64(1000*i + 7))
	}
	if _, ok := parsePage(t, m.reg.appendPage(nil))["kinesis_kpl_put_records_errors_total"]; ok {
		t.Fatal("the errors series shows before the first failure")
	}
	odd := `Odd"Code\with` + "\nnewline"
	m.observePut(&producer.RequestResult{Took: 3 * time.Millisecond, Entries: []producer.EntryResult{
		{UserRecords: 1, Bytes: 10}, {UserRecords: 5, Bytes: 200}, {UserRecords: 100000, Bytes: 900000},
		{UserRecords: 2, ErrorCode: "InternalFailure"}}})
	m.observePut(&producer.RequestResult{Took: 2 * time.Second, Err: apiError{odd}, Entries: []producer.EntryResult{{UserRecords: 4}}})
	m.observePut(&producer.RequestResult{Took: 20 * time.Second, Err: context.DeadlineExceeded})
	m.dropped.WithLabelValues(reasonBadEvent).Add(3)
	m.dropped.WithLabelValues("InvalidArgumentException").Inc()

	streams := in.streams.stats()
	type series struct {
		kind   dto.MetricType
		label  string             // a vec's label; "" for one series
		values map[string]float64 // by that label's value
	}
	counter := func(v float64) series { return series{dto.MetricType_COUNTER, "", map[string]float64{"": v}} }
	gauge := func(v float64) series { return series{dto.MetricType_GAUGE, "", map[string]float64{"": v}} }
	want := map[string]series{
		"kinesis_kpl_chunks_total":                    counter(float64(st.Chunks.Load())),
		"kinesis_kpl_records_in_total":                counter(float64(st.Records.Load())),
		"kinesis_kpl_records_delivered_total":         counter(float64(st.Delivered.Load())),
		"kinesis_kpl_chunk_retries_total":             counter(float64(st.Retries.Load())),
		"kinesis_kpl_chunks_malformed_total":          counter(float64(st.Malformed.Load())),
		"kinesis_kpl_ledger_hits_total":               counter(float64(st.LedgerResumes.Load())),
		"kinesis_kpl_records_truncated_total":         counter(float64(st.Truncated.Load())),
		"kinesis_kpl_records_random_key_total":        counter(float64(st.RandomKeys.Load())),
		"kinesis_kpl_fast_retries_total":              counter(float64(st.FastRetries.Load())),
		"kinesis_kpl_records_reput_wrong_shard_total": counter(float64(streams.RecordsReputWrongShard)),
		"kinesis_kpl_panics_recovered_total":          counter(float64(streams.PanicsRecovered)),
		"kinesis_kpl_records_throttled_total":         counter(float64(m.throttled.Load())),
		"kinesis_kpl_records_retried_total":           counter(float64(m.retried.Load())),
		"kinesis_kpl_records_expired_total":           counter(float64(m.expired.Load())),
		"kinesis_kpl_kinesis_records_total":           counter(3),
		"kinesis_kpl_bytes_total":                     counter(900210),
		"kinesis_kpl_shard_map_refreshes_total":       counter(float64(m.shardRefreshes.Load())),
		"kinesis_kpl_shard_map_refresh_errors_total":  counter(float64(m.refreshErrors.Load())),
		"kinesis_kpl_reshards_total":                  counter(float64(m.reshards.Load())),
		"kinesis_kpl_ledger_evictions_total":          counter(float64(m.evictions.Load())),
		"kinesis_kpl_ledger_entries":                  gauge(float64(in.ledger.len())),
		"kinesis_kpl_buffered_bytes":                  gauge(float64(streams.BufferedBytes)),
		"kinesis_kpl_records_dropped_total": {dto.MetricType_COUNTER, "reason", map[string]float64{
			reasonBadEvent: 3, "InvalidArgumentException": 1, reasonPartitionKey: 0, reasonTooLarge: 0, reasonOther: 0,
			"ValidationException": 0, "SerializationException": 0}},
		"kinesis_kpl_put_records_errors_total": {dto.MetricType_COUNTER, "code", map[string]float64{odd: 1, "timeout": 1}},
	}
	type buckets struct {
		count   uint64
		sum     float64
		buckets []uint64 // cumulative, +Inf last
	}
	hists := map[string]buckets{
		// 3 ms, 2 s, 20 s over .005 .01 .025 .05 .1 .25 .5 1 2.5 5 10.
		"kinesis_kpl_put_records_duration_seconds": {3, (3 * time.Millisecond).Seconds() + 2 + 20, []uint64{1, 1, 1, 1, 1, 1, 1, 1, 2, 2, 2, 3}},
		// 1, 5, 100000 over 1 2 4 … 8192.
		"kinesis_kpl_user_records_per_kinesis_record": {3, 100006, []uint64{1, 1, 1, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 3}},
	}

	fams := parsePage(t, m.reg.appendPage(nil))
	if len(fams) != len(want)+len(hists) {
		t.Errorf("%d families, want %d", len(fams), len(want)+len(hists))
	}
	for fname, f := range fams {
		if f.GetHelp() == "" {
			t.Errorf("%s has no help", fname)
		}
		for _, s := range f.Metric {
			if have := labelMap(s); have["name"] != name || have["stream"] != stream {
				t.Errorf("%s has labels %q, want name and stream", fname, have)
			}
		}
		if h, ok := hists[fname]; ok {
			if f.GetType() != dto.MetricType_HISTOGRAM || len(f.Metric) != 1 || len(f.Metric[0].Label) != 2 {
				t.Errorf("%s: %v, want one histogram with the labels name and stream", fname, f)
				continue
			}
			got := f.Metric[0].Histogram
			var cumulative []uint64
			for _, b := range got.Bucket {
				cumulative = append(cumulative, b.GetCumulativeCount())
			}
			if got.GetSampleCount() != h.count || got.GetSampleSum() != h.sum || !slices.Equal(cumulative, h.buckets) {
				t.Errorf("%s: count %d sum %v buckets %v, want %d %v %v", fname, got.GetSampleCount(), got.GetSampleSum(), cumulative, h.count, h.sum, h.buckets)
			}
			continue
		}
		w, ok := want[fname]
		if !ok {
			t.Errorf("%s is served but not expected", fname)
			continue
		}
		if f.GetType() != w.kind {
			t.Errorf("%s is a %v, want a %v", fname, f.GetType(), w.kind)
		}
		got := map[string]float64{}
		for _, s := range f.Metric {
			have := labelMap(s)
			if len(have) != 2+min(len(w.label), 1) {
				t.Errorf("%s has labels %q, want name, stream and %q", fname, have, w.label)
			}
			got[have[w.label]] = s.GetCounter().GetValue() + s.GetGauge().GetValue()
		}
		if !maps.Equal(got, w.values) {
			t.Errorf("%s = %v, want %v", fname, got, w.values)
		}
	}
	for fname := range want {
		if fams[fname] == nil {
			t.Errorf("%s is not served", fname)
		}
	}
}

// Counting, new label values and histograms observed while pages are
// written: the race detector sees no race, every page parses, and the
// last page has every count.
func TestPageWhileCounting(t *testing.T) {
	m := newMetrics("x", "s")
	const writers, each = 4, 200
	done, scraped := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(scraped)
		var page []byte
		for {
			select {
			case <-done:
				return
			default:
				page = m.reg.appendPage(page[:0])
				p := expfmt.NewTextParser(model.UTF8Validation)
				if _, err := p.TextToMetricFamilies(bytes.NewReader(page)); err != nil {
					t.Errorf("a page written while counting does not parse: %v\n%s", err, page)
					return
				}
			}
		}
	}()
	var wg sync.WaitGroup
	for w := range writers {
		wg.Go(func() {
			for i := range each {
				m.callErrors.WithLabelValues(fmt.Sprint("code", w, "-", i%10)).Inc()
				m.observePut(&producer.RequestResult{Took: time.Millisecond, Entries: []producer.EntryResult{{UserRecords: 3, Bytes: 1}}})
			}
		})
	}
	wg.Wait()
	close(done)
	<-scraped
	fams := parsePage(t, m.reg.appendPage(nil))
	if got := len(fams["kinesis_kpl_put_records_errors_total"].Metric); got != writers*10 {
		t.Errorf("%d error codes, want %d", got, writers*10)
	}
	total := 0.0
	for _, s := range fams["kinesis_kpl_put_records_errors_total"].Metric {
		total += s.Counter.GetValue()
	}
	lat := fams["kinesis_kpl_put_records_duration_seconds"].Metric[0].Histogram
	per := fams["kinesis_kpl_user_records_per_kinesis_record"].Metric[0].Histogram
	if total != writers*each || lat.GetSampleCount() != writers*each || per.GetSampleSum() != 3*writers*each {
		t.Errorf("errors %v, latencies %d, user records %v, want %d, %d, %d", total, lat.GetSampleCount(), per.GetSampleSum(), writers*each, writers*each, 3*writers*each)
	}
}
