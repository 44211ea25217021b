package producer

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/ratelimit"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"

	"github.com/kinesis-kpl/fluent-bit-kinesis-kpl/aggregation"
)

// captureHTTP is the SDK's HTTP client in these tests: it keeps every
// request it is given and answers a PutRecords success with one result
// per entry, or a 500 for the first failFirst requests.
type captureHTTP struct {
	mu        sync.Mutex
	failFirst int
	reqs      []capturedRequest
}

type capturedRequest struct {
	method, url, host string
	contentLength     int64
	header            http.Header
	body              []byte
}

func (c *captureHTTP) Do(r *http.Request) (*http.Response, error) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	c.reqs = append(c.reqs, capturedRequest{method: r.Method, url: r.URL.String(), host: r.Host,
		contentLength: r.ContentLength, header: r.Header.Clone(), body: body})
	fail := len(c.reqs) <= c.failFirst
	c.mu.Unlock()
	if fail {
		return &http.Response{StatusCode: 500, Header: http.Header{}, Body: io.NopCloser(strings.NewReader(`{"__type":"InternalFailure"}`)), Request: r}, nil
	}
	var in struct{ Records []json.RawMessage }
	if err := json.Unmarshal(body, &in); err != nil {
		return nil, fmt.Errorf("request body is not JSON: %w", err)
	}
	var out bytes.Buffer
	out.WriteString(`{"FailedRecordCount":0,"Records":[`)
	for i := range in.Records {
		if i > 0 {
			out.WriteByte(',')
		}
		fmt.Fprintf(&out, `{"SequenceNumber":"%d","ShardId":"shardId-000000000000"}`, i+1)
	}
	out.WriteString(`]}`)
	return &http.Response{StatusCode: 200, Header: http.Header{"Content-Type": {"application/x-amz-json-1.1"}},
		Body: io.NopCloser(&out), ContentLength: int64(out.Len()), Request: r}, nil
}

func (c *captureHTTP) last() capturedRequest {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.reqs[len(c.reqs)-1]
}

func captureClient(h *captureHTTP) *kinesis.Client { return fakeHTTPClient(h, 2) }

// fakeHTTPClient is an SDK client whose HTTP goes to h, making up to
// attempts attempts per call without backoff.
func fakeHTTPClient(h kinesis.HTTPClient, attempts int) *kinesis.Client {
	return kinesis.New(kinesis.Options{
		Region:       "eu-west-1",
		Credentials:  credentials.NewStaticCredentialsProvider("AKIDTEST", "secret", ""),
		BaseEndpoint: aws.String("https://kinesis.example"),
		HTTPClient:   h,
		Retryer: retry.NewStandard(func(o *retry.StandardOptions) {
			o.MaxAttempts = attempts
			o.Backoff = retry.BackoffDelayerFunc(func(int, error) (time.Duration, error) { return 0, nil })
			o.RateLimiter = ratelimit.None
		}),
	})
}

// sdkAndBody sends entries once through the SDK's serialisation and once
// as a written body, and returns both request bodies.
func sdkAndBody(t testing.TB, stream string, entries []*entry) (sdk, body []byte) {
	t.Helper()
	h := &captureHTTP{}
	c := captureClient(h)
	in := &kinesis.PutRecordsInput{StreamName: aws.String(stream)}
	for _, e := range entries {
		re := types.PutRecordsRequestEntry{Data: e.data, PartitionKey: aws.String(e.pk)}
		if e.ehk != "" {
			re.ExplicitHashKey = aws.String(e.ehk)
		}
		in.Records = append(in.Records, re)
	}
	ctx := context.Background()
	if _, err := c.PutRecords(ctx, in); err != nil {
		t.Fatal(err)
	}
	sdkReq := h.last()
	out, err := kinesisBodyPutter{c}.PutRecordsBody(ctx, stream, WireJSON, appendPutRecordsBody(nil, stream, entries, nil))
	if err != nil {
		t.Fatal(err)
	}
	if len(out.Records) != len(entries) {
		t.Fatalf("%d results for %d entries", len(out.Records), len(entries))
	}
	bodyReq := h.last()
	for _, k := range []string{"X-Amz-Target", "Content-Type"} {
		if got, want := bodyReq.header.Get(k), sdkReq.header.Get(k); got != want {
			t.Errorf("%s %q, the SDK sends %q", k, got, want)
		}
	}
	if a := bodyReq.header.Get("Authorization"); !strings.HasPrefix(a, "AWS4-HMAC-SHA256 Credential=AKIDTEST/") {
		t.Errorf("not signed with SigV4: %q", a)
	}
	return sdkReq.body, bodyReq.body
}

// decodedBody is a PutRecords request body as encoding/json reads it.
type decodedBody struct {
	Records []struct {
		Data            []byte
		ExplicitHashKey *string
		PartitionKey    string
	}
	StreamName string
}

