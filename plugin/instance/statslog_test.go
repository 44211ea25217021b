package instance

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"
)

// Each tick writes one info line of what changed since the last, with
// counts only; Close ends the loop and stops its ticker.
func TestStatsLogLinesPerTick(t *testing.T) {
	fk := &fakeKinesis{failNext: 1}
	in, logs := newInstance(t, fk, nil)
	tick := make(chan time.Time)
	stopped := make(chan struct{})
	in.runStatsLog(time.Minute, tick, func() { close(stopped) })

	c, want := makeChunk(120, false)
	if got := in.Flush("app", c); got != OK {
		t.Fatalf("Flush = %s, want OK", got)
	}
	tick <- time.Now() // unbuffered: the loop has taken it
	tick <- time.Now() // and has written the first line before taking this one
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := in.Close(ctx); err != nil {
		t.Fatal(err)
	}
	select {
	case <-stopped:
	default:
		t.Fatal("Close returned before the stats log stopped its ticker")
	}

	var lines []string
	for _, l := range strings.Split(logs.String(), "\n") {
		if strings.Contains(l, "] stats ") {
			lines = append(lines, l)
		}
	}
	t.Logf("stats lines:\n%s", strings.Join(lines, "\n"))
	if len(lines) != 2 {
		t.Fatalf("%d stats lines, want 2:\n%s", len(lines), logs.String())
	}
	m := in.metrics
	if m.throttled.Load() == 0 {
		t.Fatal("nothing was throttled")
	}
	first := fmt.Sprintf("[ info] [output:kinesis_kpl:kinesis_kpl.0] stats interval=1m0s chunks=1 records_in=120 delivered=120 "+
		"retried=%d throttled=%d dropped=0 expired=0 chunk_retries=0 put_records=%d put_records_errors=0 put_records_avg_ms=",
		m.retried.Load(), m.throttled.Load(), m.requests.Load())
	rest := fmt.Sprintf(" kinesis_records=%d bytes=%d ledger_entries=0", m.kinesisRecords.Load(), m.bytes.Load())
	if !strings.Contains(lines[0], first) || !strings.HasSuffix(lines[0], rest) {
		t.Errorf("first line\n%s\nis not\n%s...%s", lines[0], first, rest)
	}
	if !strings.Contains(lines[1], "chunks=0 records_in=0 delivered=0 retried=0 throttled=0") ||
		!strings.Contains(lines[1], "put_records=0 put_records_errors=0 put_records_avg_ms=0 kinesis_records=0 bytes=0") {
		t.Errorf("second line is not the change since the first: %s", lines[1])
	}
	for _, l := range lines {
		for _, w := range want[:5] {
			if strings.Contains(l, w) || strings.Contains(l, "pod-") || strings.Contains(l, "line ") {
				t.Fatalf("a stats line shows record data or keys: %s", l)
			}
		}
	}
}

// stats_interval 0 starts no loop; Close still returns.
func TestStatsLogOff(t *testing.T) {
	in, logs := newInstance(t, &fakeKinesis{}, nil)
	in.startStatsLog(0)
	if in.metrics.logged != nil {
		t.Fatal("a stats log started with interval 0")
	}
	if err := in.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(logs.String(), "] stats ") {
		t.Fatalf("stats logged with interval 0:\n%s", logs.String())
	}
}
