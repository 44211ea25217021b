package fakekinesis

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"
)

// knownCodes are the error codes the server may answer with when no fault
// is scripted.
var knownCodes = map[string]bool{
	codeResourceNotFound: true, codeResourceInUse: true, codeValidation: true,
	codeInvalidArgument: true, codeSerialization: true, codeUnknownOperation: true,
}

// FuzzServe feeds arbitrary operations and bodies to a server with one
// 3-shard stream and no faults. Invariants: it never panics; it answers 200
// or 400 with the JSON 1.1 content type; an error names a known code in
// both "__type" and X-Amzn-ErrorType; a PutRecords success answers one
// result per entry, all stored; the counters agree with what was stored.
func FuzzServe(f *testing.F) {
	for _, seed := range []struct{ op, body string }{
		{"PutRecords", `{"StreamName":"s","Records":[{"PartitionKey":"a","Data":"AA=="},{"PartitionKey":"b","ExplicitHashKey":"0","Data":""}]}`},
		{"PutRecords", `{"StreamName":"s","Records":[{"PartitionKey":"a","ExplicitHashKey":"340282366920938463463374607431768211456","Data":"AA=="}]}`},
		{"PutRecords", `{"StreamARN":"arn:aws:kinesis:us-east-1:000000000000:stream/s","Records":[{"PartitionKey":"€","Data":"AA=="}]}`},
		{"PutRecords", `{"StreamName":"s","Records":[{"PartitionKey":null,"Data":"AA=="}]}`},
		{"PutRecords", `{"StreamName":"s","Records":null}`},
		{"PutRecord", `{"StreamName":"s","PartitionKey":"a","Data":"AA=="}`},
		{"ListShards", `{"StreamName":"s","MaxResults":1}`},
		{"ListShards", `{"NextToken":"ZmsxfHN8c2hhcmRJZC0wMDAwMDAwMDAwMDE"}`},
		{"ListShards", `{"StreamName":"s","ShardFilter":{"Type":"AFTER_SHARD_ID","ShardId":"shardId-000000000000"}}`},
		{"DescribeStreamSummary", `{"StreamName":"s"}`},
		{"CreateStream", `{"StreamName":"t","ShardCount":2,"MaxRecordSizeInKiB":2048}`},
		{"CreateStream", `{"StreamName":"s","ShardCount":1}`},
		{"GetRecords", `{}`},
		{"PutRecords", `{"StreamName":`},
		{"PutRecords", `[]`},
		{"PutRecords", ``},
	} {
		f.Add(seed.op, []byte(seed.body))
	}
	f.Fuzz(func(t *testing.T, op string, body []byte) {
		s, err := newUnstarted(WithMaxRequestBytes(1<<20), WithMaxRecordBytes(1<<20))
		if err != nil {
			t.Fatal(err)
		}
		if err := s.CreateStream("s", 3); err != nil {
			t.Fatal(err)
		}
		req := httptest.NewRequest(http.MethodPost, "/", bytes.NewReader(body))
		req.Header.Set("X-Amz-Target", targetPrefix+op)
		req.Header.Set("Content-Type", contentType)
		rec := httptest.NewRecorder()
		s.serveHTTP(rec, req)

		resp := rec.Result()
		if resp.StatusCode != http.StatusOK && resp.StatusCode != http.StatusBadRequest {
			t.Fatalf("HTTP %d", resp.StatusCode)
		}
		if resp.Header.Get("Content-Type") != contentType || resp.Header.Get("X-Amzn-RequestId") == "" {
			t.Fatalf("headers %v", resp.Header)
		}
		out := rec.Body.Bytes()
		if resp.StatusCode == http.StatusBadRequest {
			var e errorBody
			if err := json.Unmarshal(out, &e); err != nil || !knownCodes[e.Type] || resp.Header.Get("X-Amzn-ErrorType") != e.Type {
				t.Fatalf("error answer %q (%v), X-Amzn-ErrorType %q", out, err, resp.Header.Get("X-Amzn-ErrorType"))
			}
			if strings.Contains(e.Message, "\x00") {
				t.Fatalf("message carries raw bytes: %q", e.Message)
			}
		} else if len(out) > 0 && !json.Valid(out) {
			t.Fatalf("answer is not JSON: %q", out)
		}

		stored := len(s.Records("s"))
		st := s.Stats()
		if st.Requests != 1 || st.EntriesAccepted < stored || st.EntriesFailed != 0 {
			t.Fatalf("Stats %+v with %d stored in s", st, stored)
		}
		if op == "PutRecords" && resp.StatusCode == http.StatusOK {
			var in putRecordsInput
			var res putRecordsOutput
			if err := json.Unmarshal(body, &in); err != nil {
				t.Fatalf("accepted a body that does not decode: %v", err)
			}
			if err := json.Unmarshal(out, &res); err != nil || len(res.Records) != len(in.Records) ||
				res.FailedRecordCount != 0 || stored != len(in.Records) || st.EntriesAccepted != stored {
				t.Fatalf("answer %q for %d entries, %d stored", out, len(in.Records), stored)
			}
		}
	})
}

