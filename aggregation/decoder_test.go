package aggregation

import (
	"bytes"
	"crypto/md5"
	"errors"
	"math/rand/v2"
	"runtime"
	"slices"
	"testing"

	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"

	"github.com/kinesis-kpl/fluent-bit-kinesis-kpl/aggregation/pb"
)

// frame wraps a protobuf body as an aggregate with a correct checksum, so
// that tests reach the protobuf decoder with any body they like.
func frame(body []byte) []byte {
	sum := md5.Sum(body)
	out := append(Magic[:0:0], Magic[:]...)
	out = append(out, body...)
	return append(out, sum[:]...)
}

// pbBuilder writes protobuf fields by hand, including wrong ones.
type pbBuilder []byte

func (b pbBuilder) bytesField(num protowire.Number, v []byte) pbBuilder {
	out := protowire.AppendTag(b, num, protowire.BytesType)
	return protowire.AppendBytes(out, v)
}

func (b pbBuilder) varintField(num protowire.Number, v uint64) pbBuilder {
	out := protowire.AppendTag(b, num, protowire.VarintType)
	return protowire.AppendVarint(out, v)
}

func (b pbBuilder) raw(p ...byte) pbBuilder { return append(b, p...) }

func recordMsg(pkIdx uint64, data string) []byte {
	return pbBuilder{}.varintField(1, pkIdx).bytesField(3, []byte(data))
}

func toUserRecords(recs []Record) []userRecord {
	out := make([]userRecord, len(recs))
	for i, r := range recs {
		out[i] = userRecord{pk: r.PartitionKey, ehk: r.ExplicitHashKey, data: r.Data}
	}
	return out
}

func sameRecords(a []Record, b []userRecord) bool {
	return slices.EqualFunc(a, b, func(r Record, u userRecord) bool {
		return r.PartitionKey == u.pk && r.ExplicitHashKey == u.ehk && bytes.Equal(r.Data, u.data)
	})
}

// protoRecords decodes an aggregate's body with proto.Unmarshal: the
// reference the hand-written decoder is compared against.
func protoRecords(body []byte) ([]userRecord, error) {
	var m pb.AggregatedRecord
	if err := proto.Unmarshal(body, &m); err != nil {
		return nil, err
	}
	out := make([]userRecord, len(m.Records))
	for i, r := range m.Records {
		if r.GetPartitionKeyIndex() >= uint64(len(m.PartitionKeyTable)) {
			return nil, errors.New("partition key index out of range")
		}
		out[i] = userRecord{pk: m.PartitionKeyTable[r.GetPartitionKeyIndex()], data: r.GetData()}
		if r.ExplicitHashKeyIndex != nil {
			if r.GetExplicitHashKeyIndex() >= uint64(len(m.ExplicitHashKeyTable)) {
				return nil, errors.New("explicit hash key index out of range")
			}
			out[i].ehk = m.ExplicitHashKeyTable[r.GetExplicitHashKeyIndex()]
		}
	}
	return out, nil
}

func TestDeaggregateRoundTrip(t *testing.T) {
	r := rand.New(rand.NewPCG(9, 10))
	var enc Encoder
	var buf []byte
	var recs []Record
	for round := range 300 {
		in := randomRecords(r, 1+r.IntN(40))
		enc.Reset()
		for _, u := range in {
			enc.Add(u.pk, u.ehk, u.data)
		}
		buf = enc.AppendTo(buf[:0])
		if !IsAggregated(buf) {
			t.Fatalf("round %d: IsAggregated = false for an encoder aggregate", round)
		}
		var err error
		recs, err = AppendDeaggregated(recs[:0], buf, "outer", "1")
		if err != nil {
			t.Fatalf("round %d: %v", round, err)
		}
		if !sameRecords(recs, in) {
			t.Fatalf("round %d: deaggregated records differ from the ones added", round)
		}
		kcl, err := DeaggregateKCL(buf, "outer", "1")
		if err != nil || !sameRecords(kcl, in) {
			t.Fatalf("round %d: DeaggregateKCL = %v", round, err)
		}
	}
}

