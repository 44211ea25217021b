package producer

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/smithy-go"
)

// cannedHTTP answers every request with one successful PutRecords result,
// reading the request body first as a transport would: an HTTP client
// that costs next to nothing, so that a benchmark through it measures
// the client's own work per call.
type cannedHTTP struct{}

const cannedResult = `{"FailedRecordCount":0,"Records":[{"SequenceNumber":"1","ShardId":"shardId-000000000000"}]}`

func (cannedHTTP) Do(r *http.Request) (*http.Response, error) {
	if _, err := io.Copy(io.Discard, r.Body); err != nil {
		return nil, err
	}
	return &http.Response{StatusCode: 200, Header: http.Header{"Content-Type": {jsonContentType}},
		Body: io.NopCloser(strings.NewReader(cannedResult)), ContentLength: int64(len(cannedResult)), Request: r}, nil
}

// bodyPutters are the two ways a *kinesis.Client sends a written body:
// through the SDK's middleware stack, and directly.
func bodyPutters(tb testing.TB, c *kinesis.Client) []struct {
	name string
	put  BodyPutter
} {
	tb.Helper()
	d, err := newDirectPutter(c)
	if err != nil {
		tb.Fatal(err)
	}
	return []struct {
		name string
		put  BodyPutter
	}{{"sdk", kinesisBodyPutter{c}}, {"direct", d}}
}

