package producer

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"
	"github.com/aws/smithy-go"
	"github.com/fxamacker/cbor/v2"

	"github.com/kinesis-kpl/fluent-bit-kinesis-kpl/test/fakekinesis"
)

// cborBody is a PutRecords request body as fxamacker/cbor reads it, its
// members in the order appendPutRecordsCBOR writes them.
type cborBody struct {
	Records []struct {
		Data            []byte
		ExplicitHashKey string `cbor:",omitempty"`
		PartitionKey    string
	}
	StreamName string
}

// strictCBOR decodes as a careful server would: exact member names, no
// unknown or duplicate members, valid UTF-8, definite lengths as written.
var strictCBOR = func() cbor.DecMode {
	m, err := cbor.DecOptions{
		DupMapKey:         cbor.DupMapKeyEnforcedAPF,
		ExtraReturnErrors: cbor.ExtraDecErrorUnknownField,
		IndefLength:       cbor.IndefLengthForbidden,
		FieldNameMatching: cbor.FieldNameMatchingCaseSensitive,
	}.DecMode()
	if err != nil {
		panic(err)
	}
	return m
}()

// checkCBORBody decodes body with fxamacker/cbor, checks that it holds
// entries of stream, and that fxamacker writes the same bytes for it
// (lengths definite and shortest).
func checkCBORBody(t testing.TB, body []byte, stream string, entries []*entry) {
	t.Helper()
	var got cborBody
	if err := strictCBOR.Unmarshal(body, &got); err != nil {
		t.Fatalf("fxamacker/cbor reads the body: %v", err)
	}
	if got.StreamName != strings.ToValidUTF8(stream, "\uFFFD") && got.StreamName != validUTF8(stream) {
		t.Errorf("stream %q, want %q", got.StreamName, stream)
	}
	if len(got.Records) != len(entries) {
		t.Fatalf("%d records, want %d", len(got.Records), len(entries))
	}
	for i, e := range entries {
		r := got.Records[i]
		if !bytes.Equal(r.Data, e.data) {
			t.Errorf("record %d: data differs", i)
		}
		if r.PartitionKey != validUTF8(e.pk) || r.ExplicitHashKey != validUTF8(e.ehk) {
			t.Errorf("record %d: keys %q %q, want %q %q", i, r.PartitionKey, r.ExplicitHashKey, e.pk, e.ehk)
		}
	}
	again, err := cbor.Marshal(got)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(again, body) {
		t.Errorf("fxamacker/cbor writes the body otherwise:\n%.200x\n%.200x", again, body)
	}
}

// bodyCases are the entries both body writers are checked with.
func bodyCases() []struct {
	name    string
	stream  string
	entries []*entry
} {
	rng := rand.New(rand.NewPCG(5, 6))
	big := make([]byte, 300<<10)
	for i := range big {
		big[i] = byte(rng.Uint32())
	}
	all := make([]byte, 256)
	for i := range all {
		all[i] = byte(i)
	}
	mk := func(data []byte, pk, ehk string) *entry { return &entry{data: data, pk: pk, ehk: ehk} }
	many := make([]*entry, 500)
	for i := range many {
		many[i] = mk([]byte(recordData(i)), fmt.Sprint("key-", i), "")
	}
	return []struct {
		name    string
		stream  string
		entries []*entry
	}{
		{"one plain record", "logs", []*entry{mk([]byte(`{"log":"x"}`), "key", "")}},
		{"explicit hash keys", "logs", []*entry{
			mk([]byte("a"), "k1", "170141183460469231731687303715884105728"),
			mk([]byte("b"), "k2", ""),
			mk([]byte("c"), "k3", "0"),
		}},
		{"binary and empty data", "logs", []*entry{mk(all, "k", ""), mk([]byte{}, "k", ""), mk(big, "k", "")}},
		{"keys to escape", `str"eam\`, []*entry{
			mk([]byte("1"), `quote" backslash\ slash/`, ""),
			mk([]byte("2"), "tab\t newline\n return\r", ""),
			mk([]byte("3"), "\x00\x01\x1f\x7f", ""),
			mk([]byte("4"), "ünïcødé 日本 🎉", ""),
			mk([]byte("5"), "line\u2028para\u2029<>&", ""),
		}},
		{"invalid UTF-8 in a key", "logs", []*entry{mk([]byte("x"), "a\xffb\xc3", ""), mk([]byte("y"), "\xed\xa0\x80", "")}},
		{"500 entries, long stream name", strings.Repeat("s", 128), many},
	}
}

