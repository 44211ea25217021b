package main

import (
	"bytes"
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"

	"github.com/kinesis-kpl/fluent-bit-kinesis-kpl/aggregation"
)

var t0 = time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)

// quarter returns the i-th quarter (0-3) of the hash key space.
func quarter(i int) [2]aggregation.HashKey {
	q := aggregation.HashKey{Hi: 1 << 62}
	start := aggregation.HashKey{Hi: uint64(i) << 62}
	return [2]aggregation.HashKey{start, start.Add(q).Sub(aggregation.HashKey{Lo: 1})}
}

func span(a, b [2]aggregation.HashKey) [2]aggregation.HashKey {
	return [2]aggregation.HashKey{a[0], b[1]}
}

// reshardedStream is a stream that went through a split and a merge:
//
//	s0 [q0-q3] closed --split--> s1 [q0-q1] closed --merge--> s3 [q0-q2] open
//	                             s2 [q2-q3] closed --split--> s3 (adjacent), s4 [q3] open
//
// s2 is split into q2 (merged with s1 into s3) and q3 (s4); to keep the fake
// simple s3's adjacent parent is s2. Each shard holds records tagged with its
// name, each an aggregate of two user records that hash inside it.
func reshardedStream() *fakeStream {
	f := newFakeStream("orders")
	all := span(quarter(0), quarter(3))
	s0 := f.addShard(all[0], all[1])
	s1 := f.addShard(quarter(0)[0], quarter(1)[1], s0)
	s2 := f.addShard(quarter(2)[0], quarter(3)[1], s0)
	s3 := f.addShard(quarter(0)[0], quarter(2)[1], s1, s2)
	s4 := f.addShard(quarter(3)[0], quarter(3)[1], s2)
	ranges := map[string][2]aggregation.HashKey{s0: all, s1: span(quarter(0), quarter(1)), s2: span(quarter(2), quarter(3)), s3: span(quarter(0), quarter(2)), s4: quarter(3)}
	for i, id := range []string{s0, s1, s2, s3, s4} {
		for n := range 3 {
			k1, k2 := keyIn(fmt.Sprintf("a%d%d", i, n), ranges[id]), keyIn(fmt.Sprintf("b%d%d", i, n), ranges[id])
			f.put(id, "outer", aggregate(sub{k1, "", fmt.Sprintf(`{"shard":%d,"n":%d,"i":0}`, i, n)},
				sub{k2, "", fmt.Sprintf(`{"shard":%d,"n":%d,"i":1}`, i, n)}), t0.Add(time.Duration(i*10+n)*time.Minute))
		}
	}
	for _, id := range []string{s0, s1, s2} {
		f.close(id)
	}
	return f
}

func newTestReader(f *fakeStream, from startAt, follow bool) (*reader, *bytes.Buffer, *bytes.Buffer) {
	var out, errOut bytes.Buffer
	p := &printer{stream: f.name, out: &out, errOut: &errOut}
	return &reader{api: f, stream: f.name, from: from, follow: follow, out: p}, &out, &errOut
}

// shardOrder returns, per shard, the position of its first and last line.
func shardSpans(lines []decoded) map[string][2]int {
	spans := map[string][2]int{}
	for i, l := range lines {
		s, ok := spans[l.Shard]
		if !ok {
			s[0] = i
		}
		s[1] = i
		spans[l.Shard] = s
	}
	return spans
}

