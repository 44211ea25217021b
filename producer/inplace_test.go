package producer

import (
	"bytes"
	"fmt"
	"testing"

	"github.com/kinesis-kpl/fluent-bit-kinesis-kpl/aggregation"
)

// inplaceEntries returns entries as the buffer builds them, waiting to be
// sent for the first time: KPL aggregates of minLazyAggregate bytes or
// more (their encoders), smaller ones (written, unsummed), newline
// aggregates (their references) and plain records, every kind of data,
// under partition keys that JSON escapes and that are not UTF-8 (longer
// written than counted), the last one after the aggregates so that the
// body grows after they were written into it. size is each record's size.
func inplaceEntries(size int) []*entry {
	var entries []*entry
	rec := func(pk string, i, j int) recRef {
		data := bytes.Repeat([]byte{byte('a' + (i+j)%26)}, size)
		data = fmt.Appendf(data[:0], "%03d.%d|", i, j)
		data = data[:size]
		data[size-1] = byte(i * j) // any byte, newline too
		return recRef{rec: append([]byte(pk), data...), pkLen: uint16(len(pk))}
	}
	for i := range 8 {
		pk, ehk := fmt.Sprint("key-", i), ""
		if i%2 == 1 {
			ehk = fmt.Sprint(i, "1234567890123456789")
		}
		e := &entry{shard: -1}
		var enc *aggregation.Encoder
		newline := i%4 == 3
		for j := range 3 + i {
			r := rec(pk, i, j)
			e.refs = append(e.refs, r)
			if !newline {
				if enc == nil {
					enc = new(aggregation.Encoder)
				}
				enc.AddShared(r.partitionKey(), ehk, r.data())
			}
		}
		e.build(enc, newline, pk, ehk, false)
		entries = append(entries, e)
	}
	plain := &entry{shard: -1, refs: []recRef{rec("plain\"\x01\xff\u2028", 9, 9)}}
	plain.buildPlain()
	return append(entries, plain)
}

// TestBodyWritesAggregatesInPlace: a body whose aggregates the writer
// writes and sums in it (the way put writes it) is byte for byte the body
// written from aggregates written and summed beforehand (writeAggregates
// and sumEntries, the way a plain Putter gets them), in JSON and CBOR,
// with KPL aggregates under and over minLazyAggregate, newline aggregates
// and plain records, on the first try and on a retry (small aggregates
// summed by then, large ones written again); and the KPL aggregates carry
// a valid MD5.
func TestBodyWritesAggregatesInPlace(t *testing.T) {
	lanes := aggregation.OpenLanes()
	defer lanes.Close()
	formats := []struct {
		name  string
		write func(dst []byte, stream string, entries []*entry, s *bodyScratch) []byte
	}{
		{"JSON", appendPutRecordsBody},
		{"CBOR", appendPutRecordsCBOR},
	}
	sizes := []struct {
		name        string
		size        int
		lazy, small bool // which KPL aggregates are there
	}{
		{"small aggregates", 100, false, true},
		{"large aggregates", 6000, true, false},
		{"both", 2500, true, true},
	}
	for _, f := range formats {
		for _, sz := range sizes {
			for _, prefix := range []string{"", "prefix"} {
				t.Run(fmt.Sprintf("%s/%s/%q", f.name, sz.name, prefix), func(t *testing.T) {
					// The way of a plain Putter.
					before := inplaceEntries(sz.size)
					p := &Producer{aggBufs: make(chan []byte, 1)}
					p.cfg.BatchSize = 5 << 20
					aggs := p.writeAggregates(before)
					sumEntries(lanes, before, nil)
					lazy, small := false, false
					for _, e := range before {
						if len(e.refs) < 2 || e.newline {
							continue
						}
						lazy, small = lazy || e.enc != nil, small || e.enc == nil
						recs, err := aggregation.Deaggregate(e.data, "", "")
						if err != nil || !aggregation.IsAggregated(e.data) || len(recs) != len(e.refs) {
							t.Fatalf("aggregate of %d records: %d records, %v", len(e.refs), len(recs), err)
						}
					}
					if lazy != sz.lazy || small != sz.small {
						t.Fatalf("large aggregates %v, small %v: want %v, %v", lazy, small, sz.lazy, sz.small)
					}
					want := f.write([]byte(prefix), "stream\"", before, nil)
					p.releaseAggregates(before, aggs)

					// put's way, with a scratch reused.
					entries := inplaceEntries(sz.size)
					s := &bodyScratch{lanes: lanes}
					for try := range 2 {
						got := f.write([]byte(prefix), "stream\"", entries, s)
						if !bytes.Equal(got, want) {
							t.Fatalf("try %d: the body differs from the one written from the aggregates' bytes (%d bytes, want %d)", try, len(got), len(want))
						}
						p.releaseAggregates(entries, nil)
						for i, e := range entries {
							if e.unsummed || (e.aggregate() && e.data != nil) {
								t.Fatalf("entry %d after the body: unsummed %v, holds its aggregate %v", i, e.unsummed, e.data != nil)
							}
						}
						if len(s.later) != 0 || len(s.sums) != 0 {
							t.Fatal("the scratch was not emptied")
						}
					}
				})
			}
		}
	}
}

