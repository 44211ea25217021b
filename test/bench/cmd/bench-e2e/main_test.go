package main

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/kinesis-kpl/fluent-bit-kinesis-kpl/test/bench"
)

// TestRowsUseKnownOptions keeps the rows in step with the plugin's options.
func TestRowsUseKnownOptions(t *testing.T) {
	seen := map[string]bool{}
	for _, r := range rows() {
		if seen[r.id] {
			t.Errorf("row id %q twice", r.id)
		}
		seen[r.id] = true
		for _, kv := range r.output {
			if k, _, _ := strings.Cut(kv, " "); k != "workers" && !hasOption(k) {
				t.Errorf("row %s sets %q, which the plugin does not read", r.id, k)
			}
		}
	}
	if hasOption("no_such_option") {
		t.Error("hasOption accepts anything")
	}
}

func TestRender(t *testing.T) {
	complete := bench.Tally{Want: 1000, Distinct: 1000}
	missing := bench.Tally{Want: 1000, Distinct: 999}
	results := []result{
		{row: row{name: "null", kind: "null"}, cpu: 3 * time.Millisecond, records: 1000, rate: 172000, peakRSS: 35 << 20},
		{row: row{name: "C", kind: "c"}, cpu: 8 * time.Millisecond, records: 1000, rate: 113000, peakRSS: 63 << 20, tally: &complete},
		{row: row{name: "go", kind: "go"}, cpu: 7 * time.Millisecond, records: 1000, rate: 120000, peakRSS: 60 << 20, tally: &complete},
		{row: row{name: "lossy", kind: "go"}, cpu: 7 * time.Millisecond, records: 1000, rate: 1, tally: &missing, detail: missing.String()},
		{row: row{name: "broken", kind: "go"}, err: errors.New("stalled")},
	}
	got := render(options{records: 1000, size: 525, shards: 64, fbCPU: "0"}, "5.1.1", [][]result{results})
	for _, want := range []string{
		"Fluent Bit 5.1.1 pinned to CPU 0",
		"| null | 3.00 | – | – | 172k | 35 MB | yes | 0.00 |",
		"| C | 8.00 | 5.00 | – | 113k | 63 MB | yes | 0.00 |",
		"| go | 7.00 | 4.00 | 0.80x | 120k | 60 MB | yes | 0.00 |",
		"| lossy | 7.00 | 4.00 | 0.80x | 0k | 0 MB | no: 999 of 1000 records",
		"| broken | – | – | – | – | – | no: stalled | – |",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("table lacks %q:\n%s", want, got)
		}
	}
}

func TestRunRejectsBadFlags(t *testing.T) {
	for _, args := range [][]string{
		{},
		{"-fluent-bit", "fb", "-records", "0"},
		{"-fluent-bit", "fb", "-rows", "nope"},
		{"-fluent-bit", "fb", "extra"},
		{"-no-such-flag"},
		{"-fluent-bit", "/nonexistent/fluent-bit", "-rows", "null"},
	} {
		if err := run(context.Background(), args); err == nil {
			t.Errorf("run(%q) succeeded", args)
		}
	}
}

// Over rounds, each row shows its medians, with shares and ratios taken
// within each round.
func TestRenderRounds(t *testing.T) {
	complete := bench.Tally{Want: 1000, Distinct: 1000}
	round := func(null, c, goCPU time.Duration, rss int64) []result {
		return []result{
			{row: row{name: "null", kind: "null"}, cpu: null, records: 1000, rate: 100000, peakRSS: 30 << 20},
			{row: row{name: "C", kind: "c"}, cpu: c, records: 1000, rate: 100000, peakRSS: 60 << 20, tally: &complete},
			{row: row{name: "go", kind: "go"}, cpu: goCPU, records: 1000, rate: 100000, peakRSS: rss, tally: &complete},
		}
	}
	rounds := [][]result{
		round(3*time.Millisecond, 8*time.Millisecond, 7*time.Millisecond, 50<<20),  // share 4 of 5: 0.80
		round(2*time.Millisecond, 8*time.Millisecond, 5*time.Millisecond, 70<<20),  // 3 of 6: 0.50
		round(4*time.Millisecond, 8*time.Millisecond, 10*time.Millisecond, 60<<20), // 6 of 4: 1.50
	}
	got := render(options{records: 1000, size: 525, shards: 64, fbCPU: "0"}, "5.1.1", rounds)
	for _, want := range []string{
		"the median of 3 rounds",
		"| output | CPU µs/record | own share (minus null) | share vs C | per round | records/s |",
		"| null | 3.00 | – | – | – | 100k | 30 MB | yes | 0.00 |",
		"| C | 8.00 | 5.00 | – | – | 100k | 60 MB | yes | 0.00 |",
		"| go | 7.00 | 4.00 | 0.80x | 0.80, 0.50, 1.50 | 100k | 70 MB | yes | 0.00 |",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("table lacks %q:\n%s", want, got)
		}
	}
}
