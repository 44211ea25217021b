package producer

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"reflect"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/schemas"
	"github.com/aws/smithy-go"
	smithyhttp "github.com/aws/smithy-go/transport/http"
	"github.com/aws/smithy-go/transport/http/protocol/awsjson"
)

// sdkJSON reads a PutRecords response body with the SDK's own awsJson1.1
// reader: the reference for decodePutRecordsJSON.
func sdkJSON(body []byte) (*kinesis.PutRecordsOutput, error) {
	resp := &smithyhttp.Response{Response: &http.Response{StatusCode: 200, Header: http.Header{},
		Body: io.NopCloser(bytes.NewReader(body))}}
	var out kinesis.PutRecordsOutput
	err := sdkProtocol.DeserializeResponse(context.Background(), putRecordsSchema, kinesis.TypeRegistry, resp, &out)
	return &out, err
}

var (
	sdkProtocol      = awsjson.New11(schemas.Kinesis_20131202)
	putRecordsSchema = smithy.NewOperationSchema(schemas.PutRecords, schemas.PutRecordsInput, schemas.PutRecordsOutput)
)

// sameJSONOutput compares an output the reader decoded with the SDK's,
// an empty Records like a nil one, and leaves out the SDK's sequence
// numbers: the reader skips them.
func sameJSONOutput(got, sdk *kinesis.PutRecordsOutput) bool {
	return reflect.DeepEqual(got.FailedRecordCount, sdk.FailedRecordCount) && got.EncryptionType == sdk.EncryptionType &&
		len(got.Records) == len(sdk.Records) && (len(got.Records) == 0 || reflect.DeepEqual(got.Records, withoutSequenceNumbers(sdk.Records)))
}

// TestDecodePutRecordsJSON: responses of every shape decode as the SDK's
// reader decodes them, and malformed ones fail with a clear error.
func TestDecodePutRecordsJSON(t *testing.T) {
	jsonBody, _ := benchResponse(t)
	good := []struct{ name, body string }{
		{"500 results, some failed", string(jsonBody)},
		{"white space everywhere", " \n{ \"FailedRecordCount\" :\t0 , \"Records\" : [ { \"SequenceNumber\" : \"1\" , \"ShardId\" : \"s\" } ] } \r\n"},
		{"escapes", `{"Records":[{"ErrorCode":"X","ErrorMessage":"a \"quoted\" \\ \/ \u00e9 \ud83c\udf89 \n\t"}]}`},
		{"invalid UTF-8", "{\"Records\":[{\"ShardId\":\"a\xffb\"}]}"},
		{"unknown members", `{"x":{"a":[1,-2.5e3,true,false,null,"s",{}],"b":[]},"Records":[{"y":[[[]]],"ShardId":"s","z":0}],"EncryptionType":"KMS","w":-0.0}`},
		{"null members", `{"FailedRecordCount":null,"EncryptionType":null,"Records":[{"SequenceNumber":null,"ShardId":"s","ErrorCode":null}]}`},
		{"null records", `{"Records":null}`},
		{"empty", ``},
		{"empty object", `{}`},
		{"no records", `{"Records":[],"FailedRecordCount":0}`},
	}
	for _, tc := range good {
		t.Run(tc.name, func(t *testing.T) {
			want, err := sdkJSON([]byte(tc.body))
			if err != nil {
				t.Fatalf("the SDK fails: %v", err)
			}
			var got kinesis.PutRecordsOutput
			if err := decodePutRecordsJSON(tc.body, &got); err != nil {
				t.Fatal(err)
			}
			if !sameJSONOutput(&got, want) {
				t.Errorf("decoded %+v, the SDK reads %+v", got, *want)
			}
		})
	}
	t.Run("every prefix is an error", func(t *testing.T) {
		body := `{"FailedRecordCount":1,"Records":[{"SequenceNumber":"1","ShardId":"s"},{"ErrorCode":"E","ErrorMessage":"m\n"}],"EncryptionType":"NONE"}`
		for n := 1; n < len(body); n++ {
			var out kinesis.PutRecordsOutput
			if err := decodePutRecordsJSON(body[:n], &out); err == nil || !strings.Contains(err.Error(), "unexpected end of input") {
				t.Fatalf("%d of %d bytes: %v", n, len(body), err)
			}
		}
	})
	bad := []struct{ name, body, want string }{
		{"not an object", `[]`, "the response is not an object"},
		{"trailing bytes", `{} x`, "bytes after the response"},
		{"records not an array", `{"Records":{}}`, "Records is not an array"},
		{"count out of range", `{"FailedRecordCount":4294967296}`, "is not an integer"},
		{"count not an integer", `{"FailedRecordCount":1.5}`, "is not an integer"},
		{"a number for a string", `{"Records":[{"ShardId":5}]}`, `found '5', want '"'`},
		{"a control character", "{\"Records\":[{\"ShardId\":\"a\x01\"}]}", "control character"},
		{"a bad literal", `{"x":nul}`, "malformed literal"},
		{"a bad number", `{"x":01}`, "found '1' after a member"},
		{"too deep", `{"x":` + strings.Repeat("[", 100) + strings.Repeat("]", 100) + `}`, "nested deeper"},
	}
	for _, tc := range bad {
		t.Run(tc.name, func(t *testing.T) {
			var out kinesis.PutRecordsOutput
			err := decodePutRecordsJSON(tc.body, &out)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %v, want one saying %q", err, tc.want)
			}
			if _, sdkErr := sdkJSON([]byte(tc.body)); sdkErr == nil && tc.name != "too deep" && tc.name != "trailing bytes" {
				t.Errorf("the SDK reads it")
			}
		})
	}
}

