package instance

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/ratelimit"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials/stscreds"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/sts"

	"github.com/kinesis-kpl/fluent-bit-kinesis-kpl/conf"
	"github.com/kinesis-kpl/fluent-bit-kinesis-kpl/producer"
)

// Room above max_connections in the HTTP pool for the calls the producer
// does not count (ListShards, DescribeStreamSummary, STS).
const extraConnections = 4

// credentialsExpiryWindow refreshes assumed-role credentials this long
// before they expire, so no request is signed with credentials about to
// lapse.
const credentialsExpiryWindow = 5 * time.Minute

// Open builds an instance that sends to Kinesis: the configured
// credentials, region and endpoint, and a started producer. A problem the
// user must fix is returned naming the option.
func Open(ctx context.Context, name string, cfg conf.Config, log *slog.Logger) (*Instance, error) {
	ro, err := RecordOptions(cfg)
	if err != nil {
		return nil, err
	}
	tuneProcessRuntime(log)
	awsCfg, err := AWSConfig(ctx, cfg)
	if err != nil {
		return nil, err
	}
	if cfg.Insecure {
		log.Warn("plain http endpoint (allow_http on): records and request signatures are not encrypted; use this only for a local emulator")
	}
	client := kinesis.NewFromConfig(awsCfg, func(o *kinesis.Options) {
		if cfg.Endpoint != "" {
			o.BaseEndpoint = aws.String(cfg.Endpoint)
		}
	})
	health := newHealth(cfg.FlushTimeout, time.Now)
	m := newMetrics(name, cfg.Stream)
	log.Debug("configured", "region", awsCfg.Region, "credentials", credentialSource(cfg),
		"aggregation", cfg.Aggregation.String(), "compression", string(cfg.Compression), "routed", ro.Stream != nil)
	newProducer := func(ctx context.Context, stream string) (*producer.Producer, error) {
		one := cfg
		one.Stream = stream
		pc, err := producerConfig(ctx, one, client)
		if err != nil {
			return nil, err
		}
		pc.Client = watch(pc.Client, health)
		pc.Observe = m.observePut
		pc.GetShards = m.watchShards(pc.GetShards)
		pc.Logger = &producer.SlogLogger{Logger: log}
		pc.Verbose = log.Enabled(ctx, slog.LevelDebug) // each request's result
		log.Debug("producer", "max_record_size", pc.MaxRecordSize, "request_max_size", pc.BatchSize, "shard_map", pc.GetShards != nil)
		prod, err := producer.New(pc)
		if err != nil {
			return nil, fmt.Errorf("producer: %w", err)
		}
		prod.Start()
		return prod, nil
	}
	in, err := newWithMetrics(ctx, name, cfg, ro, newProducer, log, m)
	if err != nil {
		return nil, err
	}
	if err = m.serve(cfg.MetricsListen); err != nil {
		_ = in.Close(ctx)
		return nil, err
	}
	if cfg.MetricsListen != "" {
		log.Info("serving metrics", "url", "http://"+cfg.MetricsListen+"/metrics")
	}
	in.health = health
	in.startStatsLog(cfg.StatsInterval)
	return in, nil
}

// AWSConfig resolves the SDK configuration of an instance: region,
// credentials, HTTP client and retryer.
//
// Credentials: role_arn, when set, is assumed through STS (with
// external_id, at sts_endpoint) using the base credentials, and its
// temporary credentials are cached and refreshed before they expire. The
// base credentials are the profile's, or the SDK's default chain
// (environment, shared files, web identity, ECS, EC2).
func AWSConfig(ctx context.Context, cfg conf.Config) (aws.Config, error) {
	httpClient := awshttp.NewBuildableClient().WithTransportOptions(func(t *http.Transport) {
		t.MaxIdleConnsPerHost = cfg.MaxConnections + extraConnections
		t.MaxConnsPerHost = cfg.MaxConnections + extraConnections
	}).WithTimeout(cfg.HTTPRequestTimeout)
	opts := []func(*config.LoadOptions) error{
		config.WithHTTPClient(httpClient),
		config.WithRetryer(func() aws.Retryer { return retryer(cfg.AutoRetryRequests) }),
	}
	if cfg.Region != "" {
		opts = append(opts, config.WithRegion(cfg.Region))
	}
	if cfg.Profile != "" {
		opts = append(opts, config.WithSharedConfigProfile(cfg.Profile))
	}
	awsCfg, err := config.LoadDefaultConfig(ctx, opts...)
	if err != nil {
		if cfg.Profile != "" {
			return aws.Config{}, fmt.Errorf("profile: %w", err)
		}
		return aws.Config{}, fmt.Errorf("AWS configuration: %w", err)
	}
	// After LoadDefaultConfig, which applies AWS_CA_BUNDLE to the
	// buildable client it was given: CoalesceTLSWrites takes the TLS
	// configuration as it is when called.
	if bc, ok := awsCfg.HTTPClient.(*awshttp.BuildableClient); ok {
		awsCfg.HTTPClient = bc.WithTransportOptions(producer.CoalesceTLSWrites)
	}
	awsCfg.HTTPClient = readOnlyBodies{awsCfg.HTTPClient}
	if awsCfg.Region == "" {
		return aws.Config{}, errors.New("region: not set, and the environment names none (set region, or AWS_REGION)")
	}
	if cfg.RoleARN != "" {
		stsClient := sts.NewFromConfig(awsCfg, func(o *sts.Options) {
			if cfg.STSEndpoint != "" {
				o.BaseEndpoint = aws.String(cfg.STSEndpoint)
			}
		})
		provider := stscreds.NewAssumeRoleProvider(stsClient, cfg.RoleARN, func(o *stscreds.AssumeRoleOptions) {
			o.RoleSessionName = "kinesis_kpl-" + strconv.FormatInt(time.Now().UnixNano(), 36)
			if cfg.ExternalID != "" {
				o.ExternalID = aws.String(cfg.ExternalID)
			}
		})
		awsCfg.Credentials = aws.NewCredentialsCache(provider, func(o *aws.CredentialsCacheOptions) {
			o.ExpiryWindow = credentialsExpiryWindow
		})
	}
	return awsCfg, nil
}

