package bench_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"
	"unsafe"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"
	"github.com/fluent/fluent-bit-go/output"

	"github.com/kinesis-kpl/fluent-bit-kinesis-kpl/conf"
	"github.com/kinesis-kpl/fluent-bit-kinesis-kpl/plugin/instance"
	"github.com/kinesis-kpl/fluent-bit-kinesis-kpl/test/bench"
)

// The real path: the plugin's own Open (the AWS SDK's client, SigV4,
// net/http, TLS with certificate verification) sending to the fake in
// another process, so that every CPU cycle this process spends is the
// client's. Run with -cpuprofile for a profile:
//
//	go test -run '^$' -bench RealPath -benchtime 20x -cpuprofile cpu.out ./test/bench/
//	go tool pprof -top cpu.out

const (
	chunkRecords = 1000
	// bigChunkRecords fill a chunk of about 2 MB, the size Fluent Bit's
	// tail input gives when it reads faster than the output sends: with
	// aggregation off, several requests of one chunk are in flight at once.
	bigChunkRecords = 4000
	streamName      = "bench"
)

// child is the fake Kinesis process that benchmarks share.
var child struct {
	once sync.Once
	cmd  *exec.Cmd
	dir  string
	url  string
	err  error
}

func TestMain(m *testing.M) {
	code := m.Run()
	if child.cmd != nil {
		_ = child.cmd.Process.Signal(syscall.SIGTERM)
		_ = child.cmd.Wait()
	}
	if child.dir != "" {
		os.RemoveAll(child.dir)
	}
	os.Exit(code)
}

// fakeURL builds and starts cmd/tlsfake once, and points this process's
// AWS SDK at its certificate and at static credentials.
func fakeURL(b *testing.B) string {
	b.Helper()
	child.once.Do(func() { child.url, child.err = startChild() })
	if child.err != nil {
		b.Fatal(child.err)
	}
	return child.url
}

func startChild() (string, error) {
	dir, err := os.MkdirTemp("", "realpath-")
	if err != nil {
		return "", err
	}
	child.dir = dir
	bin := filepath.Join(dir, "tlsfake")
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if out, err := exec.CommandContext(ctx, "go", "build", "-o", bin, "./cmd/tlsfake").CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build ./cmd/tlsfake: %v\n%s", err, out)
	}
	cmd := exec.Command(bin, "-dir", dir, "-stream", streamName, "-shards", "64")
	// Should this process die before TestMain stops the child, the kernel
	// stops it.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGTERM}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return "", err
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		return "", err
	}
	child.cmd = cmd
	r := bufio.NewReader(stdout)
	url, err1 := r.ReadString('\n')
	ca, err2 := r.ReadString('\n')
	if err1 != nil || err2 != nil {
		return "", fmt.Errorf("tlsfake did not print its URL and CA: %v %v", err1, err2)
	}
	go io.Copy(io.Discard, r)
	ca = ca[:len(ca)-1]
	// Set before the first TLS handshake of the process: the SDK reads
	// AWS_CA_BUNDLE at LoadDefaultConfig, crypto/x509 SSL_CERT_FILE once.
	for k, v := range map[string]string{
		"AWS_CA_BUNDLE": ca, "SSL_CERT_FILE": ca,
		"AWS_ACCESS_KEY_ID": "bench-key-id", "AWS_SECRET_ACCESS_KEY": "bench-secret",
		"AWS_REGION": "us-east-1", "AWS_EC2_METADATA_DISABLED": "true",
	} {
		os.Setenv(k, v)
	}
	return url[:len(url)-1], nil
}

