package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"

	"github.com/kinesis-kpl/fluent-bit-kinesis-kpl/aggregation"
)

// startKinesalite runs the emulator from test/node on a free loopback port
// and returns its URL. It skips when the npm packages are not installed
// (`make node`), unless KPL_E2E is set, as `make e2e` does: then their
// absence fails the test.
func startKinesalite(t *testing.T) string {
	t.Helper()
	_, file, _, _ := runtime.Caller(0)
	testDir := filepath.Join(filepath.Dir(file), "..", "..", "test")
	tool := filepath.Join(testDir, "node", "kinesis-tool.js")
	if _, err := os.Stat(filepath.Join(testDir, "node_modules", "kinesalite")); err != nil {
		if os.Getenv("KPL_E2E") == "" {
			t.Skip("kinesalite is not installed: run `make node` (or `make e2e`)")
		}
		t.Fatalf("kinesalite: %v", err)
	}
	if _, err := exec.LookPath("node"); err != nil {
		t.Fatalf("node: %v", err)
	}
	portFile := filepath.Join(t.TempDir(), "port")
	var logs bytes.Buffer
	cmd := exec.Command("node", "--no-warnings", tool, "serve", portFile)
	cmd.Stdout, cmd.Stderr = &logs, &logs
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(10 * time.Second):
			_ = cmd.Process.Kill()
			<-exited
		}
	})
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		if b, err := os.ReadFile(portFile); err == nil && len(b) > 0 {
			return "http://127.0.0.1:" + strings.TrimSpace(string(b))
		}
		select {
		case err := <-exited:
			t.Fatalf("kinesalite exited: %v\n%s", err, logs.String())
		case <-time.After(50 * time.Millisecond):
		}
	}
	t.Fatalf("kinesalite did not start within 20s")
	return ""
}

// emulator is a client of the emulator for setting a stream up.
type emulator struct {
	t      *testing.T
	client *kinesis.Client
	stream string
}

func newEmulator(t *testing.T, endpoint, stream string, shards int32) *emulator {
	t.Helper()
	client := kinesis.New(kinesis.Options{
		Region:       "us-east-1",
		BaseEndpoint: aws.String(endpoint),
		Credentials:  credentials.NewStaticCredentialsProvider("local", "local", ""),
	})
	e := &emulator{t: t, client: client, stream: stream}
	if _, err := client.CreateStream(t.Context(), &kinesis.CreateStreamInput{StreamName: aws.String(stream), ShardCount: aws.Int32(shards)}); err != nil {
		t.Fatalf("CreateStream: %v", err)
	}
	e.waitActive()
	return e
}

func (e *emulator) waitActive() {
	e.t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		out, err := e.client.DescribeStreamSummary(e.t.Context(), &kinesis.DescribeStreamSummaryInput{StreamName: aws.String(e.stream)})
		if err != nil {
			e.t.Fatalf("DescribeStreamSummary: %v", err)
		}
		if out.StreamDescriptionSummary.StreamStatus == types.StreamStatusActive {
			return
		}
		time.Sleep(20 * time.Millisecond) // polling the emulator's state, with a deadline
	}
	e.t.Fatal("stream did not become ACTIVE within 20s")
}

func (e *emulator) shards() []shardInfo {
	e.t.Helper()
	out, err := e.client.ListShards(e.t.Context(), &kinesis.ListShardsInput{StreamName: aws.String(e.stream)})
	if err != nil {
		e.t.Fatalf("ListShards: %v", err)
	}
	var infos []shardInfo
	for _, s := range out.Shards {
		info, err := toShardInfo(s)
		if err != nil {
			e.t.Fatal(err)
		}
		infos = append(infos, info)
	}
	return infos
}

// putAggregate sends n user records whose keys hash into keysIn as one
// aggregate, stored on the shard that holds hashKey.
func (e *emulator) putAggregate(tag string, n int, keysIn shardInfo, hashKey aggregation.HashKey) {
	e.t.Helper()
	var enc aggregation.Encoder
	for i := range n {
		enc.Add(keyIn(fmt.Sprintf("%s-%d", tag, i), [2]aggregation.HashKey{keysIn.start, keysIn.end}), "",
			fmt.Appendf(nil, `{"tag":%q,"i":%d}`, tag, i))
	}
	e.put(enc.AppendTo(nil), "agg-"+tag, hashKey.String())
}

func (e *emulator) put(data []byte, partitionKey, explicitHashKey string) {
	e.t.Helper()
	in := &kinesis.PutRecordInput{StreamName: aws.String(e.stream), Data: data, PartitionKey: aws.String(partitionKey)}
	if explicitHashKey != "" {
		in.ExplicitHashKey = aws.String(explicitHashKey)
	}
	if _, err := e.client.PutRecord(e.t.Context(), in); err != nil {
		e.t.Fatalf("PutRecord: %v", err)
	}
}

func mid(s shardInfo) aggregation.HashKey { return aggregation.Midpoint(s.start, s.end) }

func runKplcat(t *testing.T, ctx context.Context, args ...string) (lines []decoded, stderr string, status int) {
	t.Helper()
	var out, errOut bytes.Buffer
	status = run(ctx, args, &out, &errOut, nil)
	return readLines(t, out.Bytes()), errOut.String(), status
}