// TestPutRecordsCBORBody: the CBOR body holds the entries as fxamacker/cbor
// reads them, and is what it would write for them.
func TestPutRecordsCBORBody(t *testing.T) {
	for _, tc := range bodyCases() {
		t.Run(tc.name, func(t *testing.T) {
			body := appendPutRecordsCBOR(nil, tc.stream, tc.entries, nil)
			checkCBORBody(t, body, tc.stream, tc.entries)
			// Appending to a buffer with something in it keeps that.
			prefixed := appendPutRecordsCBOR([]byte("xyz"), tc.stream, tc.entries, nil)
			if !bytes.Equal(prefixed[3:], body) || string(prefixed[:3]) != "xyz" {
				t.Error("appending after a prefix writes another body")
			}
		})
	}
}

// TestPutRecordsCBORBodySmaller: without base64 the body is about a quarter
// smaller than the JSON one.
func TestPutRecordsCBORBodySmaller(t *testing.T) {
	entries := make([]*entry, 500)
	for i := range entries {
		entries[i] = &entry{data: bytes.Repeat([]byte{byte(i)}, 1000), pk: fmt.Sprint("key-", i)}
	}
	j, c := len(appendPutRecordsBody(nil, "logs", entries, nil)), len(appendPutRecordsCBOR(nil, "logs", entries, nil))
	if float64(c) > 0.8*float64(j) {
		t.Errorf("CBOR body %d bytes, JSON %d", c, j)
	}
}

// refOutput is a PutRecords response as fxamacker/cbor reads it.
type refOutput struct {
	FailedRecordCount *int32
	Records           []types.PutRecordsResultEntry
	EncryptionType    types.EncryptionType
}

// refCBOR reads responses as the reference: exact member names, any
// length form, any bytes in text (the decoder under test does not check
// UTF-8 either: it hands the text on).
var refCBOR = func() cbor.DecMode {
	m, err := cbor.DecOptions{
		FieldNameMatching: cbor.FieldNameMatchingCaseSensitive,
		UTF8:              cbor.UTF8DecodeInvalid,
		MaxNestedLevels:   maxCBORDepth + 2,
	}.DecMode()
	if err != nil {
		panic(err)
	}
	return m
}()

func str(s string) *string { return &s }

// sameOutput compares a decoded output with the reference's, whose
// sequence numbers it leaves out: the readers skip them.
func sameOutput(got *kinesis.PutRecordsOutput, want refOutput) bool {
	return reflect.DeepEqual(got.FailedRecordCount, want.FailedRecordCount) &&
		got.EncryptionType == want.EncryptionType &&
		reflect.DeepEqual(got.Records, withoutSequenceNumbers(want.Records)) ||
		(len(got.Records) == 0 && len(want.Records) == 0 && reflect.DeepEqual(got.FailedRecordCount, want.FailedRecordCount) && got.EncryptionType == want.EncryptionType)
}

// withoutSequenceNumbers returns a copy of results with no sequence
// numbers.
func withoutSequenceNumbers(results []types.PutRecordsResultEntry) []types.PutRecordsResultEntry {
	if results == nil {
		return nil
	}
	out := slices.Clone(results)
	for i := range out {
		out[i].SequenceNumber = nil
	}
	return out
}

