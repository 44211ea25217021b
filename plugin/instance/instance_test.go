package instance

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"
	"go.uber.org/goleak"

	"github.com/kinesis-kpl/fluent-bit-kinesis-kpl/aggregation"
	"github.com/kinesis-kpl/fluent-bit-kinesis-kpl/conf"
	"github.com/kinesis-kpl/fluent-bit-kinesis-kpl/producer"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// fakeKinesis accepts PutRecords and remembers every user record it was
// given, deaggregated. failNext makes the next calls fail their entries
// with throttling; block makes calls wait until released.
type fakeKinesis struct {
	mu       sync.Mutex
	records  []aggregation.Record
	calls    int
	failNext int
	block    chan struct{}
}

func (f *fakeKinesis) PutRecords(ctx context.Context, in *kinesis.PutRecordsInput, _ ...func(*kinesis.Options)) (*kinesis.PutRecordsOutput, error) {
	f.mu.Lock()
	block := f.block
	f.mu.Unlock()
	if block != nil {
		select {
		case <-block:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls++
	out := &kinesis.PutRecordsOutput{}
	fail := f.failNext > 0
	if fail {
		f.failNext--
	}
	for i, e := range in.Records {
		if fail {
			out.FailedRecordCount = aws.Int32(aws.ToInt32(out.FailedRecordCount) + 1)
			out.Records = append(out.Records, types.PutRecordsResultEntry{
				ErrorCode:    aws.String("ProvisionedThroughputExceededException"),
				ErrorMessage: aws.String("Rate exceeded for shard"),
			})
			continue
		}
		recs, err := aggregation.Deaggregate(e.Data, aws.ToString(e.PartitionKey), aws.ToString(e.ExplicitHashKey))
		if err != nil {
			return nil, err
		}
		for _, r := range recs {
			r.Data = bytes.Clone(r.Data)
			f.records = append(f.records, r)
		}
		out.Records = append(out.Records, types.PutRecordsResultEntry{
			ShardId:        aws.String("shardId-000000000000"),
			SequenceNumber: aws.String(fmt.Sprint(f.calls*1000 + i)),
		})
	}
	return out, nil
}

func (f *fakeKinesis) got() []aggregation.Record {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]aggregation.Record(nil), f.records...)
}

func newInstance(t *testing.T, fk *fakeKinesis, mod func(*conf.Config)) (*Instance, *bytes.Buffer) {
	t.Helper()
	return newInstanceWith(t, fk, mod)
}

// newInstanceWith builds an instance on client, wrapped and counted as
// Open does.
func newInstanceWith(t *testing.T, client producer.Putter, mod func(*conf.Config)) (*Instance, *bytes.Buffer) {
	t.Helper()
	cfg, err := conf.Load(conf.MapGetter{"stream": "s", "partition_key": "pk", "flush_timeout": "2s", "record_ttl": "10s"})
	if err != nil {
		t.Fatal(err)
	}
	if mod != nil {
		mod(&cfg)
	}
	var logs syncBuffer
	log := NewLogger(&logs, "kinesis_kpl.0", slog.LevelDebug)
	m := newMetrics("kinesis_kpl.0", cfg.Stream)
	prod, err := producer.New(&producer.Config{
		StreamName:    "s",
		Client:        measuredPutter{next: client, m: m},
		GetShards:     m.watchShards(producer.StaticGetShardsFunc(4)),
		RecordTTL:     cfg.RecordTTL,
		FlushInterval: 10 * time.Millisecond,
		Logger:        producer.NopLogger{},
	})
	if err != nil {
		t.Fatal(err)
	}
	prod.Start()
	in := newWithMetrics("kinesis_kpl.0", cfg, prod, log, m)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = in.Close(ctx)
	})
	return in, &logs.Buffer
}

type syncBuffer struct {
	mu sync.Mutex
	bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.Buffer.Write(p)
}

var _ io.Writer = (*syncBuffer)(nil)

// Chunk building: just enough msgpack for flat string maps.

func mpStr(b []byte, s string) []byte {
	switch {
	case len(s) < 32:
		b = append(b, 0xa0|byte(len(s)))
	case len(s) < 256:
		b = append(b, 0xd9, byte(len(s)))
	default:
		b = append(b, 0xda, byte(len(s)>>8), byte(len(s)))
	}
	return append(b, s...)
}

