package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"
)

// syncBuffer is a bytes.Buffer safe to write from run and read from the
// test.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func client(t *testing.T, endpoint string) *kinesis.Client {
	transport := &http.Transport{}
	t.Cleanup(transport.CloseIdleConnections)
	return kinesis.NewFromConfig(aws.Config{
		Region:      "us-east-1",
		Credentials: credentials.NewStaticCredentialsProvider("a", "b", ""),
		HTTPClient:  &http.Client{Transport: transport},
	}, func(o *kinesis.Options) {
		o.BaseEndpoint = aws.String(endpoint)
		o.Retryer = aws.NopRetryer{}
	})
}

// served is a run started by serve.
type served struct {
	url    string
	stderr *syncBuffer
	stop   context.CancelFunc
	done   chan error
}

// serve starts run with args in the background and waits for its URL.
func serve(t *testing.T, ctx context.Context, args ...string) *served {
	t.Helper()
	outR, outW := io.Pipe()
	s := &served{stderr: &syncBuffer{}, done: make(chan error, 1)}
	serveCtx, stop := context.WithCancel(ctx)
	s.stop = stop
	t.Cleanup(stop)
	go func() {
		s.done <- run(serveCtx, args, outW, s.stderr)
		outW.Close()
	}()
	url, err := bufio.NewReader(outR).ReadString('\n')
	if err != nil {
		t.Fatalf("reading the URL: %v (stderr %q)", err, s.stderr.String())
	}
	go io.Copy(io.Discard, outR)
	s.url = strings.TrimSpace(url)
	return s
}

func TestRun(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	portFile := filepath.Join(t.TempDir(), "port")
	s := serve(t, ctx, "-streams", "logs:4, audit:1", "-port-file", portFile, "-throttle-every", "2")
	url, stderr, stop, done := s.url, s.stderr, s.stop, s.done
	port, err := os.ReadFile(portFile)
	if err != nil || !strings.HasSuffix(url, ":"+strings.TrimSpace(string(port))) || !strings.HasPrefix(url, "http://127.0.0.1:") {
		t.Fatalf("URL %q, port file %q (%v)", url, port, err)
	}

	c := client(t, url)
	for stream, shards := range map[string]int{"logs": 4, "audit": 1} {
		out, err := c.ListShards(ctx, &kinesis.ListShardsInput{StreamName: aws.String(stream)})
		if err != nil || len(out.Shards) != shards {
			t.Errorf("ListShards(%s): %v, %d shards, want %d", stream, err, len(out.Shards), shards)
		}
	}
	put, err := c.PutRecords(ctx, &kinesis.PutRecordsInput{StreamName: aws.String("logs"), Records: []types.PutRecordsRequestEntry{
		{PartitionKey: aws.String("a"), Data: []byte("1")},
		{PartitionKey: aws.String("b"), Data: []byte("2")},
	}})
	if err != nil || aws.ToInt32(put.FailedRecordCount) != 1 {
		t.Errorf("PutRecords with -throttle-every 2: %v, %+v", err, put)
	}

	stop()
	if err := <-done; err != nil {
		t.Fatalf("run: %v", err)
	}
	if got := stderr.String(); !strings.Contains(got, "2 entries seen, 1 accepted, 1 failed by fault") {
		t.Errorf("summary %q", got)
	}
	if _, err := os.Stat(portFile); !os.IsNotExist(err) {
		t.Errorf("port file left behind: %v", err)
	}
}

