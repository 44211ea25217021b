package instance

import (
	"context"
	"encoding/pem"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"

	"github.com/kinesis-kpl/fluent-bit-kinesis-kpl/conf"
	"github.com/kinesis-kpl/fluent-bit-kinesis-kpl/producer"
	"github.com/kinesis-kpl/fluent-bit-kinesis-kpl/test/fakekinesis"
	"github.com/kinesis-kpl/fluent-bit-kinesis-kpl/test/fakests"
)

// isolateAWS clears every credential and config source the SDK's default
// chain reads from this machine, and sets base credentials of its own.
func isolateAWS(t *testing.T) {
	dir := t.TempDir()
	for k, v := range map[string]string{
		"AWS_CONFIG_FILE":             filepath.Join(dir, "config"),
		"AWS_SHARED_CREDENTIALS_FILE": filepath.Join(dir, "credentials"),
		"AWS_EC2_METADATA_DISABLED":   "true",
		"AWS_ACCESS_KEY_ID":           "AKIDBASE",
		"AWS_SECRET_ACCESS_KEY":       "base-secret",
		"AWS_REGION":                  "eu-west-1",
	} {
		t.Setenv(k, v)
	}
	for _, k := range []string{"AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_ROLE_ARN", "AWS_WEB_IDENTITY_TOKEN_FILE",
		"AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", "AWS_CONTAINER_CREDENTIALS_FULL_URI", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_STS"} {
		t.Setenv(k, "")
		os.Unsetenv(k)
	}
}

const (
	stsKeyID        = "ASIAFROMFAKESTS"
	stsSessionToken = "session-token-from-fake-sts"
)

func newFakeSTS(t *testing.T) *fakests.Server {
	s := fakests.New()
	t.Cleanup(s.Close)
	return s
}

// signingProxy stands in front of a fake Kinesis and records the access
// key id and session token each request was signed with.
type signingProxy struct {
	*httptest.Server
	mu     sync.Mutex
	keys   []string
	tokens []string
}

func newSigningProxy(t *testing.T, target string) *signingProxy {
	u, err := url.Parse(target)
	if err != nil {
		t.Fatal(err)
	}
	p := &signingProxy{}
	rp := httputil.NewSingleHostReverseProxy(u)
	p.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p.mu.Lock()
		p.keys = append(p.keys, fakekinesis.AccessKeyID(r.Header.Get("Authorization")))
		p.tokens = append(p.tokens, r.Header.Get("X-Amz-Security-Token"))
		p.mu.Unlock()
		rp.ServeHTTP(w, r)
	}))
	t.Cleanup(p.Close)
	return p
}

func (p *signingProxy) seen() (keys, tokens []string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]string(nil), p.keys...), append([]string(nil), p.tokens...)
}

// accessKeyID takes the key id out of a SigV4 Authorization header:
// "AWS4-HMAC-SHA256 Credential=KEY/date/region/service/aws4_request, ...".

