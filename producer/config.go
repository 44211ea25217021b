package producer

import (
	"errors"
	"fmt"
	"math"
	"time"
)

// Kinesis limits and the producer's defaults. Validation reads them from
// here only.
const (
	// kinesisMaxBatchCount is the most entries one PutRecords request takes.
	kinesisMaxBatchCount = 500
	// kinesisMaxRequestBytes is the most bytes (data plus partition keys)
	// one PutRecords request takes.
	kinesisMaxRequestBytes = 10 << 20
	// kinesisDefaultRecordBytes is a stream's default maximum record size
	// (data plus partition key).
	kinesisDefaultRecordBytes = 1 << 20
	// kinesisMaxRecordBytes is the largest maximum record size a stream can
	// be configured with.
	kinesisMaxRecordBytes = 10 << 20
	// kinesisMaxPartitionKeyChars is the longest partition key, in Unicode
	// characters.
	kinesisMaxPartitionKeyChars = 256
	// Per-shard write limits that Config.RateLimit is a percentage of.
	shardRecordsPerSecond = 1000
	shardBytesPerSecond   = 1 << 20

	defaultFlushInterval       = 5 * time.Second
	defaultBatchCount          = kinesisMaxBatchCount
	defaultBatchSize           = 5 << 20
	defaultAggregateBatchCount = math.MaxUint32
	defaultAggregateBatchSize  = 50 << 10
	defaultMaxConnections      = 24
	defaultRecordTTL           = 30 * time.Second
	defaultRateLimit           = 150
	defaultBufferMaxBytes      = 64 << 20
	defaultRequestTimeout      = 10 * time.Second
	defaultShardListTimeout    = 10 * time.Second

	// Retry backoff of failed entries: full jitter over an exponentially
	// growing window, capped.
	retryBaseDelay = 100 * time.Millisecond
	retryMaxDelay  = 5 * time.Second
	// minShardRefreshGap keeps shard-mismatch refreshes from hammering
	// ListShards while a reshard settles.
	minShardRefreshGap = time.Second
)

// NoRateLimit as Config.RateLimit turns the per-shard rate limiter off.
const NoRateLimit = -1

// AggregationFormat is how the records that share one Kinesis record are
// put together. Either way only records predicted for the same shard (or,
// without a shard map, of the same key) share one, sizes are counted
// exactly as sent, and an aggregate of one record is sent as the record
// itself.
type AggregationFormat uint8

const (
	// AggregationKPL writes the KPL aggregated-record format, which KCL
	// and the AWS deaggregation libraries split into the user records,
	// each with its own partition key. The default.
	AggregationKPL AggregationFormat = iota
	// AggregationNewline joins the records' data into one Kinesis record,
	// each record followed by a newline (none is added after a record
	// that already ends with one), as Fluent Bit's kinesis_streams output
	// does with simple_aggregation. Consumers read it as plain text, one
	// record a line, so a record's data should hold no newline of its
	// own; the records' partition keys are not sent, the aggregate
	// carries its first record's. A record sent alone gets no newline
	// added.
	AggregationNewline
)

func (f AggregationFormat) String() string {
	switch f {
	case AggregationKPL:
		return "kpl"
	case AggregationNewline:
		return "newline"
	}
	return fmt.Sprintf("AggregationFormat(%d)", uint8(f))
}

// WireFormat is how PutRecords requests and responses are encoded on the
// wire when the Client sends written bodies (see BodyPutter).
type WireFormat uint8

const (
	// WireJSON sends awsJson1.1: data in base64 text, responses in JSON.
	// The default; every endpoint and proxy speaks it.
	WireJSON WireFormat = iota
	// WireCBOR sends the same operation in CBOR, as the AWS Java SDKs do:
	// data as byte strings, a quarter fewer bytes to hash, encrypt and
	// send, and responses read without the SDK's generic decoder.
	WireCBOR
)

func (f WireFormat) String() string {
	switch f {
	case WireJSON:
		return "json"
	case WireCBOR:
		return "cbor"
	}
	return fmt.Sprintf("WireFormat(%d)", uint8(f))
}