func TestDeaggregatePlainRecords(t *testing.T) {
	checksumOf := func(b []byte) []byte { s := md5.Sum(b); return s[:] }
	tests := map[string][]byte{
		"nil":                    nil,
		"short":                  []byte("abc"),
		"json":                   []byte(`{"log":"line"}`),
		"magic only":             Magic[:],
		"magic and empty body":   append(Magic[:0:0], append(Magic[:], checksumOf(nil)...)...),
		"almost magic":           frame(recordMsg(0, "x"))[1:],
		"magic, too short":       append(Magic[:0:0], append(Magic[:], 1, 2, 3)...),
		"magic with other bytes": append([]byte{0xF3, 0x89, 0x9A, 0xC3}, frame(nil)[4:]...),
	}
	for name, data := range tests {
		t.Run(name, func(t *testing.T) {
			for _, deagg := range []func([]byte, string, string) ([]Record, error){Deaggregate, DeaggregateKCL} {
				recs, err := deagg(data, "pk", "42")
				if err != nil {
					t.Fatalf("error %v; want the record passed through", err)
				}
				if len(recs) != 1 || recs[0].PartitionKey != "pk" || recs[0].ExplicitHashKey != "42" || !bytes.Equal(recs[0].Data, data) {
					t.Fatalf("got %+v; want the record passed through", recs)
				}
			}
			if IsAggregated(data) {
				t.Errorf("IsAggregated = true")
			}
		})
	}
}

func TestDeaggregateBadChecksum(t *testing.T) {
	var enc Encoder
	enc.Add("pk", "", []byte("data"))
	data := enc.AppendTo(nil)
	data[len(data)-1] ^= 1

	_, err := Deaggregate(data, "outer", "")
	var de *DecodeError
	if !errors.Is(err, ErrChecksum) || !errors.Is(err, ErrMalformed) || !errors.As(err, &de) {
		t.Fatalf("Deaggregate error = %v; want a *DecodeError matching ErrChecksum and ErrMalformed", err)
	}
	if de.Offset != len(data)-16 {
		t.Errorf("Offset = %d; want %d", de.Offset, len(data)-16)
	}
	if IsAggregated(data) {
		t.Errorf("IsAggregated = true for a bad checksum")
	}
	// The KCL takes it for a plain record.
	recs, err := DeaggregateKCL(data, "outer", "")
	if err != nil || len(recs) != 1 || !bytes.Equal(recs[0].Data, data) || recs[0].PartitionKey != "outer" {
		t.Fatalf("DeaggregateKCL = %+v, %v; want the record passed through", recs, err)
	}
}

func TestDeaggregateMalformed(t *testing.T) {
	// pk starts a body with a one-entry partition key table; a fresh slice
	// each time, so that no two cases share a backing array.
	pk := func() pbBuilder { return pbBuilder{}.bytesField(1, []byte("a")) }
	tests := []struct {
		name   string
		body   []byte
		reason error
		record int
	}{
		{"table entry runs past the end", pbBuilder{}.raw(0x0A, 0x05, 'a'), ErrTruncated, -1},
		{"absurd record length", pk().raw(0x1A, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x01), ErrTruncated, -1},
		{"absurd data length", pk().bytesField(3, pbBuilder{}.varintField(1, 0).raw(0x1A, 0xFF, 0xFF, 0xFF, 0xFF, 0x0F)), ErrTruncated, 0},
		{"truncated tag varint", pk().raw(0x80), ErrTruncated, -1},
		{"field number zero", pk().raw(0x00, 0x00), ErrBadField, -1},
		{"field number above 2^29-1", pk().raw(0xF8, 0xF8, 0xF8, 0xF8, 0x30, 0x00), ErrBadField, -1},
		{"varint overflow", pk().bytesField(3, pbBuilder{}.raw(0x08, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x7F)), ErrBadField, 0},
		{"table with varint wire type", pbBuilder{}.varintField(1, 3), ErrBadField, -1},
		{"records with varint wire type", pk().varintField(3, 1), ErrBadField, -1},
		{"index with bytes wire type", pk().bytesField(3, pbBuilder{}.bytesField(1, nil).bytesField(3, nil)), ErrBadField, 0},
		{"data with varint wire type", pk().bytesField(3, pbBuilder{}.varintField(1, 0).varintField(3, 0)), ErrBadField, 0},
		{"unmatched end group", pk().raw(0x0C), ErrBadField, -1},
		{"missing partition key index", pk().bytesField(3, pbBuilder{}.bytesField(3, []byte("d"))), ErrMissingField, 0},
		{"missing data", pk().bytesField(3, pbBuilder{}.varintField(1, 0)), ErrMissingField, 0},
		{"partition key index out of range", pk().bytesField(3, recordMsg(1, "d")), ErrIndexOutOfRange, 0},
		{"huge partition key index", pk().bytesField(3, recordMsg(1<<64-1, "d")), ErrIndexOutOfRange, 0},
		{"empty partition key table", pbBuilder{}.bytesField(3, recordMsg(0, "d")), ErrIndexOutOfRange, 0},
		{"explicit hash key index without table", pk().bytesField(3, pbBuilder{}.varintField(1, 0).varintField(2, 0).bytesField(3, nil)), ErrIndexOutOfRange, 0},
		{"second record bad", pk().bytesField(3, recordMsg(0, "ok")).bytesField(3, recordMsg(2, "d")), ErrIndexOutOfRange, 1},
		{"tag without key", pk().bytesField(3, pbBuilder(recordMsg(0, "d")).bytesField(4, pbBuilder{}.bytesField(2, []byte("v")))), ErrMissingField, 0},
		{"tag key with varint wire type", pk().bytesField(3, pbBuilder(recordMsg(0, "d")).bytesField(4, pbBuilder{}.varintField(1, 1))), ErrBadField, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			data := frame(tt.body)
			dst := []Record{{PartitionKey: "kept"}}
			got, err := AppendDeaggregated(dst, data, "outer", "")
			var de *DecodeError
			if !errors.Is(err, tt.reason) || !errors.Is(err, ErrMalformed) || !errors.As(err, &de) {
				t.Fatalf("error = %v; want a *DecodeError matching %v", err, tt.reason)
			}
			if de.Record != tt.record {
				t.Errorf("Record = %d; want %d", de.Record, tt.record)
			}
			if de.Offset < 4 || de.Offset > len(data) {
				t.Errorf("Offset %d outside the record (len %d)", de.Offset, len(data))
			}
			if len(got) != 1 || got[0].PartitionKey != "kept" {
				t.Errorf("dst changed on error: %+v", got)
			}
			if _, err := DeaggregateKCL(data, "outer", ""); !errors.Is(err, tt.reason) {
				t.Errorf("DeaggregateKCL error = %v; want %v", err, tt.reason)
			}
		})
	}
}

