package producer

import (
	"runtime/debug"
	"sync/atomic"
	"time"
)

// The producer runs inside other processes (Fluent Bit): a panic in a
// goroutine it started would take the host down. Every such goroutine
// recovers, logs the panic with its stack, gives the records the panicking
// code held the retryable outcome ErrPanicked, and keeps running.

// testHookPanic, when set (by tests, before Start), is called at named
// points of the producer's goroutines, so tests can make them panic.
var testHookPanic func(where string)

func testHook(where string) {
	if testHookPanic != nil {
		testHookPanic(where)
	}
}

// recovered wraps a recovered panic value with the current stack.
func recovered(where string, v any) *panicError {
	return &panicError{where: where, value: v, stack: debug.Stack()}
}

// logPanic logs a recovered panic with its stack and counts it. The stack
// holds code positions and argument words, never record data.
func (p *Producer) logPanic(pe *panicError) {
	p.panics.Add(1)
	p.log.Error("recovered a panic; the records it held fail with ErrPanicked", pe, LogValue{"stack", string(pe.stack)})
}

// safeLogger keeps a panicking Logger from taking down the goroutine that
// logs; such panics are only counted.
type safeLogger struct {
	l      Logger
	panics *atomic.Uint64
}

func (s safeLogger) Info(msg string, values ...LogValue) {
	defer s.swallow()
	s.l.Info(msg, values...)
}

func (s safeLogger) Error(msg string, err error, values ...LogValue) {
	defer s.swallow()
	s.l.Error(msg, err, values...)
}

func (s safeLogger) swallow() {
	if recover() != nil {
		s.panics.Add(1)
	}
}

// serve sends one request and records its outcome. A panic in the Putter
// is an error of the request (safePut); a panic in the producer's own code
// fails the records the request still holds.
func (p *Producer) serve(req *request) {
	defer func() {
		if v := recover(); v != nil {
			p.abandon(req, recovered("sending a request", v))
		}
	}()
	start := time.Now()
	out, err := p.put(req)
	p.observe(req, out, err, time.Since(start))
	p.complete(req, out, err)
}

// unlockAfterComplete releases p.mu at the end of complete. After a panic
// in complete's locked part it first fails what the request still holds,
// under the same lock, so that no one sees the half-done state.
func (p *Producer) unlockAfterComplete(req *request) {
	defer p.mu.Unlock()
	if v := recover(); v != nil {
		p.abandonLocked(req, recovered("recording a request's outcome", v))
	}
}

// abandon gives the records of req that have no outcome yet the outcome
// pe, after a panic while req was handled.
func (p *Producer) abandon(req *request, pe *panicError) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.abandonLocked(req, pe)
}

// abandonLocked is abandon with p.mu held. Entries already placed (freed,
// back in the buffer or awaiting the map) are left alone.
func (p *Producer) abandonLocked(req *request, pe *panicError) {
	p.logPanic(pe)
	if req.done {
		return // complete got past its last use of req, which may be reused
	}
	for _, e := range req.entries {
		if !e.sent {
			continue // placed already
		}
		freed, fails := p.finishEntry(e, outcomeFailed, pe, true, "")
		p.bufferedBytes -= freed
		p.notifyEntryLocked(e, &fails)
		p.freeEntryLocked(e)
	}
	p.freeRequestLocked(req)
	p.inflight--
	req.done = true
	p.signalChangedLocked()
	p.dispatchLocked()
}

// failBufferAfterPanic gives every buffered record the outcome pe after
// the send loop or the refresh panicked, since the buffer may be half
// updated. It recovers from a second panic rather than loop.
func (p *Producer) failBufferAfterPanic(pe *panicError) {
	defer func() {
		if v := recover(); v != nil {
			p.logPanic(recovered("failing the buffer after a panic", v))
		}
	}()
	p.mu.Lock()
	defer p.mu.Unlock()
	p.inLoop = false
	if len(p.moving) > 0 {
		moving := &entry{refs: p.moving}
		p.moving = nil
		freed, fails := p.finishEntry(moving, outcomeFailed, pe, true, "")
		p.bufferedBytes -= freed
		p.notifyEntryLocked(moving, &fails)
	}
	p.failAllQueuedLocked(pe)
	p.signalChangedLocked()
}