func TestLineage(t *testing.T) {
	const (
		s0 = "shardId-000000000000"
		s1 = "shardId-000000000001"
		s2 = "shardId-000000000002"
		s3 = "shardId-000000000003"
		s4 = "shardId-000000000004"
	)
	trim := startAt{kind: types.ShardIteratorTypeTrimHorizon}
	tests := []struct {
		name       string
		from       startAt
		listPage   int
		limit      int
		wantShards map[string]int // lines per shard
		iterators  []string       // iterator calls, sorted
	}{{
		name:       "trim horizon reads every shard",
		from:       trim,
		wantShards: map[string]int{s0: 6, s1: 6, s2: 6, s3: 6, s4: 6},
		iterators: []string{"iterator " + s0 + " TRIM_HORIZON", "iterator " + s1 + " TRIM_HORIZON", "iterator " + s2 + " TRIM_HORIZON",
			"iterator " + s3 + " TRIM_HORIZON", "iterator " + s4 + " TRIM_HORIZON"},
	}, {
		name: "paged listing and small reads", from: trim, listPage: 2, limit: 1,
		wantShards: map[string]int{s0: 6, s1: 6, s2: 6, s3: 6, s4: 6},
		iterators: []string{"iterator " + s0 + " TRIM_HORIZON", "iterator " + s1 + " TRIM_HORIZON", "iterator " + s2 + " TRIM_HORIZON",
			"iterator " + s3 + " TRIM_HORIZON", "iterator " + s4 + " TRIM_HORIZON"},
	}, {
		name:       "latest starts at the open shards only",
		from:       startAt{kind: types.ShardIteratorTypeLatest},
		wantShards: map[string]int{},
		iterators:  []string{"iterator " + s3 + " LATEST", "iterator " + s4 + " LATEST"},
	}, {
		name: "a timestamp starts every shard there",
		// Records of s2 (minute 20-22) from minute 21 on, and all later ones.
		from:       startAt{kind: types.ShardIteratorTypeAtTimestamp, at: t0.Add(21 * time.Minute)},
		wantShards: map[string]int{s2: 4, s3: 6, s4: 6},
		iterators: []string{"iterator " + s0 + " AT_TIMESTAMP", "iterator " + s1 + " AT_TIMESTAMP", "iterator " + s2 + " AT_TIMESTAMP",
			"iterator " + s3 + " AT_TIMESTAMP", "iterator " + s4 + " AT_TIMESTAMP"},
	}}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := reshardedStream()
			f.listPage, f.limit = tc.listPage, tc.limit
			r, out, errOut := newTestReader(f, tc.from, false)
			if err := r.run(t.Context()); err != nil {
				t.Fatal(err)
			}
			lines := readLines(t, out.Bytes())
			perShard := map[string]int{}
			for _, l := range lines {
				perShard[l.Shard]++
			}
			if fmt.Sprint(perShard) != fmt.Sprint(tc.wantShards) {
				t.Errorf("lines per shard = %v; want %v", perShard, tc.wantShards)
			}
			// A parent's lines all come before any of its child's.
			spans := shardSpans(lines)
			for _, edge := range [][2]string{{s0, s1}, {s0, s2}, {s1, s3}, {s2, s3}, {s2, s4}} {
				p, okP := spans[edge[0]]
				c, okC := spans[edge[1]]
				if okP && okC && p[1] > c[0] {
					t.Errorf("%s printed before its parent %s was done", edge[1], edge[0])
				}
			}
			// Within a shard, lines follow sequence and sub-sequence numbers.
			for i := 1; i < len(lines); i++ {
				a, b := lines[i-1], lines[i]
				if a.Shard == b.Shard && (a.SequenceNumber > b.SequenceNumber || a.SequenceNumber == b.SequenceNumber && a.SubSequenceNumber >= b.SubSequenceNumber) {
					t.Errorf("line %d (%s) after %s", i, b.describe(), a.describe())
				}
			}
			var iterators []string
			for _, c := range f.callLog() {
				if strings.HasPrefix(c, "iterator") {
					iterators = append(iterators, c)
				}
			}
			slices.Sort(iterators)
			if strings.Join(iterators, "\n") != strings.Join(tc.iterators, "\n") {
				t.Errorf("iterators:\n%s\nwant:\n%s", strings.Join(iterators, "\n"), strings.Join(tc.iterators, "\n"))
			}
			if errOut.Len() != 0 {
				t.Errorf("stderr: %s", errOut.String())
			}
			if c := r.out.total(); c.UserRecords != len(lines) || c.Shards != len(tc.iterators) {
				t.Errorf("counts %+v: want %d user records from %d shards", c, len(lines), len(tc.iterators))
			}
		})
	}
}

// The parent's records are each read before the first GetShardIterator of
// a child, as the KCL does.
func TestChildStartsAfterParentEnds(t *testing.T) {
	f := reshardedStream()
	r, _, _ := newTestReader(f, startAt{kind: types.ShardIteratorTypeTrimHorizon}, false)
	if err := r.run(t.Context()); err != nil {
		t.Fatal(err)
	}
	calls := f.callLog()
	lastOf := func(prefix string) int {
		last := -1
		for i, c := range calls {
			if strings.HasPrefix(c, prefix) {
				last = i
			}
		}
		return last
	}
	firstOf := func(prefix string) int {
		return slices.IndexFunc(calls, func(c string) bool { return strings.HasPrefix(c, prefix) })
	}
	for _, edge := range [][2]string{{"0", "1"}, {"0", "2"}, {"1", "3"}, {"2", "3"}, {"2", "4"}} {
		parentEnd := lastOf("records shardId-00000000000" + edge[0])
		childStart := firstOf("iterator shardId-00000000000" + edge[1])
		if childStart < parentEnd {
			t.Errorf("shard %s started (call %d) before shard %s ended (call %d):\n%s", edge[1], childStart, edge[0], parentEnd, strings.Join(calls, "\n"))
		}
	}
}

