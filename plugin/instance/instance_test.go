package instance

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"slices"
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
	"github.com/kinesis-kpl/fluent-bit-kinesis-kpl/plugin/chunk"
	"github.com/kinesis-kpl/fluent-bit-kinesis-kpl/plugin/record"
	"github.com/kinesis-kpl/fluent-bit-kinesis-kpl/producer"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// fakeKinesis accepts PutRecords and remembers every user record it was
// given, deaggregated. failNext makes the next calls fail their entries
// with throttling; block makes calls wait until released.
type fakeKinesis struct {
	mu       sync.Mutex
	records  []aggregation.Record
	streams  []string // each record's stream
	calls    int
	failNext int
	block    chan struct{}
	// blockStream, when set, limits block to calls for that stream.
	blockStream string
}

func (f *fakeKinesis) PutRecords(ctx context.Context, in *kinesis.PutRecordsInput, _ ...func(*kinesis.Options)) (*kinesis.PutRecordsOutput, error) {
	f.mu.Lock()
	block := f.block
	if f.blockStream != "" && f.blockStream != aws.ToString(in.StreamName) {
		block = nil
	}
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
			f.streams = append(f.streams, aws.ToString(in.StreamName))
		}
		// No ShardId: this fake models no shards, and a shard other than
		// the predicted one would make the producer put aggregates again.
		out.Records = append(out.Records, types.PutRecordsResultEntry{
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
	return newInstanceWith(t, fk, mod, nil)
}

// newInstanceWith is newInstance with the record options that ro makes of
// the Config; nil ro keeps New's.
func newInstanceWith(t *testing.T, client producer.Putter, mod func(*conf.Config), ro func(conf.Config) record.Options) (*Instance, *bytes.Buffer) {
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
	options, err := RecordOptions(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if ro != nil {
		options = ro(cfg)
	}
	in, err := newWithMetrics(context.Background(), "kinesis_kpl.0", cfg, options, fakeProducers(t, client, cfg, nil, m), log, m)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = in.Close(ctx)
	})
	return in, &logs.Buffer
}