func mustCBOR(t testing.TB, v any) []byte {
	t.Helper()
	b, err := cbor.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func mustIndefinite(t testing.TB, b []byte) []byte {
	t.Helper()
	b, err := fakekinesis.Indefinite(b)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestDecodePutRecordsCBOR: responses of every shape decode to what
// fxamacker/cbor reads from them.
func TestDecodePutRecordsCBOR(t *testing.T) {
	type result struct {
		SequenceNumber string `cbor:",omitempty"`
		ShardId        string `cbor:",omitempty"`
		ErrorCode      string `cbor:",omitempty"`
		ErrorMessage   string `cbor:",omitempty"`
	}
	ok := func(i int) result {
		return result{SequenceNumber: fmt.Sprintf("4959%052d", i), ShardId: fmt.Sprintf("shardId-%012d", i%64)}
	}
	many := make([]result, 500)
	for i := range many {
		many[i] = ok(i)
		if i%7 == 3 {
			many[i] = result{ErrorCode: "ProvisionedThroughputExceededException", ErrorMessage: "Rate exceeded for shard"}
		}
	}
	success := mustCBOR(t, map[string]any{"FailedRecordCount": 0, "Records": []result{ok(1), ok(2)}, "EncryptionType": "KMS"})
	tests := []struct {
		name string
		body []byte
	}{
		{"success", success},
		{"indefinite lengths, chunked strings, wide integers", mustIndefinite(t, success)},
		{"failed entries", mustCBOR(t, map[string]any{"FailedRecordCount": 71, "Records": many})},
		{"failed entries, indefinite", mustIndefinite(t, mustCBOR(t, map[string]any{"FailedRecordCount": 71, "Records": many}))},
		{"unknown members skipped", mustCBOR(t, map[string]any{
			"Extra":   map[string]any{"a": []any{1, -2, 3.5, true, nil, []byte{1, 2}, cbor.Tag{Number: 1, Content: 1.5e9}}},
			"Records": []map[string]any{{"SequenceNumber": "1", "Nested": []any{[]any{map[string]any{}}}, "ShardId": "shardId-000000000001"}},
			"Big":     uint64(1) << 63, "Neg": int64(-1) << 62,
			"FailedRecordCount": 0,
		})},
		{"unknown members skipped, indefinite", mustIndefinite(t, mustCBOR(t, map[string]any{
			"Extra":   map[string]any{"a": []any{"text", []byte("bytes"), map[string]any{"x": "y"}}},
			"Records": []map[string]any{{"ShardId": "s", "Other": "o", "SequenceNumber": "9"}},
		}))},
		{"null members", mustCBOR(t, map[string]any{"FailedRecordCount": nil, "EncryptionType": nil,
			"Records": []map[string]any{{"SequenceNumber": "1", "ShardId": "s", "ErrorCode": nil, "ErrorMessage": nil}}})},
		{"no records", mustCBOR(t, map[string]any{"FailedRecordCount": 0, "Records": []result{}})},
		{"empty map", []byte{0xa0}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var got kinesis.PutRecordsOutput
			if err := decodePutRecordsCBOR(string(tc.body), &got); err != nil {
				t.Fatal(err)
			}
			var want refOutput
			if err := refCBOR.Unmarshal(tc.body, &want); err != nil {
				t.Fatal(err)
			}
			if !sameOutput(&got, want) {
				t.Errorf("decoded %+v, fxamacker/cbor reads %+v", got, want)
			}
		})
	}
	t.Run("every prefix is an error", func(t *testing.T) {
		for _, body := range [][]byte{success, mustIndefinite(t, success)} {
			for n := range len(body) {
				var out kinesis.PutRecordsOutput
				err := decodePutRecordsCBOR(string(body[:n]), &out)
				if err == nil || !strings.Contains(err.Error(), "unexpected end of input") {
					t.Fatalf("%d of %d bytes: %v", n, len(body), err)
				}
			}
		}
	})
	bad := []struct {
		name, body, want string
	}{
		{"not a map", "\x80", "the response is major type 4, want 5"},
		{"trailing bytes", "\xa0\x00", "1 bytes after the response"},
		{"records not an array", "\xa1\x67Records\xa0", "Records is major type 5, want 4"},
		{"a count out of range", "\xa1\x71FailedRecordCount\x1b\x00\x00\x00\x01\x00\x00\x00\x00", "integer out of range"},
		{"a text that is bytes", "\xa1\x67Records\x81\xa1\x67ShardId\x41x", "text is major type 2"},
		{"a lying length", "\xa1\x67Records\x9a\xff\xff\xff\xff", "unexpected end of input"},
		{"reserved information", "\xbc", "reserved additional information 28"},
		{"a stray break", "\xa1\x61x\xff", "break outside"},
		{"too deep", "\xa1\x61x" + strings.Repeat("\x81", 100) + "\x00", "nested deeper than 64"},
	}
	for _, tc := range bad {
		t.Run(tc.name, func(t *testing.T) {
			var out kinesis.PutRecordsOutput
			err := decodePutRecordsCBOR(tc.body, &out)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %v, want one saying %q", err, tc.want)
			}
		})
	}
}

