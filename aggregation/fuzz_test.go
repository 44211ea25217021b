package aggregation

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/kinesis-kpl/fluent-bit-kinesis-kpl/aggregation/pb"
)

// addGoldenSeeds adds every golden aggregate to f through add.
func addGoldenSeeds(f *testing.F, add func(aggregate []byte)) {
	paths, err := filepath.Glob(filepath.Join("testdata", "golden", "*.bin"))
	if err != nil || len(paths) == 0 {
		f.Fatalf("no golden files for the seed corpus: %v", err)
	}
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		add(b)
	}
}

// FuzzDeaggregate feeds arbitrary records to the decoder. With reframe set,
// data is taken as a protobuf body and given a valid magic and checksum, so
// that mutations reach the protobuf decoder instead of failing the MD5.
//
// Invariants: no panic; every error is a *DecodeError matching ErrMalformed;
// a record without the magic passes through whole; whatever decodes also
// decodes with proto.Unmarshal to the same records; re-encoding the decoded
// records gives an aggregate that decodes to them again and equals
// proto.Marshal's; and a canonical aggregate (what an encoder writes)
// re-encodes to the very same bytes.
func FuzzDeaggregate(f *testing.F) {
	addGoldenSeeds(f, func(agg []byte) {
		f.Add(agg, false)
		f.Add(agg[magicLen:len(agg)-checksumLen], true)
	})
	f.Add([]byte("plain record"), false)
	f.Add([]byte{}, false)
	f.Add([]byte{0x0A, 0x01, 'a', 0x1A, 0x05, 0x08, 0x07, 0x1A, 0x01, 'd'}, true)                         // index out of range
	f.Add([]byte{0x0A, 0x01, 'a', 0x1A, 0x09, 0x08, 0x00, 0x1A, 0x01, 'd', 0x22, 0x02, 0x0A, 0x00}, true) // a tag
	f.Add([]byte{0x1A, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x7F}, true)                       // absurd length

	f.Fuzz(func(t *testing.T, data []byte, reframe bool) {
		if reframe {
			data = frame(data)
		}
		recs, err := Deaggregate(data, "outer", "7")
		kcl, kclErr := DeaggregateKCL(data, "outer", "7")
		_ = CheckShardRange(recs, HashKey{}, MaxHashKey)

		if !hasMagic(data) {
			if err != nil || len(recs) != 1 || !bytes.Equal(recs[0].Data, data) || recs[0].PartitionKey != "outer" {
				t.Fatalf("a record without the magic was not passed through: %v", err)
			}
			if kclErr != nil || len(kcl) != 1 {
				t.Fatalf("DeaggregateKCL did not pass a plain record through: %v", kclErr)
			}
			return
		}
		if !IsAggregated(data) {
			if !errors.Is(err, ErrChecksum) {
				t.Fatalf("bad checksum: error %v; want ErrChecksum", err)
			}
			if kclErr != nil || len(kcl) != 1 || !bytes.Equal(kcl[0].Data, data) {
				t.Fatalf("DeaggregateKCL did not pass a bad-checksum record through: %v", kclErr)
			}
			return
		}
		if (err == nil) != (kclErr == nil) {
			t.Fatalf("Deaggregate and DeaggregateKCL disagree on a valid checksum: %v vs %v", err, kclErr)
		}
		body := data[magicLen : len(data)-checksumLen]
		if err != nil {
			var de *DecodeError
			if !errors.Is(err, ErrMalformed) || !errors.As(err, &de) || de.Offset < 0 || de.Offset > len(data) {
				t.Fatalf("error %v is not a *DecodeError with an offset inside the record", err)
			}
			return
		}

		ref, refErr := protoRecords(body)
		if refErr != nil {
			t.Fatalf("decoded %d records but proto.Unmarshal fails: %v", len(recs), refErr)
		}
		if !sameRecords(recs, ref) {
			t.Fatalf("decoded records differ from proto.Unmarshal's")
		}

		var enc Encoder
		for _, r := range recs {
			enc.Add(r.PartitionKey, r.ExplicitHashKey, r.Data)
		}
		again := enc.AppendTo(nil)
		if !bytes.Equal(again, referenceAggregate(t, ref)) {
			t.Fatalf("re-encoded aggregate differs from proto.Marshal's")
		}
		if len(recs) > 0 {
			back, err := Deaggregate(again, "outer", "")
			if err != nil || !sameRecords(back, ref) {
				t.Fatalf("re-encoded aggregate does not decode to the same records: %v", err)
			}
		}
		if isCanonical(t, body, recs) && !bytes.Equal(again, data) {
			t.Fatalf("canonical aggregate re-encodes to different bytes\n got %x\nwant %x", again, data)
		}
	})
}

