package instance

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/kinesis-kpl/fluent-bit-kinesis-kpl/conf"
)

// routedInstance is an instance whose options are opts (besides the stream
// "s", a short flush_timeout and record_ttl), over fk; made lists the
// streams whose producer it made, in order.
func routedInstance(t *testing.T, fk *fakeKinesis, opts conf.MapGetter) (in *Instance, made *[]string, logs *syncBuffer) {
	t.Helper()
	g := conf.MapGetter{"flush_timeout": "2s", "record_ttl": "10s", "partition_key": "pk"}
	for k, v := range opts {
		g[k] = v
	}
	cfg, err := conf.Load(g)
	if err != nil {
		t.Fatal(err)
	}
	ro, err := RecordOptions(cfg)
	if err != nil {
		t.Fatal(err)
	}
	made, logs = new([]string), new(syncBuffer)
	in, err = NewWithRecords(context.Background(), "kinesis_kpl.0", cfg, ro, fakeProducers(t, fk, cfg, made, nil), NewLogger(logs, "kinesis_kpl.0", slog.LevelDebug))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := in.Close(ctx); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return in, made, logs
}

// perStream counts the delivered records of each stream, and fails on a
// record delivered twice.
func perStream(t *testing.T, fk *fakeKinesis) map[string]int {
	t.Helper()
	fk.mu.Lock()
	defer fk.mu.Unlock()
	counts, seen := map[string]int{}, map[string]bool{}
	for i, r := range fk.records {
		key := fk.streams[i] + "\x00" + string(r.Data)
		if seen[key] {
			t.Fatalf("record %s delivered twice to %s", r.Data, fk.streams[i])
		}
		seen[key] = true
		counts[fk.streams[i]]++
	}
	return counts
}

// teamChunk is a chunk of n distinct events per team, each with a pk and
// a team field.
func teamChunk(n int, teams ...string) []byte {
	var c []byte
	for j, team := range teams {
		for i := range n {
			c = event(c, i%2 == 0, "pk", fmt.Sprint("k", i%7), "team", team, "log", fmt.Sprintf("line %d.%d", j, i))
		}
	}
	return c
}

// One instance, stream $TAG[1]: each tag's records reach their own stream,
// through a producer made on first use.
func TestRoutesByTagToTwoStreams(t *testing.T) {
	fk := &fakeKinesis{}
	in, made, logs := routedInstance(t, fk, conf.MapGetter{"stream": "logs-$TAG[1]"})
	if len(*made) != 0 {
		t.Fatalf("producers made before any record: %q", *made)
	}
	for _, tag := range []string{"app.alpha", "app.beta", "app.alpha"} {
		c, _ := makeChunk(40, false)
		if got := in.Flush(tag, c); got != OK {
			t.Fatalf("Flush(%s) = %s, want OK", tag, got)
		}
	}
	if want := []string{"logs-alpha", "logs-beta"}; !slices.Equal(*made, want) {
		t.Errorf("producers made for %q, want %q", *made, want)
	}
	// The two alpha chunks are identical: each is delivered (the ledger only
	// holds chunks awaiting a retry).
	if got := perStreamAll(fk); got["logs-alpha"] != 80 || got["logs-beta"] != 40 || len(got) != 2 {
		t.Errorf("delivered per stream %v, want logs-alpha 80, logs-beta 40", got)
	}
	if !strings.Contains(logs.String(), "sending to a new stream") {
		t.Errorf("no log of the new streams:\n%s", logs.String())
	}
}

// perStreamAll counts delivered records per stream, duplicates included.
func perStreamAll(fk *fakeKinesis) map[string]int {
	fk.mu.Lock()
	defer fk.mu.Unlock()
	counts := map[string]int{}
	for _, s := range fk.streams {
		counts[s]++
	}
	return counts
}

