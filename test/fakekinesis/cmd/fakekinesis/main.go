// Command fakekinesis runs the fake Kinesis server of package fakekinesis
// on its own, for manual runs and demos: it creates the streams it is
// given, prints its URL on stdout, optionally writes its port to a file,
// and serves until SIGTERM or SIGINT, then prints its counters on stderr.
//
//	fakekinesis -streams logs:4,audit:1 -port-file /tmp/fk.port -throttle-every 10
//	fakekinesis -streams logs:4 -shard-limits -outage-every 5s -outage-for 2s -outage-reset
//
// Point a client's endpoint at the printed URL, with any credentials;
// signatures are not checked.
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
	"path/filepath"
	"strconv"
	"strings"
	"syscall"

	"github.com/kinesis-kpl/fluent-bit-kinesis-kpl/test/fakekinesis"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	switch {
	case errors.Is(err, flag.ErrHelp):
	case err != nil:
		fmt.Fprintln(os.Stderr, "fakekinesis:", err)
		stop()
		os.Exit(2)
	}
}

// streamSpec is one -streams item.
type streamSpec struct {
	name   string
	shards int
}

// parseStreams reads "name:shards,name:shards".
func parseStreams(list string) ([]streamSpec, error) {
	var out []streamSpec
	seen := map[string]bool{}
	for item := range strings.SplitSeq(list, ",") {
		if item = strings.TrimSpace(item); item == "" {
			continue
		}
		name, count, ok := strings.Cut(item, ":")
		shards, err := strconv.Atoi(count)
		if !ok || err != nil || name == "" {
			return nil, fmt.Errorf("-streams: %q is not name:shards", item)
		}
		if seen[name] {
			return nil, fmt.Errorf("-streams: stream %q given twice", name)
		}
		seen[name] = true
		out = append(out, streamSpec{name, shards})
	}
	return out, nil
}

// run serves until ctx ends. It writes the URL to stdout once the streams
// exist and the port file is written.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("fakekinesis", flag.ContinueOnError)
	fs.SetOutput(stderr)
	streamList := fs.String("streams", "", "streams to create, as `name:shards,...`")
	portFile := fs.String("port-file", "", "write the listening port to this `file` (removed on exit)")
	maxRequest := fs.Int("max-request-bytes", fakekinesis.DefaultMaxRequestBytes, "PutRecords request limit (data + partition keys)")
	maxRecord := fs.Int("max-record-bytes", fakekinesis.DefaultMaxRecordBytes, "record limit (data + partition key)")
	indefinite := fs.Bool("indefinite", false, "write CBOR answers with indefinite lengths, as Jackson does")
	var faults fakekinesis.Faults
	fs.IntVar(&faults.ThrottleEvery, "throttle-every", 0, "throttle every `N`th entry (0: never)")
	fs.IntVar(&faults.InternalErrorEvery, "internal-error-every", 0, "fail every `N`th entry with InternalFailure (0: never)")
	fs.DurationVar(&faults.Delay, "delay", 0, "hold every put request this long")
	shardLimits := fs.Bool("shard-limits", false, "enforce Kinesis' per-shard write limits (1,000 records/s, 1 MiB/s, one second of burst)")
	fs.DurationVar(&faults.Outage.Every, "outage-every", 0, "take the server down once every `period` (with -outage-for)")
	fs.DurationVar(&faults.Outage.For, "outage-for", 0, "for this long at the end of each -outage-every period")
	fs.BoolVar(&faults.Outage.Reset, "outage-reset", false, "in an outage reset connections instead of answering 503")
	fs.BoolVar(&faults.ListShardsDenied, "deny-list-shards", false, "answer ListShards with AccessDeniedException")
	fs.BoolVar(&faults.DescribeStreamSummaryDenied, "deny-describe-stream-summary", false, "answer DescribeStreamSummary with AccessDeniedException")
	fs.IntVar(&faults.ReshardAfter, "reshard-after", 0, "reshard the stream that stores the `N`th entry (0: never)")
	fs.IntVar(&faults.ReshardTo, "reshard-to", 0, "the open shard `count` after -reshard-after (0: twice as many)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	if *shardLimits {
		faults.ShardLimit = fakekinesis.KinesisShardLimit
	}
	if err := checkFaults(faults); err != nil {
		return err
	}
	specs, err := parseStreams(*streamList)
	if err != nil {
		return err
	}

	opts := []fakekinesis.Option{fakekinesis.WithMaxRequestBytes(*maxRequest), fakekinesis.WithMaxRecordBytes(*maxRecord)}
	if *indefinite {
		opts = append(opts, fakekinesis.WithIndefiniteLengths())
	}
	srv, err := fakekinesis.New(opts...)
	if err != nil {
		return err
	}
	defer srv.Close()
	for _, s := range specs {
		if err := srv.CreateStream(s.name, s.shards); err != nil {
			return fmt.Errorf("stream %q: %w", s.name, err)
		}
	}
	srv.SetFaults(faults)

	if *portFile != "" {
		if err := writePortFile(*portFile, srv.URL()); err != nil {
			return err
		}
		defer os.Remove(*portFile)
	}
	fmt.Fprintln(stdout, srv.URL())

	<-ctx.Done()
	if err := srv.Close(); err != nil {
		return err
	}
	st := srv.Stats()
	fmt.Fprintf(stderr, "fakekinesis: %d requests, %d entries seen, %d accepted, %d failed by fault\n",
		st.Requests, st.EntriesSeen, st.EntriesAccepted, st.EntriesFailed)
	return nil
}

// checkFaults refuses fault flags that make no sense together or are out
// of range, naming every problem.
func checkFaults(f fakekinesis.Faults) error {
	var problems []error
	bad := func(format string, args ...any) { problems = append(problems, fmt.Errorf(format, args...)) }
	for _, c := range []struct {
		flag string
		n    int
	}{{"-throttle-every", f.ThrottleEvery}, {"-internal-error-every", f.InternalErrorEvery},
		{"-reshard-after", f.ReshardAfter}, {"-reshard-to", f.ReshardTo}} {
		if c.n < 0 {
			bad("%s must not be negative, got %d", c.flag, c.n)
		}
	}
	if f.ReshardTo > fakekinesis.MaxShards {
		bad("-reshard-to must be at most %d, got %d", fakekinesis.MaxShards, f.ReshardTo)
	}
	o := f.Outage
	switch {
	case o.Every < 0 || o.For < 0:
		bad("-outage-every and -outage-for must not be negative")
	case (o.Every > 0) != (o.For > 0):
		bad("-outage-every and -outage-for go together")
	case o.For > o.Every:
		bad("-outage-for (%s) must not be longer than -outage-every (%s)", o.For, o.Every)
	case o.Reset && o.Every == 0:
		bad("-outage-reset needs -outage-every and -outage-for")
	}
	if f.Delay < 0 {
		bad("-delay must not be negative")
	}
	return errors.Join(problems...)
}

// writePortFile writes the port of serverURL to path through a rename, so
// that a reader polling for the file never sees it half written.
func writePortFile(path, serverURL string) error {
	u, err := url.Parse(serverURL)
	if err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), ".fakekinesis-port-*")
	if err != nil {
		return err
	}
	_, werr := tmp.WriteString(u.Port() + "\n")
	cerr := tmp.Close()
	if err := errors.Join(werr, cerr); err != nil {
		os.Remove(tmp.Name())
		return err
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		os.Remove(tmp.Name())
		return err
	}
	return nil
}
