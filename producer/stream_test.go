package producer

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/kinesis-kpl/fluent-bit-kinesis-kpl/aggregation"
)

// streamEntries makes n entries of every kind a request holds, from seed:
// plain records, newline aggregates, KPL aggregates written when built
// (unsummed until sent) and KPL aggregates that wait as their encoders,
// some over streamWindow, some with explicit hash keys and keys to escape.
func streamEntries(seed uint64, n int) []*entry {
	rng := rand.New(rand.NewPCG(seed, 1))
	data := func(max int) []byte {
		b := make([]byte, 1+rng.IntN(max))
		for i := range b {
			b[i] = byte(rng.Uint32())
		}
		return b
	}
	entries := make([]*entry, 0, n)
	for i := range n {
		pk := fmt.Sprintf("key-%d", i)
		if i%7 == 3 {
			pk = "quote\" \u2028 \xff"
		}
		ehk := ""
		if i%5 == 0 {
			ehk = fmt.Sprint(rng.Uint64())
		}
		max := 4 << 10
		if i%11 == 10 {
			max = streamWindow + 40<<10 // a window of its own
		}
		var refs []recRef
		for range 1 + rng.IntN(6) {
			refs = append(refs, recRef{rec: append([]byte("k"), data(max/4)...), pkLen: 1})
		}
		encode := func() *aggregation.Encoder {
			enc := new(aggregation.Encoder)
			for j := range refs {
				enc.AddShared(refs[j].partitionKey(), ehk, refs[j].data())
			}
			return enc
		}
		e := &entry{refs: refs, shard: -1}
		switch i % 4 {
		case 0:
			e = &entry{data: data(max), pk: pk, ehk: ehk}
		case 1:
			e.build(nil, true, pk, ehk, false)
		case 2:
			e.build(encode(), false, pk, ehk, false) // written now if small
		case 3:
			e.enc, e.pk, e.ehk = encode(), pk, ehk
			e.dataLen = e.enc.Size()
		}
		entries = append(entries, e)
	}
	return entries
}

