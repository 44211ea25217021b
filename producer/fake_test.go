package producer

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"
	"github.com/aws/smithy-go"

	"github.com/kinesis-kpl/fluent-bit-kinesis-kpl/aggregation"
)

// fakeKinesis is a scripted PutRecords and ListShards. Each call to
// PutRecords first consumes the next step of script, if any; a step may
// fail the request, fail entries or answer garbage. Entries it accepts are
// deaggregated and counted by data, and checked against the KCL rule
// (every sub-record inside the shard the entry landed on).
type fakeKinesis struct {
	mu     sync.Mutex
	shards []types.Shard // the stream as the service sees it
	table  *shardTable
	script []step
	calls  int
	// listPages scripts ListShards: each call returns the next page or
	// error; nil means one page with all shards.
	listPages []listPage
	listCalls int

	delivered   map[string]int // user record data -> times accepted
	kclSeen     map[string]int // user record data -> times a KCL consumer reads it
	order       []string       // user record data prefixes (8 bytes), as stored
	lostToKCL   int            // sub-records stored in aggregates KCL drops
	entries     int            // accepted PutRecords entries
	maxEntries  int            // largest request seen, in entries
	maxBytes    int            // largest request seen, in bytes
	outOfShard  int            // sub-records KCL would drop
	perShard    map[string]int // accepted entries per shard
	onPut       func(call int) // test hook, called without the lock
	blockUntil  chan struct{}  // when set, PutRecords waits for it or ctx
	honorCtxErr bool
	// newline: entries are newline aggregates (AggregationNewline), read
	// as a consumer does, one record a line. A line "key|rest" names its
	// record's partition key, which the fake checks against the shard the
	// entry landed on (outOfShard); consumers read every line (kclSeen).
	newline bool
	sent    []sentEntry // every accepted entry, in order
}

// sentEntry is an entry the fake accepted, as it was sent.
type sentEntry struct {
	data     string
	pk, ehk  string
	shardIdx int
}

// step scripts one PutRecords call. err fails the whole request; codes
// fails entries (index -> error code); count, when >= 0, answers that many
// results while storing nothing. Use ok() for a plain success.
type step struct {
	panic bool // the client panics before storing anything
	err   error
	codes map[int]string
	count int
}

func ok() step { return step{count: -1} }

func codes(m map[int]string) step { return step{count: -1, codes: m} }

func fail(err error) step { return step{count: -1, err: err} }

type listPage struct {
	shards []types.Shard
	next   string
	err    error
}

func newFake(shards int) *fakeKinesis {
	f := &fakeKinesis{delivered: map[string]int{}, kclSeen: map[string]int{}, perShard: map[string]int{}}
	f.setShards(mustShards(shards))
	return f
}

func mustShards(n int) []types.Shard {
	s, _, err := StaticGetShardsFunc(n)(context.Background(), nil)
	if err != nil {
		panic(err)
	}
	return s
}

func (f *fakeKinesis) setShards(shards []types.Shard) {
	f.mu.Lock()
	defer f.mu.Unlock()
	t, err := newShardTable(shards)
	if err != nil {
		panic(err)
	}
	f.shards, f.table = shards, t
}

