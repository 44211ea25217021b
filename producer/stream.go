package producer

import (
	"context"
	"crypto/md5"
	"crypto/sha256"
	"io"
	"sync"

	"github.com/aws/aws-sdk-go-v2/service/kinesis"

	"github.com/kinesis-kpl/fluent-bit-kinesis-kpl/aggregation"
)

// A request body is written whole into one buffer only when it is small
// (bodyLenAbout at most streamMinBody). A larger one is written in
// windows (BodyStream), twice: once for its SHA-256, which SigV4 signs
// before a byte is sent, and once more while net/http sends it. So a
// request in flight holds a window, not its body (up to BatchSize, 5 MiB
// by default): the records' bytes stay in their groups, where they are
// anyway, and a flush in flight no longer holds them twice. The second
// writing costs a copy of each byte (and for JSON its base64 again).
//
// A window ends after streamWindow bytes, unless aggregates that need
// their MD5 are in it: then it takes streamLaneAggregates of them (or
// streamMaxWindow bytes), so that their MD5s fill the SIMD lanes of one
// pass: 16 with AVX-512, 8 otherwise (aggregation.PassLanes). Windows of
// 128 KiB, two or three aggregates of the default 50 KiB each, made JSON
// cost a fifth more CPU per record in Fluent Bit. On AVX-512, windows of
// 8 half filled the lanes: the MD5 took 12 % of the plugin's CPU in a
// profile of Fluent Bit, a third less with 16, and BenchmarkBodyStream
// wrote CBOR at 0.81-0.91 us a record against 0.73-0.85 with 16 (AMD
// EPYC). A window of 16 aggregates of 50 KiB holds 0.8 MiB, only while
// hash writes it: about 2 MB more peak RSS at workers 2.
const (
	streamMinBody   = 128 << 10
	streamWindow    = 64 << 10
	streamMaxWindow = 1 << 20
)

// streamLaneAggregates is how many aggregates a window takes (see above).
var streamLaneAggregates = max(aggregation.PassLanes(), 8)

// BodyStream is the body of one large request, written in windows as it
// is read. Only this package's own sender of a *kinesis.Client can send
// one (StreamPutter); a Putter wrapping that sender passes it on as it
// is. It writes the body of entries in format, and rewind starts it
// again for each attempt. The aggregates written into a window are summed
// the first time (hash) and their MD5s kept, so that writing them again
// costs no MD5. Its entries must not change while it is used, as for any
// body; a window's aggregates point into it (entry.data) only until the
// next window or release.
type BodyStream struct {
	format     WireFormat
	streamName string
	entries    []*entry
	s          *bodyScratch
	sums       [][md5.Size]byte // per entry: its MD5, once hashed
	window     []byte           // written, served from off
	off        int
	next       int // the first entry not written yet
	started    bool
	ended      bool
	hashed     bool // sums are known
	err        error
}

// begin readies b for a body of entries; s is the request's scratch.
func (b *BodyStream) begin(format WireFormat, streamName string, entries []*entry, s *bodyScratch) {
	b.format, b.streamName, b.entries, b.s = format, streamName, entries, s.begin()
	if cap(b.sums) < len(entries) {
		b.sums = make([][md5.Size]byte, len(entries))
	}
	b.sums = b.sums[:len(entries)]
	b.hashed, b.err = false, nil
	b.rewind()
}

// end forgets the entries, keeping the window and sums for the next body.
func (b *BodyStream) end() {
	b.release()
	b.entries, b.s = nil, nil
	b.window = b.window[:0]
}

// rewind starts the body again from its first byte.
func (b *BodyStream) rewind() {
	b.release()
	b.window, b.off = b.window[:0], 0
	b.next, b.started, b.ended = 0, false, false
}

// hash writes the whole body once and returns its SHA-256 and length,
// keeping the MD5 of every aggregate written into it. Its windows, wide
// enough for a lane pass of aggregates, are borrowed (wideWindows); the
// writings after it, every MD5 known, take streamWindow bytes at a time
// into the stream's own window, so that a request in flight holds about
// 64 KiB instead of up to streamMaxWindow.
func (b *BodyStream) hash() (sum [sha256.Size]byte, n int64) {
	h := sha256.New()
	own := b.window
	wide := wideWindows.Get().(*[]byte)
	b.window = *wide
	b.rewind()
	for b.more() {
		h.Write(b.window)
		n += int64(len(b.window))
	}
	b.hashed = true
	b.rewind() // no aggregate points into the wide window any more
	*wide = b.window
	wideWindows.Put(wide)
	b.window = own[:0]
	h.Sum(sum[:0])
	return sum, n
}