func TestOneShard(t *testing.T) {
	tests := []struct {
		shard   string
		lines   int
		errPart string
		note    string
	}{
		{shard: "shardId-000000000002", lines: 6, note: "is closed and was read to its end"},
		{shard: "shardId-000000000004", lines: 6},
		{shard: "shardId-000000000009", errPart: `no shard "shardId-000000000009"`},
	}
	for _, tc := range tests {
		t.Run(tc.shard, func(t *testing.T) {
			f := reshardedStream()
			r, out, errOut := newTestReader(f, startAt{kind: types.ShardIteratorTypeTrimHorizon}, false)
			r.only = tc.shard
			err := r.run(t.Context())
			if tc.errPart != "" {
				if err == nil || !strings.Contains(err.Error(), tc.errPart) {
					t.Fatalf("error = %v; want one containing %q", err, tc.errPart)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			lines := readLines(t, out.Bytes())
			if len(lines) != tc.lines {
				t.Errorf("%d lines; want %d", len(lines), tc.lines)
			}
			for _, l := range lines {
				if l.Shard != tc.shard {
					t.Errorf("line from %s", l.Shard)
				}
			}
			if !strings.Contains(errOut.String(), tc.note) {
				t.Errorf("stderr %q lacks %q", errOut.String(), tc.note)
			}
		})
	}
}

// An expired iterator resumes after the last record printed; throttling
// waits and retries. Nothing is printed twice or lost.
func TestReadShardRecovers(t *testing.T) {
	f := reshardedStream()
	f.limit = 1
	f.faults = []string{"throttle", "expire", "throttle", "expire"}
	r, out, _ := newTestReader(f, startAt{kind: types.ShardIteratorTypeTrimHorizon}, false)
	r.only = "shardId-000000000000"
	if err := r.run(t.Context()); err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, l := range readLines(t, out.Bytes()) {
		got = append(got, string(l.Data))
	}
	want := []string{`{"shard":0,"n":0,"i":0}`, `{"shard":0,"n":0,"i":1}`, `{"shard":0,"n":1,"i":0}`, `{"shard":0,"n":1,"i":1}`, `{"shard":0,"n":2,"i":0}`, `{"shard":0,"n":2,"i":1}`}
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("data:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// With follow, a reshard while reading is picked up: the children of the
// closed shard are read after it, from their first record.
func TestFollowAcrossReshard(t *testing.T) {
	f := newFakeStream("live")
	all := span(quarter(0), quarter(3))
	s0 := f.addShard(all[0], all[1])
	f.put(s0, "p", []byte(`"before"`), t0)

	lower, upper := span(quarter(0), quarter(1)), span(quarter(2), quarter(3))
	var once sync.Once
	seen := make(chan struct{}, 64)
	f.onRecords = func(shard string, n int) {
		if shard == s0 && n > 0 {
			once.Do(func() {
				// The split: s0 gets one last record and closes; its
				// children already hold records.
				f.put(s0, "p", []byte(`"last"`), t0)
				c1 := f.addShard(lower[0], lower[1], s0)
				c2 := f.addShard(upper[0], upper[1], s0)
				f.put(c1, keyIn("c1", lower), []byte(`"child1"`), t0)
				f.put(c2, keyIn("c2", upper), []byte(`"child2"`), t0)
				f.close(s0)
			})
		}
		if n > 0 {
			seen <- struct{}{}
		}
	}
	r, out, _ := newTestReader(f, startAt{kind: types.ShardIteratorTypeLatest}, true)
	r.from = startAt{kind: types.ShardIteratorTypeTrimHorizon}
	r.idle = time.Millisecond
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- r.run(ctx) }()
	// before, last, child1, child2: four non-empty reads.
	deadline := time.After(20 * time.Second)
	for range 4 {
		select {
		case <-seen:
		case err := <-done:
			t.Fatalf("run returned before it was stopped: %v", err)
		case <-deadline:
			t.Fatal("the children's records were not read")
		}
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("run after interrupt: %v", err)
	}
	lines := readLines(t, out.Bytes())
	var got []string
	for _, l := range lines {
		got = append(got, l.Shard+"="+string(l.Data))
	}
	slices.Sort(got[2:]) // the two children run concurrently
	want := []string{s0 + `="before"`, s0 + `="last"`, `shardId-000000000001="child1"`, `shardId-000000000002="child2"`}
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("lines %v; want %v", got, want)
	}
}