// max_streams bounds the producers: the records of a stream beyond it are
// rejected for good, counted, and logged without content; the rest of the
// chunk is delivered and the flush is OK.
func TestMaxStreams(t *testing.T) {
	fk := &fakeKinesis{}
	in, made, logs := routedInstance(t, fk, conf.MapGetter{"stream": "team-${team}", "max_streams": "2"})
	c := teamChunk(10, "a", "b", "secretteam", "a")
	if got := in.Flush("app", c); got != OK {
		t.Fatalf("Flush = %s, want OK", got)
	}
	if got := perStream(t, fk); got["team-a"] != 20 || got["team-b"] != 10 || len(got) != 2 {
		t.Errorf("delivered per stream %v, want team-a 20, team-b 10", got)
	}
	if len(*made) != 2 {
		t.Errorf("%d producers made, want 2 (max_streams)", len(*made))
	}
	if n := in.Stats().BadEvents.Load(); n != 10 {
		t.Errorf("BadEvents = %d, want the 10 records beyond max_streams", n)
	}
	if !strings.Contains(logs.String(), ErrTooManyStreams.Error()) || strings.Contains(logs.String(), "secretteam") {
		t.Errorf("the log should name max_streams and not the refused stream:\n%s", logs.String())
	}
	// A stream template without a value for a record rejects that record.
	c = event(nil, false, "pk", "x", "log", "no team")
	if got := in.Flush("app", c); got != OK || in.Stats().BadEvents.Load() != 11 {
		t.Errorf("record without a team: Flush = %s, BadEvents = %d", got, in.Stats().BadEvents.Load())
	}
}

// A chunk whose records go to two streams, one of which hangs, is retried:
// the retry sends only what the hanging stream did not deliver, and every
// record reaches its stream once.
func TestRetryOfAChunkSpanningTwoStreams(t *testing.T) {
	fk := &fakeKinesis{block: make(chan struct{}), blockStream: "team-b"}
	in, _, _ := routedInstance(t, fk, conf.MapGetter{"stream": "team-${team}", "flush_timeout": "300ms"})
	c := teamChunk(25, "a", "b")
	if got := in.Flush("app", c); got != Retry {
		t.Fatalf("Flush = %s, want RETRY while team-b hangs", got)
	}
	if got := perStream(t, fk); got["team-a"] != 25 || got["team-b"] != 0 {
		t.Fatalf("before the retry: delivered %v, want team-a 25 only", got)
	}
	fk.mu.Lock()
	close(fk.block)
	fk.block = nil
	fk.mu.Unlock()
	if got := in.Flush("app", c); got != OK {
		t.Fatalf("retried Flush = %s, want OK", got)
	}
	if got := perStream(t, fk); got["team-a"] != 25 || got["team-b"] != 25 {
		t.Fatalf("after the retry: delivered %v, want 25 each, once", got)
	}
	if n := in.Stats().LedgerResumes.Load(); n != 1 {
		t.Fatalf("LedgerResumes = %d, want 1", n)
	}
}

// Every producer stops in Close, within its deadline.
func TestCloseStopsEveryStream(t *testing.T) {
	fk := &fakeKinesis{}
	in, made, _ := routedInstance(t, fk, conf.MapGetter{"stream": "$TAG"})
	for _, tag := range []string{"x", "y", "z"} {
		c, _ := makeChunk(5, true)
		if got := in.Flush(tag, c); got != OK {
			t.Fatalf("Flush(%s) = %s", tag, got)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := in.Close(ctx); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if len(*made) != 3 {
		t.Fatalf("%d producers made, want 3", len(*made))
	}
	if got := in.Flush("w", nil); got != Retry {
		t.Fatalf("Flush after Close = %s, want RETRY", got)
	}
}

// Concurrent flushes (workers N) to the same new streams make one producer
// per stream, and deliver every record once.
func TestConcurrentFlushesMakeOneProducerPerStream(t *testing.T) {
	fk := &fakeKinesis{}
	in, made, _ := routedInstance(t, fk, conf.MapGetter{"stream": "team-${team}"})
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Go(func() {
			// The last event makes each chunk distinct: none is taken for a retry.
			c := teamChunk(20, "a", "b", "c")
			c = event(c, false, "pk", "x", "team", "a", "log", fmt.Sprint("flush ", i))
			if got := in.Flush("app", c); got != OK {
				t.Errorf("Flush %d = %s, want OK", i, got)
			}
		})
	}
	wg.Wait()
	slices.Sort(*made)
	if want := []string{"team-a", "team-b", "team-c"}; !slices.Equal(*made, want) {
		t.Errorf("producers made %q, want %q", *made, want)
	}
	if got := perStreamAll(fk); got["team-a"] != 8*21 || got["team-b"] != 8*20 || got["team-c"] != 8*20 {
		t.Errorf("delivered per stream %v", got)
	}
}
