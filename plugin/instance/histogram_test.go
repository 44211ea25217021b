package instance

import (
	"math"
	"slices"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"google.golang.org/protobuf/proto"

	"github.com/kinesis-kpl/fluent-bit-kinesis-kpl/producer"
)

// gatherHistogram collects Prometheus' histogram c.
func gatherHistogram(t testing.TB, c prometheus.Collector) *dto.Histogram {
	t.Helper()
	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(c)
	fams, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	if len(fams) != 1 || len(fams[0].Metric) != 1 {
		t.Fatalf("gathered %d families, want one histogram", len(fams))
	}
	return fams[0].Metric[0].Histogram
}

// pageHistogram reads h back from the page it is written on.
func pageHistogram(t testing.TB, h *histogram) *dto.Histogram {
	t.Helper()
	r := newRegistry()
	r.add("h", "help", typeHistogram, h)
	f := parsePage(t, r.appendPage(nil))["h"]
	if f == nil || len(f.Metric) != 1 || f.Metric[0].Histogram == nil {
		t.Fatalf("the page has no histogram h: %v", f)
	}
	return f.Metric[0].Histogram
}

// The instance's histograms have the buckets they had as Prometheus'.
func TestHistogramBuckets(t *testing.T) {
	m := newMetrics("x", "s")
	if !slices.Equal(m.putLatency.uppers, prometheus.DefBuckets) {
		t.Errorf("PutRecords latency buckets %v, want %v", m.putLatency.uppers, prometheus.DefBuckets)
	}
	if want := prometheus.ExponentialBuckets(1, 2, 14); !slices.Equal(m.perKinesis.uppers, want) {
		t.Errorf("user records per Kinesis record buckets %v, want %v", m.perKinesis.uppers, want)
	}
}

// A histogram shows what Prometheus' own histogram shows for the same
// observations, whether they come one by one (Observe) or a call at once
// (tally).
func TestHistogramMatchesPrometheus(t *testing.T) {
	counts := prometheus.ExponentialBuckets(1, 2, 14)
	tests := []struct {
		name   string
		uppers []float64
		tally  bool
		calls  [][]float64
	}{
		{name: "none", uppers: counts, tally: true},
		{name: "plain records", uppers: counts, tally: true, calls: [][]float64{{1, 1, 1}, {1}}},
		{name: "on and between bounds", uppers: counts, tally: true, calls: [][]float64{{0, 1, 2, 3, 4, 5, 7, 8, 9}}},
		{name: "above every bound", uppers: counts, tally: true, calls: [][]float64{{8192, 8193}, {100000}}},
		{name: "an empty call", uppers: counts, tally: true, calls: [][]float64{{}, {2}}},
		{name: "latencies", uppers: prometheus.DefBuckets, calls: [][]float64{{0.0005, 0.005, 0.0051, 0.3, 0.3, 1, 2.5, 9.99, 10, 10.01, 120}}},
		{name: "no latency", uppers: prometheus.DefBuckets},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ours := newHistogram(tc.uppers)
			theirs := prometheus.NewHistogram(prometheus.HistogramOpts{Name: "h", Help: "help", Buckets: tc.uppers})
			for _, call := range tc.calls {
				var tally countTally
				for _, v := range call {
					if tc.tally {
						ours.tally(&tally, int(v))
					} else {
						ours.Observe(v)
					}
					theirs.Observe(v)
				}
				ours.add(&tally)
			}
			got, want := pageHistogram(t, ours), gatherHistogram(t, theirs)
			if got.GetSampleCount() != want.GetSampleCount() || got.GetSampleSum() != want.GetSampleSum() {
				t.Fatalf("count %d sum %v, want %d and %v", got.GetSampleCount(), got.GetSampleSum(), want.GetSampleCount(), want.GetSampleSum())
			}
			// The text format lists +Inf as a bucket; Prometheus' own
			// collection leaves it implied by the count.
			if len(got.Bucket) != len(want.Bucket)+1 {
				t.Fatalf("%d buckets, want %d and +Inf", len(got.Bucket), len(want.Bucket))
			}
			for i, b := range append(want.Bucket, &dto.Bucket{UpperBound: proto.Float64(math.Inf(1)), CumulativeCount: proto.Uint64(want.GetSampleCount())}) {
				if g := got.Bucket[i]; g.GetUpperBound() != b.GetUpperBound() || g.GetCumulativeCount() != b.GetCumulativeCount() {
					t.Errorf("bucket le=%v: %d, want le=%v: %d", g.GetUpperBound(), g.GetCumulativeCount(), b.GetUpperBound(), b.GetCumulativeCount())
				}
			}
		})
	}
}

// BenchmarkObservePut measures counting one PutRecords call of 500 plain
// records (aggregation off), against the same call counted with one
// Prometheus Histogram.Observe per entry (baseline, same run).
func BenchmarkObservePut(b *testing.B) {
	r := &producer.RequestResult{Entries: make([]producer.EntryResult, 500)}
	for i := range r.Entries {
		r.Entries[i] = producer.EntryResult{UserRecords: 1, Bytes: 538}
	}
	var nsOurs float64
	b.Run("impl=tally", func(b *testing.B) {
		m := newMetrics("bench", "s")
		b.ReportAllocs()
		for b.Loop() {
			m.observePut(r)
		}
		nsOurs = float64(b.Elapsed().Nanoseconds()) / float64(b.N)
		b.ReportMetric(nsOurs/float64(len(r.Entries)), "ns/entry")
	})
	b.Run("baseline=prometheus.Histogram", func(b *testing.B) {
		m := newMetrics("bench", "s")
		h := prometheus.NewHistogram(prometheus.HistogramOpts{Name: "h", Help: "help", Buckets: prometheus.ExponentialBuckets(1, 2, 14)})
		b.ReportAllocs()
		for b.Loop() {
			m.requests.Add(1)
			for _, e := range r.Entries {
				m.kinesisRecords.Add(1)
				m.bytes.Add(int64(e.Bytes))
				h.Observe(float64(e.UserRecords))
			}
		}
		ns := float64(b.Elapsed().Nanoseconds()) / float64(b.N)
		b.ReportMetric(ns/float64(len(r.Entries)), "ns/entry")
		if nsOurs > 0 {
			b.ReportMetric(ns/nsOurs, "x-tally")
		}
	})
}