func TestRunFaultFlags(t *testing.T) {
	list := func(ctx context.Context, c *kinesis.Client) (*kinesis.ListShardsOutput, error) {
		return c.ListShards(ctx, &kinesis.ListShardsInput{StreamName: aws.String("logs")})
	}
	put := func(ctx context.Context, c *kinesis.Client, n, size int) (*kinesis.PutRecordsOutput, error) {
		in := make([]types.PutRecordsRequestEntry, n)
		for i := range in {
			in[i] = types.PutRecordsRequestEntry{PartitionKey: aws.String("k"), Data: make([]byte, size)}
		}
		return c.PutRecords(ctx, &kinesis.PutRecordsInput{StreamName: aws.String("logs"), Records: in})
	}
	tests := []struct {
		name  string
		flags []string
		check func(context.Context, *kinesis.Client) error
	}{
		{"shard limits", []string{"-shard-limits"}, func(ctx context.Context, c *kinesis.Client) error {
			// 2 MiB for one shard at once: about half is over its limit.
			out, err := put(ctx, c, 500, 4<<10)
			if err != nil || aws.ToInt32(out.FailedRecordCount) < 200 {
				return fmt.Errorf("500 entries of 4 KiB to one shard: %v, %+v", err, out)
			}
			return nil
		}},
		{"outage with 503", []string{"-outage-every", "1h", "-outage-for", "1h"}, func(ctx context.Context, c *kinesis.Client) error {
			if _, err := list(ctx, c); !strings.Contains(fmt.Sprint(err), "StatusCode: 503") {
				return fmt.Errorf("ListShards in an outage: %v", err)
			}
			return nil
		}},
		{"outage with resets", []string{"-outage-every", "1h", "-outage-for", "1h", "-outage-reset"}, func(ctx context.Context, c *kinesis.Client) error {
			if _, err := put(ctx, c, 1, 1); !errors.Is(err, syscall.ECONNRESET) {
				return fmt.Errorf("PutRecords in an outage: %v", err)
			}
			return nil
		}},
		{"a PutRecords-only policy", []string{"-deny-list-shards", "-deny-describe-stream-summary"}, func(ctx context.Context, c *kinesis.Client) error {
			var denied *types.AccessDeniedException
			_, listErr := list(ctx, c)
			_, descErr := c.DescribeStreamSummary(ctx, &kinesis.DescribeStreamSummaryInput{StreamName: aws.String("logs")})
			_, putErr := put(ctx, c, 1, 1)
			if !errors.As(listErr, &denied) || !errors.As(descErr, &denied) || putErr != nil {
				return fmt.Errorf("ListShards: %v; DescribeStreamSummary: %v; PutRecords: %v", listErr, descErr, putErr)
			}
			return nil
		}},
		{"reshard after", []string{"-reshard-after", "2", "-reshard-to", "3"}, func(ctx context.Context, c *kinesis.Client) error {
			_, err := put(ctx, c, 2, 1)
			out, listErr := list(ctx, c)
			if err != nil || listErr != nil || len(out.Shards) != 3 {
				return fmt.Errorf("PutRecords: %v; ListShards: %v, %+v", err, listErr, out)
			}
			return nil
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			s := serve(t, ctx, append([]string{"-streams", "logs:1"}, tt.flags...)...)
			if err := tt.check(ctx, client(t, s.url)); err != nil {
				t.Error(err)
			}
			s.stop()
			if err := <-s.done; err != nil {
				t.Errorf("run: %v", err)
			}
		})
	}
}

func TestRunRejectsBadFlags(t *testing.T) {
	for _, args := range [][]string{
		{"-streams", "logs"},
		{"-streams", "logs:x"},
		{"-streams", ":2"},
		{"-streams", "logs:0"},
		{"-streams", "a:1,a:2"},
		{"-streams", "bad name:1"},
		{"-max-request-bytes", "0"},
		{"-outage-every", "1s"},
		{"-outage-for", "1s"},
		{"-outage-every", "1s", "-outage-for", "2s"},
		{"-outage-reset"},
		{"-reshard-to", "-1"},
		{"-reshard-after", "-1"},
		{"-reshard-to", "10001"},
		{"-delay", "-1s"},
		{"-no-such-flag"},
		{"extra"},
	} {
		var stderr syncBuffer
		if err := run(context.Background(), args, io.Discard, &stderr); err == nil {
			t.Errorf("run(%q) succeeded", args)
		}
	}
}

// TestSIGTERM runs the built command and stops it the way scripts do.
func TestSIGTERM(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the command")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	goTool, err := exec.LookPath("go")
	if err != nil {
		t.Skip("no go command to build with")
	}
	bin := filepath.Join(t.TempDir(), "fakekinesis")
	if out, err := exec.CommandContext(ctx, goTool, "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	cmd := exec.CommandContext(ctx, bin, "-streams", "s:2")
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr syncBuffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	url, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil || !strings.HasPrefix(url, "http://127.0.0.1:") {
		t.Fatalf("first line %q: %v", url, err)
	}
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if err := cmd.Wait(); err != nil {
		t.Errorf("exit after SIGTERM: %v (stderr %q)", err, stderr.String())
	}
	if !strings.Contains(stderr.String(), "0 requests") {
		t.Errorf("stderr %q", stderr.String())
	}
}
