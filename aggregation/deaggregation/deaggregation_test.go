package deaggregation

import (
	"crypto/md5"
	"errors"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"

	"github.com/kinesis-kpl/fluent-bit-kinesis-kpl/aggregation"
)

func aggregate(t *testing.T, pks []string, datas []string) []byte {
	t.Helper()
	var enc aggregation.Encoder
	for i := range pks {
		enc.Add(pks[i], "", []byte(datas[i]))
	}
	return enc.AppendTo(nil)
}

func TestDeaggregateRecords(t *testing.T) {
	at := time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC)
	agg := aggregate(t, []string{"k1", "k2", "k1"}, []string{"a", "b", "c"})
	badSum := append([]byte{}, agg...)
	badSum[len(badSum)-1] ^= 0xFF
	in := []types.Record{
		{Data: []byte("plain"), PartitionKey: aws.String("p"), SequenceNumber: aws.String("1")},
		{Data: agg, PartitionKey: aws.String("outer"), SequenceNumber: aws.String("2"),
			ApproximateArrivalTimestamp: &at, EncryptionType: types.EncryptionTypeKms},
		{Data: badSum, PartitionKey: aws.String("q"), SequenceNumber: aws.String("3")},
	}
	out, err := DeaggregateRecords(in)
	if err != nil {
		t.Fatal(err)
	}
	want := []struct{ pk, data, seq string }{
		{"p", "plain", "1"}, {"k1", "a", "2"}, {"k2", "b", "2"}, {"k1", "c", "2"}, {"q", string(badSum), "3"},
	}
	if len(out) != len(want) {
		t.Fatalf("got %d records; want %d", len(out), len(want))
	}
	for i, w := range want {
		r := out[i]
		if aws.ToString(r.PartitionKey) != w.pk || string(r.Data) != w.data || aws.ToString(r.SequenceNumber) != w.seq {
			t.Errorf("record %d = {%s %q %s}; want %v", i, aws.ToString(r.PartitionKey), r.Data, aws.ToString(r.SequenceNumber), w)
		}
	}
	for _, r := range out[1:4] {
		if r.ApproximateArrivalTimestamp != &at || r.EncryptionType != types.EncryptionTypeKms {
			t.Errorf("sub-record lost the enclosing record's timestamp or encryption type")
		}
	}
}

func TestDeaggregateRecordsMalformed(t *testing.T) {
	// A valid checksum over a protobuf whose index points past the table.
	var enc aggregation.Encoder
	enc.Add("k", "", []byte("d"))
	good := enc.AppendTo(nil)
	body := []byte{0x0A, 0x01, 'k', 0x1A, 0x05, 0x08, 0x07, 0x1A, 0x01, 'd'}
	bad := frame(body)
	_, err := DeaggregateRecords([]types.Record{{Data: good}, {Data: bad}})
	var re *RecordError
	var de *aggregation.DecodeError
	if !errors.As(err, &re) || re.Index != 1 || !errors.Is(err, aggregation.ErrIndexOutOfRange) || !errors.As(err, &de) {
		t.Fatalf("error = %v; want a *RecordError for record 1 wrapping ErrIndexOutOfRange", err)
	}
	if _, err := Unmarshal(bad); !errors.Is(err, aggregation.ErrMalformed) {
		t.Errorf("Unmarshal error = %v; want ErrMalformed", err)
	}
	if _, err := ExtractRecordDatas(bad); !errors.Is(err, aggregation.ErrMalformed) {
		t.Errorf("ExtractRecordDatas error = %v; want ErrMalformed", err)
	}
}

// frame wraps a protobuf body as an aggregate with a correct checksum.
func frame(body []byte) []byte {
	sum := md5.Sum(body)
	out := append(aggregation.Magic[:0:0], aggregation.Magic[:]...)
	out = append(out, body...)
	return append(out, sum[:]...)
}

func TestSeedHelpers(t *testing.T) {
	agg := aggregate(t, []string{"a", "b"}, []string{"x", "y"})
	if !IsAggregatedRecord(agg) || IsAggregatedRecord([]byte("plain")) {
		t.Fatalf("IsAggregatedRecord is wrong")
	}
	datas, err := ExtractRecordDatas(agg)
	if err != nil || len(datas) != 2 || string(datas[0]) != "x" || string(datas[1]) != "y" {
		t.Fatalf("ExtractRecordDatas = %q, %v", datas, err)
	}
	datas, err = ExtractRecordDatas([]byte("plain"))
	if err != nil || len(datas) != 1 || string(datas[0]) != "plain" {
		t.Fatalf("ExtractRecordDatas(plain) = %q, %v", datas, err)
	}
	msg, err := Unmarshal(agg)
	if err != nil {
		t.Fatal(err)
	}
	if len(msg.GetRecords()) != 2 || msg.GetPartitionKeyTable()[msg.GetRecords()[1].GetPartitionKeyIndex()] != "b" {
		t.Fatalf("Unmarshal = %v", msg)
	}
	if _, err := Unmarshal([]byte("plain")); !errors.Is(err, ErrNotAggregated) {
		t.Fatalf("Unmarshal(plain) error = %v; want ErrNotAggregated", err)
	}
}
