package bench_test

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"

	"github.com/kinesis-kpl/fluent-bit-kinesis-kpl/aggregation"
	"github.com/kinesis-kpl/fluent-bit-kinesis-kpl/plugin/chunk"
	"github.com/kinesis-kpl/fluent-bit-kinesis-kpl/test/bench"
	"github.com/kinesis-kpl/fluent-bit-kinesis-kpl/test/fakekinesis"
)

// TestRecords checks that every record has its size exactly, is valid
// JSON, carries its number, and that the chunk form reads back (through
// the plugin's own reader) as the same JSON as the line form.
func TestRecords(t *testing.T) {
	for _, size := range []int{bench.SmallRecord, bench.MediumRecord, bench.LargeRecord} {
		for _, i := range []int{0, 7, 96, 999_999} {
			line := bench.AppendJSONLine(nil, i, size)
			body, ok := bytes.CutSuffix(line, []byte("\n"))
			if !ok || len(body) != size {
				t.Errorf("size %d, record %d: %d bytes, newline %v", size, i, len(body), ok)
			}
			if !json.Valid(body) {
				t.Errorf("size %d, record %d: invalid JSON %q", size, i, body)
			}
			if n, err := bench.Seq(body); n != i || err != nil {
				t.Errorf("size %d, record %d: Seq = %d, %v", size, i, n, err)
			}

			var r chunk.Reader
			r.Reset(bench.AppendEvent(nil, i, size))
			if !r.Next() {
				t.Fatalf("size %d, record %d: no event: %v", size, i, r.Err())
			}
			got, err := chunk.AppendJSON(nil, r.Event().Body)
			if err != nil || !bytes.Equal(got, body) {
				t.Errorf("size %d, record %d: chunk reads as %q, %v; line is %q", size, i, got, err, body)
			}
			if r.Next() || r.Err() != nil {
				t.Errorf("size %d, record %d: trailing event or error %v", size, i, r.Err())
			}
		}
	}
}

func TestChunkHoldsEveryRecord(t *testing.T) {
	var r chunk.Reader
	r.Reset(bench.Chunk(40, 25, bench.MediumRecord))
	want := 40
	for r.Next() {
		js, err := chunk.AppendJSON(nil, r.Event().Body)
		if err != nil {
			t.Fatal(err)
		}
		if n, err := bench.Seq(js); n != want || err != nil {
			t.Fatalf("event %d: Seq = %d, %v", want-40, n, err)
		}
		want++
	}
	if r.Err() != nil || want != 65 {
		t.Fatalf("read up to %d: %v", want, r.Err())
	}
}

func TestSeqRejects(t *testing.T) {
	for _, tc := range []struct {
		data  string
		noSeq bool
	}{
		{`{"log":"x"}`, true},
		{``, true},
		{`{"bench_seq":}`, false},
		{`{"bench_seq":"7"}`, false},
	} {
		_, err := bench.Seq([]byte(tc.data))
		if err == nil || errors.Is(err, bench.ErrNoSeq) != tc.noSeq {
			t.Errorf("Seq(%q) = %v, want an error (ErrNoSeq: %v)", tc.data, err, tc.noSeq)
		}
	}
}

func line(i int) []byte {
	return bytes.TrimSuffix(bench.AppendJSONLine(nil, i, bench.SmallRecord), []byte("\n"))
}

func aggregate(t *testing.T, ids ...int) []byte {
	t.Helper()
	var enc aggregation.Encoder
	for _, i := range ids {
		enc.Add("k", "", line(i))
	}
	return enc.AppendTo(nil)
}

func TestCount(t *testing.T) {
	for _, tc := range []struct {
		name     string
		stored   [][]byte
		want     int
		complete bool
		tally    bench.Tally
	}{
		{"plain, all", [][]byte{line(0), line(1), line(2)}, 3, true, bench.Tally{Want: 3, Distinct: 3, Stored: 3}},
		{"aggregated, all", [][]byte{aggregate(t, 0, 2), line(1)}, 3, true, bench.Tally{Want: 3, Distinct: 3, Stored: 2}},
		{"one missing", [][]byte{aggregate(t, 0, 2)}, 3, false, bench.Tally{Want: 3, Distinct: 2, Stored: 1}},
		{"duplicates", [][]byte{aggregate(t, 0, 1), line(1), line(0)}, 2, true, bench.Tally{Want: 2, Distinct: 2, Duplicates: 2, Stored: 3}},
		{"foreign", [][]byte{line(0), line(5), []byte("other")}, 1, false, bench.Tally{Want: 1, Distinct: 1, Foreign: 2, Stored: 3}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var stored []fakekinesis.Record
			for _, d := range tc.stored {
				stored = append(stored, fakekinesis.Record{PartitionKey: "k", Data: d})
			}
			got, err := bench.Count(stored, tc.want)
			if err != nil || got != tc.tally || got.Complete() != tc.complete {
				t.Errorf("Count = %+v, %v; want %+v (complete %v)", got, err, tc.tally, tc.complete)
			}
		})
	}
}

