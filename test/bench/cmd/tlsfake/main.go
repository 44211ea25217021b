// Command tlsfake serves the project's fake Kinesis over TLS with a
// certificate made at start, for clients in another process (the real-path
// benchmark). It prints the https URL, then the CA file to trust, one per
// line, and serves until SIGTERM or SIGINT.
//
//	tlsfake -dir /tmp/x -stream bench -shards 64 [-indefinite]
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/kinesis-kpl/fluent-bit-kinesis-kpl/test/bench"
	"github.com/kinesis-kpl/fluent-bit-kinesis-kpl/test/fakekinesis"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	if err := run(ctx, os.Args[1:]); err != nil && !errors.Is(err, flag.ErrHelp) {
		fmt.Fprintln(os.Stderr, "tlsfake:", err)
		stop()
		os.Exit(2)
	}
}

func run(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("tlsfake", flag.ContinueOnError)
	dir := fs.String("dir", "", "`folder` for ca.pem (required)")
	stream := fs.String("stream", "bench", "stream to create")
	shards := fs.Int("shards", 64, "its shards")
	addr := fs.String("listen", "127.0.0.1:0", "TLS `address`")
	indefinite := fs.Bool("indefinite", false, "write CBOR answers with indefinite lengths, as Jackson does")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *dir == "" || fs.NArg() > 0 {
		return errors.New("usage: tlsfake -dir DIR [-stream NAME] [-shards N] [-listen ADDR]")
	}
	cert, err := bench.NewCertificate(*dir)
	if err != nil {
		return err
	}
	var opts []fakekinesis.Option
	if *indefinite {
		opts = append(opts, fakekinesis.WithIndefiniteLengths())
	}
	fake, err := bench.StartFake(*addr, cert, *stream, *shards, opts...)
	if err != nil {
		return err
	}
	fmt.Printf("%s\n%s\n", fake.URL(), cert.CAFile)
	<-ctx.Done()
	st := fake.Stats()
	fmt.Fprintf(os.Stderr, "tlsfake: %d requests (%d in CBOR), %d entries accepted\n", st.Requests, st.CBORRequests, st.EntriesAccepted)
	return fake.Close()
}
