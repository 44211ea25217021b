package producer

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/schemas"
	"github.com/aws/smithy-go"
	smithyauth "github.com/aws/smithy-go/auth"
	smithyhttp "github.com/aws/smithy-go/transport/http"
)

// directPutter sends the producer's written PutRecords bodies itself,
// without the SDK's per-call middleware stack, while the SDK still does
// what matters in that stack:
//   - the endpoint comes from the client's endpoint resolver (its rules:
//     region, FIPS, dual-stack, a custom endpoint), resolved once, since
//     none of its inputs changes for a client;
//   - credentials come from the client's provider on every call (the
//     provider caches and refreshes them), and the request is signed with
//     the SDK's SigV4 signer, for the signing name and region the endpoint
//     names;
//   - the request goes through the client's HTTP client (its timeout, TLS
//     and connection pool);
//   - a response is read as by kinesisBodyPutter: a success by
//     ownResponses' readers, an error by the client's protocol into the
//     same typed error (smithy.APIError with the same code and message),
//     wrapped as the SDK wraps it (an *smithy.OperationError around an
//     *awshttp.ResponseError that carries the HTTP status and request ID);
//   - the client's retryer decides, as in the SDK, whether and after what
//     delay a failed attempt is tried again, up to its MaxAttempts. Its
//     retry quota (GetRetryToken) is not used; the plugin turns it off
//     anyway, since the producer retries failed records itself.
//
// The stack, run once per call, costs about four times the CPU and the
// allocations of this path (BenchmarkPutRecordsBodyCall, HTTP left out),
// and an idle plugin pays it on every flush. What the SDK does per call that this does not: clock skew
// correction of the signing time, the SDK's request headers
// (amz-sdk-invocation-id, amz-sdk-request) and its user agent detail,
// interceptors and tracing hooks of the client's options.
type directPutter struct {
	*kinesis.Client // everything but PutRecordsBody
	httpClient      kinesis.HTTPClient
	credentials     aws.CredentialsProvider // nil: unsigned (anonymous)
	signer          *v4.Signer
	retryer         aws.Retryer
	protocol        ownResponses
	schema          *smithy.OperationSchema
	url             string
	headers         http.Header // from the endpoint
	signingName     string
	signingRegion   string
}

// newDirectPutter returns a directPutter for c, or an error when c's
// endpoint cannot be resolved (which the SDK would report on every call).
func newDirectPutter(c *kinesis.Client) (*directPutter, error) {
	o := c.Options()
	if o.EndpointResolverV2 == nil || o.HTTPClient == nil || o.Protocol == nil {
		return nil, errors.New("the client has no endpoint resolver, HTTP client or protocol")
	}
	params := kinesis.EndpointParameters{
		Region:        aws.String(o.Region),
		UseDualStack:  aws.Bool(o.EndpointOptions.UseDualStackEndpoint == aws.DualStackEndpointStateEnabled),
		UseFIPS:       aws.Bool(o.EndpointOptions.UseFIPSEndpoint == aws.FIPSEndpointStateEnabled),
		Endpoint:      o.BaseEndpoint,
		OperationType: aws.String("data"),
	}
	ep, err := o.EndpointResolverV2.ResolveEndpoint(context.Background(), params)
	if err != nil {
		return nil, fmt.Errorf("resolving the Kinesis endpoint: %w", err)
	}
	u := ep.URI
	if o.EndpointOptions.DisableHTTPS {
		u.Scheme = "http"
	}
	if u.Path == "" {
		u.Path = "/"
	}
	d := &directPutter{
		Client:        c,
		httpClient:    o.HTTPClient,
		signer:        v4.NewSigner(),
		retryer:       o.Retryer,
		protocol:      ownResponses{o.Protocol},
		schema:        smithy.NewOperationSchema(schemas.PutRecords, schemas.PutRecordsInput, schemas.PutRecordsOutput),
		url:           u.String(),
		headers:       ep.Headers,
		signingName:   "kinesis",
		signingRegion: o.Region,
	}
	if d.retryer == nil {
		d.retryer = aws.NopRetryer{}
	}
	if o.Credentials != nil && !aws.IsCredentialsProvider(o.Credentials, (*aws.AnonymousCredentials)(nil)) {
		d.credentials = o.Credentials
	}
	// The endpoint rules may name where to sign (a FIPS or another
	// partition's region, say).
	authOpts, _ := smithyauth.GetAuthOptions(&ep.Properties)
	for _, a := range authOpts {
		if a.SchemeID != smithyauth.SchemeIDSigV4 {
			continue
		}
		if name, ok := smithyhttp.GetSigV4SigningName(&a.SignerProperties); ok && name != "" {
			d.signingName = name
		}
		if region, ok := smithyhttp.GetSigV4SigningRegion(&a.SignerProperties); ok && region != "" {
			d.signingRegion = region
		}
	}
	return d, nil
}

// putRecordsTarget is the awsJson1.1 target of PutRecords.
const putRecordsTarget = "Kinesis_20131202.PutRecords"

