package aggregation

import (
	"bytes"
	"crypto/md5"
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/kinesis-kpl/fluent-bit-kinesis-kpl/aggregation/pb"
)

// userRecord is one input to the Encoder in tests.
type userRecord struct {
	pk, ehk string
	data    []byte
}

// referenceAggregate builds the aggregate with the generated pb types and
// proto.Marshal: the oracle the hand-written encoder must match byte for byte.
func referenceAggregate(t testing.TB, recs []userRecord) []byte {
	t.Helper()
	msg := &pb.AggregatedRecord{}
	pkIdx := map[string]uint64{}
	ehkIdx := map[string]uint64{}
	for _, r := range recs {
		i, ok := pkIdx[r.pk]
		if !ok {
			i = uint64(len(msg.PartitionKeyTable))
			pkIdx[r.pk] = i
			msg.PartitionKeyTable = append(msg.PartitionKeyTable, r.pk)
		}
		rec := &pb.Record{PartitionKeyIndex: proto.Uint64(i), Data: append([]byte{}, r.data...)}
		if r.ehk != "" {
			j, ok := ehkIdx[r.ehk]
			if !ok {
				j = uint64(len(msg.ExplicitHashKeyTable))
				ehkIdx[r.ehk] = j
				msg.ExplicitHashKeyTable = append(msg.ExplicitHashKeyTable, r.ehk)
			}
			rec.ExplicitHashKeyIndex = proto.Uint64(j)
		}
		msg.Records = append(msg.Records, rec)
	}
	body, err := proto.MarshalOptions{Deterministic: true}.Marshal(msg)
	if err != nil {
		t.Fatalf("proto.Marshal: %v", err)
	}
	sum := md5.Sum(body)
	out := append(append(Magic[:0:0], Magic[:]...), body...)
	return append(out, sum[:]...)
}

// randomRecords makes n records whose keys repeat often enough to exercise
// the de-duplicated tables, with lengths that cross varint boundaries.
func randomRecords(r *rand.Rand, n int) []userRecord {
	recs := make([]userRecord, n)
	lens := []int{0, 1, 127, 128, 300, 16383, 16384}
	for i := range recs {
		pkLen := 1 + r.IntN(256)
		if r.IntN(4) == 0 {
			pkLen = 1 + r.IntN(3)
		}
		pk := strings.Repeat(string(rune('a'+r.IntN(3))), pkLen)
		var ehk string
		if r.IntN(3) == 0 {
			ehk = strconv.FormatUint(r.Uint64()>>r.UintN(64), 10)
			if r.IntN(2) == 0 {
				ehk = "42"
			}
		}
		dl := r.IntN(200)
		if r.IntN(10) == 0 {
			dl = lens[r.IntN(len(lens))]
		}
		data := make([]byte, dl)
		for j := range data {
			data[j] = byte(r.Uint32())
		}
		recs[i] = userRecord{pk: pk, ehk: ehk, data: data}
	}
	return recs
}

// addEach adds rec with Add, AddShared or, for "mixed", one or the other
// by the record's index.
func addEach(enc *Encoder, mode string, i int, rec userRecord) {
	if mode == "shared" || mode == "mixed" && i%2 == 1 {
		enc.AddShared(rec.pk, rec.ehk, rec.data)
		return
	}
	enc.Add(rec.pk, rec.ehk, rec.data)
}

func TestEncoderMatchesProtoMarshalAndPredictsSize(t *testing.T) {
	for _, mode := range []string{"copy", "shared", "mixed"} {
		t.Run(mode, func(t *testing.T) {
			r := rand.New(rand.NewPCG(7, 8))
			var enc Encoder
			var out []byte
			for round := range 300 {
				enc.Reset()
				recs := randomRecords(r, r.IntN(40))
				for i, rec := range recs {
					predicted := enc.SizeWith(rec.pk, rec.ehk, len(rec.data))
					addEach(&enc, mode, i, rec)
					if enc.Size() != predicted {
						t.Fatalf("round %d record %d: SizeWith predicted %d, Size after adding is %d", round, i, predicted, enc.Size())
					}
				}
				if enc.Count() != len(recs) {
					t.Fatalf("Count() = %d; want %d", enc.Count(), len(recs))
				}
				out = enc.AppendTo(out[:0])
				if len(out) != enc.Size() {
					t.Fatalf("round %d: AppendTo wrote %d bytes; Size() = %d", round, len(out), enc.Size())
				}
				if want := referenceAggregate(t, recs); !bytes.Equal(out, want) {
					t.Fatalf("round %d: encoder output differs from proto.Marshal\n got %x\nwant %x", round, out, want)
				}
			}
		})
	}
}

// TestEncoderResetDropsShared: data shared before a Reset is neither
// written nor counted after it.
func TestEncoderResetDropsShared(t *testing.T) {
	var enc Encoder
	enc.AddShared("old", "", []byte("old data"))
	enc.Reset()
	enc.AddShared("pk", "", []byte("hello"))
	want := referenceAggregate(t, []userRecord{{pk: "pk", data: []byte("hello")}})
	if got := enc.AppendTo(nil); !bytes.Equal(got, want) || enc.Size() != len(want) {
		t.Fatalf("after Reset: got %x (Size %d), want %x", got, enc.Size(), want)
	}
}