// startKinesis starts a fake Kinesis with stream "s" behind a recording
// proxy, and returns the proxy.
func startKinesis(t *testing.T, opts ...fakekinesis.Option) (*fakekinesis.Server, *signingProxy) {
	srv, err := fakekinesis.New(opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	if err := srv.CreateStream("s", 2); err != nil {
		t.Fatal(err)
	}
	return srv, newSigningProxy(t, srv.URL())
}

func load(t *testing.T, opts conf.MapGetter) conf.Config {
	t.Helper()
	cfg, err := conf.Load(opts)
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

// openAndFlush opens an instance logging at debug, flushes chunks of n
// records, checks they were all delivered, closes the instance and
// returns its log.
func openAndFlush(t *testing.T, cfg conf.Config, chunks, n int) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	var logs syncBuffer
	in, err := Open(ctx, "kinesis_kpl.0", cfg, NewLogger(&logs, "kinesis_kpl.0", slog.LevelDebug))
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	defer in.Close(ctx)
	for i := 0; i < chunks; i++ {
		c, _ := makeChunk(n, i%2 == 0)
		if st := in.Flush("app.logs", c); st != OK {
			t.Fatalf("flush %d = %v, want OK", i, st)
		}
	}
	if got := in.Stats().Delivered.Load(); got != int64(chunks*n) {
		t.Fatalf("delivered %d records, want %d", got, chunks*n)
	}
	if err := in.Close(ctx); err != nil {
		t.Fatal(err)
	}
	logs.mu.Lock()
	defer logs.mu.Unlock()
	return logs.Buffer.String()
}

// With role_arn, the base credentials only call STS; every Kinesis request
// is signed with the credentials STS returned, and external_id reaches
// STS. The assumed credentials are cached: one AssumeRole for many flushes.
func TestRoleARNSignsKinesisWithAssumedCredentials(t *testing.T) {
	isolateAWS(t)
	sts := newFakeSTS(t)
	_, kin := startKinesis(t)
	cfg := load(t, conf.MapGetter{
		"stream": "s", "endpoint": kin.URL, "allow_http": "on",
		"role_arn": "arn:aws:iam::123456789012:role/writer", "external_id": "tenant-42", "sts_endpoint": sts.URL,
	})
	logs := openAndFlush(t, cfg, 3, 20)
	if !strings.Contains(logs, "[debug] [output:kinesis_kpl:kinesis_kpl.0] configured") || !strings.Contains(logs, "credentials=role_arn") {
		t.Errorf("the debug log does not say where credentials come from:\n%s", logs)
	}
	for _, secret := range []string{"base-secret", "secret-from-fake-sts", stsSessionToken} {
		if strings.Contains(logs, secret) {
			t.Errorf("the log holds a credential:\n%s", logs)
		}
	}

	calls := sts.Calls()
	if len(calls) != 1 {
		t.Fatalf("STS got %d calls, want 1 (cached credentials)", len(calls))
	}
	c := calls[0]
	for k, want := range map[string]string{
		"Action": "AssumeRole", "RoleArn": "arn:aws:iam::123456789012:role/writer", "ExternalId": "tenant-42", "auth-key": "AKIDBASE",
	} {
		if got := c.Get(k); got != want {
			t.Errorf("STS call %s = %q, want %q", k, got, want)
		}
	}
	keys, tokens := kin.seen()
	if len(keys) == 0 {
		t.Fatal("the fake Kinesis received no request")
	}
	for i := range keys {
		if keys[i] != stsKeyID || tokens[i] != stsSessionToken {
			t.Fatalf("Kinesis request %d signed by %q with token %q; want %q with the STS session token", i, keys[i], tokens[i], stsKeyID)
		}
	}
}

// Without role_arn, the default chain's credentials sign Kinesis requests
// and STS is never called; profile picks a shared-file profile instead.
func TestBaseCredentials(t *testing.T) {
	cases := []struct {
		name    string
		profile string
		want    string
	}{
		{"default chain", "", "AKIDBASE"},
		{"profile", "writer", "AKIDPROFILE"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			isolateAWS(t)
			creds := os.Getenv("AWS_SHARED_CREDENTIALS_FILE")
			if err := os.WriteFile(creds, []byte("[writer]\naws_access_key_id = AKIDPROFILE\naws_secret_access_key = p\n"), 0o600); err != nil {
				t.Fatal(err)
			}
			_, kin := startKinesis(t)
			opts := conf.MapGetter{"stream": "s", "endpoint": kin.URL, "allow_http": "on"}
			if tc.profile != "" {
				opts["profile"] = tc.profile
			}
			openAndFlush(t, load(t, opts), 1, 5)
			keys, _ := kin.seen()
			for i, k := range keys {
				if k != tc.want {
					t.Fatalf("request %d signed by %q, want %q", i, k, tc.want)
				}
			}
		})
	}
}