func (f *fakeKinesis) PutRecords(ctx context.Context, in *kinesis.PutRecordsInput, _ ...func(*kinesis.Options)) (*kinesis.PutRecordsOutput, error) {
	f.mu.Lock()
	f.calls++
	call := f.calls
	hook, block := f.onPut, f.blockUntil
	f.mu.Unlock()
	if hook != nil {
		hook(call)
	}
	if block != nil {
		select {
		case <-block:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	bytes := 0
	for _, e := range in.Records {
		bytes += len(e.Data) + len(deref(e.PartitionKey))
	}
	f.maxEntries = max(f.maxEntries, len(in.Records))
	f.maxBytes = max(f.maxBytes, bytes)
	st := step{count: -1}
	if len(f.script) > 0 {
		st, f.script = f.script[0], f.script[1:]
	}
	if st.panic {
		panic("scripted client panic")
	}
	if st.err != nil {
		return nil, st.err
	}
	out := &kinesis.PutRecordsOutput{}
	if st.count >= 0 && st.count != len(in.Records) {
		// A garbled response: nothing was stored. (With the right
		// length it would be a plain success.)
		for range st.count {
			out.Records = append(out.Records, types.PutRecordsResultEntry{ShardId: ptr("shardId-999999999999")})
		}
		return out, nil
	}
	failed := int32(0)
	for i, e := range in.Records {
		if code, ok := st.codes[i]; ok {
			failed++
			out.Records = append(out.Records, types.PutRecordsResultEntry{ErrorCode: ptr(code), ErrorMessage: ptr("scripted")})
			continue
		}
		shardID, seq := f.acceptLocked(e)
		out.Records = append(out.Records, types.PutRecordsResultEntry{ShardId: ptr(shardID), SequenceNumber: ptr(seq)})
	}
	out.FailedRecordCount = &failed
	return out, nil
}

func (f *fakeKinesis) acceptLocked(e types.PutRecordsRequestEntry) (string, string) {
	pk, ehk := deref(e.PartitionKey), deref(e.ExplicitHashKey)
	var h aggregation.HashKey
	if ehk != "" {
		var err error
		if h, err = aggregation.ParseHashKey(ehk); err != nil {
			panic("bad explicit hash key from producer")
		}
	} else {
		h = aggregation.PartitionKeyHash(pk)
	}
	s := f.table.lookup(h)
	var recs []aggregation.Record
	inShard := true
	if f.newline {
		recs, inShard = f.splitLines(e.Data, s)
	} else {
		var err error
		recs, err = aggregation.Deaggregate(e.Data, pk, ehk)
		if err != nil {
			panic(fmt.Sprintf("producer sent a bad aggregate: %v", err))
		}
		inShard = aggregation.CheckShardRange(recs, f.table.starts[s], f.table.ends[s]) == nil
	}
	if !inShard && f.newline {
		f.outOfShard++ // consumers still read every line
	} else if !inShard {
		f.outOfShard++
		f.lostToKCL += len(recs)
	}
	for _, r := range recs {
		f.order = append(f.order, string(r.Data[:min(8, len(r.Data))]))
		f.delivered[string(r.Data)]++
		if inShard {
			f.kclSeen[string(r.Data)]++
		}
	}
	f.entries++
	// The keys view the producer's buffers, which it reuses once the call returns.
	f.sent = append(f.sent, sentEntry{data: string(e.Data), pk: strings.Clone(pk), ehk: strings.Clone(ehk), shardIdx: s})
	f.perShard[f.table.ids[s]]++
	return f.table.ids[s], strconv.Itoa(f.entries)
}

// splitLines reads a newline aggregate (or a plain record) as consumers
// do, one record a line, and reports whether every line that names its key
// ("key|rest") hashes into shard s.
func (f *fakeKinesis) splitLines(data []byte, s int) ([]aggregation.Record, bool) {
	inShard := true
	lines := strings.SplitAfter(string(data), "\n")
	if len(lines) > 1 && lines[len(lines)-1] == "" {
		lines = lines[:len(lines)-1]
	}
	recs := make([]aggregation.Record, 0, len(lines))
	for _, l := range lines {
		l = strings.TrimSuffix(l, "\n")
		if key, _, ok := strings.Cut(l, "|"); ok {
			h := aggregation.PartitionKeyHash(key)
			inShard = inShard && h.Cmp(f.table.starts[s]) >= 0 && h.Cmp(f.table.ends[s]) <= 0
		}
		recs = append(recs, aggregation.Record{Data: []byte(l)})
	}
	return recs, inShard
}

func (f *fakeKinesis) ListShards(ctx context.Context, in *kinesis.ListShardsInput, _ ...func(*kinesis.Options)) (*kinesis.ListShardsOutput, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.listCalls++
	if len(f.listPages) == 0 {
		return &kinesis.ListShardsOutput{Shards: f.shards}, nil
	}
	pg := f.listPages[0]
	f.listPages = f.listPages[1:]
	if pg.err != nil {
		return nil, pg.err
	}
	out := &kinesis.ListShardsOutput{Shards: pg.shards}
	if pg.next != "" {
		out.NextToken = ptr(pg.next)
	}
	return out, nil
}

func (f *fakeKinesis) deliveredCount(data string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.delivered[data]
}

func (f *fakeKinesis) kclSeenCount(data string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.kclSeen[data]
}

func (f *fakeKinesis) callCount() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.calls
}

// formats are the aggregation formats tests that hold for both run with.
var formats = []AggregationFormat{AggregationKPL, AggregationNewline}

func apiError(code string) error {
	return &smithy.GenericAPIError{Code: code, Message: "scripted"}
}

// testLogger fails nothing; it collects messages for assertions.
type testLogger struct {
	mu   sync.Mutex
	msgs []string
}

func (l *testLogger) Info(msg string, _ ...LogValue) {
	l.mu.Lock()
	l.msgs = append(l.msgs, msg)
	l.mu.Unlock()
}

func (l *testLogger) Error(msg string, err error, _ ...LogValue) {
	l.mu.Lock()
	l.msgs = append(l.msgs, msg+": "+fmt.Sprint(err))
	l.mu.Unlock()
}

// startHanging starts a producer whose fake holds every PutRecords call
// until the returned channel is closed.
func startHanging(t testing.TB, f *fakeKinesis, mod func(*Config)) (*Producer, chan struct{}) {
	t.Helper()
	release := make(chan struct{})
	f.blockUntil = release
	p := newTestProducer(t, f, func(c *Config) {
		c.RequestTimeout = time.Hour // the fake hangs until told
		if mod != nil {
			mod(c)
		}
	})
	p.Start()
	return p, release
}

// oneRecordPerEntry makes each record its own entry, two entries a request
// and one request in flight, so tests can see records wait in the buffer.
func oneRecordPerEntry(c *Config) {
	c.AggregateBatchCount = 1
	c.BatchCount = 2
	c.MaxConnections = 1
	c.BacklogCount = 100
}

func newTestProducer(t testing.TB, f *fakeKinesis, mod func(*Config)) *Producer {
	t.Helper()
	cfg := &Config{
		StreamName: "test",
		Client:     f,
		GetShards:  GetKinesisShardsFunc(f, "test"),
		Logger:     &testLogger{},
	}
	if mod != nil {
		mod(cfg)
	}
	f.newline = cfg.AggregationFormat == AggregationNewline
	p, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func (l *testLogger) all() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]string(nil), l.msgs...)
}