// Config is the Producer configuration. Zero fields take the defaults
// documented on each; New validates the result and names every problem.
type Config struct {
	// StreamName is the Kinesis stream. Required.
	StreamName string
	// FlushInterval is how often buffered records are sent even when no
	// request is full. Default 5s.
	FlushInterval time.Duration
	// ShardRefreshInterval is how often GetShards is called to refresh the
	// shard map. 0 refreshes only when a PutRecords result shows a record
	// landed on a shard other than the predicted one.
	ShardRefreshInterval time.Duration
	// GetShards returns the shard map. nil means no shard map: records
	// share an aggregate only with records of the same partition key (or
	// explicit hash key), and records added with Group.AddAnyKey with
	// each other.
	GetShards GetShardsFunc
	// BatchCount is the most entries in one PutRecords request. Default
	// and maximum 500.
	BatchCount int
	// BatchSize is the most bytes (data plus partition keys) in one
	// PutRecords request. Default 5 MiB, maximum 10 MiB.
	BatchSize int
	// AggregationFormat is how records sharing a Kinesis record are put
	// together. Default AggregationKPL. With AggregationNewline an
	// aggregate stored on a shard other than the predicted one (a reshard
	// the map has not seen) is delivered: its records are plain text to
	// every consumer, so KCL's rule for aggregates does not apply.
	AggregationFormat AggregationFormat
	// AggregateBatchCount is the most user records in one aggregate.
	// Default 4294967295.
	AggregateBatchCount int
	// AggregateBatchSize is the most bytes of one aggregate, partition key
	// included. Records larger than this are sent on their own. Default
	// 50 KiB, at most MaxRecordSize.
	AggregateBatchSize int
	// BacklogCount is how many aggregated entries may wait for a request
	// before Put waits. Default BatchCount.
	BacklogCount int
	// MaxConnections is the most PutRecords requests in flight. Default 24.
	// ListShards calls are not counted.
	MaxConnections int
	// Logger receives the producer's logs. Default NopLogger.
	Logger Logger
	// Verbose logs every request's result at Info.
	Verbose bool
	// Client sends PutRecords. Required; *kinesis.Client satisfies it.
	// A *kinesis.Client, or any BodyPutter, is given the request body
	// the producer writes itself (see BodyPutter); other Putters get a
	// PutRecordsInput.
	Client Putter

	// WireFormat is how PutRecords calls are encoded when Client sends
	// written bodies. Default WireJSON.
	WireFormat WireFormat

	// RecordTTL is how long a record may stay in the producer, retries
	// included, before it fails with ErrRecordExpired. Default 30s.
	RecordTTL time.Duration
	// RateLimit keeps each predicted shard under this percentage of the
	// Kinesis per-shard write limits (1,000 records/s and 1 MiB/s).
	// Default 150; NoRateLimit turns it off. It applies only with a shard
	// map.
	RateLimit int
	// MaxRecordSize is the stream's maximum record size (data plus
	// partition key). Default 1 MiB, at most 10 MiB.
	MaxRecordSize int
	// BufferMaxBytes caps the bytes (data plus partition keys) of all
	// records in the producer, buffered, waiting for a retry or in flight.
	// Put waits while it is reached. The producer's own memory stays
	// within about twice this (aggregates copy the records they share)
	// plus bounded free lists; the package documentation gives the
	// ceiling. Default 64 MiB, at least MaxRecordSize.
	BufferMaxBytes int
	// RequestTimeout bounds one PutRecords call. Default 10s.
	RequestTimeout time.Duration
	// Observe, when set, is told about every PutRecords call once it has
	// ended, before its outcome is recorded (for metrics). It runs on the
	// sending goroutine and must be quick; a panic in it is recovered and
	// logged.
	Observe func(*RequestResult)
}