func TestUnknownProfileFailsOpen(t *testing.T) {
	isolateAWS(t)
	cfg := load(t, conf.MapGetter{"stream": "s", "profile": "missing"})
	_, err := Open(context.Background(), "x", cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err == nil || !strings.HasPrefix(err.Error(), "profile: ") {
		t.Fatalf("Open = %v, want an error naming profile", err)
	}
}

// Web identity (EKS service accounts) comes through the default chain:
// AssumeRoleWithWebIdentity at the STS endpoint the environment names.
func TestWebIdentityThroughTheChain(t *testing.T) {
	isolateAWS(t)
	os.Unsetenv("AWS_ACCESS_KEY_ID")
	os.Unsetenv("AWS_SECRET_ACCESS_KEY")
	sts := newFakeSTS(t)
	token := filepath.Join(t.TempDir(), "token")
	if err := os.WriteFile(token, []byte("web-identity-token"), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("AWS_WEB_IDENTITY_TOKEN_FILE", token)
	t.Setenv("AWS_ROLE_ARN", "arn:aws:iam::123456789012:role/pod")
	t.Setenv("AWS_ENDPOINT_URL_STS", sts.URL)
	_, kin := startKinesis(t)
	openAndFlush(t, load(t, conf.MapGetter{"stream": "s", "endpoint": kin.URL, "allow_http": "on"}), 1, 5)

	calls := sts.Calls()
	if len(calls) != 1 || calls[0].Get("Action") != "AssumeRoleWithWebIdentity" || calls[0].Get("WebIdentityToken") != "web-identity-token" {
		t.Fatalf("STS calls = %v, want one AssumeRoleWithWebIdentity with the token", calls)
	}
	keys, _ := kin.seen()
	for i, k := range keys {
		if k != stsKeyID {
			t.Fatalf("request %d signed by %q, want %q", i, k, stsKeyID)
		}
	}
}

// auto_retry_requests: one immediate retry of a failed request inside the
// SDK when on, none when off.
func TestAutoRetryRequests(t *testing.T) {
	for _, tc := range []struct {
		value string
		want  int
	}{{"on", 2}, {"off", 1}} {
		t.Run(tc.value, func(t *testing.T) {
			isolateAWS(t)
			var mu sync.Mutex
			attempts := 0
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				mu.Lock()
				attempts++
				mu.Unlock()
				w.Header().Set("Content-Type", "application/x-amz-json-1.1")
				w.WriteHeader(http.StatusInternalServerError)
				_, _ = io.WriteString(w, `{"__type":"InternalFailure","message":"injected"}`)
			}))
			defer srv.Close()
			cfg := load(t, conf.MapGetter{"stream": "s", "endpoint": srv.URL, "allow_http": "on", "auto_retry_requests": tc.value})
			client := testClient(t, cfg)
			start := time.Now()
			_, err := client.ListShards(context.Background(), &kinesis.ListShardsInput{StreamName: aws.String("s")})
			if err == nil {
				t.Fatal("ListShards succeeded against a server that always fails")
			}
			mu.Lock()
			defer mu.Unlock()
			if attempts != tc.want {
				t.Fatalf("%d attempts, want %d", attempts, tc.want)
			}
			if d := time.Since(start); d > 5*time.Second {
				t.Fatalf("the retry waited %v; it must be immediate", d)
			}
		})
	}
}

// http_request_timeout bounds a request to a server that never answers.
func TestHTTPRequestTimeout(t *testing.T) {
	isolateAWS(t)
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-release:
		}
	}))
	defer srv.Close()
	defer close(release)
	cfg := load(t, conf.MapGetter{"stream": "s", "endpoint": srv.URL, "allow_http": "on",
		"http_request_timeout": "200ms", "auto_retry_requests": "off"})
	client := testClient(t, cfg)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, err := client.ListShards(ctx, &kinesis.ListShardsInput{StreamName: aws.String("s")})
	if err == nil || ctx.Err() != nil {
		t.Fatalf("ListShards = %v (test context: %v); want the client's own timeout", err, ctx.Err())
	}
}

func testClient(t *testing.T, cfg conf.Config) *kinesis.Client {
	t.Helper()
	awsCfg, err := AWSConfig(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	return kinesis.NewFromConfig(awsCfg, func(o *kinesis.Options) { o.BaseEndpoint = aws.String(cfg.Endpoint) })
}

func TestMaxConnectionsSizesTheTransport(t *testing.T) {
	isolateAWS(t)
	awsCfg, err := AWSConfig(context.Background(), load(t, conf.MapGetter{"stream": "s", "max_connections": "50"}))
	if err != nil {
		t.Fatal(err)
	}
	ro, ok := awsCfg.HTTPClient.(readOnlyBodies)
	if !ok {
		t.Fatalf("HTTP client is %T, want readOnlyBodies", awsCfg.HTTPClient)
	}
	bc, ok := ro.next.(*awshttp.BuildableClient)
	if !ok {
		t.Fatalf("HTTP client under readOnlyBodies is %T", ro.next)
	}
	if tr := bc.GetTransport(); tr.MaxConnsPerHost != 50+extraConnections || tr.MaxIdleConnsPerHost != 50+extraConnections {
		t.Fatalf("transport allows %d connections (%d idle), want %d", tr.MaxConnsPerHost, tr.MaxIdleConnsPerHost, 50+extraConnections)
	}
	if bc.GetTimeout() != 10*time.Second {
		t.Fatalf("client timeout %v, want the default http_request_timeout 10s", bc.GetTimeout())
	}
}

// The transport dials TLS itself (producer.CoalesceTLSWrites), and still
// trusts what AWS_CA_BUNDLE names, which the SDK adds to the transport's
// TLS configuration after the plugin's options.
func TestTransportCoalescesAndTrustsTheCABundle(t *testing.T) {
	isolateAWS(t)
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n, _ := io.Copy(io.Discard, r.Body)
		fmt.Fprint(w, n)
	}))
	defer srv.Close()
	post := func() (string, error) {
		awsCfg, err := AWSConfig(context.Background(), load(t, conf.MapGetter{"stream": "s"}))
		if err != nil {
			t.Fatal(err)
		}
		tr := awsCfg.HTTPClient.(readOnlyBodies).next.(*awshttp.BuildableClient).GetTransport()
		if tr.DialTLSContext == nil {
			t.Fatal("the transport dials TLS as net/http does, in a write per TLS record")
		}
		req, _ := http.NewRequest(http.MethodPost, srv.URL, strings.NewReader(strings.Repeat("x", 300<<10)))
		resp, err := awsCfg.HTTPClient.Do(req)
		if err != nil {
			return "", err
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		return string(b), err
	}
	if _, err := post(); err == nil || !strings.Contains(err.Error(), "certificate") {
		t.Fatalf("POST to a server of a CA nobody named: %v, want a certificate error", err)
	}
	bundle := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(bundle, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw}), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("AWS_CA_BUNDLE", bundle)
	if got, err := post(); err != nil || got != strconv.Itoa(300<<10) {
		t.Fatalf("POST with the server's CA in AWS_CA_BUNDLE: %q, %v; want %d bytes read", got, err, 300<<10)
	}
}