// BenchmarkPutRecordsBodyCall is the client's CPU per PutRecords call of
// one small record, HTTP left out: the SDK's stack against the direct
// sender, in the same run.
func BenchmarkPutRecordsBodyCall(b *testing.B) {
	body := appendPutRecordsBody(nil, "logs", []*entry{{data: []byte("payload"), pk: "k"}}, nil)
	ctx := context.Background()
	for _, p := range bodyPutters(b, fakeHTTPClient(cannedHTTP{}, 2)) {
		b.Run("path="+p.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := p.put.PutRecordsBody(ctx, "logs", WireJSON, body); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// scopeOf is the credential scope of a SigV4 Authorization header
// (region/service/aws4_request), without the key and the date.
func scopeOf(auth string) string {
	_, cred, _ := strings.Cut(auth, "Credential=")
	cred, _, _ = strings.Cut(cred, ",")
	parts := strings.SplitN(cred, "/", 3) // key, date, scope
	if len(parts) < 3 {
		return ""
	}
	return parts[2]
}

// TestDirectPutterEndpoint: for every way of naming the endpoint (a custom
// one with a path, the region's, FIPS, dual-stack, other partitions) the
// direct sender sends where the SDK's stack sends, signed for the same
// region and service, with the same target and content type.
func TestDirectPutterEndpoint(t *testing.T) {
	cases := []struct {
		name string
		opts func(*kinesis.Options)
	}{
		{"custom endpoint", func(o *kinesis.Options) { o.BaseEndpoint = aws.String("https://127.0.0.1:4567") }},
		{"custom endpoint with a path", func(o *kinesis.Options) { o.BaseEndpoint = aws.String("https://proxy.example/kinesis/") }},
		{"plain http endpoint", func(o *kinesis.Options) { o.BaseEndpoint = aws.String("http://127.0.0.1:4567") }},
		{"region", func(o *kinesis.Options) { o.BaseEndpoint = nil }},
		{"FIPS", func(o *kinesis.Options) {
			o.BaseEndpoint, o.Region = nil, "us-east-1"
			o.EndpointOptions.UseFIPSEndpoint = aws.FIPSEndpointStateEnabled
		}},
		{"dual-stack", func(o *kinesis.Options) {
			o.BaseEndpoint = nil
			o.EndpointOptions.UseDualStackEndpoint = aws.DualStackEndpointStateEnabled
		}},
		{"China", func(o *kinesis.Options) { o.BaseEndpoint, o.Region = nil, "cn-north-1" }},
		{"GovCloud FIPS", func(o *kinesis.Options) {
			o.BaseEndpoint, o.Region = nil, "us-gov-west-1"
			o.EndpointOptions.UseFIPSEndpoint = aws.FIPSEndpointStateEnabled
		}},
	}
	for _, tc := range cases {
		for _, format := range []WireFormat{WireJSON, WireCBOR} {
			t.Run(tc.name+"/"+format.String(), func(t *testing.T) {
				entries := []*entry{{data: []byte("payload"), pk: "k"}}
				body := appendPutRecordsBody(nil, "logs", entries, nil)
				if format == WireCBOR {
					body = appendPutRecordsCBOR(nil, "logs", entries, nil)
				}
				var sent [2]capturedRequest
				for i := range sent {
					h := &captureHTTP{}
					c := kinesis.New(captureClient(h).Options(), tc.opts)
					// A CBOR body is no JSON to captureHTTP's answer: only
					// the request matters here.
					_, err := bodyPutters(t, c)[i].put.PutRecordsBody(context.Background(), "logs", format, body)
					if err != nil && format == WireJSON {
						t.Fatal(err)
					}
					sent[i] = h.last()
				}
				sdk, direct := sent[0], sent[1]
				if direct.url != sdk.url || wireHost(direct) != wireHost(sdk) || direct.method != sdk.method {
					t.Errorf("direct: %s %s (host %q), the SDK: %s %s (host %q)", direct.method, direct.url, wireHost(direct), sdk.method, sdk.url, wireHost(sdk))
				}
				if got, want := scopeOf(direct.header.Get("Authorization")), scopeOf(sdk.header.Get("Authorization")); got != want || want == "" {
					t.Errorf("signed for %q, the SDK for %q", got, want)
				}
				for _, k := range []string{"X-Amz-Target", "Content-Type"} {
					if got, want := direct.header.Get(k), sdk.header.Get(k); got != want {
						t.Errorf("%s %q, the SDK sends %q", k, got, want)
					}
				}
				if !bytes.Equal(direct.body, body) || direct.contentLength != int64(len(body)) {
					t.Errorf("sent %d bytes (Content-Length %d), want the body's %d", len(direct.body), direct.contentLength, len(body))
				}
			})
		}
	}
}

// wireHost is the Host header a request goes out with: its Host, or its
// URL's host when that is empty.
func wireHost(r capturedRequest) string {
	if r.host != "" {
		return r.host
	}
	u, err := url.Parse(r.url)
	if err != nil {
		return ""
	}
	return u.Host
}

// flakyHTTP fails its first failFirst requests with a network error
// before they reach next.
type flakyHTTP struct {
	mu        sync.Mutex
	failFirst int
	reqs      int
	next      kinesis.HTTPClient
}

func (f *flakyHTTP) Do(r *http.Request) (*http.Response, error) {
	f.mu.Lock()
	f.reqs++
	fail := f.reqs <= f.failFirst
	f.mu.Unlock()
	if fail {
		return nil, &net.OpError{Op: "dial", Net: "tcp", Err: syscall.ECONNRESET}
	}
	return f.next.Do(r)
}

// TestDirectPutterRetries: the client's retryer decides as in the SDK's
// stack: the same number of attempts, and the same outcome, for network
// errors, 5xx and permanent errors, with one retry allowed and with none
// (aws.NopRetryer, auto_retry_requests off).
func TestDirectPutterRetries(t *testing.T) {
	cases := []struct {
		name                  string
		attempts              int // 0: aws.NopRetryer
		networkFails, badFail int
	}{
		{"network error, retried", 2, 1, 0},
		{"network errors beyond the retries", 2, 2, 0},
		{"500, retried", 2, 0, 1},
		{"network error, no retries", 0, 1, 0},
		{"500, no retries", 0, 0, 1},
		{"no fault", 0, 0, 0},
	}
	body := appendPutRecordsBody(nil, "logs", []*entry{{data: []byte("payload"), pk: "k"}}, nil)
	type outcome struct {
		reqs          int
		failed        bool
		class         errClass
		code, errCode string
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var got [2]outcome
			for i := range got {
				h := &flakyHTTP{failFirst: tc.networkFails, next: &captureHTTP{failFirst: tc.badFail}}
				c := kinesis.New(fakeHTTPClient(h, max(tc.attempts, 1)).Options(), func(o *kinesis.Options) {
					if tc.attempts == 0 {
						o.Retryer = aws.NopRetryer{}
					}
				})
				_, err := bodyPutters(t, c)[i].put.PutRecordsBody(context.Background(), "logs", WireJSON, body)
				o := outcome{reqs: h.reqs, failed: err != nil}
				o.class, o.code, _ = classifyError(err)
				if err != nil {
					o.errCode = errorKind(err)
				}
				got[i] = o
			}
			if got[1] != got[0] {
				t.Errorf("direct: %+v\nSDK: %+v", got[1], got[0])
			}
		})
	}
}

// errorKind names a failure as the plugin's metrics do: the API's code,
// or what kind of failure left no response.
func errorKind(err error) string {
	var apiErr smithy.APIError
	var netErr net.Error
	switch {
	case errors.As(err, &apiErr):
		return apiErr.ErrorCode()
	case errors.Is(err, context.Canceled):
		return "canceled"
	case errors.Is(err, context.DeadlineExceeded), errors.As(err, &netErr) && netErr.Timeout():
		return "timeout"
	}
	return "network"
}

// TestDirectPutterDeadlines: a request that gets no answer ends at the
// caller's context (canceled or past its deadline) and at the HTTP
// client's timeout, with the same kind of error as through the SDK's
// stack, and without retrying a canceled call.
func TestDirectPutterDeadlines(t *testing.T) {
	hang := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-hang:
		}
	}))
	defer srv.Close()
	defer close(hang) // before Close: a handler never outlives the test
	body := appendPutRecordsBody(nil, "logs", []*entry{{data: []byte("payload"), pk: "k"}}, nil)
	cases := []struct {
		name          string
		ctx           func() (context.Context, context.CancelFunc)
		clientTimeout time.Duration
		want          string
	}{
		{"canceled", func() (context.Context, context.CancelFunc) {
			ctx, cancel := context.WithCancel(context.Background())
			time.AfterFunc(20*time.Millisecond, cancel)
			return ctx, cancel
		}, 0, "canceled"},
		{"deadline", func() (context.Context, context.CancelFunc) {
			return context.WithTimeout(context.Background(), 20*time.Millisecond)
		}, 0, "timeout"},
		{"HTTP client timeout", func() (context.Context, context.CancelFunc) {
			return context.WithTimeout(context.Background(), 10*time.Second)
		}, 20 * time.Millisecond, "timeout"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			for i, name := range []string{"sdk", "direct"} {
				httpClient := &http.Client{Timeout: tc.clientTimeout}
				c := kinesis.New(fakeHTTPClient(httpClient, 1).Options(), func(o *kinesis.Options) {
					o.BaseEndpoint = aws.String(srv.URL)
				})
				ctx, cancel := tc.ctx()
				start := time.Now()
				_, err := bodyPutters(t, c)[i].put.PutRecordsBody(ctx, "logs", WireJSON, body)
				cancel()
				if err == nil || errorKind(err) != tc.want {
					t.Errorf("%s: error %v (%s), want a %s", name, err, errorKind(err), tc.want)
				}
				if d := time.Since(start); d > 5*time.Second {
					t.Errorf("%s: returned after %v", name, d)
				}
			}
		})
	}
}