// FuzzPutRecordsJSON holds readPutRecordsJSON to encoding/json: whatever it
// reads, the library reads without error into the same value. Bodies it
// leaves to the library need nothing more.
func FuzzPutRecordsJSON(f *testing.F) {
	for _, seed := range []string{
		`{"StreamName":"s","Records":[{"Data":"AAEC","PartitionKey":"a","ExplicitHashKey":"1"}]}`,
		"{ \"Records\" : [ {\"PartitionKey\":\"k\",\"Data\":\"\"} ] ,\n\"StreamARN\":\"arn:aws:kinesis:us-east-1:000000000000:stream/s\" }",
		`{"StreamName":"s","Records":[]}`,
		`{"StreamName":"s","Records":[{}]}`,
		`{}`,
		`{"StreamName":"s","streamname":"t","Records":[{"Data":"AA=="}]}`,
		`{"StreamName":"s","Records":[{"Data":"AA="}]}`,
		`{"StreamName":"s","Records":[{"Data":"AA==","Data":"AQ=="}]}`,
		`{"StreamName":"s\u0041","Records":null}`,
		`{"StreamName":"s","Records":[{"PartitionKey":"€","Data":"AA=="}]} x`,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		var fast putRecordsInput
		if !readPutRecordsJSON(body, &fast) {
			return
		}
		var lib putRecordsInput
		if err := json.Unmarshal(body, &lib); err != nil {
			t.Fatalf("read %q, which encoding/json rejects: %v", body, err)
		}
		if !reflect.DeepEqual(fast, lib) {
			t.Fatalf("read %q as %+v, encoding/json as %+v", body, fast, lib)
		}
	})
}

// TestPutRecordsJSONReadsPlainBodies: the bodies producers send are read
// without the library, and the rest are left to it.
func TestPutRecordsJSONReadsPlainBodies(t *testing.T) {
	for body, want := range map[string]bool{
		`{"StreamName":"s","Records":[{"Data":"AAEC","PartitionKey":"a","ExplicitHashKey":"1"}]}`:                    true,
		`{"Records":[{"PartitionKey":"k","Data":""}],"StreamARN":"arn:aws:kinesis:us-east-1:000000000000:stream/s"}`: true,
		"{\n \"StreamName\": \"s\",\n \"Records\": [ ]\n}\n":                                                         true,
		`{"StreamName":"s","Records":[{"PartitionKey":"€","Data":"AA=="}]}`:                                          false, // not ASCII
		`{"StreamName":"s\u0041","Records":[]}`:                                                                      false, // an escape
		`{"StreamName":"s","Records":null}`:                                                                          false,
		`{"StreamName":"s","Records":[],"Records":[]}`:                                                               false, // twice
		`{"streamName":"s","Records":[]}`:                                                                            false, // the library matches any case
		`{"StreamName":"s","Records":[{"Data":"AA"}]}`:                                                               false, // unpadded
		`{"StreamName":"s","Records":[{"Data":"AA==","PartitionKey":1}]}`:                                            false,
		`{"StreamName":"s","Records":[]}]`:                                                                           false,
	} {
		var in putRecordsInput
		if got := readPutRecordsJSON([]byte(body), &in); got != want {
			t.Errorf("readPutRecordsJSON(%q) = %v, want %v", body, got, want)
		}
	}
}

// TestPutRecordsOutputJSONMatchesLibrary: the hand-written answer is
// json.Marshal's, byte for byte, or is left to it.
func TestPutRecordsOutputJSONMatchesLibrary(t *testing.T) {
	for _, out := range []putRecordsOutput{
		{Records: []putRecordsResultEntry{}, EncryptionType: "NONE"},
		{EncryptionType: "NONE"}, // Records null
		{FailedRecordCount: 2, EncryptionType: "NONE", Records: []putRecordsResultEntry{
			{SequenceNumber: sequenceNumber(1), ShardId: "shardId-000000000001"},
			{ErrorCode: codeThroughput, ErrorMessage: throughputExceeded("shardId-000000000002", "my.stream_1")},
			{ErrorCode: codeInternalFailure, ErrorMessage: internalFailureMessage},
		}},
		{Records: []putRecordsResultEntry{{ErrorCode: "x", ErrorMessage: "a <b> & \"c\""}}},
		{Records: []putRecordsResultEntry{{ErrorMessage: "é"}}},
		{Records: []putRecordsResultEntry{{ShardId: "tab\there"}}},
	} {
		want, err := json.Marshal(out)
		if err != nil {
			t.Fatal(err)
		}
		got, ok := appendPutRecordsOutputJSON(nil, out)
		if ok && string(got) != string(want) {
			t.Errorf("wrote %s, json.Marshal %s", got, want)
		}
		if plain := !bytes.ContainsAny(want, `\é`); ok != plain {
			t.Errorf("%s: written by hand %v, want %v", want, ok, plain)
		}
		if got := (wire{}).encode(out); string(got) != string(want) {
			t.Errorf("encode wrote %s, json.Marshal %s", got, want)
		}
	}
	for _, n := range []uint64{0, 1, 42, 1<<64 - 1} {
		if got, want := sequenceNumber(n), fmt.Sprintf("49%054d", n); got != want {
			t.Errorf("sequenceNumber(%d) = %s, want %s", n, got, want)
		}
	}
}

// TestPlainWord: every byte value, in every place of a word of plain bytes.
func TestPlainWord(t *testing.T) {
	for c := range 256 {
		want := c >= 0x20 && c < 0x7f && c != '\\'
		for i := range 8 {
			w := []byte("aaaaaaaa")
			w[i] = byte(c)
			if got := plainWord(binary.LittleEndian.Uint64(w)); got != want {
				t.Fatalf("plainWord(%q) = %v, want %v", w, got, want)
			}
		}
	}
}
