// Command kplcat prints the user records of a Kinesis data stream as JSON
// lines, reading the stream as a KCL consumer would: it follows shard
// lineage (a parent is read to its end before its children), splits KPL
// aggregates into their user records, and applies the KCL's shard rule (an
// aggregate holding a sub-record that hashes outside the shard that stored
// it is discarded whole). What it discarded is counted on stderr.
//
//	kplcat [flags] STREAM
//
// Each output line is one user record:
//
//	{"stream":"app-logs","shard":"shardId-000000000001","sequence_number":"4963...",
//	 "sub_sequence_number":0,"aggregated":true,"partition_key":"web-1",
//	 "arrival":"2026-11-25T12:00:00.123Z","data":{"log":"..."}}
//
// data is the record's bytes as a JSON value when they are valid UTF-8 JSON
// text (compacted onto the line); any other bytes are in data_base64
// instead. explicit_hash_key appears when a sub-record has one. A plain
// (not aggregated) record has sub_sequence_number 0 and aggregated false.
//
// The command owns reading and printing only; the aggregated format belongs
// to package aggregation. It never writes to a stream.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/url"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"
)

const usage = `usage: kplcat [flags] STREAM

Prints the user records of a Kinesis data stream as JSON lines, deaggregating
KPL aggregates and dropping what a KCL consumer drops. Counts go to stderr.

flags:
`

// options are the command line, validated.
type options struct {
	stream   string
	shard    string
	from     startAt
	follow   bool
	endpoint string
	profile  string
	region   string
}

// parseArgs reads the command line. Flags may come before or after STREAM.
// Every problem is named in the one error it returns.
func parseArgs(args []string, stderr io.Writer) (options, error) {
	var o options
	var from string
	fs := flag.NewFlagSet("kplcat", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), usage)
		fs.PrintDefaults()
	}
	fs.StringVar(&o.shard, "shard", "", "read only this shard (`ID`, e.g. shardId-000000000001); its children are not followed")
	fs.StringVar(&from, "from", "TRIM_HORIZON", "where to start: TRIM_HORIZON, LATEST, or an RFC 3339 `time` such as 2026-11-25T12:00:00Z")
	fs.BoolVar(&o.follow, "follow", false, "keep reading new records (and the shards a reshard creates) until interrupted")
	fs.StringVar(&o.endpoint, "endpoint", "", "Kinesis endpoint `URL`, for emulators and VPC endpoints")
	fs.StringVar(&o.profile, "profile", "", "shared AWS config `profile` for credentials and region")
	fs.StringVar(&o.region, "region", "", "AWS `region`; empty: the SDK's default chain (AWS_REGION, the profile)")
	var positional []string
	for {
		if err := fs.Parse(args); err != nil {
			return options{}, err
		}
		if fs.NArg() == 0 {
			break
		}
		positional = append(positional, fs.Arg(0))
		args = fs.Args()[1:]
	}

	var problems []string
	switch len(positional) {
	case 1:
		o.stream = positional[0]
	case 0:
		problems = append(problems, "STREAM: missing")
	default:
		problems = append(problems, fmt.Sprintf("STREAM: one stream name expected, got %d arguments", len(positional)))
	}
	var err error
	if o.from, err = parseFrom(from); err != nil {
		problems = append(problems, err.Error())
	}
	if err := checkEndpoint(o.endpoint); err != nil {
		problems = append(problems, err.Error())
	}
	if len(problems) > 0 {
		return options{}, errors.New(strings.Join(problems, "; "))
	}
	return o, nil
}

// parseFrom reads --from.
func parseFrom(s string) (startAt, error) {
	switch strings.ToUpper(s) {
	case "TRIM_HORIZON":
		return startAt{kind: types.ShardIteratorTypeTrimHorizon}, nil
	case "LATEST":
		return startAt{kind: types.ShardIteratorTypeLatest}, nil
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return startAt{}, fmt.Errorf("--from: %q is not TRIM_HORIZON, LATEST or an RFC 3339 time such as 2026-11-25T12:00:00Z", s)
	}
	return startAt{kind: types.ShardIteratorTypeAtTimestamp, at: t}, nil
}

// checkEndpoint accepts "" or an absolute http(s) URL with a host.
func checkEndpoint(s string) error {
	if s == "" {
		return nil
	}
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("--endpoint: %q is not an http:// or https:// URL with a host", s)
	}
	return nil
}

// newClient builds the Kinesis client from the SDK's default chain, the
// profile and region given, and the endpoint.
func newClient(ctx context.Context, o options) (*kinesis.Client, error) {
	// A bound on each request, so that an endpoint that never answers
	// cannot stall a shard for ever; retries and --follow go on.
	opts := []func(*config.LoadOptions) error{
		config.WithHTTPClient(awshttp.NewBuildableClient().WithTimeout(30 * time.Second)),
	}
	if o.region != "" {
		opts = append(opts, config.WithRegion(o.region))
	}
	if o.profile != "" {
		opts = append(opts, config.WithSharedConfigProfile(o.profile))
	}
	cfg, err := config.LoadDefaultConfig(ctx, opts...)
	if err != nil {
		return nil, fmt.Errorf("AWS configuration: %w", err)
	}
	if cfg.Region == "" {
		return nil, errors.New("region: not set, and the environment names none (use --region, AWS_REGION or a profile with a region)")
	}
	return kinesis.NewFromConfig(cfg, func(ko *kinesis.Options) {
		if o.endpoint != "" {
			ko.BaseEndpoint = aws.String(o.endpoint)
		}
	}), nil
}

// run is the command; it returns the exit status: 0 when everything read
// was printed or discarded by the KCL rule, 1 when reading failed or an
// aggregate could not be decoded, 2 for a bad command line.
func run(ctx context.Context, args []string, stdout, stderr io.Writer, api kinesisAPI) int {
	o, err := parseArgs(args, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil {
		fmt.Fprintf(stderr, "kplcat: %v\n", err)
		return 2
	}
	if api == nil {
		if strings.HasPrefix(o.endpoint, "http://") {
			fmt.Fprintf(stderr, "kplcat: warning: endpoint %s uses plain http: use it only for a local emulator\n", o.endpoint)
		}
		client, err := newClient(ctx, o)
		if err != nil {
			fmt.Fprintf(stderr, "kplcat: %v\n", err)
			return 1
		}
		api = client
	}
	p := &printer{stream: o.stream, out: stdout, errOut: stderr}
	r := &reader{api: api, stream: o.stream, from: o.from, only: o.shard, follow: o.follow,
		idle: time.Second, pace: 200 * time.Millisecond, out: p}
	err = r.run(ctx)
	total := p.total()
	fmt.Fprintln(stderr, total.summary(o.stream))
	switch {
	case err != nil:
		fmt.Fprintf(stderr, "kplcat: %v\n", err)
		return 1
	case total.Malformed > 0:
		return 1
	}
	return 0
}

func main() { os.Exit(runMain()) }

// runMain runs the command until it is done or interrupted. Each shard's
// batch of lines is written to stdout in one call, so stdout needs no
// buffer of its own.
func runMain() int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	return run(ctx, os.Args[1:], os.Stdout, os.Stderr, nil)
}