// TestDecodeErrorCBOR: the members of an error body that the SDK's JSON
// error reader looks at, in any case, in any length form.
func TestDecodeErrorCBOR(t *testing.T) {
	tests := []struct {
		name string
		body []byte
		want errorInfo
	}{
		{"type and message", mustCBOR(t, map[string]string{"__type": "ResourceNotFoundException", "message": "m"}), errorInfo{typ: "ResourceNotFoundException", message: "m"}},
		{"Message and code", mustCBOR(t, map[string]any{"Message": "m", "code": "Throttling", "other": []int{1}}), errorInfo{code: "Throttling", message: "m"}},
		{"indefinite", mustIndefinite(t, mustCBOR(t, map[string]string{"__type": "com.amazonaws.kinesis#X", "message": "ünï"})), errorInfo{typ: "com.amazonaws.kinesis#X", message: "ünï"}},
		{"a code that is not text", mustCBOR(t, map[string]any{"code": 5, "__type": "T"}), errorInfo{typ: "T"}},
		{"empty", nil, errorInfo{}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := decodeErrorCBOR(string(tc.body))
			if err != nil || got != tc.want {
				t.Fatalf("%+v, %v; want %+v", got, err, tc.want)
			}
			var back map[string]string
			if err := json.Unmarshal(got.appendJSON(nil), &back); err != nil {
				t.Fatalf("JSON error body: %v", err)
			}
		})
	}
	if _, err := decodeErrorCBOR("\xa1\x66__type"); err == nil {
		t.Error("a truncated error body decodes")
	}
}

// faultHTTP is the SDK's HTTP client in the fault table: it answers every
// request with fault, in the format of the request, and counts them.
type faultHTTP struct {
	mu         sync.Mutex
	fault      fault
	indefinite bool
	reqs       int
}

// fault is an error response: status, the X-Amzn-ErrorType header (if any)
// and the body's members.
type fault struct {
	name   string
	status int
	header string
	body   map[string]any
	raw    string // a body that is neither JSON nor CBOR
}

func (f *faultHTTP) Do(r *http.Request) (*http.Response, error) {
	if _, err := io.Copy(io.Discard, r.Body); err != nil {
		return nil, err
	}
	f.mu.Lock()
	f.reqs++
	ft := f.fault
	f.mu.Unlock()
	ct := r.Header.Get("Content-Type")
	var body []byte
	switch {
	case ft.raw != "":
		body = []byte(ft.raw)
	case ct == cborContentType:
		b, err := cbor.Marshal(ft.body)
		if err != nil {
			return nil, err
		}
		if f.indefinite {
			if b, err = fakekinesis.Indefinite(b); err != nil {
				return nil, err
			}
		}
		body = b
	default:
		b, err := json.Marshal(ft.body)
		if err != nil {
			return nil, err
		}
		body = b
	}
	h := http.Header{"Content-Type": {ct}}
	if ft.header != "" {
		h.Set("X-Amzn-ErrorType", ft.header)
	}
	return &http.Response{StatusCode: ft.status, Header: h, Body: io.NopCloser(bytes.NewReader(body)),
		ContentLength: int64(len(body)), Request: r}, nil
}

// faultOutcome is everything of a failed call that the producer and the
// SDK's retryer act on.
type faultOutcome struct {
	attempts     int
	class        errClass
	code, msg    string
	apiType      string
	httpStatus   int
	throttle     bool
	retryable    bool
	isDeserError bool
}