func TestCountRejectsBrokenAggregate(t *testing.T) {
	broken := aggregate(t, 0, 1)
	broken[len(broken)-1] ^= 1 // the checksum no longer matches
	if _, err := bench.Count([]fakekinesis.Record{{PartitionKey: "k", Data: broken}}, 2); !errors.Is(err, aggregation.ErrMalformed) {
		t.Fatalf("Count of a broken aggregate: %v", err)
	}
}

func sdkClient(t *testing.T, url string, roots *x509.CertPool) *kinesis.Client {
	transport := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: roots}}
	t.Cleanup(transport.CloseIdleConnections)
	return kinesis.NewFromConfig(aws.Config{
		Region:      "us-east-1",
		Credentials: credentials.NewStaticCredentialsProvider("bench-key-id", "bench-secret", ""),
		HTTPClient:  &http.Client{Transport: transport, Timeout: 30 * time.Second},
	}, func(o *kinesis.Options) {
		o.BaseEndpoint = aws.String(url)
		o.Retryer = aws.NopRetryer{}
	})
}

// TestFakeOverTLS puts records through the fake's HTTPS with the SDK, which
// must trust the generated certificate and only it.
func TestFakeOverTLS(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cert, err := bench.NewCertificate(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	fake, err := bench.StartFake("127.0.0.1:0", cert, "s", 4)
	if err != nil {
		t.Fatal(err)
	}
	defer fake.Close()
	if !strings.HasPrefix(fake.URL(), "https://127.0.0.1:") {
		t.Fatalf("URL %q", fake.URL())
	}

	pem, err := os.ReadFile(cert.CAFile)
	if err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	if !roots.AppendCertsFromPEM(pem) {
		t.Fatal("ca.pem holds no certificate")
	}
	in := &kinesis.PutRecordsInput{StreamName: aws.String("s"), Records: []types.PutRecordsRequestEntry{
		{PartitionKey: aws.String("a"), Data: line(0)},
		{PartitionKey: aws.String("b"), Data: line(1)},
	}}
	out, err := sdkClient(t, fake.URL(), roots).PutRecords(ctx, in)
	if err != nil || aws.ToInt32(out.FailedRecordCount) != 0 {
		t.Fatalf("PutRecords with the CA: %v", err)
	}
	if tally, err := bench.Count(fake.Records("s"), 2); err != nil || !tally.Complete() {
		t.Errorf("after PutRecords: %v, %v", tally, err)
	}

	_, err = sdkClient(t, fake.URL(), x509.NewCertPool()).PutRecords(ctx, in)
	var unknown x509.UnknownAuthorityError
	if !errors.As(err, &unknown) {
		t.Errorf("PutRecords without the CA: %v, want an unknown authority", err)
	}
	if err := fake.Close(); err != nil {
		t.Errorf("Close: %v", err)
	}
}

func TestInputFileIsWrittenOnce(t *testing.T) {
	dir := t.TempDir()
	path, err := bench.InputFile(dir, 5, bench.SmallRecord)
	if err != nil {
		t.Fatal(err)
	}
	var want []byte
	for i := range 5 {
		want = bench.AppendJSONLine(want, i, bench.SmallRecord)
	}
	if got, err := os.ReadFile(path); err != nil || !bytes.Equal(got, want) {
		t.Fatalf("%s: %v\n%s", path, err, got)
	}
	if err := os.WriteFile(path, []byte("kept\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if again, err := bench.InputFile(dir, 5, bench.SmallRecord); err != nil || again != path {
		t.Fatalf("second call: %s, %v", again, err)
	}
	if got, _ := os.ReadFile(path); string(got) != "kept\n" {
		t.Errorf("the cached file was rewritten")
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 1 {
		t.Errorf("left behind: %v", entries)
	}
}

func TestProcReaders(t *testing.T) {
	pid := os.Getpid()
	// Spin until each reader moves: ProcCPU by the kernel's 10 ms
	// accounting, ThreadsCPU by nanoseconds.
	deadline := time.Now().Add(10 * time.Second)
	for name, read := range map[string]func(int) (time.Duration, error){
		"ProcCPU": bench.ProcCPU, "ThreadsCPU": bench.ThreadsCPU,
	} {
		cpu0, err := read(pid)
		if err != nil {
			t.Fatal(err)
		}
		for {
			cpu, err := read(pid)
			if err != nil {
				t.Fatal(err)
			}
			if cpu > cpu0 {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s stayed at %v", name, cpu0)
			}
		}
		if _, err := read(-1); err == nil {
			t.Errorf("%s(-1) succeeded", name)
		}
	}
	if rss, err := bench.PeakRSS(pid); err != nil || rss < 1<<20 {
		t.Errorf("PeakRSS = %d, %v", rss, err)
	}

	path := filepath.Join(t.TempDir(), "f")
	if err := os.WriteFile(path, []byte("0123456789abcdef"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, ok := bench.FileOffset(pid, path); ok {
		t.Errorf("FileOffset of a file not open")
	}
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.Read(make([]byte, 10)); err != nil {
		t.Fatal(err)
	}
	if pos, ok := bench.FileOffset(pid, path); !ok || pos != 10 {
		t.Errorf("FileOffset = %d, %v; want 10", pos, ok)
	}
}