func TestDeaggregateAcceptsWhatProtoAccepts(t *testing.T) {
	tag := pbBuilder{}.bytesField(1, []byte("k")).bytesField(2, []byte("v"))
	tests := []struct {
		name string
		body []byte
		want []userRecord
	}{
		{"records before the tables",
			pbBuilder{}.bytesField(3, recordMsg(1, "x")).bytesField(1, []byte("a")).bytesField(1, []byte("b")),
			[]userRecord{{pk: "b", data: []byte("x")}}},
		{"unknown fields are skipped",
			pbBuilder{}.varintField(9, 5).bytesField(1, []byte("a")).bytesField(3, pbBuilder(recordMsg(0, "x")).varintField(7, 1).raw(0x2D, 1, 2, 3, 4)),
			[]userRecord{{pk: "a", data: []byte("x")}}},
		{"tags are dropped",
			pbBuilder{}.bytesField(1, []byte("a")).bytesField(3, pbBuilder(recordMsg(0, "x")).bytesField(4, tag)),
			[]userRecord{{pk: "a", data: []byte("x")}}},
		{"repeated index: the last wins",
			pbBuilder{}.bytesField(1, []byte("a")).bytesField(1, []byte("b")).bytesField(3, pbBuilder{}.varintField(1, 0).varintField(1, 1).bytesField(3, []byte("x"))),
			[]userRecord{{pk: "b", data: []byte("x")}}},
		{"non-minimal varint",
			pbBuilder{}.bytesField(1, []byte("a")).bytesField(3, pbBuilder{}.raw(0x08, 0x80, 0x00).bytesField(3, []byte("x"))),
			[]userRecord{{pk: "a", data: []byte("x")}}},
		{"empty keys and data",
			pbBuilder{}.bytesField(1, nil).bytesField(2, nil).bytesField(3, pbBuilder{}.varintField(1, 0).varintField(2, 0).bytesField(3, nil)),
			[]userRecord{{pk: "", ehk: "", data: []byte{}}}},
		{"no records", pbBuilder{}.bytesField(1, []byte("a")), []userRecord{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Deaggregate(frame(tt.body), "outer", "")
			if err != nil {
				t.Fatalf("Deaggregate: %v", err)
			}
			if !sameRecords(got, tt.want) {
				t.Fatalf("got %+v; want %+v", got, tt.want)
			}
			ref, err := protoRecords(tt.body)
			if err != nil || !sameRecords(got, ref) {
				t.Fatalf("proto.Unmarshal disagrees: %+v, %v", ref, err)
			}
		})
	}
}