func TestAgainstKinesalite(t *testing.T) {
	endpoint := startKinesalite(t)
	t.Setenv("AWS_ACCESS_KEY_ID", "local")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "local")
	t.Setenv("AWS_REGION", "us-east-1")
	t.Setenv("AWS_CONFIG_FILE", filepath.Join(t.TempDir(), "none"))
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", filepath.Join(t.TempDir(), "none"))
	e := newEmulator(t, endpoint, "cat", 2)
	shards := e.shards()
	s0, s1 := shards[0], shards[1]

	// Before the split: an aggregate on each shard, a plain record, and an
	// aggregate whose keys hash into shard 0 stored on shard 1, which a KCL
	// consumer discards.
	e.putAggregate("a0", 3, s0, mid(s0))
	e.putAggregate("a1", 2, s1, mid(s1))
	e.put([]byte("plain text"), "plain", mid(s1).String())
	e.putAggregate("stale", 4, s0, mid(s1))
	// Split shard 0 and write to its children.
	if _, err := e.client.SplitShard(t.Context(), &kinesis.SplitShardInput{StreamName: aws.String(e.stream),
		ShardToSplit: aws.String(s0.id), NewStartingHashKey: aws.String(mid(s0).String())}); err != nil {
		t.Fatalf("SplitShard: %v", err)
	}
	e.waitActive()
	shards = e.shards()
	if len(shards) != 4 {
		t.Fatalf("%d shards after the split; want 4", len(shards))
	}
	c1, c2 := shards[2], shards[3]
	e.putAggregate("c1", 2, c1, mid(c1))
	e.putAggregate("c2", 2, c2, mid(c2))

	lines, stderr, status := runKplcat(t, t.Context(), "--endpoint", endpoint, e.stream)
	if status != 0 {
		t.Fatalf("status %d\n%s", status, stderr)
	}
	want := "shards=4 kinesis_records=6 aggregates=5 user_records=10 kcl_discarded_aggregates=1 kcl_discarded_records=4 malformed_aggregates=0"
	if !strings.Contains(stderr, want) {
		t.Errorf("stderr:\n%s\nwant the summary %q", stderr, want)
	}
	perShard := map[string][]string{}
	order := []string{}
	for _, l := range lines {
		if len(perShard[l.Shard]) == 0 {
			order = append(order, l.Shard)
		}
		desc := l.PartitionKey
		if l.DataBase64 != nil {
			desc = "plain:" + *l.DataBase64
		}
		perShard[l.Shard] = append(perShard[l.Shard], fmt.Sprintf("%d/%s", l.SubSequenceNumber, strings.SplitN(desc, "-", 2)[0]))
	}
	wantShards := map[string]string{
		s0.id: "0/a0 1/a0 2/a0",
		s1.id: "0/a1 1/a1 0/plain:cGxhaW4gdGV4dA==",
		c1.id: "0/c1 1/c1",
		c2.id: "0/c2 1/c2",
	}
	for id, w := range wantShards {
		if got := strings.Join(perShard[id], " "); got != w {
			t.Errorf("%s: %s; want %s", id, got, w)
		}
	}
	if pos := func(id string) int { return strings.Index(strings.Join(order, " "), id) }; pos(s0.id) > pos(c1.id) || pos(s0.id) > pos(c2.id) {
		t.Errorf("children printed before their parent: %v", order)
	}

	t.Run("from a timestamp", func(t *testing.T) {
		// kinesalite never answers GetShardIterator AT_TIMESTAMP on a shard
		// without a record at or after the time, so this reads one shard
		// whose last records are after it.
		var at string
		for _, l := range lines {
			if l.Shard == s1.id && l.DataBase64 != nil {
				at = l.Arrival
			}
		}
		lines, stderr, status := runKplcat(t, t.Context(), "--endpoint", endpoint, "--shard", s1.id, "--from", at, e.stream)
		if status != 0 || len(lines) == 0 || lines[len(lines)-1].DataBase64 == nil {
			t.Fatalf("status %d, %d lines, want the plain record last\n%s", status, len(lines), stderr)
		}
		for _, l := range lines {
			if l.Arrival < at {
				t.Errorf("record from %s printed with --from %s", l.Arrival, at)
			}
		}
	})

	t.Run("one shard", func(t *testing.T) {
		lines, stderr, status := runKplcat(t, t.Context(), "--endpoint", endpoint, "--shard", s0.id, e.stream)
		if status != 0 || len(lines) != 3 || !strings.Contains(stderr, "is closed and was read to its end") {
			t.Fatalf("status %d, %d lines\n%s", status, len(lines), stderr)
		}
	})

	t.Run("follow from latest", func(t *testing.T) {
		var mu sync.Mutex
		var out, errOut bytes.Buffer
		ctx, cancel := context.WithCancel(t.Context())
		defer cancel()
		done := make(chan int, 1)
		go func() {
			done <- run(ctx, []string{"--endpoint", endpoint, "--from", "LATEST", "--follow", e.stream}, lockedWriter{&mu, &out}, lockedWriter{&mu, &errOut}, nil)
		}()
		// LATEST is taken when kplcat asks for its iterators: keep putting
		// until a record put after that arrives.
		deadline := time.Now().Add(30 * time.Second)
		seen := false
		for i := 0; !seen && time.Now().Before(deadline); i++ {
			e.putAggregate(fmt.Sprintf("live%d", i), 2, c2, mid(c2))
			time.Sleep(100 * time.Millisecond) // kplcat polls; this bounds the loop's pace
			mu.Lock()
			seen = strings.Contains(out.String(), `"tag":"live`)
			mu.Unlock()
		}
		cancel()
		if status := <-done; status != 0 {
			t.Errorf("status after interrupt %d", status)
		}
		mu.Lock()
		defer mu.Unlock()
		if !seen {
			t.Fatalf("no live record printed; stderr:\n%s", errOut.String())
		}
		for _, l := range readLines(t, out.Bytes()) {
			if l.Shard != c2.id || !strings.HasPrefix(l.PartitionKey, "live") {
				t.Errorf("unexpected line with --from LATEST: %s", l.describe())
			}
		}
	})
}

type lockedWriter struct {
	mu *sync.Mutex
	w  *bytes.Buffer
}

func (l lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}
