package e2e

import (
	"bufio"
	"fmt"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/kinesis-kpl/fluent-bit-kinesis-kpl/test/fakekinesis"
)

// producerBufferCap is the producer's default BufferMaxBytes, which the
// plugin does not change.
const producerBufferCap = 64 << 20

// A long outage costs the plugin little memory: while Kinesis is down its
// flushes ask for a retry at once, so the producer holds almost nothing
// (far under its cap) and Fluent Bit's RSS stays flat, the chunks waiting
// in Fluent Bit's filesystem storage. When Kinesis is back every record
// arrives once.
//
// storage.max_chunks_up stays at its default (128), above the chunks of
// this run: Fluent Bit 1.8.15, with chunks put down to disk during the
// outage (max_chunks_up 16), handed some of them back as bytes that are not
// the chunk's events, and their records were lost. Fluent Bit 5.1.1 did
// not.
func TestLongOutageKeepsMemoryFlat(t *testing.T) {
	e := setup(t)
	srv := fakeKinesis(t, "logs", 4)
	outage := max(time.Duration(scaled(t, 6000))*10*time.Millisecond, 10*time.Second) // 60 s unscaled
	metrics := freePort(t)
	port := freePort(t)
	config := filesystemPipeline(t.TempDir(), port) + faultOutput(srv.URL(), "workers 1", fmt.Sprintf("metrics_listen 127.0.0.1:%d", metrics))
	fb := fluentBit(t, e, config)
	waitHTTP(t, fb, port)

	srv.SetFaults(fakekinesis.Faults{Outage: fakekinesis.Outage{Every: time.Hour, For: time.Hour}}) // down until cleared
	records := makeRecords(int(outage/time.Second)*300, 50, "outage")
	var samples []sample
	var mu sync.Mutex
	stop := make(chan struct{})
	sampled := make(chan struct{})
	go func() {
		defer close(sampled)
		tick := time.NewTicker(time.Second)
		defer tick.Stop()
		for {
			select {
			case <-stop:
				return
			case <-tick.C:
				s := sample{rssKiB: rssKiB(fb), buffered: scrape(metrics, "kinesis_kpl_buffered_bytes")}
				mu.Lock()
				samples = append(samples, s)
				mu.Unlock()
			}
		}
	}()
	postPaced(t, port, "app", len(records), func(i int) []byte { return records[i] }, outage, nil)
	close(stop)
	<-sampled
	srv.SetFaults(fakekinesis.Faults{})
	waitDelivered(t, srv, "logs", records, true, fb, 3*time.Minute)
	peak := fb.peakRSS(t)
	fb.shutdown(t)
	f := tally(records, fakeRecords(t, srv, "logs"), true)
	f.peakRSSKiB = peak

	mu.Lock()
	defer mu.Unlock()
	if len(samples) < 4 {
		t.Fatalf("%d samples during the outage", len(samples))
	}
	half := samples[len(samples)/2].rssKiB
	maxRSS, maxBuffered := 0, 0
	for _, s := range samples {
		maxBuffered = max(maxBuffered, s.buffered)
	}
	for _, s := range samples[len(samples)/2:] {
		maxRSS = max(maxRSS, s.rssKiB)
	}
	t.Logf("outage of %s with %d records posted: buffered bytes at most %d (cap %d); RSS %d MiB at mid-outage, at most %d MiB in its second half",
		outage, len(records), maxBuffered, producerBufferCap, half>>10, maxRSS>>10)
	if maxBuffered > producerBufferCap {
		t.Errorf("the producer held %d bytes, over its cap of %d", maxBuffered, producerBufferCap)
	}
	if maxRSS > half+16<<10 {
		t.Errorf("RSS grew from %d to %d MiB in the second half of the outage", half>>10, maxRSS>>10)
	}
	f.exactlyOnce(t, false)
}

type sample struct {
	rssKiB   int
	buffered int
}

// rssKiB is the process's resident set now (VmRSS), 0 if it is gone.
func rssKiB(p *proc) int {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", p.cmd.Process.Pid))
	if err != nil {
		return 0
	}
	for line := range strings.SplitSeq(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			n, _ := strconv.Atoi(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")))
			return n
		}
	}
	return 0
}

// scrape returns the value of the first series called name on the
// metrics endpoint at port, 0 when it cannot be read.
func scrape(port int, name string) int {
	c := &http.Client{Timeout: 2 * time.Second}
	resp, err := c.Get(fmt.Sprintf("http://127.0.0.1:%d/metrics", port))
	if err != nil {
		return 0
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, name+"{") || strings.HasPrefix(line, name+" ") {
			fields := strings.Fields(line)
			v, _ := strconv.ParseFloat(fields[len(fields)-1], 64)
			return int(v)
		}
	}
	return 0
}
