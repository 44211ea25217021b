package instance

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"

	"github.com/kinesis-kpl/fluent-bit-kinesis-kpl/conf"
	"github.com/kinesis-kpl/fluent-bit-kinesis-kpl/producer"
)

// maxConnections is the producer's requests in flight per instance, and the
// HTTP client's connection pool to match.
const maxConnections = 24

// Open builds an instance that sends to Kinesis: the SDK's default
// credential chain, the configured region and endpoint, and a started
// producer. A problem the user must fix is returned naming the option.
func Open(ctx context.Context, name string, cfg conf.Config, log *slog.Logger) (*Instance, error) {
	opts := []func(*config.LoadOptions) error{
		config.WithHTTPClient(awshttp.NewBuildableClient().WithTransportOptions(func(t *http.Transport) {
			t.MaxIdleConnsPerHost = maxConnections
			t.MaxConnsPerHost = maxConnections * 2
		}).WithTimeout(30 * time.Second)),
	}
	if cfg.Region != "" {
		opts = append(opts, config.WithRegion(cfg.Region))
	}
	awsCfg, err := config.LoadDefaultConfig(ctx, opts...)
	if err != nil {
		return nil, fmt.Errorf("AWS configuration: %w", err)
	}
	if awsCfg.Region == "" {
		return nil, errors.New("region: not set, and the environment names none (set region, or AWS_REGION)")
	}
	if cfg.Insecure {
		log.Warn("endpoint uses plain http: records and request signatures are not encrypted; use this only for a local emulator", "endpoint", cfg.Endpoint)
	}
	client := kinesis.NewFromConfig(awsCfg, func(o *kinesis.Options) {
		if cfg.Endpoint != "" {
			o.BaseEndpoint = aws.String(cfg.Endpoint)
		}
	})
	prod, err := producer.New(&producer.Config{
		StreamName:           cfg.Stream,
		Client:               client,
		GetShards:            producer.GetKinesisShardsFunc(client, cfg.Stream),
		ShardRefreshInterval: cfg.ShardRefreshInterval,
		RecordTTL:            cfg.RecordTTL,
		MaxConnections:       maxConnections,
		FlushInterval:        100 * time.Millisecond,
		Logger:               &producer.SlogLogger{Logger: log},
	})
	if err != nil {
		return nil, fmt.Errorf("producer: %w", err)
	}
	prod.Start()
	return New(name, cfg, prod, log), nil
}
