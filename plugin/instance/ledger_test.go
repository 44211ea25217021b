package instance

import (
	"fmt"
	"testing"
	"time"

	"github.com/kinesis-kpl/fluent-bit-kinesis-kpl/conf"
)

func TestLedgerTakeMatchesTagAndBytes(t *testing.T) {
	var evicted []*pending
	l := newLedger(10, 1<<20, time.Hour, func(p *pending) { evicted = append(evicted, p) })
	w := &chunkWork{events: 1}
	l.put(l.id("tag", []byte("chunk")), w)
	if l.take(l.id("other", []byte("chunk"))) != nil {
		t.Fatal("an entry was found under another tag")
	}
	if l.take(l.id("tag", []byte("chunk!"))) != nil {
		t.Fatal("an entry was found for other bytes")
	}
	p := l.take(l.id("tag", []byte("chunk")))
	if p == nil || p.work != w {
		t.Fatal("the entry was not found")
	}
	if l.take(l.id("tag", []byte("chunk"))) != nil {
		t.Fatal("an entry was taken twice")
	}
	if len(evicted) != 0 || l.len() != 0 {
		t.Fatalf("evicted %d, left %d", len(evicted), l.len())
	}
}

func TestLedgerBounds(t *testing.T) {
	now := time.Unix(1000, 0)
	var evicted []string
	l := newLedger(3, 100, time.Minute, func(p *pending) { evicted = append(evicted, p.tag) })
	l.now = func() time.Time { return now }
	put := func(tag string, size int) { l.put(l.id(tag, make([]byte, size)), &chunkWork{held: size}) }

	for i := 0; i < 4; i++ {
		put(fmt.Sprint("n", i), 10)
	}
	if fmt.Sprint(evicted) != "[n0]" || l.len() != 3 {
		t.Fatalf("by count: evicted %v, left %d", evicted, l.len())
	}
	evicted = nil
	put("big", 85) // 30 + 85 > 100: the oldest two go
	if fmt.Sprint(evicted) != "[n1 n2]" || l.len() != 2 {
		t.Fatalf("by bytes: evicted %v, left %d", evicted, l.len())
	}
	evicted = nil
	now = now.Add(2 * time.Minute)
	put("late", 1)
	if fmt.Sprint(evicted) != "[n3 big]" || l.len() != 1 {
		t.Fatalf("by age: evicted %v, left %d", evicted, l.len())
	}
	if l.take(l.id("late", make([]byte, 1))) == nil {
		t.Fatal("the newest entry is gone")
	}
}

func TestLedgerIdenticalChunksKeepTheNewest(t *testing.T) {
	var evicted []*pending
	l := newLedger(10, 1<<20, time.Hour, func(p *pending) { evicted = append(evicted, p) })
	a, b := &chunkWork{events: 1}, &chunkWork{events: 2}
	l.put(l.id("t", []byte("same")), a)
	l.put(l.id("t", []byte("same")), b)
	if len(evicted) != 1 || evicted[0].work != a {
		t.Fatalf("evicted %v, want the older entry", evicted)
	}
	if p := l.take(l.id("t", []byte("same"))); p == nil || p.work != b {
		t.Fatal("the newer entry is not the one kept")
	}
	if len(l.drain()) != 0 {
		t.Fatal("drain found entries after take")
	}
}

// The ledger counts what an entry really holds: each record's JSON and key
// in its group plus the per-record state, not the chunk's msgpack size.
func TestLedgerCountsTheBytesItHolds(t *testing.T) {
	fk := &fakeKinesis{block: make(chan struct{})}
	in, _ := newInstance(t, fk, func(c *conf.Config) { c.FlushTimeout = 200 * time.Millisecond })
	data, want := makeChunk(50, false)
	if got := in.Flush("app", data); got != Retry {
		t.Fatalf("Flush = %s, want RETRY", got)
	}
	expected := 0
	for i, rec := range want {
		expected += len(rec) + len(fmt.Sprintf("pod-%d", i%7)) + recordState
	}
	in.ledger.mu.Lock()
	held := in.ledger.bytes
	in.ledger.mu.Unlock()
	if held != expected {
		t.Fatalf("ledger holds %d bytes by its count, want %d (the chunk is %d bytes)", held, expected, len(data))
	}
	close(fk.block)
}

// An entry nobody takes (Fluent Bit gave up on its chunk) leaves after
// maxAge, even when no other chunk comes.
func TestLedgerEntriesExpireWithoutTraffic(t *testing.T) {
	evicted := make(chan string, 2)
	l := newLedger(10, 1<<20, 20*time.Millisecond, func(p *pending) { evicted <- p.tag })
	l.put(l.id("a", []byte("1")), &chunkWork{held: 1})
	l.put(l.id("b", []byte("2")), &chunkWork{held: 1})
	for _, want := range []string{"a", "b"} {
		select {
		case got := <-evicted:
			if got != want {
				t.Fatalf("evicted %q, want %q", got, want)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("entry %q did not expire", want)
		}
	}
	if l.len() != 0 {
		t.Fatalf("%d entries left", l.len())
	}
	l.drain()
}

// BenchmarkLedgerFingerprint is the hash that every flush pays with
// retry_ledger on: a chunk of 1,000 records of 525 bytes.
func BenchmarkLedgerFingerprint(b *testing.B) {
	l := newLedger(1, 1, time.Hour, func(*pending) {})
	chunk := make([]byte, 525*1000)
	for i := range chunk {
		chunk[i] = byte(i)
	}
	b.SetBytes(int64(len(chunk)))
	for b.Loop() {
		l.fingerprint("kube.var.log.containers.app", chunk)
	}
}
