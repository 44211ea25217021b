package producer

import (
	"errors"
	"fmt"
	"sync"
	"testing"
)

// Observe sees every call with each entry's user records and bytes, and
// the per-entry codes of the answer; a panic in it changes no outcome.
func TestObserveSeesEveryCall(t *testing.T) {
	f := newFake(4)
	f.script = []step{fail(errors.New("connection reset")), codes(map[int]string{0: "ProvisionedThroughputExceededException"})}
	var mu sync.Mutex
	var calls, failedCalls, stored, throttled, users int
	p := newTestProducer(t, f, func(c *Config) {
		c.Observe = func(r *RequestResult) {
			mu.Lock()
			defer mu.Unlock()
			calls++
			if r.Err != nil {
				failedCalls++
				panic("observer bug") // must not fail any record
			}
			for _, e := range r.Entries {
				if e.UserRecords < 1 || e.Bytes < 1 {
					t.Errorf("entry with %d user records, %d bytes", e.UserRecords, e.Bytes)
				}
				switch e.ErrorCode {
				case "":
					stored++
					users += e.UserRecords
				case "ProvisionedThroughputExceededException":
					throttled++
				}
			}
		}
	})
	p.Start()
	g := p.NewGroup()
	const n = 300
	for i := range n {
		g.Add([]byte(fmt.Sprint(`{"n":`, i, `}`)), fmt.Sprint("key-", i%7))
	}
	putAllAndStop(t, p, g, n)
	mu.Lock()
	defer mu.Unlock()
	if calls != f.callCount() || failedCalls != 1 || throttled != 1 {
		t.Fatalf("observed %d calls (%d failed, %d throttled entries); the fake had %d calls", calls, failedCalls, throttled, f.callCount())
	}
	if users != n {
		t.Fatalf("observed %d user records stored, want %d", users, n)
	}
	if p.Stats().PanicsRecovered != 1 {
		t.Fatalf("panics recovered %d, want 1", p.Stats().PanicsRecovered)
	}
}