// TestCBORErrorsClassifyAsJSON: the same faults answered in JSON and in
// CBOR (definite and indefinite) become the same errors: same type, code,
// message and status, retried as often by the SDK's retryer, classified
// alike by classifyError, whether sent through the SDK's stack or by the
// direct sender.
func TestCBORErrorsClassifyAsJSON(t *testing.T) {
	msg := "a message"
	faults := []fault{
		{name: "throttling", status: 400, header: "ProvisionedThroughputExceededException", body: map[string]any{"__type": "ProvisionedThroughputExceededException", "message": "Rate exceeded"}},
		{name: "throttling, body only, namespaced", status: 400, body: map[string]any{"__type": "com.amazonaws.kinesis.v20131202#ProvisionedThroughputExceededException", "message": "Rate exceeded"}},
		{name: "internal failure 500", status: 500, body: map[string]any{"__type": "InternalFailure", "message": msg}},
		{name: "service unavailable 503", status: 503, header: "ServiceUnavailable", body: map[string]any{"__type": "ServiceUnavailable"}},
		{name: "5xx without a body's type", status: 502, body: map[string]any{}},
		{name: "resource not found", status: 400, header: "ResourceNotFoundException", body: map[string]any{"__type": "ResourceNotFoundException", "message": "Stream logs not found"}},
		{name: "access denied", status: 400, body: map[string]any{"__type": "AccessDeniedException", "Message": "User is not authorized"}},
		{name: "KMS throttling", status: 400, body: map[string]any{"__type": "KMSThrottlingException", "message": msg}},
		{name: "KMS disabled", status: 400, body: map[string]any{"__type": "KMSDisabledException", "message": msg}},
		{name: "KMS access denied", status: 400, body: map[string]any{"__type": "KMSAccessDeniedException", "message": msg}},
		{name: "KMS not found", status: 400, body: map[string]any{"__type": "KMSNotFoundException", "message": msg}},
		{name: "expired token", status: 400, body: map[string]any{"__type": "ExpiredTokenException", "message": "The security token included in the request is expired"}},
		{name: "unrecognized client", status: 400, body: map[string]any{"__type": "UnrecognizedClientException", "message": msg}},
		{name: "limit exceeded", status: 400, body: map[string]any{"__type": "LimitExceededException", "message": msg}},
		{name: "validation", status: 400, body: map[string]any{"__type": "ValidationException", "message": "1 validation error"}},
		{name: "invalid argument", status: 400, body: map[string]any{"__type": "InvalidArgumentException", "message": msg}},
		{name: "code member", status: 400, body: map[string]any{"code": "Throttling", "message": msg}},
		{name: "header overrides body", status: 400, header: "ThrottlingException", body: map[string]any{"__type": "ValidationException"}},
		{name: "request timeout", status: 408, body: map[string]any{"__type": "RequestTimeoutException"}},
		{name: "a body neither reads", status: 500, raw: "<html>bad gateway</html>"},
	}
	run := func(t *testing.T, f fault, format WireFormat, indefinite bool, path int) faultOutcome {
		h := &faultHTTP{fault: f, indefinite: indefinite}
		c := fakeHTTPClient(h, 3)
		entries := []*entry{{data: []byte("payload"), pk: "k"}}
		body := appendPutRecordsBody(nil, "logs", entries, nil)
		if format == WireCBOR {
			body = appendPutRecordsCBOR(nil, "logs", entries, nil)
		}
		_, err := bodyPutters(t, c)[path].put.PutRecordsBody(context.Background(), "logs", format, body)
		if err == nil {
			t.Fatal("no error")
		}
		var o faultOutcome
		o.attempts = h.reqs
		o.class, o.code, o.msg = classifyError(err)
		var apiErr smithy.APIError
		if errors.As(err, &apiErr) {
			o.apiType = fmt.Sprintf("%T", apiErr)
		}
		var re *awshttp.ResponseError
		if errors.As(err, &re) {
			o.httpStatus = re.HTTPStatusCode()
		}
		o.throttle = retry.IsErrorThrottles(retry.DefaultThrottles).IsErrorThrottle(err) == aws.TrueTernary
		o.retryable = retry.IsErrorRetryables(retry.DefaultRetryables).IsErrorRetryable(err) == aws.TrueTernary
		var de *smithy.DeserializationError
		o.isDeserError = errors.As(err, &de)
		return o
	}
	for _, f := range faults {
		t.Run(f.name, func(t *testing.T) {
			// The SDK's stack reading JSON is the reference; the direct
			// sender must give the same.
			want := run(t, f, WireJSON, false, 0)
			for path, name := range []string{"sdk", "direct"} {
				if got := run(t, f, WireJSON, false, path); got != want {
					t.Errorf("%s, JSON: %+v\nSDK, JSON: %+v", name, got, want)
				}
				for _, indefinite := range []bool{false, true} {
					if got := run(t, f, WireCBOR, indefinite, path); got != want {
						t.Errorf("%s, CBOR (indefinite %v): %+v\nSDK, JSON: %+v", name, indefinite, got, want)
					}
				}
			}
			if f.raw == "" && want.code == "" {
				t.Errorf("no API error code: %+v", want)
			}
		})
	}
}