// userAgent names the SDK whose signer and readers the requests use.
var userAgent = "aws-sdk-go-v2/" + aws.SDKVersion + " api/kinesis#direct"

func (d *directPutter) PutRecordsBody(ctx context.Context, streamName string, format WireFormat, body []byte) (*kinesis.PutRecordsOutput, error) {
	var r bytes.Reader
	return d.send(ctx, format, sha256.Sum256(body), int64(len(body)), func() io.Reader {
		r.Reset(body)
		return &r
	}, nil)
}

// PutRecordsStream sends the body b writes, in windows: once for its
// SHA-256, then again as each attempt sends it.
func (d *directPutter) PutRecordsStream(ctx context.Context, _ string, format WireFormat, b *BodyStream) (*kinesis.PutRecordsOutput, error) {
	sum, n := b.hash()
	return d.send(ctx, format, sum, n, func() io.Reader {
		b.rewind()
		return b
	}, b)
}

// send makes the call, attempts and waits as the retryer says, with the
// body open gives for each attempt, of length n and SHA-256 sum. A body
// that fails to be written (written) ends the call with its error.
func (d *directPutter) send(ctx context.Context, format WireFormat, sum [sha256.Size]byte, n int64, open func() io.Reader, written *BodyStream) (*kinesis.PutRecordsOutput, error) {
	contentType := jsonContentType
	if format == WireCBOR {
		contentType = cborContentType
	}
	payloadHash := hex.EncodeToString(sum[:])
	for attempt := 1; ; attempt++ {
		out, err := d.attempt(ctx, contentType, payloadHash, n, open)
		if err == nil {
			return out, nil
		}
		if written != nil && written.failed() != nil {
			return nil, written.failed()
		}
		err = &smithy.OperationError{ServiceID: kinesis.ServiceID, OperationName: "PutRecords", Err: err}
		if attempt >= d.retryer.MaxAttempts() || ctx.Err() != nil || !d.retryer.IsErrorRetryable(err) {
			return nil, err
		}
		delay, derr := d.retryer.RetryDelay(attempt, err)
		if derr != nil {
			return nil, err
		}
		if delay > 0 {
			t := time.NewTimer(delay)
			select {
			case <-ctx.Done():
				t.Stop()
				return nil, err
			case <-t.C:
			}
		}
	}
}

// attempt makes one signed request and reads its response. Its errors
// are those the SDK's stack returns inside its *smithy.OperationError.
func (d *directPutter) attempt(ctx context.Context, contentType, payloadHash string, n int64, open func() io.Reader) (*kinesis.PutRecordsOutput, error) {
	b := &attemptBody{r: open()}
	// net/http may go on reading the body after Do returns (a failed or
	// canceled attempt); the producer reuses it once the call returns.
	defer b.Close()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, d.url, b)
	if err != nil {
		return nil, &smithy.SerializationError{Err: err}
	}
	req.ContentLength = n
	for k, v := range d.headers {
		req.Header[k] = append([]string(nil), v...) // the signer may add to them
	}
	req.Header.Set("Content-Type", contentType)
	req.Header.Set("X-Amz-Target", putRecordsTarget)
	req.Header.Set("User-Agent", userAgent)
	if d.credentials != nil {
		creds, err := d.credentials.Retrieve(ctx)
		if err != nil {
			return nil, fmt.Errorf("failed to retrieve credentials: %w", err)
		}
		if err := d.signer.SignHTTP(ctx, creds, req, payloadHash, d.signingName, d.signingRegion, time.Now().UTC()); err != nil {
			return nil, fmt.Errorf("signing the request: %w", err)
		}
	}
	resp, err := d.httpClient.Do(req)
	if err != nil {
		if ctx.Err() != nil {
			return nil, &smithy.CanceledError{Err: ctx.Err()}
		}
		return nil, &smithyhttp.RequestSendError{Err: err}
	}
	defer resp.Body.Close()
	sresp := &smithyhttp.Response{Response: resp}
	out := &kinesis.PutRecordsOutput{}
	if err := d.protocol.DeserializeResponse(ctx, d.schema, kinesis.TypeRegistry, sresp, out); err != nil {
		return nil, &awshttp.ResponseError{
			ResponseError: &smithyhttp.ResponseError{Response: sresp, Err: err},
			RequestID:     resp.Header.Get("X-Amzn-Requestid"),
		}
	}
	return out, nil
}

// errBodyClosed is what net/http reads of a body after its attempt ended.
var errBodyClosed = errors.New("producer: request body read after its attempt ended")

// attemptBody is a request body that gives no byte once closed, and
// whose Close waits for a read under way: after it, the producer may
// reuse the bytes, or write the next attempt's (BodyStream).
type attemptBody struct {
	mu     sync.Mutex
	r      io.Reader
	closed bool
}

func (b *attemptBody) Read(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return 0, errBodyClosed
	}
	return b.r.Read(p)
}

func (b *attemptBody) Close() error {
	b.mu.Lock()
	b.closed = true
	b.mu.Unlock()
	return nil
}
