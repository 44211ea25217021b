package producer

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"
)

// With nothing buffered the send loop sleeps until a record comes: an idle
// producer inside Fluent Bit costs no wake-ups every FlushInterval. A
// record after the quiet time is still sent.
func TestIdleLoopSleepsUntilARecordComes(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var counting atomic.Bool
		var steps atomic.Int64
		testHookPanic = func(where string) {
			if where == "loop" && counting.Load() {
				steps.Add(1)
			}
		}
		defer func() { testHookPanic = nil }()
		f := newFake(1)
		p := newTestProducer(t, f, func(c *Config) {
			c.FlushInterval = 100 * time.Millisecond
			c.GetShards = nil
		})
		p.Start()
		defer func() {
			if err := p.Stop(context.Background()); err != nil {
				t.Error(err)
			}
		}()
		put := func(n int) {
			g := p.NewGroup()
			for i := range n {
				g.Add([]byte(recordData(i)), fmt.Sprint("key-", i))
			}
			if err := p.PutGroup(context.Background(), g); err != nil {
				t.Fatal(err)
			}
			if err := g.Wait(context.Background()); err != nil {
				t.Fatal(err)
			}
			g.Release()
		}
		put(10)
		synctest.Wait()

		counting.Store(true)
		time.Sleep(10 * time.Second)
		synctest.Wait()
		if n := steps.Load(); n > 1 {
			t.Fatalf("the idle loop ran %d times in 10 s (FlushInterval 100ms)", n)
		}
		put(1)
		if got := f.deliveredCount(recordData(0)); got != 2 {
			t.Fatalf("record 0 stored %d times, want 2 (once per put)", got)
		}
	})
}
