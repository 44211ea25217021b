package fakekinesis_test

import (
	"context"
	"errors"
	"io"
	"math/big"
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"
	"github.com/aws/smithy-go"

	"github.com/kinesis-kpl/fluent-bit-kinesis-kpl/test/fakekinesis"
)

// testTimeout bounds every test that talks to a server.
const testTimeout = 60 * time.Second

func newServer(t testing.TB, opts ...fakekinesis.Option) *fakekinesis.Server {
	t.Helper()
	srv, err := fakekinesis.New(opts...)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(func() {
		if err := srv.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return srv
}

func newStream(t testing.TB, srv *fakekinesis.Server, name string, shards int) {
	t.Helper()
	if err := srv.CreateStream(name, shards); err != nil {
		t.Fatalf("CreateStream(%q, %d): %v", name, shards, err)
	}
}

// clientOption adjusts the SDK client of a test.
type clientOption func(*kinesis.Options)

// withRetries gives the client the SDK's standard retryer (3 attempts, its
// error classification) without backoff waits.
func withRetries() clientOption {
	return func(o *kinesis.Options) {
		o.Retryer = retry.NewStandard(func(so *retry.StandardOptions) {
			so.Backoff = retry.BackoffDelayerFunc(func(int, error) (time.Duration, error) { return 0, nil })
		})
	}
}

// newTransport returns the HTTP transport for an SDK client of a test:
// its own connections, closed at cleanup, and request bodies as net/http
// can read them to the end (sdkBodies).
func newTransport(t testing.TB) http.RoundTripper {
	t.Helper()
	transport := &http.Transport{}
	t.Cleanup(transport.CloseIdleConnections)
	return sdkBodies{transport}
}

// sdkBodies hands next each request body without its WriteTo method.
//
// smithy-go (the SDK's HTTP layer, v1.28.9) closes the request body as
// soon as Do returns, and the reader it wraps the body in answers WriteTo
// with io.EOF once closed, where an io.WriterTo is to return nil at the
// end. net/http, after writing Content-Length bytes of a body too large
// for its write buffer (4 KiB), copies the body once more to find excess
// bytes, by WriteTo when the body has it. A server that answers as soon as
// it has the last byte lets Do return, and the SDK close the body, before
// that copy: its io.EOF is then a failed request write, and net/http
// closes the connection while the SDK reads the answer ("use of closed
// network connection"). Read after Close gives (0, io.EOF), which a copy
// takes as the end: with WriteTo hidden, the copy finds no excess bytes
// and the connection stays.
type sdkBodies struct{ next http.RoundTripper }

func (s sdkBodies) RoundTrip(r *http.Request) (*http.Response, error) {
	if r.Body != nil && r.Body != http.NoBody {
		r = r.Clone(r.Context())
		r.Body = struct{ io.ReadCloser }{r.Body}
	}
	return s.next.RoundTrip(r)
}

// newClient returns the real aws-sdk-go-v2 Kinesis client pointed at srv,
// with retries off unless withRetries is given.
func newClient(t testing.TB, srv *fakekinesis.Server, opts ...clientOption) *kinesis.Client {
	t.Helper()
	cfg := aws.Config{
		Region:      "us-east-1",
		Credentials: credentials.NewStaticCredentialsProvider("a", "b", ""),
		HTTPClient:  &http.Client{Transport: newTransport(t)},
	}
	return kinesis.NewFromConfig(cfg, func(o *kinesis.Options) {
		o.BaseEndpoint = aws.String(srv.URL())
		o.Retryer = aws.NopRetryer{}
		for _, opt := range opts {
			opt(o)
		}
	})
}

func testContext(t testing.TB) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	t.Cleanup(cancel)
	return ctx
}

// errorCode returns the API error code the SDK reports for err, or "".
func errorCode(err error) string {
	var apiErr smithy.APIError
	if errors.As(err, &apiErr) {
		return apiErr.ErrorCode()
	}
	return ""
}

// entries returns n PutRecords entries with partition keys "pk-<i>" and
// data "data-<i>".
func entries(n int) []types.PutRecordsRequestEntry {
	out := make([]types.PutRecordsRequestEntry, n)
	for i := range out {
		out[i] = types.PutRecordsRequestEntry{
			PartitionKey: aws.String("pk-" + strconv.Itoa(i)),
			Data:         []byte("data-" + strconv.Itoa(i)),
		}
	}
	return out
}

func putRecords(ctx context.Context, c *kinesis.Client, stream string, e []types.PutRecordsRequestEntry) (*kinesis.PutRecordsOutput, error) {
	return c.PutRecords(ctx, &kinesis.PutRecordsInput{StreamName: aws.String(stream), Records: e})
}

// expectedRange returns shard i's range of n by the Kinesis formula,
// computed independently of the server with big.Int.
func expectedRange(i, n int) (start, end *big.Int) {
	space := new(big.Int).Lsh(big.NewInt(1), 128)
	start = new(big.Int).Div(new(big.Int).Mul(space, big.NewInt(int64(i))), big.NewInt(int64(n)))
	end = new(big.Int).Div(new(big.Int).Mul(space, big.NewInt(int64(i+1))), big.NewInt(int64(n)))
	return start, end.Sub(end, big.NewInt(1))
}

func mustBig(t testing.TB, s *string) *big.Int {
	t.Helper()
	if s == nil {
		t.Fatal("nil hash key")
	}
	b, ok := new(big.Int).SetString(*s, 10)
	if !ok {
		t.Fatalf("hash key %q is not decimal", *s)
	}
	return b
}