// doFunc is an aws.HTTPClient of a test.
type doFunc func(*http.Request) (*http.Response, error)

func (f doFunc) Do(r *http.Request) (*http.Response, error) { return f(r) }

// writerToBody is a request body with WriteTo, as the SDK's are.
type writerToBody struct {
	*strings.Reader
	closed bool
}

func (b *writerToBody) Close() error { b.closed = true; return nil }

// The client hands net/http request bodies it can read only with Read, and
// the same bytes; the caller's request is left as it was.
func TestReadOnlyBodies(t *testing.T) {
	const payload = `{"Records":[]}`
	for _, tt := range []struct {
		name string
		body io.ReadCloser
	}{
		{"body with WriteTo", &writerToBody{Reader: strings.NewReader(payload)}},
		{"body without WriteTo", io.NopCloser(strings.NewReader(payload))},
		{"no body", http.NoBody},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var got string
			c := readOnlyBodies{doFunc(func(r *http.Request) (*http.Response, error) {
				if _, ok := r.Body.(io.WriterTo); ok && r.Body != http.NoBody {
					t.Errorf("the body reaching the transport has WriteTo (%T)", r.Body)
				}
				b, err := io.ReadAll(r.Body)
				if err != nil {
					t.Errorf("reading the body: %v", err)
				}
				got = string(b)
				return &http.Response{StatusCode: http.StatusOK, Body: http.NoBody}, r.Body.Close()
			})}
			req, err := http.NewRequest(http.MethodPost, "http://127.0.0.1/", tt.body)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := c.Do(req); err != nil {
				t.Fatal(err)
			}
			if want := map[bool]string{true: "", false: payload}[tt.body == http.NoBody]; got != want {
				t.Errorf("the transport read %q, want %q", got, want)
			}
			if req.Body != tt.body {
				t.Errorf("the caller's request body was replaced")
			}
			if b, ok := tt.body.(*writerToBody); ok && !b.closed {
				t.Errorf("closing the body the transport got did not close the caller's")
			}
		})
	}
}