// withDefaults returns a copy of c with zero fields set to their defaults.
func (c Config) withDefaults() Config {
	setDur := func(d *time.Duration, def time.Duration) {
		if *d == 0 {
			*d = def
		}
	}
	setInt := func(i *int, def int) {
		if *i == 0 {
			*i = def
		}
	}
	setDur(&c.FlushInterval, defaultFlushInterval)
	setInt(&c.BatchCount, defaultBatchCount)
	setInt(&c.BatchSize, defaultBatchSize)
	setInt(&c.AggregateBatchCount, defaultAggregateBatchCount)
	setInt(&c.MaxRecordSize, kinesisDefaultRecordBytes)
	setInt(&c.AggregateBatchSize, min(defaultAggregateBatchSize, c.MaxRecordSize))
	setInt(&c.BacklogCount, c.BatchCount)
	setInt(&c.MaxConnections, defaultMaxConnections)
	setDur(&c.RecordTTL, defaultRecordTTL)
	setInt(&c.RateLimit, defaultRateLimit)
	setInt(&c.BufferMaxBytes, defaultBufferMaxBytes)
	setDur(&c.RequestTimeout, defaultRequestTimeout)
	if c.Logger == nil {
		c.Logger = NopLogger{}
	}
	return c
}

// validate lists every problem of a defaulted Config.
func (c *Config) validate() error {
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	if c.StreamName == "" {
		bad("StreamName is required")
	}
	if c.Client == nil {
		bad("Client is required")
	}
	if c.FlushInterval < 0 {
		bad("FlushInterval must not be negative")
	}
	if c.ShardRefreshInterval < 0 {
		bad("ShardRefreshInterval must not be negative")
	}
	if c.BatchCount < 1 || c.BatchCount > kinesisMaxBatchCount {
		bad("BatchCount must be between 1 and %d, got %d", kinesisMaxBatchCount, c.BatchCount)
	}
	if c.MaxRecordSize < 1 || c.MaxRecordSize > kinesisMaxRecordBytes {
		bad("MaxRecordSize must be between 1 and %d bytes, got %d", kinesisMaxRecordBytes, c.MaxRecordSize)
	}
	if c.BatchSize < c.MaxRecordSize || c.BatchSize > kinesisMaxRequestBytes {
		bad("BatchSize must be between MaxRecordSize (%d) and %d bytes, got %d", c.MaxRecordSize, kinesisMaxRequestBytes, c.BatchSize)
	}
	if c.AggregationFormat > AggregationNewline {
		bad("AggregationFormat must be AggregationKPL or AggregationNewline, got %v", c.AggregationFormat)
	}
	if c.WireFormat > WireCBOR {
		bad("WireFormat must be WireJSON or WireCBOR, got %v", c.WireFormat)
	}
	if c.AggregateBatchCount < 1 || c.AggregateBatchCount > math.MaxUint32 {
		bad("AggregateBatchCount must be between 1 and %d, got %d", uint64(math.MaxUint32), c.AggregateBatchCount)
	}
	if c.AggregateBatchSize < 1 || c.AggregateBatchSize > c.MaxRecordSize {
		bad("AggregateBatchSize must be between 1 and MaxRecordSize (%d) bytes, got %d", c.MaxRecordSize, c.AggregateBatchSize)
	}
	if c.BacklogCount < 1 {
		bad("BacklogCount must be at least 1, got %d", c.BacklogCount)
	}
	if c.MaxConnections < 1 || c.MaxConnections > 1024 {
		bad("MaxConnections must be between 1 and 1024, got %d", c.MaxConnections)
	}
	if c.RecordTTL < 0 {
		bad("RecordTTL must not be negative")
	}
	if c.RateLimit < 1 && c.RateLimit != NoRateLimit {
		bad("RateLimit must be a positive percentage or NoRateLimit, got %d", c.RateLimit)
	}
	if c.BufferMaxBytes < c.MaxRecordSize {
		bad("BufferMaxBytes must be at least MaxRecordSize (%d) bytes, got %d", c.MaxRecordSize, c.BufferMaxBytes)
	}
	if c.RequestTimeout < 0 {
		bad("RequestTimeout must not be negative")
	}
	if len(errs) == 0 {
		return nil
	}
	return fmt.Errorf("%w: %w", ErrInvalidConfig, errors.Join(errs...))
}
