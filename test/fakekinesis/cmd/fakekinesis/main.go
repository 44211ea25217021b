// Command fakekinesis runs the fake Kinesis server of package fakekinesis
// on its own, for manual runs and demos: it creates the streams it is
// given, prints its URL on stdout, optionally writes its port to a file,
// and serves until SIGTERM or SIGINT, then prints its counters on stderr.
//
//	fakekinesis -streams logs:4,audit:1 -port-file /tmp/fk.port -throttle-every 10
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
	var faults fakekinesis.Faults
	fs.IntVar(&faults.ThrottleEvery, "throttle-every", 0, "throttle every `N`th entry (0: never)")
	fs.IntVar(&faults.InternalErrorEvery, "internal-error-every", 0, "fail every `N`th entry with InternalFailure (0: never)")
	fs.DurationVar(&faults.Delay, "delay", 0, "hold every put request this long")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	specs, err := parseStreams(*streamList)
	if err != nil {
		return err
	}

	srv, err := fakekinesis.New(fakekinesis.WithMaxRequestBytes(*maxRequest), fakekinesis.WithMaxRecordBytes(*maxRecord))
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