// The options that shape sending reach the producer's Config.
func TestProducerConfigMapping(t *testing.T) {
	isolateAWS(t)
	srv, _ := startKinesis(t, fakekinesis.WithMaxRecordBytes(8<<20))
	cases := []struct {
		name  string
		opts  conf.MapGetter
		check func(*producer.Config) bool
	}{
		{"defaults", nil, func(p *producer.Config) bool {
			return p.GetShards != nil && p.AggregateBatchCount == 0 && p.RateLimit == 150 && p.MaxConnections == 24 &&
				p.MaxRecordSize == 1<<20 && p.AggregateBatchSize == 50<<10 && p.BatchSize == 5<<20 && p.RequestTimeout == 10*time.Second &&
				p.WireFormat == producer.WireJSON
		}},
		{"wire_format cbor", conf.MapGetter{"wire_format": "cbor"}, func(p *producer.Config) bool { return p.WireFormat == producer.WireCBOR }},
		{"aggregation off", conf.MapGetter{"aggregation": "off"}, func(p *producer.Config) bool { return p.AggregateBatchCount == 1 }},
		{"simple aggregation", conf.MapGetter{"simple_aggregation": "on", "aggregation": "off"}, func(p *producer.Config) bool {
			return p.AggregationFormat == producer.AggregationNewline && p.AggregateBatchCount == 0
		}},
		{"rate_limit off", conf.MapGetter{"rate_limit": "off"}, func(p *producer.Config) bool { return p.RateLimit == producer.NoRateLimit }},
		{"no shard map", conf.MapGetter{"shard_refresh_interval": "0"}, func(p *producer.Config) bool { return p.GetShards == nil }},
		{"sizes", conf.MapGetter{"max_record_size": "2MiB", "aggregation_max_size": "1MiB", "request_max_size": "10MiB", "max_connections": "7", "record_ttl": "1m"},
			func(p *producer.Config) bool {
				return p.MaxRecordSize == 2<<20 && p.AggregateBatchSize == 1<<20 && p.BatchSize == 10<<20 && p.MaxConnections == 7 && p.RecordTTL == time.Minute
			}},
		{"max_record_size auto", conf.MapGetter{"max_record_size": "auto"}, func(p *producer.Config) bool {
			return p.MaxRecordSize == 8<<20 && p.BatchSize == 8<<20
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			opts := conf.MapGetter{"stream": "s", "endpoint": srv.URL(), "allow_http": "on"}
			for k, v := range tc.opts {
				opts[k] = v
			}
			cfg := load(t, opts)
			pc, err := producerConfig(context.Background(), cfg, testClient(t, cfg))
			if err != nil {
				t.Fatal(err)
			}
			if !tc.check(pc) {
				t.Fatalf("producer config %+v", *pc)
			}
		})
	}
}

func TestMaxRecordSizeAutoNeedsTheStream(t *testing.T) {
	isolateAWS(t)
	srv, _ := startKinesis(t)
	cfg := load(t, conf.MapGetter{"stream": "missing", "endpoint": srv.URL(), "allow_http": "on", "max_record_size": "auto", "auto_retry_requests": "off"})
	_, err := producerConfig(context.Background(), cfg, testClient(t, cfg))
	if err == nil || !strings.Contains(err.Error(), "max_record_size auto") {
		t.Fatalf("producerConfig = %v, want an error naming max_record_size auto", err)
	}
}

// Open routes a templated stream: each tag's records reach their own
// stream of a real Kinesis API, through producers made with max_record_size
// auto (DescribeStreamSummary per stream).
func TestOpenRoutesStreamTemplates(t *testing.T) {
	isolateAWS(t)
	srv, _ := startKinesis(t)
	for _, s := range []string{"logs-alpha", "logs-beta"} {
		if err := srv.CreateStream(s, 2); err != nil {
			t.Fatal(err)
		}
	}
	cfg := load(t, conf.MapGetter{"stream": "logs-$TAG[1]", "endpoint": srv.URL(), "allow_http": "on", "region": "us-east-1",
		"partition_key": "pk", "max_record_size": "auto", "flush_timeout": "5s"})
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	in, err := Open(ctx, "kinesis_kpl.0", cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	for i, tag := range []string{"app.alpha", "app.beta", "app.missing"} {
		c, _ := makeChunk(30+i, false)
		want := OK
		if tag == "app.missing" {
			want = Retry // the stream does not exist (yet): DescribeStreamSummary fails
		}
		if got := in.Flush(tag, c); got != want {
			t.Fatalf("Flush(%s) = %s, want %s", tag, got, want)
		}
	}
	if err := in.Close(ctx); err != nil {
		t.Fatal(err)
	}
	for stream, want := range map[string]int{"logs-alpha": 30, "logs-beta": 31} {
		recs, err := srv.UserRecords(stream)
		if err != nil || len(recs) != want {
			t.Errorf("%s holds %d user records (%v), want %d", stream, len(recs), err, want)
		}
	}
}

// wire_format reaches the wire: cbor sends every PutRecords in CBOR, json
// (the default) none, and both deliver every record.
func TestWireFormatReachesTheWire(t *testing.T) {
	isolateAWS(t)
	for _, format := range []string{"", "cbor", "json"} {
		t.Run("wire_format="+format, func(t *testing.T) {
			srv, _ := startKinesis(t)
			opts := conf.MapGetter{"stream": "s", "endpoint": srv.URL(), "allow_http": "on"}
			if format != "" {
				opts["wire_format"] = format
			}
			openAndFlush(t, load(t, opts), 2, 50)
			st := srv.Stats()
			puts := st.Operations["PutRecords"]
			want := 0
			if format == "cbor" {
				want = puts
			}
			if puts == 0 || st.CBORRequests != want {
				t.Errorf("%d of %d PutRecords in CBOR, want %d", st.CBORRequests, puts, want)
			}
		})
	}
}
