package e2e

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"regexp"
	"testing"
	"time"

	"github.com/kinesis-kpl/fluent-bit-kinesis-kpl/test/fakekinesis"
)

// Crash survival: with storage.type filesystem, Fluent Bit killed with
// SIGKILL in the middle of a run and started again delivers every record at
// least once. The only duplicates are records that were delivered while
// their chunk was still on disk, waiting for its flush to return: what was
// in flight at the kill.
func TestCrashWithFilesystemStorageLosesNothing(t *testing.T) {
	e := setup(t)
	srv := fakeKinesis(t, "logs", 4)
	// Slow answers, one request at a time and one record per entry keep the
	// run long enough for the kill to land in its middle.
	srv.SetFaults(fakekinesis.Faults{Delay: 300 * time.Millisecond})
	storage := t.TempDir()
	records := makeRecords(20000, 50, "crash")
	config := func(port int) string {
		return filesystemPipeline(storage, port) + faultOutput(srv.URL(), "workers 2", "aggregation off", "max_connections 1")
	}

	port := freePort(t)
	fb := fluentBit(t, e, config(port))
	waitHTTP(t, fb, port)
	post(t, port, "app", records)
	pollUntil(t, fb, 60*time.Second, func() bool { return len(fakeRecords(t, srv, "logs")) >= len(records)/4 })
	if err := fb.cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	<-fb.done
	fb.done <- nil
	// Requests the fake was holding at the kill end without an answer, and
	// are stored only if their client were still there: wait until none is
	// held before counting.
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if _, err := srv.WaitFor(ctx, func(st fakekinesis.Stats) bool { return st.Held == 0 }); err != nil {
		t.Fatalf("the fake still holds requests of the killed Fluent Bit: %v", err)
	}
	atKill := len(fakeRecords(t, srv, "logs"))
	if atKill == len(records) {
		t.Fatalf("every record was delivered before the kill: the run ended too soon to test a crash")
	}
	srv.SetFaults(fakekinesis.Faults{})
	delivered := seqSet(fakeRecords(t, srv, "logs"))
	onDisk := chunkSeqs(t, storage)
	inFlight := 0
	for s := range onDisk {
		if delivered[s] > 0 {
			inFlight++
		}
	}

	port = freePort(t)
	again := fluentBit(t, e, config(port))
	got := finish(t, srv, again, len(records)+inFlight)
	counts := seqSet(got)
	missing, dups := 0, 0
	for _, r := range records {
		s := seqOf(r)
		switch n := counts[s]; {
		case n == 0:
			missing++
		case n > 1:
			dups += n - 1
		}
	}
	t.Logf("sent %d; %d delivered at the kill, %d records on disk, %d of them already delivered (in flight); after the restart %d received: %d lost, %d duplicated",
		len(records), atKill, len(onDisk), inFlight, len(got), missing, dups)
	if missing > 0 {
		t.Errorf("%d records lost", missing)
	}
	if dups > inFlight {
		t.Errorf("%d duplicates, more than the %d records in flight at the kill\n%s", dups, inFlight, again.output())
	}
}

var seqPattern = regexp.MustCompile(`"seq":"([a-z]+-[0-9]+)"`)

func seqOf(data []byte) string {
	m := seqPattern.FindSubmatch(data)
	if m == nil {
		return ""
	}
	return string(m[1])
}

func seqSet(recs []userRecord) map[string]int {
	out := make(map[string]int, len(recs))
	for _, r := range recs {
		out[seqOf(r.Data)]++
	}
	return out
}

// chunkSeqs returns the records in Fluent Bit's chunk files: each record's
// seq field is in its msgpack as the bytes of the string.
func chunkSeqs(t *testing.T, storage string) map[string]bool {
	t.Helper()
	out := map[string]bool{}
	pattern := regexp.MustCompile(`[a-z]+-[0-9]{6}`)
	err := filepath.WalkDir(storage, func(path string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() || filepath.Ext(path) != ".flb" {
			return err
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		for _, m := range pattern.FindAll(b, -1) {
			if bytes.HasPrefix(m, []byte("crash-")) {
				out[string(m)] = true
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}
