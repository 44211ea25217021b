package instance

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"

	"github.com/kinesis-kpl/fluent-bit-kinesis-kpl/producer"
)

// fakeClock is a clock a test moves by hand.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *fakeClock) add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

func TestHealthStates(t *testing.T) {
	refused := errors.New("dial tcp 127.0.0.1:9: connect: connection refused")
	const window = 4 * time.Second
	for _, tc := range []struct {
		name string
		run  func(h *health, c *fakeClock)
		down bool
	}{
		{"new", func(h *health, c *fakeClock) {}, false},
		{"idle for long", func(h *health, c *fakeClock) { c.add(time.Hour) }, false},
		{"two failures, window not over", func(h *health, c *fakeClock) {
			h.end(h.begin(), refused)
			h.end(h.begin(), refused)
			c.add(window - time.Millisecond)
		}, false},
		{"two failures and the window over", func(h *health, c *fakeClock) {
			h.end(h.begin(), refused)
			h.end(h.begin(), refused)
			c.add(window)
		}, true},
		{"one failure after a long idle", func(h *health, c *fakeClock) {
			c.add(time.Hour)
			h.end(h.begin(), refused)
		}, false},
		{"a success clears failures", func(h *health, c *fakeClock) {
			h.end(h.begin(), refused)
			h.end(h.begin(), refused)
			c.add(window)
			h.end(h.begin(), nil)
		}, false},
		{"canceled requests say nothing", func(h *health, c *fakeClock) {
			h.end(h.begin(), context.Canceled)
			h.end(h.begin(), fmt.Errorf("send: %w", context.Canceled))
			c.add(window)
		}, false},
		{"a request hung for a window", func(h *health, c *fakeClock) {
			h.begin()
			c.add(window)
		}, true},
		{"a request hung for less than a window", func(h *health, c *fakeClock) {
			c.add(window)
			h.begin()
			c.add(window - time.Millisecond)
		}, false},
		{"a hung request answered", func(h *health, c *fakeClock) {
			id := h.begin()
			c.add(window)
			h.end(id, nil)
		}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := &fakeClock{t: time.Unix(1000, 0)}
			h := newHealth(window, c.now)
			tc.run(h, c)
			if down, _ := h.failing(); down != tc.down {
				t.Fatalf("failing() = %v, want %v", down, tc.down)
			}
		})
	}
}

func TestHealthReportsChangesOnceAndProbesOncePerWindow(t *testing.T) {
	c := &fakeClock{t: time.Unix(1000, 0)}
	h := newHealth(time.Second, c.now)
	h.end(h.begin(), errors.New("503"))
	h.end(h.begin(), errors.New("503"))
	c.add(time.Second)
	if down, changed := h.failing(); !down || !changed {
		t.Fatalf("first look: down %v changed %v, want both", down, changed)
	}
	if down, changed := h.failing(); !down || changed {
		t.Fatalf("second look: down %v changed %v, want down and unchanged", down, changed)
	}
	if !h.probe() {
		t.Fatal("first probe refused")
	}
	if h.probe() {
		t.Fatal("second probe in the same window allowed")
	}
	c.add(time.Second)
	if !h.probe() {
		t.Fatal("probe refused in the next window")
	}
	h.end(h.begin(), nil)
	if down, changed := h.failing(); down || !changed {
		t.Fatalf("after a success: down %v changed %v, want up and changed", down, changed)
	}
}

// failingKinesis fails every request outright, as a refused connection does.
type failingKinesis struct {
	mu    sync.Mutex
	calls int
}

func (f *failingKinesis) PutRecords(ctx context.Context, in *kinesis.PutRecordsInput, _ ...func(*kinesis.Options)) (*kinesis.PutRecordsOutput, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls++
	return nil, errors.New("dial tcp 127.0.0.1:9: connect: connection refused")
}