// isCanonical reports whether body is exactly what the Encoder writes for
// recs: proto.Marshal's field order and varints, nothing unknown, no tags,
// and key tables holding the used keys in first-seen order.
func isCanonical(t *testing.T, body []byte, recs []Record) bool {
	var m pb.AggregatedRecord
	if err := proto.Unmarshal(body, &m); err != nil {
		return false
	}
	if out, err := proto.Marshal(&m); err != nil || !bytes.Equal(out, body) || len(m.ProtoReflect().GetUnknown()) > 0 {
		return false
	}
	var pks, ehks []string
	for i, r := range m.Records {
		if len(r.Tags) > 0 || len(r.ProtoReflect().GetUnknown()) > 0 {
			return false
		}
		if !slices.Contains(pks, recs[i].PartitionKey) {
			pks = append(pks, recs[i].PartitionKey)
		}
		if r.ExplicitHashKeyIndex != nil && !slices.Contains(ehks, recs[i].ExplicitHashKey) {
			ehks = append(ehks, recs[i].ExplicitHashKey)
		}
		if r.ExplicitHashKeyIndex != nil && recs[i].ExplicitHashKey == "" {
			return false // the Encoder writes an empty explicit hash key as none
		}
	}
	return slices.Equal(pks, m.PartitionKeyTable) && slices.Equal(ehks, m.ExplicitHashKeyTable)
}

// recordsFromBytes turns fuzz input into user records: a control byte, then
// a partition key of up to 7 bytes, an optional explicit hash key, and data
// whose length is the next byte. Short keys repeat often, which exercises
// the de-duplicated tables.
func recordsFromBytes(b []byte) []userRecord {
	take := func(n int) []byte {
		n = min(n, len(b))
		v := b[:n:n]
		b = b[n:]
		return v
	}
	var recs []userRecord
	for len(b) > 0 {
		ctl := take(1)[0]
		r := userRecord{pk: string(take(int(ctl & 0x07)))}
		if ctl&0x08 != 0 {
			r.ehk = string(take(1 + int(ctl>>4&0x03)))
		}
		var dataLen int
		if n := take(1); len(n) == 1 {
			dataLen = int(n[0])
			if ctl&0x40 != 0 {
				dataLen *= 67 // reach multi-byte length varints
			}
		}
		r.data = take(dataLen)
		recs = append(recs, r)
	}
	return recs
}

// FuzzRoundTrip encodes records built from the fuzz input. Invariants:
// SizeWith predicts Size exactly at every step, AppendTo writes Size bytes
// equal to proto.Marshal's, the result decodes to the same records in order,
// and a Reset Encoder reproduces the same bytes.
func FuzzRoundTrip(f *testing.F) {
	f.Add([]byte{})
	f.Add([]byte{0x01, 'a', 0x03, 'x', 'y', 'z', 0x01, 'a', 0x00})
	f.Add([]byte{0x1A, 'k', 'e', 0x31, 0x02, 'h', 'i', 0x0A, 'k', 'e', 0x31, 0x00})
	f.Add([]byte{0x47, 'a', 'b', 'c', 'd', 'e', 'f', 'g', 0xFF})
	f.Add(bytes.Repeat([]byte{0x02, 'p', 'k', 0x04, 'd', 'a', 't', 'a'}, 50))

	f.Fuzz(func(t *testing.T, input []byte) {
		recs := recordsFromBytes(input)
		var enc Encoder
		for i, r := range recs {
			predicted := enc.SizeWith(r.pk, r.ehk, len(r.data))
			enc.Add(r.pk, r.ehk, r.data)
			if enc.Size() != predicted {
				t.Fatalf("record %d: SizeWith predicted %d, Size is %d", i, predicted, enc.Size())
			}
		}
		out := enc.AppendTo(nil)
		if len(out) != enc.Size() || enc.Count() != len(recs) {
			t.Fatalf("AppendTo wrote %d bytes for Size %d; Count %d for %d records", len(out), enc.Size(), enc.Count(), len(recs))
		}
		if !bytes.Equal(out, referenceAggregate(t, recs)) {
			t.Fatalf("aggregate differs from proto.Marshal's")
		}
		if len(recs) > 0 {
			back, err := Deaggregate(out, "outer", "")
			if err != nil || !sameRecords(back, recs) {
				t.Fatalf("aggregate does not decode to its records: %v", err)
			}
		}
		enc.Reset()
		for i, r := range recs {
			addEach(&enc, "mixed", i, r)
		}
		if !bytes.Equal(enc.AppendTo(nil), out) || enc.Size() != len(out) {
			t.Fatalf("a Reset Encoder, given every other record shared, wrote different bytes")
		}
	})
}