// FuzzDecodePutRecordsJSON: any input decodes or fails without a panic,
// and what the SDK's reader reads, this one reads alike.
func FuzzDecodePutRecordsJSON(f *testing.F) {
	jsonBody, _ := benchResponse(f)
	f.Add(jsonBody[:2000])
	f.Add([]byte(`{"Records":[{"ErrorCode":"X","ErrorMessage":"\u00e9\n","x":[1,{"y":null}]}],"FailedRecordCount":1}`))
	f.Add([]byte(`{"Records":null,"EncryptionType":"KMS"}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		var got kinesis.PutRecordsOutput
		err := decodePutRecordsJSON(string(body), &got)
		want, sdkErr := sdkJSON(body)
		if sdkErr != nil {
			return // stricter than the SDK is fine: the call is retried
		}
		if err != nil && strings.Contains(err.Error(), "bytes after the response") {
			return // the SDK ignores what follows the response's value
		}
		if err != nil {
			t.Fatalf("the SDK reads it, this fails: %v", err)
		}
		if !sameJSONOutput(&got, want) {
			t.Fatalf("decoded %+v, the SDK reads %+v", got, *want)
		}
	})
}

// TestResponseTextsOutliveTheBuffer: every text the readers return is a
// copy, not a view of the pooled buffer the response was read into, which
// the next response overwrites.
func TestResponseTextsOutliveTheBuffer(t *testing.T) {
	results := []map[string]any{
		{"SequenceNumber": "49590338271490256608559692538361571095921575989136588898", "ShardId": "shardId-000000000007"},
		{"ErrorCode": "ProvisionedThroughputExceededException", "ErrorMessage": "Rate exceeded for shard shardId-000000000003"},
		{"SequenceNumber": "2", "ShardId": "shardId-000000000003"},
	}
	response := map[string]any{"FailedRecordCount": 1, "EncryptionType": "KMS", "Records": results}
	jsonBody, err := json.Marshal(response)
	if err != nil {
		t.Fatal(err)
	}
	// An escaped text takes the JSON reader's other path.
	escaped := bytes.Replace(jsonBody, []byte("Rate exceeded"), []byte(`Rate\u0020exceeded`), 1)
	for _, tc := range []struct {
		name   string
		body   []byte
		decode func(string, *kinesis.PutRecordsOutput) error
	}{
		{"json", jsonBody, decodePutRecordsJSON},
		{"json with escapes", escaped, decodePutRecordsJSON},
		{"cbor", mustCBOR(t, response), decodePutRecordsCBOR},
		{"cbor indefinite", mustIndefinite(t, mustCBOR(t, response)), decodePutRecordsCBOR},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var want kinesis.PutRecordsOutput
			if err := tc.decode(string(tc.body), &want); err != nil {
				t.Fatal(err)
			}
			buf, err := readResponse(bytes.NewReader(tc.body))
			if err != nil {
				t.Fatal(err)
			}
			var got kinesis.PutRecordsOutput
			if err := tc.decode(viewOf(buf.Bytes()), &got); err != nil {
				t.Fatal(err)
			}
			b := buf.Bytes()
			for i := range b {
				b[i] = '#'
			}
			releaseResponse(buf)
			if !sameJSONOutput(&got, &want) || got.EncryptionType != "KMS" || deref(got.Records[1].ErrorMessage) != "Rate exceeded for shard shardId-000000000003" {
				t.Fatalf("after the buffer was overwritten: %+v, want %+v", got, want)
			}
		})
	}
}