// event appends one event; v2 selects the [[time, metadata], body] form.
func event(b []byte, v2 bool, kv ...string) []byte {
	b = append(b, 0x92)
	if v2 {
		b = append(b, 0x92)
	}
	b = append(b, 0xd7, 0x00) // EventTime
	b = binary.BigEndian.AppendUint32(b, 1764072000)
	b = binary.BigEndian.AppendUint32(b, 5000)
	if v2 {
		b = append(b, 0x80) // empty metadata
	}
	b = append(b, 0x80|byte(len(kv)/2))
	for _, s := range kv {
		b = mpStr(b, s)
	}
	return b
}

func makeChunk(n int, v2 bool) ([]byte, []string) {
	var c []byte
	var want []string
	for i := 0; i < n; i++ {
		pk := fmt.Sprintf("pod-%d", i%7)
		msg := fmt.Sprintf("line %d \"quoted\" é", i)
		c = event(c, v2, "pk", pk, "log", msg)
		j, _ := json.Marshal(map[string]string{"pk": pk})
		want = append(want, strings.TrimSuffix(string(j), "}")+`,"log":`+mustJSON(msg)+"}")
	}
	return c, want
}

func mustJSON(s string) string {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(s)
	return strings.TrimSpace(b.String())
}

func dataSet(recs []aggregation.Record) map[string]int {
	m := map[string]int{}
	for _, r := range recs {
		m[string(r.Data)]++
	}
	return m
}

func TestFlushDeliversBothEventForms(t *testing.T) {
	for _, v2 := range []bool{false, true} {
		t.Run(fmt.Sprintf("v2=%v", v2), func(t *testing.T) {
			fk := &fakeKinesis{}
			in, _ := newInstance(t, fk, nil)
			c, want := makeChunk(300, v2)
			if got := in.Flush("app", c); got != OK {
				t.Fatalf("Flush = %s, want OK", got)
			}
			got := fk.got()
			if len(got) != len(want) {
				t.Fatalf("delivered %d records, want %d", len(got), len(want))
			}
			seen := dataSet(got)
			for _, w := range want {
				if seen[w] != 1 {
					t.Fatalf("record %s delivered %d times", w, seen[w])
				}
			}
			for _, r := range got {
				var body struct{ PK string }
				if err := json.Unmarshal(r.Data, &body); err != nil || body.PK != r.PartitionKey {
					t.Fatalf("record %s has partition key %q", r.Data, r.PartitionKey)
				}
			}
		})
	}
}

func TestFlushRejectsMalformedChunksAndKeepsServing(t *testing.T) {
	fk := &fakeKinesis{}
	in, logs := newInstance(t, fk, nil)
	secret := "s3cr3t-value"
	notMap := append([]byte{0x92, 0xd7, 0x00, 0, 0, 0, 1, 0, 0, 0, 0}, mpStr(nil, secret)...) // [time, "string"]
	cases := map[string][]byte{
		"not msgpack":        []byte("{\"log\": \"" + secret + "\"}\n"),
		"event not an array": mpStr(nil, secret),
		"body not a map":     notMap,
		"truncated":          event(nil, false, "pk", "a", "log", secret)[:20],
	}
	for name, c := range cases {
		if got := in.Flush("app", c); got != Error {
			t.Errorf("%s: Flush = %s, want ERROR", name, got)
		}
	}
	if strings.Contains(logs.String(), secret) {
		t.Errorf("the log shows record content:\n%s", logs.String())
	}
	if n := strings.Count(logs.String(), "cannot be read"); n != len(cases) {
		t.Errorf("%d of %d malformed chunks were logged:\n%s", n, len(cases), logs.String())
	}
	good, want := makeChunk(10, true)
	if got := in.Flush("app", good); got != OK {
		t.Fatalf("after bad chunks, Flush = %s, want OK", got)
	}
	if len(fk.got()) != len(want) {
		t.Fatalf("delivered %d, want %d", len(fk.got()), len(want))
	}
}

func TestFlushSendsTheReadablePrefixOfADamagedChunk(t *testing.T) {
	fk := &fakeKinesis{}
	in, _ := newInstance(t, fk, nil)
	c, want := makeChunk(5, false)
	c = append(c, 0xc1) // never valid msgpack
	if got := in.Flush("app", c); got != Error {
		t.Fatalf("Flush = %s, want ERROR", got)
	}
	if len(fk.got()) != len(want) {
		t.Fatalf("delivered %d of the %d readable records", len(fk.got()), len(want))
	}
}