func TestEncoderAddCopiesData(t *testing.T) {
	var enc Encoder
	data := []byte("hello")
	enc.Add("pk", "", data)
	copy(data, "XXXXX")
	want := referenceAggregate(t, []userRecord{{pk: "pk", data: []byte("hello")}})
	if got := enc.AppendTo(nil); !bytes.Equal(got, want) {
		t.Fatalf("aggregate changed after the caller reused its data buffer")
	}
}

func TestEncoderAppendToKeepsPrefix(t *testing.T) {
	var enc Encoder
	enc.Add("pk", "", []byte("x"))
	got := enc.AppendTo([]byte("prefix"))
	if !bytes.HasPrefix(got, []byte("prefix")) || len(got) != len("prefix")+enc.Size() {
		t.Fatalf("AppendTo did not append after the existing bytes")
	}
}

func TestEncoderEmpty(t *testing.T) {
	var enc Encoder
	if enc.Size() != Overhead || enc.Count() != 0 {
		t.Fatalf("zero Encoder: Size %d Count %d", enc.Size(), enc.Count())
	}
	if got, want := enc.AppendTo(nil), referenceAggregate(t, nil); !bytes.Equal(got, want) {
		t.Fatalf("empty aggregate = %x; want %x", got, want)
	}
}

func TestEncoderKeyTables(t *testing.T) {
	var enc Encoder
	enc.Add("b", "", nil)
	enc.Add("a", "7", nil)
	enc.Add("b", "9", nil)
	enc.Add("c", "7", nil)
	if got := strings.Join(enc.PartitionKeys(), ","); got != "b,a,c" {
		t.Errorf("partition key table = %s; want b,a,c (first-seen order)", got)
	}
	if got := strings.Join(enc.ExplicitHashKeys(), ","); got != "7,9" {
		t.Errorf("explicit hash key table = %s; want 7,9", got)
	}
	enc.Reset()
	if len(enc.PartitionKeys()) != 0 || len(enc.ExplicitHashKeys()) != 0 || enc.Size() != Overhead {
		t.Errorf("Reset left state behind")
	}
}

func TestEncoderSteadyStateZeroAllocs(t *testing.T) {
	var enc Encoder
	data := bytes.Repeat([]byte("d"), 500)
	keys := []string{"alpha", "beta", "gamma", "delta"}
	var out []byte
	run := func() {
		enc.Reset()
		for i := range 100 {
			pk := keys[i%len(keys)]
			_ = enc.SizeWith(pk, "", len(data))
			enc.Add(pk, "", data)
		}
		out = enc.AppendTo(out[:0])
	}
	run() // grow buffers and tables once
	if allocs := testing.AllocsPerRun(50, run); allocs != 0 {
		t.Errorf("steady state: %v allocs per aggregate; want 0", allocs)
	}
}

// TestEncoderLookupShortcutsStayCorrect drives the key lookup shortcuts
// (the remembered last answer, the direct-mapped cache) through the cases
// that could fool them: SizeWith about one key then Add of another, misses
// followed by inserts of different keys, more keys than cache slots, and
// keys that differ mostly where the cache slot function does not look.
func TestEncoderLookupShortcutsStayCorrect(t *testing.T) {
	r := rand.New(rand.NewPCG(13, 14))
	var keys []string
	for i := range 600 {
		keys = append(keys, fmt.Sprintf("%d", i))
		// Same length, start, middle and end: they all share a cache slot.
		keys = append(keys, fmt.Sprintf("prefix-%03d-xxxxxxxx-%03d-suffix", i%10, i/10))
	}
	var enc Encoder
	for round := range 50 {
		enc.Reset()
		var recs []userRecord
		for range r.IntN(400) {
			u := userRecord{pk: keys[r.IntN(len(keys))], data: []byte{byte(r.Uint32())}}
			if r.IntN(3) == 0 {
				u.ehk = keys[r.IntN(len(keys))]
			}
			// Ask about some other record first, sometimes.
			if r.IntN(2) == 0 {
				_ = enc.SizeWith(keys[r.IntN(len(keys))], keys[r.IntN(len(keys))], 3)
			}
			predicted := enc.SizeWith(u.pk, u.ehk, len(u.data))
			if r.IntN(4) == 0 {
				_ = enc.SizeWith(keys[r.IntN(len(keys))], "", 1) // and after
			}
			enc.Add(u.pk, u.ehk, u.data)
			if enc.Size() != predicted {
				t.Fatalf("round %d: SizeWith predicted %d, Size is %d", round, predicted, enc.Size())
			}
			recs = append(recs, u)
		}
		if got, want := enc.AppendTo(nil), referenceAggregate(t, recs); !bytes.Equal(got, want) {
			t.Fatalf("round %d: encoder output differs from proto.Marshal", round)
		}
	}
}