// fuzzBodyEntries returns the entries the body fuzz targets write, twice,
// built alike: plain records, a newline and a KPL aggregate of data under
// pk and ehk (written when sent; the KPL one is summed on its first try,
// the size of data deciding whether it is written at once or when sent),
// and one more KPL aggregate made to wait as its encoder whatever its
// size. In written, the aggregates are written and summed beforehand, as
// a plain Putter gets them, so that their data can be compared.
func fuzzBodyEntries(pk, ehk string, data []byte) (inPlace, written []*entry) {
	build := func() []*entry {
		entries := []*entry{{data: data, pk: pk, ehk: ehk}, {data: data, pk: ehk + pk}}
		refs := func() []recRef {
			return []recRef{
				{rec: append([]byte("k"), data...), pkLen: 1},
				{rec: append([]byte("k"), data[:len(data)/2]...), pkLen: 1},
			}
		}
		encode := func(refs []recRef) *aggregation.Encoder {
			enc := new(aggregation.Encoder)
			for i := range refs {
				enc.AddShared(refs[i].partitionKey(), ehk, refs[i].data())
			}
			return enc
		}
		nl := &entry{refs: refs(), shard: -1}
		nl.build(nil, true, pk, ehk, false)
		kpl := &entry{refs: refs(), shard: -1}
		kpl.build(encode(kpl.refs), false, pk, ehk, false)
		lazy := &entry{refs: refs(), shard: -1, pk: pk, ehk: ehk}
		lazy.enc = encode(lazy.refs)
		lazy.dataLen = lazy.enc.Size()
		return append(entries, nl, kpl, lazy)
	}
	inPlace, written = build(), build()
	p := &Producer{aggBufs: make(chan []byte, 1)}
	p.writeAggregates(written)
	sumEntries(nil, written, nil)
	return inPlace, written
}

// BenchmarkRequestBody writes the body of a request of 100 KPL aggregates
// of 400 records of 100 bytes (about 4 MB) that wait as their encoders,
// as a BodyPutter's request did before (the aggregates written into a
// buffer of their own first, summed there, then copied into the body) and
// as put writes it now (straight into the body, summed there).
func BenchmarkRequestBody(b *testing.B) {
	const aggregates, perAggregate, size = 100, 400, 100
	lanes := aggregation.OpenLanes()
	defer lanes.Close()
	entries := lazyAggregates(b, aggregates, perAggregate, size)
	formats := []struct {
		name  string
		write func(dst []byte, stream string, entries []*entry, s *bodyScratch) []byte
	}{
		{"JSON", appendPutRecordsBody},
		{"CBOR", appendPutRecordsCBOR},
	}
	for _, f := range formats {
		for _, inPlace := range []bool{false, true} {
			way := "written first"
			if inPlace {
				way = "in place"
			}
			b.Run(f.name+"/"+way, func(b *testing.B) {
				p := &Producer{aggBufs: make(chan []byte, 1)}
				p.cfg.BatchSize = 5 << 20
				s := &bodyScratch{lanes: lanes}
				var body []byte
				b.ReportAllocs()
				for b.Loop() {
					var aggs []byte
					if !inPlace {
						aggs = p.writeAggregates(entries)
						s.sums = sumEntries(lanes, entries, s.sums)
					}
					body = f.write(body[:0], "stream", entries, s)
					p.releaseAggregates(entries, aggs)
				}
				b.ReportMetric(float64(b.Elapsed().Nanoseconds())/1e3/float64(b.N*aggregates*perAggregate), "µs/record")
			})
		}
	}
}

// lazyAggregates makes n KPL aggregates of perAggregate records of size
// bytes each, waiting as their encoders.
func lazyAggregates(b testing.TB, n, perAggregate, size int) []*entry {
	var entries []*entry
	for i := range n {
		e := &entry{shard: -1}
		enc := new(aggregation.Encoder)
		for j := range perAggregate {
			data := bytes.Repeat([]byte{byte('a' + j%26)}, size)
			pk := fmt.Sprint("key-", i, "-", j)
			e.refs = append(e.refs, recRef{rec: append([]byte(pk), data...), pkLen: uint16(len(pk))})
			enc.AddShared(pk, "", e.refs[j].data())
		}
		e.build(enc, false, "key", "", false)
		if !e.aggregate() {
			b.Fatal("the aggregates do not wait as their encoders")
		}
		entries = append(entries, e)
	}
	return entries
}