// expiringCredentials hands out a new key on every Retrieve, each already
// expired, so that a credentials cache asks again on every use; or fails.
type expiringCredentials struct {
	mu   sync.Mutex
	n    int
	fail bool
}

func (e *expiringCredentials) Retrieve(context.Context) (aws.Credentials, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.fail {
		return aws.Credentials{}, errors.New("no credentials here")
	}
	e.n++
	return aws.Credentials{AccessKeyID: fmt.Sprint("AKID", e.n), SecretAccessKey: "secret",
		CanExpire: true, Expires: time.Now().Add(-time.Minute)}, nil
}

// TestDirectPutterCredentials: every call signs with the client's
// credentials as its provider has them then (expired ones are fetched
// again), and a provider that fails fails the call, before anything is
// sent, as through the SDK's stack.
func TestDirectPutterCredentials(t *testing.T) {
	body := appendPutRecordsBody(nil, "logs", []*entry{{data: []byte("payload"), pk: "k"}}, nil)
	t.Run("refreshed", func(t *testing.T) {
		for i, name := range []string{"sdk", "direct"} {
			h := &captureHTTP{}
			c := kinesis.New(captureClient(h).Options(), func(o *kinesis.Options) {
				o.Credentials = aws.NewCredentialsCache(&expiringCredentials{})
			})
			put := bodyPutters(t, c)[i].put
			for call := 1; call <= 3; call++ {
				if _, err := put.PutRecordsBody(context.Background(), "logs", WireJSON, body); err != nil {
					t.Fatal(err)
				}
				want := fmt.Sprintf("Credential=AKID%d/", call)
				if a := h.last().header.Get("Authorization"); !strings.Contains(a, want) {
					t.Errorf("%s, call %d: signed %q, want %s", name, call, a, want)
				}
			}
		}
	})
	t.Run("failing", func(t *testing.T) {
		var kinds [2]string
		for i := range kinds {
			h := &captureHTTP{}
			c := kinesis.New(captureClient(h).Options(), func(o *kinesis.Options) {
				o.Credentials = aws.NewCredentialsCache(&expiringCredentials{fail: true})
			})
			_, err := bodyPutters(t, c)[i].put.PutRecordsBody(context.Background(), "logs", WireJSON, body)
			if err == nil || len(h.reqs) != 0 {
				t.Fatalf("error %v after %d requests, want an error and none", err, len(h.reqs))
			}
			if class, _, _ := classifyError(err); class != classRetry {
				t.Errorf("classified %v, want a retry", class)
			}
			kinds[i] = errorKind(err)
		}
		if kinds[0] != kinds[1] {
			t.Errorf("direct: %s, SDK: %s", kinds[1], kinds[0])
		}
	})
}

