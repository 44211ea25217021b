package producer

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"
)

// panicLogger panics on every call, as a broken Logger might.
type panicLogger struct{}

func (panicLogger) Info(string, ...LogValue)         { panic("logger") }
func (panicLogger) Error(string, error, ...LogValue) { panic("logger") }

// TestPanicsAreRecovered: a panicking Putter fails the records of its
// request with ErrPanicked (retryable), logged with the stack; the
// producer keeps running and delivers them when they are put again. A
// panicking Logger costs nothing but its lines.
func TestPanicsAreRecovered(t *testing.T) {
	tests := []struct {
		name   string
		script []step
		logger Logger
		// records failed retryably after the first put, at least and at most
		minFailed, maxFailed int
		wantPanics           bool
	}{
		{name: "putter panics", script: repeat(step{count: -1, panic: true}, 10), minFailed: 10, maxFailed: 10, wantPanics: true},
		{name: "putter panics on the second request", script: []step{ok(), {count: -1, panic: true}}, minFailed: 1, maxFailed: 9, wantPanics: true},
		{name: "logger panics", script: []step{fail(apiError("AccessDeniedException"))}, logger: panicLogger{}, wantPanics: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				f := newFake(1)
				f.script = tc.script
				log := &testLogger{}
				p := newTestProducer(t, f, func(c *Config) {
					c.AggregateBatchCount = 1
					c.BatchCount = 5
					c.MaxConnections = 1
					c.Logger = log
					if tc.logger != nil {
						c.Logger = tc.logger
					}
				})
				p.Start()
				g := putAndWait(t, p, 10)
				_, _, failed, _ := g.Counts()
				if failed < tc.minFailed || failed > tc.maxFailed {
					t.Fatalf("%d records failed retryably, want %d to %d", failed, tc.minFailed, tc.maxFailed)
				}
				for i := range 10 {
					if o := g.Outcome(i); o.State == Failed && !errors.Is(o.Err, ErrPanicked) {
						t.Errorf("record %d failed with %v, want ErrPanicked", i, o.Err)
					}
				}
				if tc.minFailed > 0 {
					found := false
					for _, line := range log.all() {
						found = found || (strings.Contains(line, "recovered a panic") && strings.Contains(line, "panicked"))
					}
					if !found {
						t.Errorf("no panic logged in %q", log.all())
					}
				}
				if got := p.Stats().PanicsRecovered > 0; got != tc.wantPanics {
					t.Errorf("panics recovered: %v, want %v", got, tc.wantPanics)
				}
				// The producer still runs: the failed records go through.
				f.mu.Lock()
				f.script = nil
				f.mu.Unlock()
				rePutDeliversEachOnce(t, p, f, g, 10)
			})
		})
	}
}

// TestInternalPanicsAreRecovered makes the producer's own goroutines panic
// once at a named point: the send loop with records buffered, and a worker
// before and while it records a request's outcome. Every record still gets
// one final outcome (delivered, or ErrPanicked), the producer keeps
// running, and putting the failed ones again delivers each exactly once.
func TestInternalPanicsAreRecovered(t *testing.T) {
	tests := []struct {
		where      string
		wantFailed bool // every record fails with ErrPanicked
		stale      bool // the producer starts with a one-shard map
	}{
		{where: "loop", wantFailed: true},
		{where: "complete"},
		{where: "complete locked"},
		// A stale map: the aggregate lands on the wrong shard, the
		// refresh panics while moving the records over the new map.
		{where: "setShards", wantFailed: true, stale: true},
	}
	for _, tc := range tests {
		t.Run(tc.where, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				var armed atomic.Bool
				testHookPanic = func(where string) {
					if where == tc.where && armed.CompareAndSwap(true, false) {
						panic("injected")
					}
				}
				f := newFake(2)
				f.script = []step{codes(map[int]string{0: "InternalFailure"})} // a retry is pending when complete panics
				p := newTestProducer(t, f, func(c *Config) {
					c.BatchCount = 4
					if tc.stale {
						real, first := c.GetShards, true
						c.GetShards = func(ctx context.Context, old []types.Shard) ([]types.Shard, bool, error) {
							if first {
								first = false
								return renamed(mustShards(1), "parent"), true, nil
							}
							return real(ctx, old)
						}
					}
				})
				p.Start()
				defer func() {
					_ = p.Stop(context.Background()) // before the hook goes
					testHookPanic = nil
				}()
				g := p.NewGroup()
				for i := range 10 {
					g.Add([]byte(recordData(i)), fmt.Sprint("key-", i))
				}
				ctx := context.Background()
				armed.Store(true)
				if err := p.PutGroup(ctx, g); err != nil {
					t.Fatal(err)
				}
				time.Sleep(2 * p.cfg.FlushInterval) // the loop flushes
				if err := g.Wait(ctx); err != nil {
					t.Fatal(err)
				}
				if armed.Load() {
					t.Fatal("the injected panic did not happen")
				}
				for i := range 10 {
					o := g.Outcome(i)
					switch {
					case o.State == Delivered && !tc.wantFailed:
					case o.State == Failed && errors.Is(o.Err, ErrPanicked) && o.Retryable:
					default:
						t.Errorf("record %d: %v %v", i, o.State, o.Err)
					}
				}
				d, _, fr, _ := g.Counts()
				t.Logf("%d delivered, %d failed with ErrPanicked", d, fr)
				if p.Stats().PanicsRecovered != 1 {
					t.Errorf("%d panics recovered, want 1", p.Stats().PanicsRecovered)
				}
				if !tc.stale {
					rePutDeliversEachOnce(t, p, f, g, 10)
					return
				}
				// Copies in aggregates KCL drops do not count.
				if err := p.PutGroup(ctx, g); err != nil {
					t.Fatal(err)
				}
				if err := g.Wait(ctx); err != nil {
					t.Fatal(err)
				}
				for i := range 10 {
					if n := f.kclSeenCount(recordData(i)); n != 1 {
						t.Errorf("after re-put, record %d read by KCL %d times", i, n)
					}
				}
				g.Release()
				if err := p.Stop(ctx); err != nil {
					t.Fatal(err)
				}
			})
		})
	}
}
