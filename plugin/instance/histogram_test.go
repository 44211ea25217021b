package instance

import (
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/kinesis-kpl/fluent-bit-kinesis-kpl/producer"
)

// gatherHistogram collects c's one histogram.
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

// A countHistogram shows what Prometheus' own histogram shows for the same
// observations, however they are split into calls.
func TestCountHistogramMatchesPrometheus(t *testing.T) {
	uppers := prometheus.ExponentialBuckets(1, 2, 14)
	tests := []struct {
		name  string
		calls [][]int
	}{
		{name: "none"},
		{name: "plain records", calls: [][]int{{1, 1, 1}, {1}}},
		{name: "on and between bounds", calls: [][]int{{0, 1, 2, 3, 4, 5, 7, 8, 9}}},
		{name: "above every bound", calls: [][]int{{8192, 8193}, {100000}}},
		{name: "an empty call", calls: [][]int{{}, {2}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ours := newCountHistogram("h", "help", uppers)
			theirs := prometheus.NewHistogram(prometheus.HistogramOpts{Name: "h", Help: "help", Buckets: uppers})
			for _, call := range tc.calls {
				var tally countTally
				for _, v := range call {
					ours.tally(&tally, v)
					theirs.Observe(float64(v))
				}
				ours.add(&tally)
			}
			got, want := gatherHistogram(t, ours), gatherHistogram(t, theirs)
			if got.GetSampleCount() != want.GetSampleCount() || got.GetSampleSum() != want.GetSampleSum() {
				t.Fatalf("count %d sum %v, want %d and %v", got.GetSampleCount(), got.GetSampleSum(), want.GetSampleCount(), want.GetSampleSum())
			}
			if len(got.Bucket) != len(want.Bucket) {
				t.Fatalf("%d buckets, want %d", len(got.Bucket), len(want.Bucket))
			}
			for i, b := range want.Bucket {
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
