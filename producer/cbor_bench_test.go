package producer

import (
	"bytes"
	"encoding/json"
	"fmt"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/fxamacker/cbor/v2"
)

// benchEntries are a full request: 500 entries of 1 KiB.
func benchEntries() []*entry {
	entries := make([]*entry, 500)
	for i := range entries {
		entries[i] = &entry{data: bytes.Repeat([]byte{byte(i)}, 1024), pk: fmt.Sprintf("pod-%d", i)}
	}
	return entries
}

// BenchmarkPutRecordsBodyWrite: writing a full request's body, in JSON
// and in CBOR by hand, and in CBOR by fxamacker/cbor into a reused
// buffer (the library's fastest way), in one run.
func BenchmarkPutRecordsBodyWrite(b *testing.B) {
	entries := benchEntries()
	var buf []byte
	b.Run("format=json/impl=hand", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			buf = appendPutRecordsBody(buf[:0], "logs", entries, nil)
		}
	})
	b.Run("format=cbor/impl=hand", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			buf = appendPutRecordsCBOR(buf[:0], "logs", entries, nil)
		}
	})
	b.Run("format=cbor/impl=fxamacker", func(b *testing.B) {
		em, err := cbor.EncOptions{}.UserBufferEncMode()
		if err != nil {
			b.Fatal(err)
		}
		var out bytes.Buffer
		var body cborBody
		b.ReportAllocs()
		for b.Loop() {
			body.StreamName = "logs"
			body.Records = body.Records[:0]
			for _, e := range entries {
				body.Records = append(body.Records, struct {
					Data            []byte
					ExplicitHashKey string `cbor:",omitempty"`
					PartitionKey    string
				}{e.data, e.ehk, e.pk})
			}
			out.Reset()
			if err := em.MarshalToBuffer(&body, &out); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// benchResponse is a PutRecords response of 500 results, every tenth
// failed, in JSON and in CBOR.
func benchResponse(b testing.TB) (jsonBody, cborBody []byte) {
	type result struct {
		SequenceNumber string `json:",omitempty" cbor:",omitempty"`
		ShardId        string `json:",omitempty" cbor:",omitempty"`
		ErrorCode      string `json:",omitempty" cbor:",omitempty"`
		ErrorMessage   string `json:",omitempty" cbor:",omitempty"`
	}
	out := struct {
		FailedRecordCount int
		Records           []result
	}{FailedRecordCount: 50}
	for i := range 500 {
		r := result{SequenceNumber: fmt.Sprintf("4959%052d", i), ShardId: fmt.Sprintf("shardId-%012d", i%64)}
		if i%10 == 0 {
			r = result{ErrorCode: "ProvisionedThroughputExceededException", ErrorMessage: "Rate exceeded for shard shardId-000000000001 in stream logs under account 000000000000."}
		}
		out.Records = append(out.Records, r)
	}
	var err error
	if jsonBody, err = json.Marshal(out); err != nil {
		b.Fatal(err)
	}
	if cborBody, err = cbor.Marshal(out); err != nil {
		b.Fatal(err)
	}
	return jsonBody, cborBody
}

// BenchmarkPutRecordsResponseRead: reading a response of 500 results: the
// SDK's awsJson1.1 reader, the hand-written JSON and CBOR readers (as
// ownResponses calls them, body read included), and fxamacker/cbor, in one
// run.
func BenchmarkPutRecordsResponseRead(b *testing.B) {
	jsonBody, cborBody := benchResponse(b)
	b.Run("format=json/impl=sdk", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if out, err := sdkJSON(jsonBody); err != nil || len(out.Records) != 500 {
				b.Fatal(err)
			}
		}
	})
	b.Run("format=json/impl=hand", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			buf, err := readResponse(bytes.NewReader(jsonBody))
			if err != nil {
				b.Fatal(err)
			}
			var out kinesis.PutRecordsOutput
			if err := decodePutRecordsJSON(viewOf(buf.Bytes()), &out); err != nil || len(out.Records) != 500 {
				b.Fatal(err)
			}
			releaseResponse(buf)
		}
	})
	b.Run("format=cbor/impl=hand", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			buf, err := readResponse(bytes.NewReader(cborBody))
			if err != nil {
				b.Fatal(err)
			}
			var out kinesis.PutRecordsOutput
			if err := decodePutRecordsCBOR(viewOf(buf.Bytes()), &out); err != nil || len(out.Records) != 500 {
				b.Fatal(err)
			}
			releaseResponse(buf)
		}
	})
	b.Run("format=cbor/impl=fxamacker", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			var out refOutput
			if err := refCBOR.Unmarshal(cborBody, &out); err != nil || len(out.Records) != 500 {
				b.Fatal(err)
			}
		}
	})
}