// TestCBORResponseInJSON: an endpoint that answers a CBOR request in JSON
// (a proxy, say) is read as JSON.
func TestCBORResponseInJSON(t *testing.T) {
	h := &captureHTTP{}
	c := captureClient(h)
	entries := []*entry{{data: []byte("a"), pk: "k"}, {data: []byte("b"), pk: "k"}}
	out, err := kinesisBodyPutter{c}.PutRecordsBody(context.Background(), "logs", WireCBOR, appendPutRecordsCBOR(nil, "logs", entries, nil))
	// captureHTTP reads the body as JSON: a CBOR body is an error there.
	if err == nil {
		t.Fatalf("captureHTTP took a CBOR body: %+v", out)
	}
	if ct := h.last().header.Get("Content-Type"); ct != cborContentType {
		t.Errorf("Content-Type %q", ct)
	}
}

// TestProducerCBOR: a producer sending CBOR to the fake Kinesis, answering
// with definite and with indefinite lengths, delivers every record once,
// and the fake saw CBOR bodies only.
func TestProducerCBOR(t *testing.T) {
	// Small KPL aggregates are written at once, larger ones when sent,
	// again for each retry of a throttled request.
	sizes := []struct{ aggSize, n int }{{300, 300}, {minLazyAggregate + 4<<10, 6000}}
	for _, indefinite := range []bool{false, true} {
		for _, format := range formats {
			for _, sz := range sizes {
				if format == AggregationNewline && sz.aggSize > 300 {
					continue // every newline aggregate is written when sent
				}
				t.Run(fmt.Sprintf("indefinite=%v/%v/aggregates of %d bytes", indefinite, format, sz.aggSize), func(t *testing.T) {
					var opts []fakekinesis.Option
					if indefinite {
						opts = append(opts, fakekinesis.WithIndefiniteLengths())
					}
					srv, err := fakekinesis.New(opts...)
					if err != nil {
						t.Fatal(err)
					}
					defer srv.Close()
					if err := srv.CreateStream("logs", 4); err != nil {
						t.Fatal(err)
					}
					srv.SetFaults(fakekinesis.Faults{ThrottleEvery: 5})
					c := kinesis.New(kinesis.Options{
						Region:       "eu-west-1",
						Credentials:  credentials.NewStaticCredentialsProvider("AKIDTEST", "secret", ""),
						BaseEndpoint: aws.String(srv.URL()),
					})
					p, err := New(&Config{StreamName: "logs", Client: c, AggregationFormat: format, AggregateBatchSize: sz.aggSize,
						WireFormat: WireCBOR, GetShards: GetKinesisShardsFunc(c, "logs")})
					if err != nil {
						t.Fatal(err)
					}
					p.Start()
					g := p.NewGroup()
					n := sz.n
					for i := range n {
						g.Add([]byte(recordData(i)), fmt.Sprint("key-", i))
					}
					putAllAndStop(t, p, g, n)
					recs, err := srv.UserRecords("logs")
					if err != nil {
						t.Fatal(err)
					}
					seen := map[string]int{}
					for _, r := range recs {
						if format == AggregationNewline {
							for l := range strings.Lines(string(r.Data)) {
								seen[strings.TrimSuffix(l, "\n")]++
							}
							continue
						}
						seen[string(r.Data)]++
					}
					for i := range n {
						if seen[recordData(i)] != 1 {
							t.Errorf("record %d arrived %d times", i, seen[recordData(i)])
						}
					}
					st := srv.Stats()
					if st.EntriesFailed == 0 {
						t.Errorf("no entry failed: the failed entries' path was not taken (%+v)", st)
					}
					if puts := st.Operations["PutRecords"]; puts == 0 || st.CBORRequests != puts {
						t.Errorf("%d of %d PutRecords requests in CBOR", st.CBORRequests, puts)
					}
				})
			}
		}
	}
}