// readOnlyBodies hands the HTTP client each request body without the
// body's WriteTo method, so that net/http reads it only with Read.
//
// smithy-go, the SDK's HTTP layer, closes a request body as soon as the
// client's Do returns, and once closed the reader it wraps bodies in
// answers WriteTo with io.EOF (where io.WriterTo wants nil at the end).
// After writing the Content-Length bytes of a body larger than its write
// buffer (4 KiB), net/http copies the body once more to find bytes beyond
// them, through WriteTo when the body has it; when the answer came first
// and Do has returned, that io.EOF reads as a failed request write, and
// net/http closes the connection under the answer still being read. A
// PutRecords that Kinesis stored would then fail and be sent again. Read
// after Close gives (0, io.EOF), which the copy takes as the end. The
// producer's own PutRecords (producer/direct.go) sends a body without
// WriteTo, closed after the answer is read; this covers every call the
// SDK sends.
type readOnlyBodies struct{ next aws.HTTPClient }

func (c readOnlyBodies) Do(r *http.Request) (*http.Response, error) {
	if r.Body != nil && r.Body != http.NoBody {
		if _, ok := r.Body.(io.WriterTo); ok {
			shallow := *r
			shallow.Body = struct{ io.ReadCloser }{r.Body}
			r = &shallow
		}
	}
	return c.next.Do(r)
}

// credentialSource names where credentials come from, for the log; never
// the credentials themselves.
func credentialSource(cfg conf.Config) string {
	switch {
	case cfg.RoleARN != "":
		return "role_arn"
	case cfg.Profile != "":
		return "profile"
	}
	return "default chain"
}

// retryer is the SDK's retry policy. The producer retries failed records
// itself, with backoff and within record_ttl; auto_retry_requests adds, as
// in Fluent Bit's C plugins, one immediate retry of a request that failed
// on the network, was throttled or got a 5xx. Off, the SDK never retries.
func retryer(auto bool) aws.Retryer {
	if !auto {
		return aws.NopRetryer{}
	}
	return retry.NewStandard(func(o *retry.StandardOptions) {
		o.MaxAttempts = 2
		o.Backoff = retry.BackoffDelayerFunc(func(int, error) (time.Duration, error) { return 0, nil })
		o.RateLimiter = ratelimit.None // the retry quota would otherwise turn retries off under load
	})
}

// producerConfig maps the options onto the producer. max_record_size auto
// reads the stream's limit with DescribeStreamSummary.
func producerConfig(ctx context.Context, cfg conf.Config, client *kinesis.Client) (*producer.Config, error) {
	pc := &producer.Config{
		StreamName:           cfg.Stream,
		Client:               client,
		ShardRefreshInterval: cfg.ShardRefreshInterval,
		RecordTTL:            cfg.RecordTTL,
		MaxConnections:       cfg.MaxConnections,
		FlushInterval:        100 * time.Millisecond,
		MaxRecordSize:        cfg.MaxRecordSize,
		AggregateBatchSize:   cfg.AggregationMaxSize,
		BatchSize:            cfg.RequestMaxSize,
		RateLimit:            cfg.RateLimit,
		RequestTimeout:       cfg.HTTPRequestTimeout,
	}
	if cfg.ShardRefreshInterval > 0 {
		pc.GetShards = producer.GetKinesisShardsFunc(client, cfg.Stream)
	}
	if cfg.RateLimit == 0 {
		pc.RateLimit = producer.NoRateLimit
	}
	if cfg.WireFormat == conf.WireCBOR {
		pc.WireFormat = producer.WireCBOR
	}
	if cfg.Aggregation == conf.AggregationSimple {
		pc.AggregationFormat = producer.AggregationNewline
	}
	if cfg.Aggregation == conf.AggregationOff {
		pc.AggregateBatchCount = 1 // an aggregate of one record is sent plain
	}
	if cfg.MaxRecordSizeAuto {
		size, err := streamMaxRecordSize(ctx, client, cfg.Stream)
		if err != nil {
			return nil, err
		}
		pc.MaxRecordSize = size
		pc.BatchSize = max(pc.BatchSize, size)
	}
	return pc, nil
}

// streamMaxRecordSize reads a stream's record limit. A stream that does
// not report one has the Kinesis default, 1 MiB.
func streamMaxRecordSize(ctx context.Context, client *kinesis.Client, stream string) (int, error) {
	out, err := client.DescribeStreamSummary(ctx, &kinesis.DescribeStreamSummaryInput{StreamName: aws.String(stream)})
	if err != nil {
		return 0, fmt.Errorf("max_record_size auto: DescribeStreamSummary: %w", err)
	}
	if s := out.StreamDescriptionSummary; s != nil && s.MaxRecordSizeInKiB != nil && *s.MaxRecordSizeInKiB > 0 {
		return min(int(*s.MaxRecordSizeInKiB)<<10, conf.MaxRecordBytes), nil
	}
	return 1 << 20, nil
}