func decodeBody(t testing.TB, b []byte) decodedBody {
	t.Helper()
	var d decodedBody
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&d); err != nil {
		t.Fatalf("body %q: %v", b[:min(len(b), 200)], err)
	}
	return d
}

// TestPutRecordsBodyMatchesSDK: the body the producer writes is byte for
// byte the one the SDK serialises for the same entries, reads back with
// encoding/json as the entries, and goes out signed like the SDK's.
func TestPutRecordsBodyMatchesSDK(t *testing.T) {
	for _, tc := range bodyCases() {
		t.Run(tc.name, func(t *testing.T) {
			sdk, body := sdkAndBody(t, tc.stream, tc.entries)
			if !bytes.Equal(sdk, body) {
				t.Errorf("body differs from the SDK's:\n%.300q\n%.300q", body, sdk)
			}
			got, want := decodeBody(t, body), decodeBody(t, sdk)
			if !reflect.DeepEqual(got, want) {
				t.Errorf("decoded body differs from the SDK's")
			}
			if got.StreamName != strings.ToValidUTF8(tc.stream, "\uFFFD") || len(got.Records) != len(tc.entries) {
				t.Fatalf("stream %q, %d records", got.StreamName, len(got.Records))
			}
			for i, e := range tc.entries {
				r := got.Records[i]
				if !bytes.Equal(r.Data, e.data) {
					t.Errorf("record %d: data differs", i)
				}
				if utf8.ValidString(e.pk) && r.PartitionKey != e.pk {
					t.Errorf("record %d: partition key %q, want %q", i, r.PartitionKey, e.pk)
				}
				if (r.ExplicitHashKey == nil) != (e.ehk == "") || (r.ExplicitHashKey != nil && *r.ExplicitHashKey != e.ehk) {
					t.Errorf("record %d: explicit hash key %v, want %q", i, r.ExplicitHashKey, e.ehk)
				}
			}
		})
	}
}

// TestPutRecordsBodyRetried: a retry of a failed call, by the SDK's stack
// or by the direct sender, sends the written body again, whole, signed
// again.
func TestPutRecordsBodyRetried(t *testing.T) {
	body := appendPutRecordsBody(nil, "logs", []*entry{{data: []byte("payload"), pk: "k"}}, nil)
	for i, name := range []string{"sdk", "direct"} {
		t.Run(name, func(t *testing.T) {
			h := &captureHTTP{failFirst: 1}
			out, err := bodyPutters(t, captureClient(h))[i].put.PutRecordsBody(context.Background(), "logs", WireJSON, body)
			if err != nil {
				t.Fatal(err)
			}
			if len(out.Records) != 1 || len(h.reqs) != 2 {
				t.Fatalf("%d results after %d requests, want 1 after 2", len(out.Records), len(h.reqs))
			}
			if !bytes.Equal(h.reqs[0].body, body) || !bytes.Equal(h.reqs[1].body, body) {
				t.Errorf("bodies sent %q and %q, want %q twice", h.reqs[0].body, h.reqs[1].body, body)
			}
		})
	}
}

// TestPutRecordsBodySigned: the SigV4 signature covers the written body
// (the service checks the payload's hash), not the SDK's own serialisation
// it replaced; the direct sender signs it as the SDK's stack does.
func TestPutRecordsBodySigned(t *testing.T) {
	body := appendPutRecordsBody(nil, "logs", []*entry{{data: []byte("payload"), pk: "k"}}, nil)
	for i, name := range []string{"sdk", "direct"} {
		t.Run(name, func(t *testing.T) {
			h := &captureHTTP{}
			if _, err := bodyPutters(t, captureClient(h))[i].put.PutRecordsBody(context.Background(), "logs", WireJSON, body); err != nil {
				t.Fatal(err)
			}
			sent := h.last()
			checkSigned(t, sent, body)
			if sdkOwn := signatureOf(t, sent, []byte(`{"Records":[],"StreamName":"logs"}`)); sent.header.Get("Authorization") == sdkOwn {
				t.Error("the signature is the one of the replaced serialisation")
			}
		})
	}
}

// checkSigned fails t unless sent carries body's length and a SigV4
// signature of it (the test client's credentials and region).
func checkSigned(t *testing.T, sent capturedRequest, body []byte) {
	t.Helper()
	if sent.contentLength != int64(len(body)) {
		t.Errorf("Content-Length %d, body %d bytes", sent.contentLength, len(body))
	}
	if got, want := sent.header.Get("Authorization"), signatureOf(t, sent, body); got != want {
		t.Errorf("Authorization %q, signing the body gives %q", got, want)
	}
}