func TestFlushAsksForRetryAtOnceWhileKinesisIsFailing(t *testing.T) {
	fk := &fakeKinesis{}
	in, logs := newInstance(t, fk, nil)
	c := &fakeClock{t: time.Unix(1000, 0)}
	in.health = newHealth(in.cfg.FlushTimeout, c.now)
	in.health.end(in.health.begin(), errors.New("connection refused"))
	in.health.end(in.health.begin(), errors.New("connection refused"))
	c.add(in.cfg.FlushTimeout)

	data, _ := makeChunk(10, false)
	// The first flush is the window's probe: it goes through, with a short
	// wait, and here the endpoint answers.
	if st := in.Flush("t", data); st != OK {
		t.Fatalf("probe flush: %v, want OK", st)
	}
	if got := len(fk.got()); got != 10 {
		t.Fatalf("probe delivered %d records, want 10", got)
	}
	// The probe's own requests went through the producer's client, not the
	// health under test, so the endpoint still counts as failing: the next
	// flush in the window is answered at once and sends nothing.
	calls := fk.callCount()
	start := time.Now()
	if st := in.Flush("t", data); st != Retry {
		t.Fatalf("flush while failing: %v, want RETRY", st)
	}
	if d := time.Since(start); d > in.cfg.FlushTimeout/2 {
		t.Fatalf("flush while failing took %v", d)
	}
	if n := fk.callCount() - calls; n != 0 || in.Stats().FastRetries.Load() != 1 {
		t.Fatalf("flush while failing: %d new requests, %d fast retries; want 0 and 1", n, in.Stats().FastRetries.Load())
	}
	if n := strings.Count(logs.String(), "Kinesis is failing"); n != 1 {
		t.Fatalf("the failing state was logged %d times, want once", n)
	}
	// A success anywhere ends it.
	in.health.end(in.health.begin(), nil)
	if st := in.Flush("t", data); st != OK {
		t.Fatalf("flush after recovery: %v, want OK", st)
	}
	if !strings.Contains(logs.String(), "Kinesis answers again") {
		t.Fatal("recovery not logged")
	}
}

func (f *fakeKinesis) callCount() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.calls
}

func TestWatchedPutterFeedsHealth(t *testing.T) {
	c := &fakeClock{t: time.Unix(1000, 0)}
	h := newHealth(time.Second, c.now)
	w := watchedPutter{next: &failingKinesis{}, health: h}
	for range 2 {
		if _, err := w.PutRecords(context.Background(), &kinesis.PutRecordsInput{}); err == nil {
			t.Fatal("the failing client succeeded")
		}
	}
	c.add(time.Second)
	if down, _ := h.failing(); !down {
		t.Fatal("two failed requests and a window without success: not failing")
	}
	w.next = &fakeKinesis{}
	if _, err := w.PutRecords(context.Background(), &kinesis.PutRecordsInput{}); err != nil {
		t.Fatal(err)
	}
	if down, _ := h.failing(); down {
		t.Fatal("still failing after a success")
	}
}

// refusingHTTP is an HTTP client whose every request fails to connect.
type refusingHTTP struct{ calls int }

func (r *refusingHTTP) Do(*http.Request) (*http.Response, error) {
	r.calls++
	return nil, errors.New("dial tcp 127.0.0.1:9: connect: connection refused")
}

// TestWatchKeepsStreamedBodies: a watched *kinesis.Client still sends
// large bodies as they are written (producer.StreamPutter), and those
// calls feed the health too; a client that cannot is not made to look as
// if it could.
func TestWatchKeepsStreamedBodies(t *testing.T) {
	c := &fakeClock{t: time.Unix(1000, 0)}
	h := newHealth(time.Second, c.now)
	if _, ok := watch(&fakeKinesis{}, h).(producer.StreamPutter); ok {
		t.Fatal("a fake client is watched as a StreamPutter")
	}
	hc := &refusingHTTP{}
	client := kinesis.New(kinesis.Options{
		Region:       "eu-west-1",
		Credentials:  aws.AnonymousCredentials{},
		BaseEndpoint: aws.String("https://127.0.0.1:9"),
		HTTPClient:   hc,
		Retryer:      aws.NopRetryer{},
	})
	w, ok := watch(client, h).(producer.StreamPutter)
	if !ok {
		t.Fatal("a watched *kinesis.Client is not a StreamPutter")
	}
	for range 2 {
		if _, err := w.PutRecordsStream(context.Background(), "s", producer.WireCBOR, new(producer.BodyStream)); err == nil {
			t.Fatal("a refused request succeeded")
		}
	}
	if hc.calls != 2 {
		t.Fatalf("%d requests, want 2", hc.calls)
	}
	c.add(time.Second)
	if down, _ := h.failing(); !down {
		t.Fatal("two refused streamed requests and a window without success: not failing")
	}
}
