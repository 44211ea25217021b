package producer

import (
	"runtime/debug"
	"sync/atomic"
)

// The producer runs inside other processes (Fluent Bit): a panic in a
// goroutine it started would take the host down. Every such goroutine
// recovers, logs the panic with its stack, gives the records the panicking
// code held the retryable outcome ErrPanicked, and keeps running.

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
	out, err := p.put(req)
	p.complete(req, out, err)
}

// abandon gives the records of req that have no outcome yet the outcome
// pe, after a panic while req was handled. Entries already finished are
// left alone: they are freed or back in the buffer.
func (p *Producer) abandon(req *request, pe *panicError) {
	p.logPanic(pe)
	p.mu.Lock()
	defer p.mu.Unlock()
	if req.done {
		return // complete got past its last use of req, which may be reused
	}
	for _, e := range req.entries {
		if !e.sent {
			continue
		}
		e.sent = false
		freed, fails := p.finishRefs(e, outcomeFailed, pe, true, "")
		p.bufferedBytes -= freed
		p.notifyEntryLocked(e, &fails)
	}
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
		freed, fails := p.finishRefs(moving, outcomeFailed, pe, true, "")
		p.bufferedBytes -= freed
		p.notifyEntryLocked(moving, &fails)
	}
	p.failAllQueuedLocked(pe)
	p.signalChangedLocked()
}
