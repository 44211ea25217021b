package instance

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/kinesis"

	"github.com/kinesis-kpl/fluent-bit-kinesis-kpl/producer"
)

// health watches every PutRecords call of an instance and tells whether
// Kinesis is plainly failing: nothing has succeeded for a whole
// flush_timeout, and either several requests failed outright or one has
// hung for a flush_timeout.
//
// Why: a flush that waits its full flush_timeout while the endpoint refuses
// connections, hangs or answers 5xx gains nothing, and costs a great deal at
// shutdown. Fluent Bit 2.x and later wait, after their Grace, for every flush
// queued on an output's workers; twenty queued flushes of 4 s each keep the
// process alive for over a minute, and Kubernetes then kills it. While the
// endpoint is plainly failing, a flush therefore asks for a retry at once,
// and only one flush per flush_timeout goes through as a probe (with a short
// wait) to see the endpoint come back. Records that reached the producer
// stay in the retry ledger; Fluent Bit keeps the chunks.
//
// A response with per-entry failures (throttling) is a success here: the
// endpoint answers, and the normal retries handle it.
type health struct {
	window time.Duration // a flush_timeout
	now    func() time.Time

	mu          sync.Mutex
	lastSuccess time.Time
	failures    int                  // requests failed since lastSuccess
	inFlight    map[uint64]time.Time // start of each request awaiting its answer
	seq         uint64
	lastProbe   time.Time
	down        bool // the state last reported, for logging its changes
}

// failuresBeforeDown is how many requests must fail, with no success in
// between, before the endpoint counts as failing (besides the time window).
const failuresBeforeDown = 2

func newHealth(window time.Duration, now func() time.Time) *health {
	return &health{window: window, now: now, lastSuccess: now(), inFlight: make(map[uint64]time.Time)}
}

// begin notes a request leaving; end must be called with its answer.
func (h *health) begin() uint64 {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.seq++
	h.inFlight[h.seq] = h.now()
	return h.seq
}

// end records a request's result. A request canceled by the producer
// itself (a stop, a canceled group) says nothing about the endpoint.
func (h *health) end(id uint64, err error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	delete(h.inFlight, id)
	switch {
	case err == nil:
		h.lastSuccess = h.now()
		h.failures = 0
	case errors.Is(err, context.Canceled):
	default:
		h.failures++
	}
}

// failing reports whether Kinesis is plainly failing now, and whether this
// state differs from the one reported last (for a log line on each change).
func (h *health) failing() (down, changed bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	now := h.now()
	if now.Sub(h.lastSuccess) >= h.window {
		if h.failures >= failuresBeforeDown {
			down = true
		}
		for _, started := range h.inFlight {
			if now.Sub(started) >= h.window {
				down = true
				break
			}
		}
	}
	changed = down != h.down
	h.down = down
	return down, changed
}

// probe reports whether a flush may go through while the endpoint is
// failing: one per window.
func (h *health) probe() bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	now := h.now()
	if now.Sub(h.lastProbe) < h.window {
		return false
	}
	h.lastProbe = now
	return true
}

// watchedPutter reports every PutRecords call to a health.
type watchedPutter struct {
	next   producer.Putter
	health *health
}

// watchedBodyPutter is a watchedPutter over a client that can send
// written request bodies (producer.BodyPutter), which it keeps doing.
type watchedBodyPutter struct {
	watchedPutter
	body producer.BodyPutter
}

// watch wraps next so that every call is reported to h, keeping next's
// way of sending bodies if it has one.
func watch(next producer.Putter, h *health) producer.Putter {
	w := watchedPutter{next: next, health: h}
	b := producer.BodyPutterOf(next)
	if s, ok := b.(producer.StreamPutter); ok {
		return watchedStreamPutter{watchedBodyPutter{w, b}, s}
	}
	if b != nil {
		return watchedBodyPutter{w, b}
	}
	return w
}

// watchedStreamPutter is a watchedBodyPutter over a client that can also
// send large bodies written as they go (producer.StreamPutter).
type watchedStreamPutter struct {
	watchedBodyPutter
	stream producer.StreamPutter
}

func (w watchedStreamPutter) PutRecordsStream(ctx context.Context, stream string, format producer.WireFormat, body *producer.BodyStream) (*kinesis.PutRecordsOutput, error) {
	id := w.health.begin()
	out, err := w.stream.PutRecordsStream(ctx, stream, format, body)
	w.health.end(id, err)
	return out, err
}

func (w watchedBodyPutter) PutRecordsBody(ctx context.Context, stream string, format producer.WireFormat, body []byte) (*kinesis.PutRecordsOutput, error) {
	id := w.health.begin()
	out, err := w.body.PutRecordsBody(ctx, stream, format, body)
	w.health.end(id, err)
	return out, err
}

func (w watchedPutter) PutRecords(ctx context.Context, in *kinesis.PutRecordsInput, optFns ...func(*kinesis.Options)) (*kinesis.PutRecordsOutput, error) {
	id := w.health.begin()
	out, err := w.next.PutRecords(ctx, in, optFns...)
	w.health.end(id, err)
	return out, err
}
