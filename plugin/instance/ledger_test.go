package instance

import (
	"fmt"
	"testing"
	"time"
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
	put := func(tag string, size int) { l.put(l.id(tag, make([]byte, size)), &chunkWork{}) }

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