// signatureOf is the Authorization header the SDK's signer gives sent's
// request with payload as its body, at the time sent was signed.
func signatureOf(t *testing.T, sent capturedRequest, payload []byte) string {
	t.Helper()
	req, err := http.NewRequest(sent.method, sent.url, bytes.NewReader(payload))
	if err != nil {
		t.Fatal(err)
	}
	req.Host, req.ContentLength, req.Header = sent.host, sent.contentLength, sent.header.Clone()
	req.Header.Del("Authorization")
	at, err := time.Parse("20060102T150405Z", sent.header.Get("X-Amz-Date"))
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(payload)
	creds := aws.Credentials{AccessKeyID: "AKIDTEST", SecretAccessKey: "secret"}
	if err := v4.NewSigner().SignHTTP(context.Background(), creds, req, hex.EncodeToString(sum[:]), "kinesis", "eu-west-1", at); err != nil {
		t.Fatal(err)
	}
	return req.Header.Get("Authorization")
}

// TestProducerSendsBodies: a producer given a *kinesis.Client sends
// written bodies, and every record arrives once with its key: aggregates
// written at once (small) and when sent (minLazyAggregate or more).
func TestProducerSendsBodies(t *testing.T) {
	sizes := []struct{ aggSize, n, pad int }{{300, 200, 0}, {minLazyAggregate + 4<<10, 4000, 0}, {minLazyAggregate + 4<<10, 6000, 300}}
	for _, format := range formats {
		for _, sz := range sizes {
			t.Run(fmt.Sprintf("%s/aggregates of %d bytes/records of %d+ bytes", format, sz.aggSize, sz.pad), func(t *testing.T) {
				testProducerSendsBodies(t, format, sz.aggSize, sz.n, sz.pad)
			})
		}
	}
}

// testProducerSendsBodies sends n records, each recordData with pad bytes
// after it; with pad, some bodies are large enough to be written in
// windows (bodyStream).
func testProducerSendsBodies(t *testing.T, format AggregationFormat, aggSize, n, pad int) {
	h := &captureHTTP{}
	p, err := New(&Config{StreamName: "logs", Client: captureClient(h), AggregationFormat: format, AggregateBatchSize: aggSize})
	if err != nil {
		t.Fatal(err)
	}
	if p.bodies == nil {
		t.Fatal("a *kinesis.Client is not sent written bodies")
	}
	p.Start()
	g := p.NewGroup()
	for i := range n {
		g.Add(fmt.Appendf(nil, "%s%*s", recordData(i), pad, ""), fmt.Sprint("key-", i%3))
	}
	putAllAndStop(t, p, g, n)
	seen := map[string]int{}
	largest := 0
	for _, r := range h.reqs {
		largest = max(largest, len(r.body))
		checkSigned(t, r, r.body)
		for _, rec := range decodeBody(t, r.body).Records {
			if format == AggregationNewline {
				for l := range strings.Lines(string(rec.Data)) {
					seen[strings.TrimRight(l, " \n")]++
				}
				continue
			}
			recs, err := aggregation.Deaggregate(rec.Data, rec.PartitionKey, "")
			if err != nil {
				t.Fatal(err)
			}
			for _, r := range recs {
				seen[strings.TrimRight(string(r.Data), " ")]++
			}
		}
	}
	if streamed := largest > streamMinBody; streamed != (pad > 0) {
		t.Errorf("largest body %d bytes: written in windows %v, want %v", largest, streamed, pad > 0)
	}
	for i := range n {
		if seen[recordData(i)] != 1 {
			t.Errorf("record %d sent %d times", i, seen[recordData(i)])
		}
	}
}

// FuzzPutRecordsBody: for any keys and data, the written body is byte for
// byte the SDK's, whether its aggregates were written before or are
// written in it, at once or in windows (BodyStream), and encoding/json
// reads it.
func FuzzPutRecordsBody(f *testing.F) {
	f.Add("stream", "key", "", []byte("data"))
	f.Add("s\"\\", "k\x00\x7f\u2028", "123", []byte{0, 255})
	f.Add("s", "\xff\xc3", "", []byte{})
	f.Add("stream", "key", "1", bytes.Repeat([]byte{'\n', 2}, 12000))
	f.Fuzz(func(t *testing.T, stream, pk, ehk string, data []byte) {
		inPlace, written := fuzzBodyEntries(pk, ehk, data)
		sdk, body := sdkAndBody(t, stream, written)
		if !bytes.Equal(sdk, body) {
			t.Fatalf("body differs from the SDK's:\n%q\n%q", body, sdk)
		}
		if direct := appendPutRecordsBody(nil, stream, inPlace, nil); !bytes.Equal(direct, body) {
			t.Fatalf("body with the aggregates written in place differs:\n%q\n%q", direct, body)
		}
		streamed, _ := fuzzBodyEntries(pk, ehk, data)
		checkStreamed(t, WireJSON, stream, streamed, body)
		decodeBody(t, body)
	})
}

// appendPutRecordsBody is the JSON body for entries of streamName, written
// whole (s, nil for a scratch of its own).
func appendPutRecordsBody(dst []byte, streamName string, entries []*entry, s *bodyScratch) []byte {
	return appendWholeBody(dst, WireJSON, streamName, entries, s)
}