// readRandomly reads r to its end in reads of random sizes.
func readRandomly(t *testing.T, rng *rand.Rand, r io.Reader) []byte {
	t.Helper()
	var out []byte
	buf := make([]byte, 64<<10)
	for {
		n, err := r.Read(buf[:1+rng.IntN(len(buf))])
		out = append(out, buf[:n]...)
		if err == io.EOF {
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
	}
}

// TestBodyStreamMatchesWholeBody: a body written in windows is, byte for
// byte and at every attempt (a rewind after a partial one too), the body
// written at once, its hash and length are those of that body, and the
// entries are left as a whole body's writing leaves them: usable again,
// no aggregate pointing into a window.
func TestBodyStreamMatchesWholeBody(t *testing.T) {
	lanes := aggregation.OpenLanes()
	defer lanes.Close()
	for _, format := range []WireFormat{WireJSON, WireCBOR} {
		for _, withLanes := range []bool{false, true} {
			for seed := range uint64(3) {
				t.Run(fmt.Sprintf("%s/lanes=%v/seed=%d", format, withLanes, seed), func(t *testing.T) {
					n := []int{1, 40, 500}[seed]
					want := appendWholeBody(nil, format, `str"eam`, streamEntries(seed, n), nil)
					if n == 500 && len(want) < 4*streamWindow {
						t.Fatalf("a body of %d bytes makes fewer than four windows", len(want))
					}
					entries := streamEntries(seed, n)
					var s bodyScratch
					if withLanes {
						s.lanes = lanes
					}
					var b BodyStream
					b.begin(format, `str"eam`, entries, &s)
					sum, size := b.hash()
					if size != int64(len(want)) || sum != sha256.Sum256(want) {
						t.Fatalf("hash of %d bytes, want the %d bytes of the whole body's", size, len(want))
					}
					rng := rand.New(rand.NewPCG(seed, 2))
					for attempt := range 3 {
						b.rewind()
						if attempt == 1 {
							part := make([]byte, len(want)/2)
							if _, err := io.ReadFull(&b, part); err != nil || !bytes.Equal(part, want[:len(part)]) {
								t.Fatalf("first half read: %v, equal %v", err, bytes.Equal(part, want[:len(part)]))
							}
							b.rewind()
						}
						if got := readRandomly(t, rng, &b); !bytes.Equal(got, want) {
							t.Fatalf("attempt %d: %d bytes differ from the whole body's %d", attempt, len(got), len(want))
						}
					}
					b.end()
					for i, e := range entries {
						if e.aggregate() && e.data != nil {
							t.Fatalf("entry %d still points at a window", i)
						}
					}
					if again := appendWholeBody(nil, format, `str"eam`, entries, nil); !bytes.Equal(again, want) {
						t.Fatal("the entries written whole after the stream differ")
					}
				})
			}
		}
	}
}

// TestDirectPutterStreams: a large body goes out in windows, signed over
// the whole, with its length, and the same at every attempt.
func TestDirectPutterStreams(t *testing.T) {
	for _, format := range []WireFormat{WireJSON, WireCBOR} {
		t.Run(format.String(), func(t *testing.T) {
			want := appendWholeBody(nil, format, "logs", streamEntries(7, 300), nil)
			if len(want) <= streamMinBody {
				t.Fatalf("a body of %d bytes is not streamed", len(want))
			}
			h := &captureHTTP{failFirst: 1}
			d, err := newDirectPutter(captureClient(h))
			if err != nil {
				t.Fatal(err)
			}
			var b BodyStream
			b.begin(format, "logs", streamEntries(7, 300), new(bodyScratch))
			defer b.end()
			// The capture answers JSON bodies only: the CBOR call's second
			// attempt fails too, after sending the same bytes.
			_, err = d.PutRecordsStream(context.Background(), "logs", format, &b)
			if format == WireJSON && err != nil {
				t.Fatal(err)
			}
			if len(h.reqs) != 2 {
				t.Fatalf("%d requests, want 2 (one answered 500, then its retry)", len(h.reqs))
			}
			for _, r := range h.reqs {
				if !bytes.Equal(r.body, want) {
					t.Fatalf("sent %d bytes, not the whole body's %d", len(r.body), len(want))
				}
				checkSigned(t, r, want)
			}
		})
	}
}

// TestBodyStreamPanic: a panic while a window is written (on net/http's
// goroutine, where nothing else would recover it) ends the body with an
// error, read after read.
func TestBodyStreamPanic(t *testing.T) {
	bad := &entry{newline: true, refs: []recRef{{rec: []byte("k"), pkLen: 5}}, dataLen: 10, pk: "k"}
	var b BodyStream
	b.begin(WireCBOR, "logs", []*entry{bad}, new(bodyScratch))
	defer b.end()
	_, err := io.ReadAll(&b)
	var pe *panicError
	if !errors.As(err, &pe) {
		t.Fatalf("read gave %v, want the panic as an error", err)
	}
	if _, err := b.Read(make([]byte, 8)); !errors.Is(err, b.failed()) || err == nil {
		t.Fatalf("a read after the panic gave %v", err)
	}
}

// checkStreamed fails t unless entries written as a BodyStream, read in
// pieces of random sizes, are want, with want's hash and length.
func checkStreamed(t *testing.T, format WireFormat, stream string, entries []*entry, want []byte) {
	t.Helper()
	var b BodyStream
	b.begin(format, stream, entries, new(bodyScratch))
	defer b.end()
	if sum, n := b.hash(); n != int64(len(want)) || sum != sha256.Sum256(want) {
		t.Fatalf("streamed body's hash of %d bytes differs from the whole body's (%d bytes)", n, len(want))
	}
	if got := readRandomly(t, rand.New(rand.NewPCG(uint64(len(want)), 3)), &b); !bytes.Equal(got, want) {
		t.Fatalf("streamed body differs:\n%q\n%q", got, want)
	}
}

// BenchmarkBodyStream sends (to io.Discard, HTTP and TLS left out) the
// body of a request of 60 KPL aggregates of 95 records of 525 bytes
// (about 3 MB, a chunk of Fluent Bit's tail), as it was sent before,
// written whole and then hashed, and as it is now, written in windows
// once for its hash and again as it is read, in the same run. bytes-held
// is the most the request holds of its body at once.
func BenchmarkBodyStream(b *testing.B) {
	const aggregates, perAggregate, size = 60, 95, 525
	lanes := aggregation.OpenLanes()
	defer lanes.Close()
	entries := lazyAggregates(b, aggregates, perAggregate, size)
	for _, format := range []WireFormat{WireJSON, WireCBOR} {
		b.Run(format.String()+"/whole", func(b *testing.B) {
			s := &bodyScratch{lanes: lanes}
			var body []byte
			var r bytes.Reader
			for b.Loop() {
				body = appendWholeBody(body[:0], format, "stream", entries, s)
				_ = sha256.Sum256(body)
				r.Reset(body)
				if _, err := io.Copy(io.Discard, struct{ io.Reader }{&r}); err != nil {
					b.Fatal(err)
				}
				(&Producer{}).releaseAggregates(entries, nil)
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/1e3/float64(b.N*aggregates*perAggregate), "µs/record")
			b.ReportMetric(float64(cap(body)), "bytes-held")
		})
		// Windows of this CPU's lanes, and on AVX-512 of half of them too:
		// the window before.
		for _, n := range slices.Compact([]int{streamLaneAggregates, 8}) {
			b.Run(fmt.Sprintf("%s/windows-of-%d", format, n), func(b *testing.B) {
				setLaneAggregates(b, n)
				benchWindows(b, format, entries, lanes, aggregates*perAggregate)
			})
		}
	}
}

// setLaneAggregates makes windows take n aggregates until tb ends.
func setLaneAggregates(tb testing.TB, n int) {
	old := streamLaneAggregates
	streamLaneAggregates = n
	tb.Cleanup(func() { streamLaneAggregates = old })
}

// benchWindows hashes the body of entries in windows, then writes it again
// as it is sent, and reports the CPU per record and the window held while
// sending.
func benchWindows(b *testing.B, format WireFormat, entries []*entry, lanes *aggregation.Lanes, records int) {
	s := &bodyScratch{lanes: lanes}
	var st BodyStream
	held := 0
	for b.Loop() {
		st.begin(format, "stream", entries, s)
		st.hash()
		st.rewind()
		if _, err := io.Copy(io.Discard, struct{ io.Reader }{&st}); err != nil {
			b.Fatal(err)
		}
		held = max(held, cap(st.window))
		st.end()
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/1e3/float64(b.N*records), "µs/record")
	b.ReportMetric(float64(held), "bytes-held")
}

// A window of aggregates that need their MD5 takes as many as one pass of
// this CPU's SIMD lanes sums (at least eight), and no more, unless it
// reaches streamMaxWindow first.
func TestWindowsHoldALanePassOfAggregates(t *testing.T) {
	if want := max(aggregation.PassLanes(), 8); streamLaneAggregates != want {
		t.Fatalf("windows take %d aggregates, want %d", streamLaneAggregates, want)
	}
	lanes := aggregation.OpenLanes()
	defer lanes.Close()
	for _, n := range []int{8, 16} {
		t.Run(fmt.Sprint(n), func(t *testing.T) {
			setLaneAggregates(t, n)
			// 40 aggregates of 95 records of 525 B (about 50 KB each, 16 of
			// them under streamMaxWindow): the lane count ends windows.
			entries := lazyAggregates(t, 40, 95, 525)
			var st BodyStream
			st.begin(WireCBOR, "stream", entries, &bodyScratch{lanes: lanes})
			var sizes []int
			for prev := 0; st.more(); prev = st.next {
				sizes = append(sizes, st.next-prev)
			}
			st.end()
			var want []int
			for left := 40; left > 0; left -= n {
				want = append(want, min(n, left))
			}
			if !slices.Equal(sizes, want) {
				t.Fatalf("aggregates per window %v, want %v", sizes, want)
			}

			// Once hashed, the body is written again in windows of
			// streamWindow (two of these aggregates each), into a window
			// of the stream's own that stays that small; the body and its
			// SHA-256 are those of the whole body.
			whole := appendWholeBody(nil, WireCBOR, "stream", entries, &bodyScratch{lanes: lanes})
			(&Producer{}).releaseAggregates(entries, nil)
			st = BodyStream{}
			st.begin(WireCBOR, "stream", entries, &bodyScratch{lanes: lanes})
			sum, size := st.hash()
			var body []byte
			sizes, held := sizes[:0], 0
			for prev := 0; st.more(); prev = st.next {
				sizes = append(sizes, st.next-prev)
				body = append(body, st.window...)
				held = max(held, cap(st.window))
			}
			st.end()
			if !bytes.Equal(body, whole) || size != int64(len(whole)) || sum != sha256.Sum256(whole) {
				t.Fatalf("after hashing, the body (%d bytes) or its sum differs from the whole body (%d bytes)", size, len(whole))
			}
			if sizes[0] != 2 || slices.Max(sizes) != 2 {
				t.Fatalf("aggregates per window once hashed %v, want 2 in each", sizes)
			}
			if held > 2*streamWindow {
				t.Fatalf("the stream's window grew to %d bytes once hashed, want at most %d", held, 2*streamWindow)
			}
		})
	}
}