// wideWindows are the windows of hash, one per body being hashed at once.
var wideWindows = sync.Pool{New: func() any { return new([]byte) }}

// more writes the next window and reports whether there was one: at least
// one entry, or the body's start or end, and entries while the window is
// under streamWindow.
func (b *BodyStream) more() bool {
	b.release()
	if b.ended {
		return false
	}
	if b.s == nil {
		b.s = new(bodyScratch) // a BodyStream never begun: a body of no entries
	}
	w := b.window[:0]
	if !b.started {
		w = appendBodyStart(w, b.format, len(b.entries))
		b.started = true
	}
	first, summing := b.next, 0
	for b.next < len(b.entries) && (b.next == first || !windowFull(len(w), summing)) {
		e := b.entries[b.next]
		if !b.hashed && (e.enc != nil || e.unsummed) {
			summing++ // once hashed, the MD5s are known: no lanes to fill
		}
		w = appendBodyEntry(w, b.format, b.next, e, b.s)
		b.next++
	}
	if b.next == len(b.entries) {
		w = appendBodyEnd(w, b.format, b.streamName)
		b.ended = true
	}
	b.window, b.off = w, 0
	s := b.s
	s.place(w, b.entries)
	if b.hashed {
		// The first writing summed every aggregate of the request: those
		// written into it again take the MD5s kept then.
		for _, sl := range s.later {
			if e := b.entries[sl.i]; sl.inBody && e.unsummed {
				copy(e.data[len(e.data)-md5.Size:], b.sums[sl.i][:])
				e.unsummed = false
			}
		}
	} else {
		s.sums = sumEntries(s.lanes, b.entries, s.sums)
		for _, sl := range s.later {
			if e := b.entries[sl.i]; sl.inBody && e.enc != nil {
				copy(b.sums[sl.i][:], e.data[len(e.data)-md5.Size:])
			}
		}
	}
	s.encode(w, b.entries, b.format != WireCBOR)
	return true
}

// windowFull reports whether a window of n bytes, with summing aggregates
// that need their MD5, ends.
func windowFull(n, summing int) bool {
	return n >= streamMaxWindow || n >= streamWindow && (summing == 0 || summing >= streamLaneAggregates)
}

// release forgets the bytes of the aggregates written into the window:
// the window is about to be written over.
func (b *BodyStream) release() {
	if b.s == nil {
		return
	}
	for _, sl := range b.s.later {
		if sl.inBody {
			b.entries[sl.i].data = nil
		}
	}
	b.s.later = b.s.later[:0]
}

// Read serves the body, writing its windows as they are needed. A panic
// while writing (it runs on net/http's goroutine, where nothing would
// recover it) ends the body with an error the call returns (failed).
func (b *BodyStream) Read(p []byte) (n int, err error) {
	if b.err != nil {
		return 0, b.err
	}
	defer func() {
		if r := recover(); r != nil {
			b.err = recovered("writing a request body", r)
			n, err = 0, b.err
		}
	}()
	for b.off == len(b.window) {
		if !b.more() {
			return 0, io.EOF
		}
	}
	n = copy(p, b.window[b.off:])
	b.off += n
	return n, nil
}

// failed returns the panic that ended the body, if one did.
func (b *BodyStream) failed() error { return b.err }

// StreamPutter is a BodyPutter that can also send a large body as a
// BodyStream, which no value but the producer's own sender for a
// *kinesis.Client can do: BodyPutterOf returns one for a *kinesis.Client
// whose endpoint resolves. A Putter that wraps one (to watch its calls,
// say) implements StreamPutter too, passing the body on, or the producer
// writes every body whole.
type StreamPutter interface {
	BodyPutter
	PutRecordsStream(ctx context.Context, streamName string, format WireFormat, body *BodyStream) (*kinesis.PutRecordsOutput, error)
}