// fakeProducers is a ProducerFactory of started producers over fk, each on
// a static map of 4 shards; made, when not nil, records each stream asked
// for. Producers it makes stop in the instance's Close.
func fakeProducers(t *testing.T, client producer.Putter, cfg conf.Config, made *[]string, m *metrics) ProducerFactory {
	var mu sync.Mutex
	return func(_ context.Context, stream string) (*producer.Producer, error) {
		pc := &producer.Config{
			StreamName:    stream,
			Client:        client,
			GetShards:     producer.StaticGetShardsFunc(4),
			RecordTTL:     cfg.RecordTTL,
			FlushInterval: 10 * time.Millisecond,
			Logger:        producer.NopLogger{},
		}
		if m != nil { // as Open wires them
			pc.GetShards = m.watchShards(pc.GetShards)
			pc.Observe = m.observePut
		}
		prod, err := producer.New(pc)
		if err != nil {
			return nil, err
		}
		prod.Start()
		if made != nil {
			mu.Lock()
			*made = append(*made, stream)
			mu.Unlock()
		}
		return prod, nil
	}
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

// One event that cannot become a record costs that record, never the rest
// of its chunk: the flush is OK, the other events are delivered, and the
// bad one is counted and logged without its content.
func TestBadEventCostsOnlyItsRecord(t *testing.T) {
	const secret = "s3cr3t-value"
	withSecret := func(b []byte) []byte { return mpStr(b, secret) }
	deep := []byte{0x92, 0xd7, 0x00, 0, 0, 0, 1, 0, 0, 0, 0}
	for range 70 {
		deep = append(deep, 0x81, 0xa1, 'k')
	}
	deep = withSecret(deep)
	tests := map[string][]byte{
		// {[1]: secret}: a map key with no JSON form.
		"array key": withSecret([]byte{0x92, 0xd7, 0x00, 0, 0, 0, 1, 0, 0, 0, 0, 0x81, 0x91, 0x01}),
		// [time, secret]: whole msgpack, not an event.
		"body not a map":  withSecret([]byte{0x92, 0xd7, 0x00, 0, 0, 0, 1, 0, 0, 0, 0}),
		"event not array": withSecret(nil),
		"nested too deep": deep,
	}
	for name, bad := range tests {
		t.Run(name, func(t *testing.T) {
			fk := &fakeKinesis{}
			in, logs := newInstance(t, fk, nil)
			good, want := makeChunk(5, false)
			// The bad event sits third of six.
			var c []byte
			c = append(c, good[:eventEnd(t, good, 2)]...)
			c = append(c, bad...)
			c = append(c, good[eventEnd(t, good, 2):]...)
			if got := in.Flush("app", c); got != OK {
				t.Fatalf("Flush = %s, want OK", got)
			}
			got := dataSet(fk.got())
			if len(fk.got()) != 5 {
				t.Fatalf("delivered %d records, want 5", len(fk.got()))
			}
			for _, w := range want {
				if got[w] != 1 {
					t.Errorf("record %s delivered %d times, want 1", w, got[w])
				}
			}
			st := in.Stats()
			if st.BadEvents.Load() != 1 || st.Records.Load() != 5 || st.Delivered.Load() != 5 || st.Malformed.Load() != 0 {
				t.Errorf("stats: bad events %d, records %d, delivered %d, malformed %d; want 1, 5, 5, 0",
					st.BadEvents.Load(), st.Records.Load(), st.Delivered.Load(), st.Malformed.Load())
			}
			if strings.Contains(logs.String(), secret) {
				t.Errorf("the log shows record content:\n%s", logs.String())
			}
			if !strings.Contains(logs.String(), "dropped events that cannot become records") {
				t.Errorf("the dropped event was not logged:\n%s", logs.String())
			}
		})
	}
}

// A chunk whose framing breaks inside an event's body (read lazily, the
// body is found malformed while its record is built) sends the events
// before it and drops the rest as unreadable, without counting the broken
// event a second time as a bad event.
func TestMalformedBodyEndsTheChunk(t *testing.T) {
	fk := &fakeKinesis{}
	in, logs := newInstance(t, fk, nil)
	good, want := makeChunk(3, true)
	broken := event(nil, true, "pk", "a", "log", "some text")
	c := append(append([]byte(nil), good...), broken[:len(broken)-3]...)
	if got := in.Flush("app", c); got != Error {
		t.Fatalf("Flush = %s, want ERROR", got)
	}
	if len(fk.got()) != len(want) {
		t.Fatalf("delivered %d records, want %d", len(fk.got()), len(want))
	}
	st := in.Stats()
	if st.Malformed.Load() != 1 || st.BadEvents.Load() != 0 || st.Delivered.Load() != 3 {
		t.Errorf("stats: malformed %d, bad events %d, delivered %d; want 1, 0, 3", st.Malformed.Load(), st.BadEvents.Load(), st.Delivered.Load())
	}
	if !strings.Contains(logs.String(), "sent the readable start of a chunk") || !strings.Contains(logs.String(), "event 3 at byte") {
		t.Errorf("the unreadable rest was not logged with its place:\n%s", logs.String())
	}
}

// eventEnd returns the offset just past the first n events of c.
func eventEnd(t *testing.T, c []byte, n int) int {
	t.Helper()
	var r chunk.Reader
	r.Reset(c)
	for i := 0; i < n; i++ {
		if !r.Next() {
			t.Fatal("chunk has fewer events than wanted")
		}
	}
	return r.Offset()
}

// Map keys that are booleans, nil or floats are valid msgpack (Lua filters
// and forward clients write them): they are named by their JSON text.
func TestScalarMapKeysAreDelivered(t *testing.T) {
	fk := &fakeKinesis{}
	in, _ := newInstance(t, fk, nil)
	c := []byte{0x92, 0xd7, 0x00, 0, 0, 0, 1, 0, 0, 0, 0, 0x83, 0xc3, 0x01, 0xc0, 0x02, 0xa2, 'p', 'k', 0xa1, 'x'}
	if got := in.Flush("app", c); got != OK {
		t.Fatalf("Flush = %s, want OK", got)
	}
	if got := fk.got(); len(got) != 1 || string(got[0].Data) != `{"true":1,"null":2,"pk":"x"}` || got[0].PartitionKey != "x" {
		t.Fatalf("delivered %+v", got)
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
		if len(r.PartitionKey) != producer.RandomKeyLen {
			t.Fatalf("a record without the key field has a partition key of %d bytes, want a random one of %d",
				len(r.PartitionKey), producer.RandomKeyLen)
		}
		keys[r.PartitionKey] = true
	}
	// Records without a key of their own share their aggregate's random
	// key: fewer keys than records, but at least one.
	if len(fk.got()) != 22 || len(keys) == 0 {
		t.Fatalf("%d records, %d distinct random keys", len(fk.got()), len(keys))
	}
}

// partition_key kubernetes->pod_name, the AWS plugin's nesting, reaches the
// nested field; records without it get random keys, counted.
func TestNestedPartitionKeyWithArrow(t *testing.T) {
	fk := &fakeKinesis{}
	in, _ := newInstance(t, fk, func(c *conf.Config) { c.PartitionKeyTemplate, _ = conf.ParsePartitionKey("kubernetes->pod_name") })
	var c []byte
	for i := range 4 {
		c = append(c, 0x92, 0xd7, 0x00, 0, 0, 0, 1, 0, 0, 0, 0, 0x82)
		c = mpStr(c, "log")
		c = mpStr(c, fmt.Sprint("line ", i))
		c = mpStr(c, "kubernetes")
		c = append(c, 0x81)
		c = mpStr(c, "pod_name")
		c = mpStr(c, fmt.Sprint("web-", i))
	}
	c = event(c, false, "log", "no kubernetes")
	if got := in.Flush("app", c); got != OK {
		t.Fatalf("Flush = %s, want OK", got)
	}
	keys := map[string]string{}
	for _, r := range fk.got() {
		keys[string(r.Data)] = r.PartitionKey
	}
	for i := range 4 {
		data := fmt.Sprintf(`{"log":"line %d","kubernetes":{"pod_name":"web-%d"}}`, i, i)
		if keys[data] != fmt.Sprint("web-", i) {
			t.Errorf("record %s went out under key %q", data, keys[data])
		}
	}
	if k := keys[`{"log":"no kubernetes"}`]; k == "" || strings.HasPrefix(k, "web-") {
		t.Errorf("the record without the field went out under key %q", k)
	}
	if n := in.Stats().RandomKeys.Load(); n != 1 {
		t.Errorf("RandomKeys = %d, want 1", n)
	}
}

// The record transforms run in the flush path: here time_key at the event's
// full precision, data_keys, replace_dots and record_id_key, whose ids are
// the same for the same chunk in another instance.
func TestFlushAppliesRecordTransforms(t *testing.T) {
	ro := func(conf.Config) record.Options {
		return record.Options{PartitionKey: conf.Template{{Kind: conf.PartTag, TagIndex: 1}}, DataKeys: []string{"log", "k.v", "ts"}, ReplaceDots: "_",
			TimeKey: "ts", TimeKeyFormat: "%Y-%m-%dT%H:%M:%S.%9N", RecordIDKey: "id"}
	}
	c := event(nil, true, "log", "hello", "k.v", "x", "drop", "me")
	c = event(c, false, "log", "again", "k.v", "y")
	id := record.NewChunkID("kube.web", c)
	var delivered [2][]string
	for run := range delivered {
		fk := &fakeKinesis{}
		in, _ := newInstanceWith(t, fk, nil, ro)
		if got := in.Flush("kube.web", c); got != OK {
			t.Fatalf("Flush = %s, want OK", got)
		}
		for _, r := range fk.got() {
			if r.PartitionKey != "web" {
				t.Errorf("partition key %q, want web", r.PartitionKey)
			}
			delivered[run] = append(delivered[run], string(r.Data))
		}
		slices.Sort(delivered[run])
	}
	want := []string{
		`{"log":"again","k_v":"y","ts":"2025-11-25T12:00:00.000005000","id":"` + string(id.AppendRecordID(nil, 1)) + `"}`,
		`{"log":"hello","k_v":"x","ts":"2025-11-25T12:00:00.000005000","id":"` + string(id.AppendRecordID(nil, 0)) + `"}`,
	}
	if !slices.Equal(delivered[0], want) || !slices.Equal(delivered[1], want) {
		t.Fatalf("delivered\n%q\nand\n%q\nwant\n%q", delivered[0], delivered[1], want)
	}
}

// A record over max_record_size is dropped or truncated as configured,
// counted, and logged without its content; the rest of the chunk is sent.
func TestOversizedRecords(t *testing.T) {
	secret := "s3cr3t-" + strings.Repeat("x", 3000)
	c := event(nil, false, "log", "small one")
	c = event(c, false, "log", secret)
	c = event(c, false, "log", "small two")
	for _, tt := range []struct {
		oversize  record.Oversize
		delivered int
	}{{record.OversizeDrop, 2}, {record.OversizeTruncate, 3}} {
		fk := &fakeKinesis{}
		in, logs := newInstanceWith(t, fk, nil, func(cfg conf.Config) record.Options {
			ro, _ := RecordOptions(cfg)
			ro.MaxRecordSize, ro.Oversize = 2048, tt.oversize
			return ro
		})
		if got := in.Flush("app", c); got != OK {
			t.Fatalf("oversize %d: Flush = %s, want OK", tt.oversize, got)
		}
		if n := len(fk.got()); n != tt.delivered {
			t.Fatalf("oversize %d: delivered %d, want %d", tt.oversize, n, tt.delivered)
		}
		for _, r := range fk.got() {
			if len(r.Data)+len(r.PartitionKey) > 2048 {
				t.Fatalf("oversize %d: a record of %d bytes went out", tt.oversize, len(r.Data)+len(r.PartitionKey))
			}
		}
		st := in.Stats()
		if want := int64(3 - tt.delivered); st.BadEvents.Load() != want || st.Truncated.Load() != int64(tt.delivered-2) {
			t.Errorf("oversize %d: bad events %d, truncated %d", tt.oversize, st.BadEvents.Load(), st.Truncated.Load())
		}
		if strings.Contains(logs.String(), "s3cr3t") {
			t.Errorf("the log shows record content:\n%s", logs.String())
		}
	}
}

func TestNewWithRecordsRejectsBadOptions(t *testing.T) {
	fk := &fakeKinesis{}
	in, logs := newInstance(t, fk, nil)
	for name, ro := range map[string]record.Options{
		"bad log_key":     {LogKey: []string{""}},
		"bad time format": {TimeKey: "ts", TimeKeyFormat: "%Q"},
	} {
		if _, err := NewWithRecords(context.Background(), "x", in.cfg, ro, fakeProducers(t, fk, in.cfg, nil, nil), NewLogger(logs, "x", slog.LevelInfo)); err == nil {
			t.Errorf("%s: NewWithRecords succeeded", name)
		}
	}
}

// The first flush warns when it runs on the thread that ran init (Fluent
// Bit's engine thread, workers 0); later flushes never check again.
func TestCheckFlushThread(t *testing.T) {
	const warning = "engine thread (workers 0)"
	for _, tt := range []struct {
		name        string
		init        int
		flushes     []int
		wantWarning int
	}{
		{"workers 0: init's thread", 7, []int{7, 7, 7}, 1},
		{"workers 1: another thread", 7, []int{8, 7}, 0},
		{"init thread unknown", 0, []int{0}, 0},
	} {
		in, logs := newInstance(t, &fakeKinesis{}, nil)
		if tt.init != 0 {
			in.NoteInitThread(tt.init)
		}
		for _, tid := range tt.flushes {
			in.CheckFlushThread(tid)
		}
		if got := strings.Count(logs.String(), warning); got != tt.wantWarning {
			t.Errorf("%s: %d warnings, want %d:\n%s", tt.name, got, tt.wantWarning, logs.String())
		}
	}
}