// TestAttemptBody: once its attempt ended, a request body gives no byte,
// so that the producer may reuse the bytes while net/http still holds
// the request.
func TestAttemptBody(t *testing.T) {
	b := &attemptBody{r: bytes.NewReader([]byte("payload"))}
	p := make([]byte, 3)
	if n, err := b.Read(p); n != 3 || err != nil || string(p) != "pay" {
		t.Fatalf("read %d %q, %v", n, p[:n], err)
	}
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	if n, err := b.Read(p); n != 0 || !errors.Is(err, errBodyClosed) {
		t.Errorf("after Close: read %d, %v", n, err)
	}
}

// TestBodyPutterOfClient: a *kinesis.Client sends directly; one whose
// endpoint does not resolve goes through the SDK's stack, which fails
// each call saying why, before sending anything.
func TestBodyPutterOfClient(t *testing.T) {
	h := &captureHTTP{}
	if _, ok := BodyPutterOf(captureClient(h)).(*directPutter); !ok {
		t.Errorf("a *kinesis.Client is sent %T", BodyPutterOf(captureClient(h)))
	}
	bad := kinesis.New(captureClient(h).Options(), func(o *kinesis.Options) { o.BaseEndpoint, o.Region = nil, "not a region!" })
	put := BodyPutterOf(bad)
	if _, ok := put.(kinesisBodyPutter); !ok {
		t.Fatalf("a client without an endpoint is sent %T", put)
	}
	body := appendPutRecordsBody(nil, "logs", []*entry{{data: []byte("payload"), pk: "k"}}, nil)
	if _, err := put.PutRecordsBody(context.Background(), "logs", WireJSON, body); err == nil || len(h.reqs) != 0 {
		t.Errorf("error %v after %d requests, want an error and none", err, len(h.reqs))
	}
}
