package e2e

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"
)

// Shutdown with Kinesis down: Fluent Bit must exit within its Grace plus
// the plugin's exit_timeout plus a second, whether the endpoint refuses
// connections, answers 503 or hangs. Fluent Bit 2.x and later wait, after
// their Grace, for every flush queued on an output's workers, so a flush
// that waits its whole flush_timeout on a dead endpoint would hold the
// exit for minutes.
const (
	shutdownGrace       = 5 * time.Second
	shutdownExitTimeout = 5 * time.Second
	// chunksBeforeStop is how many failed flushes Fluent Bit must report
	// before it is stopped, so that chunks pile up as they do in an outage.
	chunksBeforeStop = 20
)

func TestShutdownWithKinesisDownMeetsItsDeadline(t *testing.T) {
	e := setup(t)
	for _, kind := range []string{"refused", "503", "hang"} {
		t.Run(kind, func(t *testing.T) {
			endpoint := deadEndpoint(t, kind)
			config := fmt.Sprintf(`
[SERVICE]
    Flush           1
    Grace           %d
    Log_Level       info
    scheduler.base  1
    scheduler.cap   2

[INPUT]
    Name   dummy
    Tag    app
    Rate   2000
    Dummy  {"log":"a line of an application that keeps logging","kubernetes":{"pod_name":"p1"}}
`, int(shutdownGrace/time.Second)) + output("*", "logs", endpoint,
				"partition_key  kubernetes->pod_name",
				"workers        1",
				"flush_timeout  4s",
				"exit_timeout   "+shutdownExitTimeout.String(),
				"Retry_Limit    False")
			fb := fluentBit(t, e, config)
			pollUntil(t, fb, 60*time.Second, func() bool {
				return strings.Count(fb.output(), "failed to flush chunk") >= chunksBeforeStop
			})
			failed := strings.Count(fb.output(), "failed to flush chunk")
			if failed < chunksBeforeStop {
				t.Fatalf("only %d failed flushes after 60 s\n%s", failed, fb.output())
			}
			deadline := shutdownGrace + shutdownExitTimeout + time.Second
			start := time.Now()
			err := fb.stop(t, 3*deadline)
			took := time.Since(start)
			out := fb.output()
			t.Logf("%s endpoint: %d failed flushes before SIGTERM; exit %.1f s after it (deadline %s)", kind, failed, took.Seconds(), deadline)
			if err != nil {
				t.Errorf("fluent-bit exit: %v\n%s", err, out)
			}
			if took > deadline {
				t.Errorf("exit took %s, over its deadline of %s\n%s", took.Round(100*time.Millisecond), deadline, out)
			}
			if !strings.Contains(out, "kinesis_kpl.0] stopped") {
				t.Errorf("the plugin did not report what it could not send\n%s", out)
			}
		})
	}
}

// deadEndpoint returns the URL of an endpoint that refuses connections,
// answers every request with 503, or accepts connections and never answers.
func deadEndpoint(t *testing.T, kind string) string {
	t.Helper()
	if kind == "refused" {
		return fmt.Sprintf("http://127.0.0.1:%d", freePort(t))
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	url := "http://" + l.Addr().String()
	switch kind {
	case "503":
		srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			_, _ = io.Copy(io.Discard, r.Body)
			w.Header().Set("Content-Type", "application/x-amz-json-1.1")
			w.WriteHeader(http.StatusServiceUnavailable)
			_, _ = io.WriteString(w, `{"__type":"InternalFailure","message":"unavailable"}`)
		})}
		go func() { _ = srv.Serve(l) }()
		t.Cleanup(func() { _ = srv.Close() })
	case "hang":
		var mu sync.Mutex
		var conns []net.Conn
		go func() {
			for {
				c, err := l.Accept()
				if err != nil {
					return
				}
				mu.Lock()
				conns = append(conns, c) // held open, never answered
				mu.Unlock()
			}
		}()
		t.Cleanup(func() {
			l.Close()
			mu.Lock()
			defer mu.Unlock()
			for _, c := range conns {
				c.Close()
			}
		})
	default:
		t.Fatalf("unknown endpoint kind %q", kind)
	}
	return url
}

// With storage.type filesystem, what could not be sent before a shutdown
// with Kinesis down is sent after the restart: every record arrives.
func TestShutdownWithKinesisDownKeepsFilesystemChunks(t *testing.T) {
	e := setup(t)
	storage := t.TempDir()
	records := makeRecords(3000, 20, "fs")
	config := func(endpoint string, port int) string {
		return filesystemPipeline(storage, port) + output("*", "logs", endpoint,
			"partition_key  pk",
			"workers        1",
			"exit_timeout   "+shutdownExitTimeout.String(),
			"Retry_Limit    False")
	}

	port := freePort(t)
	down := fluentBit(t, e, config(deadEndpoint(t, "refused"), port))
	waitHTTP(t, down, port)
	post(t, port, "app", records)
	pollUntil(t, down, 60*time.Second, func() bool {
		return strings.Count(down.output(), "failed to flush chunk") >= 3
	})
	start := time.Now()
	if err := down.stop(t, 3*(shutdownGrace+shutdownExitTimeout)); err != nil {
		t.Fatalf("fluent-bit exit: %v\n%s", err, down.output())
	}
	t.Logf("stopped with Kinesis down %.1f s after SIGTERM", time.Since(start).Seconds())

	endpoint := kinesalite(t, e)
	createStream(t, e, endpoint, "logs", 4)
	port = freePort(t)
	up := fluentBit(t, e, config(endpoint, port))
	got := waitFor(t, e, endpoint, "logs", len(records), up)
	up.shutdown(t)
	checkExactlyOnce(t, records, got)
	t.Logf("after the restart: %d of %d records arrived", len(got), len(records))
}