func TestDeaggregateDataDoesNotOverlap(t *testing.T) {
	var enc Encoder
	enc.Add("a", "", []byte("first"))
	enc.Add("a", "", []byte("second"))
	recs, err := Deaggregate(enc.AppendTo(nil), "", "")
	if err != nil {
		t.Fatal(err)
	}
	_ = append(recs[0].Data, "XXXXXXXX"...) // must not write into the next record
	if string(recs[1].Data) != "second" {
		t.Fatalf("appending to one record's Data overwrote the next")
	}
}

// bytesAllocated returns the bytes f allocates per call, averaged over
// enough calls that stray allocations of the test runner do not count.
func bytesAllocated(f func()) float64 {
	const runs = 200
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(1))
	f()
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	for range runs {
		f()
	}
	runtime.ReadMemStats(&after)
	return float64(after.TotalAlloc-before.TotalAlloc) / runs
}

func TestDeaggregateAllocationIsBoundedByInput(t *testing.T) {
	manyEmpty := pbBuilder{}.bytesField(1, nil)
	for range 10000 {
		manyEmpty = manyEmpty.bytesField(3, recordMsg(0, ""))
	}
	manyKeys := pbBuilder{}
	for range 10000 {
		manyKeys = manyKeys.bytesField(1, nil)
	}
	var enc Encoder
	for range 1000 {
		enc.Add("partition-key", "", bytes.Repeat([]byte("x"), 100))
	}
	tests := map[string]struct {
		data []byte
		// maxPerByte bounds allocated bytes per input byte: a Record is 56
		// bytes and the smallest sub-record takes 6 input bytes.
		maxPerByte float64
	}{
		"absurd record length": {frame(pbBuilder{}.raw(0x1A, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x7F)), 0},
		"absurd table length":  {frame(pbBuilder{}.raw(0x0A, 0xFF, 0xFF, 0xFF, 0xFF, 0x0F, 'a')), 0},
		"10000 empty records":  {frame(manyEmpty), 56.0/6 + 0.5},
		"10000 empty keys":     {frame(manyKeys), 8.5},
		"typical aggregate":    {enc.AppendTo(nil), 1},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			got := bytesAllocated(func() { _, _ = Deaggregate(tt.data, "pk", "") })
			if limit := tt.maxPerByte*float64(len(tt.data)) + 256; got > limit {
				t.Errorf("allocated %.0f bytes for a %d-byte input; want at most %.0f", got, len(tt.data), limit)
			}
		})
	}
}

func TestCheckShardRange(t *testing.T) {
	aHash := PartitionKeyHash("a") // 16955237001963240173058271559858726497
	tests := []struct {
		name       string
		recs       []Record
		start, end HashKey
		want       error
		record     int
	}{
		{"partition key hash inside", []Record{{PartitionKey: "a"}}, aHash, aHash, nil, 0},
		{"whole key space", []Record{{PartitionKey: "a"}, {PartitionKey: "b"}}, HashKey{}, MaxHashKey, nil, 0},
		{"explicit hash key wins over the partition key", []Record{{PartitionKey: "a", ExplicitHashKey: "5"}}, HashKey{Lo: 5}, HashKey{Lo: 5}, nil, 0},
		{"partition key hash outside", []Record{{PartitionKey: "a", ExplicitHashKey: "5"}, {PartitionKey: "a"}}, HashKey{}, HashKey{Lo: 5}, ErrOutsideShard, 1},
		{"just below start", []Record{{ExplicitHashKey: "9"}}, HashKey{Lo: 10}, MaxHashKey, ErrOutsideShard, 0},
		{"just above end", []Record{{ExplicitHashKey: "11"}}, HashKey{}, HashKey{Lo: 10}, ErrOutsideShard, 0},
		{"unparsable explicit hash key", []Record{{ExplicitHashKey: "x"}}, HashKey{}, MaxHashKey, ErrInvalidHashKey, 0},
		{"no records", nil, HashKey{}, HashKey{}, nil, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := CheckShardRange(tt.recs, tt.start, tt.end)
			if tt.want == nil {
				if err != nil {
					t.Fatalf("error %v; want nil", err)
				}
				return
			}
			var se *ShardRangeError
			if !errors.Is(err, tt.want) || !errors.As(err, &se) || se.Record != tt.record {
				t.Fatalf("error %v; want a *ShardRangeError for record %d matching %v", err, tt.record, tt.want)
			}
		})
	}
}