// FuzzPutRecordsCBOR: for any keys and data, fxamacker/cbor reads the body
// as the entries and writes the same bytes for them, and the body is the
// same whether its aggregates were written before or are written in it,
// at once or in windows (BodyStream).
func FuzzPutRecordsCBOR(f *testing.F) {
	f.Add("stream", "key", "", []byte("data"))
	f.Add("s\"\\", "k\x00\x7f\u2028", "123", []byte{0, 255})
	f.Add("s", "\xff\xc3", "", []byte{})
	f.Add(strings.Repeat("s", 300), strings.Repeat("k", 256), strings.Repeat("9", 39), bytes.Repeat([]byte{1}, 70000))
	f.Fuzz(func(t *testing.T, stream, pk, ehk string, data []byte) {
		inPlace, written := fuzzBodyEntries(pk, ehk, data)
		body := appendPutRecordsCBOR(nil, stream, written, nil)
		checkCBORBody(t, body, stream, written)
		if direct := appendPutRecordsCBOR(nil, stream, inPlace, nil); !bytes.Equal(direct, body) {
			t.Fatalf("body with the aggregates written in place differs:\n%q\n%q", direct, body)
		}
		streamed, _ := fuzzBodyEntries(pk, ehk, data)
		checkStreamed(t, WireCBOR, stream, streamed, body)
	})
}

// FuzzDecodePutRecordsCBOR: any input decodes or fails without a panic;
// what decodes, fxamacker/cbor reads alike; every strict prefix of what
// decodes fails.
func FuzzDecodePutRecordsCBOR(f *testing.F) {
	seed := mustCBOR(f, map[string]any{"FailedRecordCount": 1, "EncryptionType": "NONE", "Records": []map[string]any{
		{"SequenceNumber": "1", "ShardId": "shardId-000000000000"},
		{"ErrorCode": "InternalFailure", "ErrorMessage": "x", "Unknown": []any{1.5, nil, true}},
	}})
	f.Add(seed)
	f.Add(mustIndefinite(f, seed))
	f.Add([]byte{0xa0})
	f.Add([]byte("\xa1\x67Records\x9f\xbf\x67ShardId\x7f\x61a\x61b\xff\xff\xff"))
	f.Fuzz(func(t *testing.T, body []byte) {
		var got kinesis.PutRecordsOutput
		if err := decodePutRecordsCBOR(string(body), &got); err != nil {
			return
		}
		var want refOutput
		if err := refCBOR.Unmarshal(body, &want); err != nil {
			// The reader checks less than fxamacker/cbor does in what it
			// skips (tag contents, simple values); what it reads must agree.
			if !strings.Contains(err.Error(), "cbor: ") {
				t.Fatalf("decodes, fxamacker/cbor fails: %v", err)
			}
			return
		}
		if !sameOutput(&got, want) {
			t.Fatalf("decoded %+v, fxamacker/cbor reads %+v", got, want)
		}
		for n := range len(body) {
			var out kinesis.PutRecordsOutput
			if decodePutRecordsCBOR(string(body[:n]), &out) == nil && n > 0 {
				t.Fatalf("a prefix of %d of %d bytes decodes", n, len(body))
			}
		}
	})
}

// FuzzDecodeErrorCBOR: any input decodes or fails without a panic, and
// what decodes turns into a JSON body that encoding/json reads back alike.
func FuzzDecodeErrorCBOR(f *testing.F) {
	f.Add(mustCBOR(f, map[string]string{"__type": "ResourceNotFoundException", "message": "m"}))
	f.Add(mustIndefinite(f, mustCBOR(f, map[string]any{"Message": "m\x00\"", "code": "c", "x": []int{1}})))
	f.Fuzz(func(t *testing.T, body []byte) {
		info, err := decodeErrorCBOR(string(body))
		if err != nil {
			return
		}
		var back struct {
			Type    string `json:"__type"`
			Code    string `json:"code"`
			Message string `json:"message"`
		}
		if err := json.Unmarshal(info.appendJSON(nil), &back); err != nil {
			t.Fatalf("JSON error body: %v", err)
		}
		for _, p := range [][2]string{{back.Type, info.typ}, {back.Code, info.code}, {back.Message, info.message}} {
			if p[0] != validUTF8(p[1]) {
				t.Fatalf("JSON error body reads %q, decoded %q", p[0], p[1])
			}
		}
	})
}

// appendPutRecordsCBOR is the CBOR body for entries of streamName, written
// whole (s, nil for a scratch of its own).
func appendPutRecordsCBOR(dst []byte, streamName string, entries []*entry, s *bodyScratch) []byte {
	return appendWholeBody(dst, WireCBOR, streamName, entries, s)
}
