package main

import (
	"bytes"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"
)

func TestParseArgs(t *testing.T) {
	at := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		args    []string
		want    options
		errPart []string
	}{
		{args: []string{"s"}, want: options{stream: "s", from: startAt{kind: types.ShardIteratorTypeTrimHorizon}}},
		{args: []string{"--from", "latest", "s", "--follow", "--shard=shardId-000000000001"},
			want: options{stream: "s", shard: "shardId-000000000001", follow: true, from: startAt{kind: types.ShardIteratorTypeLatest}}},
		{args: []string{"-from=2026-11-25T12:00:00Z", "--endpoint", "http://127.0.0.1:4567", "--profile", "p", "--region", "eu-west-1", "s"},
			want: options{stream: "s", endpoint: "http://127.0.0.1:4567", profile: "p", region: "eu-west-1", from: startAt{kind: types.ShardIteratorTypeAtTimestamp, at: at}}},
		{args: nil, errPart: []string{"STREAM: missing"}},
		{args: []string{"a", "b"}, errPart: []string{"one stream name expected, got 2"}},
		{args: []string{"--from", "yesterday", "--endpoint", "localhost:1", "s"},
			errPart: []string{`--from: "yesterday" is not`, `--endpoint: "localhost:1" is not`}},
		{args: []string{"--endpoint", "ftp://x", "s"}, errPart: []string{`--endpoint: "ftp://x"`}},
		{args: []string{"--nope", "s"}, errPart: []string{"flag provided but not defined: -nope"}},
	}
	for _, tc := range tests {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			got, err := parseArgs(tc.args, io.Discard)
			if len(tc.errPart) > 0 {
				for _, part := range tc.errPart {
					if err == nil || !strings.Contains(err.Error(), part) {
						t.Errorf("error = %v; want one containing %q", err, part)
					}
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got != tc.want {
				t.Errorf("options = %+v; want %+v", got, tc.want)
			}
		})
	}
}

// run prints the summary and sets the exit status from what it met.
func TestRunExitStatus(t *testing.T) {
	tests := []struct {
		name   string
		args   []string
		broken bool
		status int
		stderr string
	}{
		{name: "all read", args: []string{"orders"}, status: 0, stderr: "user_records=30 kcl_discarded_aggregates=0"},
		{name: "malformed aggregate", args: []string{"orders"}, broken: true, status: 1, stderr: "malformed_aggregates=1"},
		{name: "unknown stream", args: []string{"nope"}, status: 1, stderr: "ListShards nope"},
		{name: "bad flag value", args: []string{"--from", "x", "orders"}, status: 2, stderr: `--from: "x"`},
		{name: "help", args: []string{"-h"}, status: 0, stderr: "usage: kplcat"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := reshardedStream()
			if tc.broken {
				f.put("shardId-000000000004", "k", frame([]byte{0x0A, 0x01, 'k', 0x1A, 0x05, 0x08, 0x07, 0x1A, 0x01, 'd'}), t0)
			}
			var out, errOut bytes.Buffer
			if got := run(t.Context(), tc.args, &out, &errOut, f); got != tc.status {
				t.Errorf("status %d; want %d; stderr:\n%s", got, tc.status, errOut.String())
			}
			if !strings.Contains(errOut.String(), tc.stderr) {
				t.Errorf("stderr %q lacks %q", errOut.String(), tc.stderr)
			}
		})
	}
}