func (l *testLogger) has(s string) bool {
	for _, m := range l.all() {
		if strings.Contains(m, s) {
			return true
		}
	}
	return false
}

// listerFunc observes ListShards inputs.
type listerFunc func(ctx context.Context, _ *types.Shard, nextToken, stream *string)

type spyLister struct {
	f   *fakeKinesis
	spy listerFunc
}

func (s spyLister) ListShards(ctx context.Context, in *kinesis.ListShardsInput, o ...func(*kinesis.Options)) (*kinesis.ListShardsOutput, error) {
	s.spy(ctx, nil, in.NextToken, in.StreamName)
	return s.f.ListShards(ctx, in, o...)
}

// putWait puts g and waits until every record of it has an outcome.
func putWait(t *testing.T, p *Producer, g *Group) {
	t.Helper()
	ctx := context.Background()
	if err := p.PutGroup(ctx, g); err != nil {
		t.Fatal(err)
	}
	if err := g.Wait(ctx); err != nil {
		t.Fatal(err)
	}
}

// putAllAndStop puts g, checks that all its n records are delivered,
// releases g and stops p.
func putAllAndStop(t *testing.T, p *Producer, g *Group, n int) {
	t.Helper()
	putWait(t, p, g)
	if d, _, _, _ := g.Counts(); d != n {
		t.Fatalf("%d of %d delivered", d, n)
	}
	g.Release()
	if err := p.Stop(context.Background()); err != nil {
		t.Fatal(err)
	}
}
