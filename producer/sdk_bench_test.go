package producer

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"runtime"
	"runtime/pprof"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/ratelimit"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"

	"github.com/kinesis-kpl/fluent-bit-kinesis-kpl/aggregation"
)

// tlsKinesis is an HTTPS Kinesis on 127.0.0.1 that answers every
// PutRecords with success, naming for each entry the shard of its
// explicit hash key or partition key, as the service does. It reads the
// body with a scan, not a JSON decoder, so that it costs little next to
// the client. Its goroutines carry the profile label side=server: `go
// tool pprof -tagignore side=server` shows the client alone.
type tlsKinesis struct {
	srv   *httptest.Server
	table *shardTable
	bufs  sync.Pool
}

func newTLSKinesis(tb testing.TB, shards int) *tlsKinesis {
	tb.Helper()
	t, err := newShardTable(mustShards(shards))
	if err != nil {
		tb.Fatal(err)
	}
	k := &tlsKinesis{table: t}
	k.bufs.New = func() any { return new(bytes.Buffer) }
	k.srv = httptest.NewUnstartedServer(http.HandlerFunc(k.serve))
	// Goroutines inherit profile labels: every connection the server
	// starts is labelled.
	pprof.Do(context.Background(), pprof.Labels("side", "server"), func(context.Context) {
		k.srv.StartTLS()
	})
	return k
}

var (
	recordsKey = []byte(`"Records":[`)
	ehkKey     = []byte(`"ExplicitHashKey":"`)
	pkKey      = []byte(`"PartitionKey":"`)
)

func (k *tlsKinesis) serve(w http.ResponseWriter, r *http.Request) {
	if r.Header.Get("X-Amz-Target") != "Kinesis_20131202.PutRecords" || r.Header.Get("Authorization") == "" {
		http.Error(w, `{"__type":"UnknownOperationException"}`, http.StatusBadRequest)
		return
	}
	in := k.bufs.Get().(*bytes.Buffer)
	out := k.bufs.Get().(*bytes.Buffer)
	defer k.bufs.Put(in)
	defer k.bufs.Put(out)
	in.Reset()
	out.Reset()
	if _, err := io.Copy(in, r.Body); err != nil {
		return
	}
	body := in.Bytes()
	i := bytes.Index(body, recordsKey)
	if i < 0 {
		http.Error(w, `{"__type":"SerializationException"}`, http.StatusBadRequest)
		return
	}
	body = body[i+len(recordsKey):]
	out.WriteString(`{"FailedRecordCount":0,"Records":[`)
	seq := 0
	for len(body) > 0 && body[0] == '{' {
		// Base64 data and the benchmark's keys hold no '}'.
		end := bytes.IndexByte(body, '}')
		if end < 0 {
			break
		}
		obj := body[:end]
		body = body[end+1:]
		if len(body) > 0 && body[0] == ',' {
			body = body[1:]
		}
		var h aggregation.HashKey
		if v, ok := jsonField(obj, ehkKey); ok {
			h, _ = aggregation.ParseHashKey(string(v))
		} else if v, ok := jsonField(obj, pkKey); ok {
			h = aggregation.PartitionKeyHash(string(v))
		}
		if seq > 0 {
			out.WriteByte(',')
		}
		seq++
		out.WriteString(`{"SequenceNumber":"4959033827149025660855969253836157109592157598913658`)
		out.WriteString(strconv.Itoa(1000 + seq))
		out.WriteString(`","ShardId":"`)
		out.WriteString(k.table.ids[max(k.table.lookup(h), 0)])
		out.WriteString(`"}`)
	}
	out.WriteString(`]}`)
	w.Header().Set("Content-Type", "application/x-amz-json-1.1")
	w.Header().Set("Content-Length", strconv.Itoa(out.Len()))
	w.Write(out.Bytes())
}

// jsonField returns the string value of the field that key (`"Name":"`)
// starts in obj.
func jsonField(obj, key []byte) ([]byte, bool) {
	i := bytes.Index(obj, key)
	if i < 0 {
		return nil, false
	}
	v := obj[i+len(key):]
	j := bytes.IndexByte(v, '"')
	if j < 0 {
		return nil, false
	}
	return v[:j], true
}

// client returns a *kinesis.Client for k configured as the plugin
// configures its own (static credentials here; one immediate SDK retry),
// and a function that closes its idle connections.
func (k *tlsKinesis) client(tb testing.TB) (*kinesis.Client, func()) {
	tb.Helper()
	pool := x509.NewCertPool()
	pool.AddCert(k.srv.Certificate())
	var tr *http.Transport
	httpClient := awshttp.NewBuildableClient().WithTransportOptions(func(t *http.Transport) {
		t.TLSClientConfig = &tls.Config{RootCAs: pool}
		t.MaxIdleConnsPerHost = 64
		tr = t
	})
	c := kinesis.New(kinesis.Options{
		Region:       "us-east-1",
		Credentials:  credentials.NewStaticCredentialsProvider("AKIDBENCH", "secret", ""),
		BaseEndpoint: aws.String(k.srv.URL),
		HTTPClient:   httpClient,
		Retryer: retry.NewStandard(func(o *retry.StandardOptions) {
			o.MaxAttempts = 2
			o.Backoff = retry.BackoffDelayerFunc(func(int, error) (time.Duration, error) { return 0, nil })
			o.RateLimiter = ratelimit.None
		}),
	})
	return c, func() {
		if tr != nil {
			tr.CloseIdleConnections()
		}
	}
}

