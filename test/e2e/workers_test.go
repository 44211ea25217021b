package e2e

import (
	"fmt"
	"regexp"
	"strings"
	"testing"
)

// With workers 0, which is also Fluent Bit's default for Go plugins (1.8
// and 5.1 alike), Fluent Bit runs the flush on its engine thread, the thread
// that ran init: the plugin warns once. With workers 1 the flush runs on a
// worker thread: no warning. Either way every record arrives.
func TestWorkersZeroWarns(t *testing.T) {
	e := setup(t)
	endpoint := kinesalite(t, e)
	threads := regexp.MustCompile(`first flush init_thread=(\d+) flush_thread=(\d+)`)
	for _, tt := range []struct {
		workers int // -1: not set
		warns   bool
	}{{0, true}, {1, false}, {-1, true}} {
		t.Run(workersLine(tt.workers), func(t *testing.T) {
			stream := fmt.Sprintf("workers%d", tt.workers)
			createStream(t, e, endpoint, stream, 2)
			fb, port := pipeline(t, e, output("*", stream, endpoint, "partition_key pk",
				workersLine(tt.workers), "plugin_log_level debug"))
			records := makeRecords(500, 50, stream)
			post(t, port, "app.logs", records)
			waitFor(t, e, endpoint, stream, len(records), fb)
			fb.shutdown(t)
			checkExactlyOnce(t, records, readStream(t, e, endpoint, stream))
			out := fb.output()
			m := threads.FindStringSubmatch(out)
			if m == nil {
				t.Fatalf("the log does not show the first flush's thread:\n%s", out)
			}
			t.Logf("init thread %s, first flush thread %s", m[1], m[2])
			if (m[1] == m[2]) != tt.warns {
				t.Errorf("init and flush on threads %s and %s, want them the same: %v", m[1], m[2], tt.warns)
			}
			if got := strings.Count(out, "engine thread (workers 0)"); got != map[bool]int{true: 1, false: 0}[tt.warns] {
				t.Errorf("%d warnings about the engine thread, want %v:\n%s", got, tt.warns, out)
			}
		})
	}
}

// workersLine is the [OUTPUT] line setting workers, or a comment for n < 0.
func workersLine(n int) string {
	if n < 0 {
		return "# workers not set"
	}
	return fmt.Sprintf("workers %d", n)
}