// cpuNow is the CPU time (user + system) of this whole process.
func cpuNow(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// measure runs flush b.N times over chunks of chunkRecords records and
// reports the process's CPU and allocations per record.
func measure(b *testing.B, flush func()) { measureChunks(b, chunkRecords, flush) }

// measureChunks is measure over chunks of n records.
func measureChunks(b *testing.B, n int, flush func()) {
	flush() // connections, shard map, pools
	runtime.GC()
	var m0, m1 runtime.MemStats
	runtime.ReadMemStats(&m0)
	cpu0 := cpuNow(b)
	b.ResetTimer()
	for b.Loop() {
		flush()
	}
	b.StopTimer()
	cpu := cpuNow(b) - cpu0
	runtime.ReadMemStats(&m1)
	records := float64(b.N * n)
	b.ReportMetric(float64(cpu.Nanoseconds())/1e3/records, "cpu-µs/record")
	b.ReportMetric(float64(m1.Mallocs-m0.Mallocs)/records, "allocs/record")
	b.ReportMetric(records/b.Elapsed().Seconds(), "records/s")
}

// BenchmarkRealPath compares, in one run and against one fake, this
// plugin's flush path with the path of a plugin built the usual way:
// fluent-bit-go's decoder into maps, encoding/json, and one PutRecords
// entry per record through the same SDK client.
func BenchmarkRealPath(b *testing.B) {
	url := fakeURL(b)
	chunk := bench.Chunk(0, chunkRecords, bench.MediumRecord)
	for _, agg := range []string{"on", "off"} {
		for _, wire := range []string{"json", "cbor"} {
			b.Run("plugin/aggregation="+agg+"/wire="+wire, func(b *testing.B) {
				realPathPlugin(b, chunk, chunkRecords, conf.MapGetter{
					"stream": streamName, "region": "us-east-1", "endpoint": url,
					"rate_limit": "off", "aggregation": agg, "wire_format": wire,
				})
			})
		}
	}
	big := bench.Chunk(0, bigChunkRecords, bench.MediumRecord)
	for _, agg := range []string{"on", "off"} {
		b.Run("plugin/aggregation="+agg+"/wire=cbor/chunk=2MB", func(b *testing.B) {
			realPathPlugin(b, big, bigChunkRecords, conf.MapGetter{
				"stream": streamName, "region": "us-east-1", "endpoint": url,
				"rate_limit": "off", "aggregation": agg, "wire_format": "cbor",
			})
		})
	}
	b.Run("baseline/decoder+encoding-json+PutRecords", func(b *testing.B) {
		cfg, err := conf.Load(conf.MapGetter{"stream": streamName, "region": "us-east-1", "endpoint": url})
		if err != nil {
			b.Fatal(err)
		}
		awsCfg, err := instance.AWSConfig(context.Background(), cfg)
		if err != nil {
			b.Fatal(err)
		}
		client := kinesis.NewFromConfig(awsCfg, func(o *kinesis.Options) { o.BaseEndpoint = aws.String(url) })
		measure(b, func() { baselineFlush(b, client, chunk) })
	})
}

// realPathPlugin measures the plugin's flush of chunk, of records
// records, with options opts.
func realPathPlugin(b *testing.B, chunk []byte, records int, opts conf.MapGetter) {
	cfg, err := conf.Load(opts)
	if err != nil {
		b.Fatal(err)
	}
	in, err := instance.Open(context.Background(), "bench", cfg, instance.NewLogger(io.Discard, "bench", slog.LevelError))
	if err != nil {
		b.Fatal(err)
	}
	defer in.Close(context.Background())
	measureChunks(b, records, func() {
		if st := in.Flush("kube.app", chunk); st != instance.OK {
			b.Fatalf("Flush = %s", st)
		}
	})
}

// baselineFlush is what a plugin built on the usual parts does with a
// chunk: decode every record into a map, marshal it with encoding/json,
// and send 500 records per PutRecords, each with a random key.
func baselineFlush(b *testing.B, client *kinesis.Client, chunk []byte) {
	dec := output.NewDecoder(unsafe.Pointer(&chunk[0]), len(chunk))
	entries := make([]types.PutRecordsRequestEntry, 0, 500)
	send := func() {
		out, err := client.PutRecords(context.Background(), &kinesis.PutRecordsInput{StreamName: aws.String(streamName), Records: entries})
		if err != nil {
			b.Fatalf("PutRecords: %v", err)
		}
		if n := aws.ToInt32(out.FailedRecordCount); n != 0 {
			b.Fatalf("PutRecords: %d of %d entries failed", n, len(entries))
		}
		entries = entries[:0]
	}
	for {
		ret, _, rec := output.GetRecord(dec)
		if ret != 0 {
			break
		}
		data, err := json.Marshal(stringKeys(rec))
		if err != nil {
			b.Fatal(err)
		}
		entries = append(entries, types.PutRecordsRequestEntry{Data: data, PartitionKey: aws.String(strconv.FormatUint(rand.Uint64(), 36))})
		if len(entries) == 500 {
			send()
		}
	}
	if len(entries) > 0 {
		send()
	}
}

// stringKeys turns the decoder's map[interface{}]interface{} (byte-slice
// strings included) into something encoding/json takes.
func stringKeys(v any) any {
	switch t := v.(type) {
	case map[any]any:
		m := make(map[string]any, len(t))
		for k, v := range t {
			ks, ok := k.(string)
			if kb, isBytes := k.([]byte); isBytes {
				ks, ok = string(kb), true
			}
			if ok {
				m[ks] = stringKeys(v)
			}
		}
		return m
	case []any:
		for i := range t {
			t[i] = stringKeys(t[i])
		}
		return t
	case []byte:
		return string(t)
	}
	return v
}