// sdkOnly hides the *kinesis.Client behind Putter alone: the producer
// then sends through PutRecords with a PutRecordsInput, the SDK's own
// serialisation.
type sdkOnly struct{ c *kinesis.Client }

func (s sdkOnly) PutRecords(ctx context.Context, in *kinesis.PutRecordsInput, optFns ...func(*kinesis.Options)) (*kinesis.PutRecordsOutput, error) {
	return s.c.PutRecords(ctx, in, optFns...)
}

// mallocs is the process's count of heap allocations so far (the fake
// server's included).
func mallocs() uint64 {
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.Mallocs
}

// benchRecord is a Kubernetes-shaped log record of about 525 bytes.
func benchRecord(i int) []byte {
	rec := fmt.Sprintf(`{"log":"GET /api/v1/items/%08d 200 1532 12ms","stream":"stdout","time":"2026-12-03T11:20:29.123456789Z","kubernetes":{"pod_name":"web-7d9f8b6c5d-x2x9q","namespace_name":"shop","pod_id":"0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0","labels":{"app":"web","pod-template-hash":"7d9f8b6c5d"},"host":"ip-10-0-12-34.eu-west-1.compute.internal","container_name":"web","docker_id":"4c1b2a39e8d7f6a5b4c3d2e1f0a9b8c7d6e5f4a3b2c1d0e9f8a7b6c5d4e3f2a1","container_hash":"registry/web@sha256:0a1b2c3d","container_image":"registry/web:1.2.3"}}`, i)
	return []byte(rec)
}

// BenchmarkRealClient runs the producer with the real SDK client against
// an HTTPS Kinesis in the same process (64 shards, random keys, 525-byte
// records in groups of 4096): TLS, SigV4, the SDK's middleware, JSON and
// base64 all included. The process's whole CPU time (client and fake
// server) is reported per record; profile it with -cpuprofile.
func BenchmarkRealClient(b *testing.B) {
	const groupSize, shards = 4096, 64
	for _, agg := range []string{"kpl", "off"} {
		var sdkCPU float64
		b.Run("agg="+agg+"/path=sdk", func(b *testing.B) {
			sdkCPU = runRealClient(b, groupSize, shards, agg, true, func(c *kinesis.Client) Putter { return sdkOnly{c} })
		})
		b.Run("agg="+agg+"/path=body", func(b *testing.B) {
			cpu := runRealClient(b, groupSize, shards, agg, true, func(c *kinesis.Client) Putter { return c })
			if sdkCPU > 0 {
				b.ReportMetric(cpu/sdkCPU, "x-sdk-cpu")
			}
		})
		// Records without a key of their own (Group.AddAnyKey), as log
		// lines without a key field are.
		b.Run("agg="+agg+"/path=body/keys=none", func(b *testing.B) {
			runRealClient(b, groupSize, shards, agg, false, func(c *kinesis.Client) Putter { return c })
		})
	}
}

// runRealClient runs one case and returns the CPU time per record, in µs.
// Records are added with keys of their own when keyed, with AddAnyKey
// otherwise.
func runRealClient(b *testing.B, groupSize, shards int, agg string, keyed bool, putter func(*kinesis.Client) Putter) float64 {
	k := newTLSKinesis(b, shards)
	defer k.srv.Close()
	client, closeIdle := k.client(b)
	defer closeIdle()
	rng := rand.New(rand.NewPCG(1, 2))
	keys := make([]string, groupSize)
	data := make([][]byte, groupSize)
	for i := range keys {
		keys[i] = fmt.Sprintf("%016x", rng.Uint64())
		data[i] = benchRecord(i)
	}
	p := startBenchProducer(b, putter(client), shards, agg == "off")
	ctx := context.Background()
	b.SetBytes(int64(len(data[0])))
	b.ReportAllocs()
	b.ResetTimer()
	cpu0, mallocs0 := cpuTime(), mallocs()
	for done := 0; done < b.N; {
		n := min(groupSize, b.N-done)
		g := p.NewGroup()
		for i := range n {
			if keyed {
				g.Add(data[i], keys[i])
			} else {
				g.AddAnyKey(data[i])
			}
		}
		if err := p.PutGroup(ctx, g); err != nil {
			b.Fatal(err)
		}
		if err := g.Wait(ctx); err != nil {
			b.Fatal(err)
		}
		if d, _, _, _ := g.Counts(); d != n {
			b.Fatalf("%d of %d delivered", d, n)
		}
		g.Release()
		done += n
	}
	b.StopTimer()
	cpu := cpuTime() - cpu0
	b.ReportMetric(float64(mallocs()-mallocs0)/float64(b.N), "allocs/record")
	perRecord := float64(cpu.Microseconds()) / float64(b.N)
	b.ReportMetric(perRecord, "cpu-µs/record")
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "records/s")
	if st := p.Stats(); st.RecordsReputWrongShard != 0 {
		b.Fatalf("%d records put again: the fake's shards do not match", st.RecordsReputWrongShard)
	}
	if err := p.Stop(ctx); err != nil {
		b.Fatal(err)
	}
	return perRecord
}