// A chunk whose records are throttled past the flush deadline is retried;
// the retry sends only what was not delivered.
func TestRetriedChunkSendsOnlyTheRest(t *testing.T) {
	fk := &fakeKinesis{block: make(chan struct{})}
	in, _ := newInstance(t, fk, func(c *conf.Config) { c.FlushTimeout = 200 * time.Millisecond })
	first, want1 := makeChunk(50, false)
	// The first flush times out while its request hangs.
	if got := in.Flush("app", first); got != Retry {
		t.Fatalf("Flush = %s, want RETRY", got)
	}
	close(fk.block) // the hanging request now completes and delivers
	fk.mu.Lock()
	fk.block = nil
	fk.mu.Unlock()
	if got := in.Flush("app", first); got != OK {
		t.Fatalf("retried Flush = %s, want OK", got)
	}
	if got := fk.got(); len(got) != len(want1) {
		t.Fatalf("delivered %d records, want %d (each once)", len(got), len(want1))
	}
	for w, n := range dataSet(fk.got()) {
		if n != 1 {
			t.Fatalf("record %s delivered %d times", w, n)
		}
	}
	if in.Stats().LedgerResumes.Load() != 1 {
		t.Fatalf("ledger resumes = %d, want 1", in.Stats().LedgerResumes.Load())
	}
}

func TestThrottledRecordsAreRetriedWithinTheFlush(t *testing.T) {
	fk := &fakeKinesis{failNext: 2}
	in, _ := newInstance(t, fk, nil)
	c, want := makeChunk(100, true)
	if got := in.Flush("app", c); got != OK {
		t.Fatalf("Flush = %s, want OK", got)
	}
	if len(fk.got()) != len(want) {
		t.Fatalf("delivered %d, want %d", len(fk.got()), len(want))
	}
}

func TestConcurrentFlushes(t *testing.T) {
	fk := &fakeKinesis{}
	in, _ := newInstance(t, fk, nil)
	var wg sync.WaitGroup
	total := 0
	for w := 0; w < 4; w++ {
		c, want := makeChunk(200+w, w%2 == 0)
		total += len(want)
		wg.Go(func() {
			if got := in.Flush(fmt.Sprint("t", w), c); got != OK {
				t.Errorf("Flush = %s", got)
			}
		})
	}
	wg.Wait()
	if len(fk.got()) != total {
		t.Fatalf("delivered %d, want %d", len(fk.got()), total)
	}
}

func TestPartitionKeyTruncatedTo256Characters(t *testing.T) {
	long := strings.Repeat("é", 300)
	if got := truncateRunes([]byte(long), 256); string(got) != strings.Repeat("é", 256) {
		t.Fatalf("truncated to %d bytes", len(got))
	}
	if got := truncateRunes([]byte("short"), 256); string(got) != "short" {
		t.Fatalf("got %q", got)
	}
}

// A record without the partition key field, or with a non-scalar value
// there, goes out under a random key; records with the field keep theirs.
func TestMissingPartitionKeyFieldGetsARandomKey(t *testing.T) {
	fk := &fakeKinesis{}
	in, _ := newInstance(t, fk, nil)
	var c []byte
	for i := 0; i < 20; i++ {
		c = event(c, false, "log", fmt.Sprint("no key ", i))
	}
	c = event(c, false, "pk", "", "log", "empty key")
	c = event(c, false, "pk", "kept", "log", "with key")
	if got := in.Flush("app", c); got != OK {
		t.Fatalf("Flush = %s, want OK", got)
	}
	keys := map[string]bool{}
	for _, r := range fk.got() {
		if r.PartitionKey == "" {
			t.Fatal("a record went out with an empty partition key")
		}
		if string(r.Data) == `{"pk":"kept","log":"with key"}` {
			if r.PartitionKey != "kept" {
				t.Fatalf("partition key %q, want kept", r.PartitionKey)
			}
			continue
		}
		keys[r.PartitionKey] = true
	}
	if len(fk.got()) != 22 || len(keys) < 20 {
		t.Fatalf("%d records, %d distinct random keys", len(fk.got()), len(keys))
	}
}
