package e2e

import (
	"bytes"
	"compress/gzip"
	"compress/zlib"
	"crypto/md5"
	"encoding/json"
	"fmt"
	"io"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/klauspost/compress/snappy"
	"github.com/klauspost/compress/zstd"
)

// recordRow is one configuration of TestRecordOptions: an [OUTPUT] matching
// tags "<name>.*", what it is set to, and how to read its records back.
// Names are letters and digits: Fluent Bit's http input drops records
// whose tag (the URL path) holds a '-'.
type recordRow struct {
	name    string
	stream  string   // the stream option; "" is name
	options []string // further [OUTPUT] lines
	// targets are the tags records are posted under, split evenly, and the
	// stream each tag's records must reach; nil is {name.logs: name}.
	targets [][2]string
	// expected is what the stream holds for a posted record; nil: the record.
	expected func(orig []byte) []byte
	// received turns a record's data back into what expected gives; nil:
	// the data. An error names what is wrong with the data.
	received func(data []byte) ([]byte, error)
	// check looks at a stream's records as a whole.
	check func(t *testing.T, got []userRecord)
	skip  string // why the row cannot run in this build
	// lines: each Kinesis record holds records joined by newlines
	// (simple_aggregation); they are split before the checks.
	lines bool
}

// recordRows is every record option that end-to-end runs prove.
func recordRows(start time.Time) []recordRow {
	timeField := regexp.MustCompile(`,"ts":"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3})"}$`)
	idField := regexp.MustCompile(`,"rid":"([0-9a-f]{32}-\d+)"}$`)
	return []recordRow{
		{name: "aggon", check: wantAggregates(true)},
		{name: "aggoff", options: []string{"aggregation off"}, check: wantAggregates(false)},
		// Aggregated, so that kinesalite's CBOR answers stay under the
		// 16 KiB at which it cuts them off.
		{name: "cbor", options: []string{"wire_format cbor"}, check: wantAggregates(true)},
		{name: "simple", options: []string{"simple_aggregation on"}, lines: true, check: wantJoined},
		{name: "zlib", options: []string{"compression zlib"}, received: func(d []byte) ([]byte, error) {
			r, err := zlib.NewReader(bytes.NewReader(d))
			if err != nil {
				return nil, err
			}
			return io.ReadAll(r)
		}},
		{name: "gzip", options: []string{"compression gzip", "compression_level 9"}, received: func(d []byte) ([]byte, error) {
			r, err := gzip.NewReader(bytes.NewReader(d))
			if err != nil {
				return nil, err
			}
			return io.ReadAll(r)
		}},
		{name: "zstd", options: []string{"compression zstd"}, received: func(d []byte) ([]byte, error) {
			dec, err := zstd.NewReader(nil)
			if err != nil {
				return nil, err
			}
			defer dec.Close()
			return dec.DecodeAll(d, nil)
		}},
		{name: "snappy", options: []string{"compression snappy"}, received: func(d []byte) ([]byte, error) {
			return io.ReadAll(snappy.NewReader(bytes.NewReader(d)))
		}},
		{name: "logkey", options: []string{"log_key msg"}, expected: func(orig []byte) []byte {
			var r struct{ Msg string }
			_ = json.Unmarshal(orig, &r)
			return []byte(r.Msg) // raw, not quoted
		}},
		{name: "datakeys", options: []string{"data_keys seq, pk,msg"}, expected: func(orig []byte) []byte {
			var r struct {
				Seq string `json:"seq"`
				PK  string `json:"pk"`
				Msg string `json:"msg"`
			}
			_ = json.Unmarshal(orig, &r)
			return compactJSON(r)
		}},
		{name: "timekey", options: []string{"time_key ts", "time_key_format %Y-%m-%dT%H:%M:%S.%3N"}, received: func(d []byte) ([]byte, error) {
			m := timeField.FindSubmatchIndex(d)
			if m == nil {
				return nil, fmt.Errorf("no ts field at the end")
			}
			ts, err := time.Parse("2006-01-02T15:04:05.000", string(d[m[2]:m[3]]))
			if err != nil || ts.Before(start.Add(-time.Minute)) || ts.After(time.Now().Add(time.Minute)) {
				return nil, fmt.Errorf("ts %q is not the time the record was posted (%v)", d[m[2]:m[3]], err)
			}
			return append(d[:m[0]:m[0]], '}'), nil
		}},
		{name: "recordid", options: []string{"record_id_key rid"}, received: func(d []byte) ([]byte, error) {
			m := idField.FindSubmatchIndex(d)
			if m == nil {
				return nil, fmt.Errorf("no rid field at the end")
			}
			return append(d[:m[0]:m[0]], '}'), nil
		}, check: uniqueIDs(idField)},
		{name: "workers4", options: []string{"workers 4"},
			targets: [][2]string{{"workers4.a", "workers4"}, {"workers4.b", "workers4"}, {"workers4.c", "workers4"}, {"workers4.d", "workers4"}}},
		{name: "route", stream: "route-$TAG[1]", options: []string{"max_streams 2"},
			targets: [][2]string{{"route.one", "route-one"}, {"route.two", "route-two"}}},
	}
}

// compactJSON encodes v as Fluent Bit's JSON and the plugin's encoder write it.
func compactJSON(v any) []byte {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(v)
	return bytes.TrimSuffix(b.Bytes(), []byte("\n"))
}

// wantAggregates checks that records were, or were not, aggregated.
func wantAggregates(on bool) func(t *testing.T, got []userRecord) {
	return func(t *testing.T, got []userRecord) {
		agg, outer := aggregatedShare(got)
		switch {
		case on && outer*10 > len(got):
			t.Errorf("%d records took %d Kinesis records: aggregation is not working", len(got), outer)
		case !on && (agg > 0 || outer != len(got)):
			t.Errorf("aggregation off, yet %d of %d records were aggregated into %d Kinesis records", agg, len(got), outer)
		}
	}
}

// uniqueIDs checks that every record id is different.
func uniqueIDs(field *regexp.Regexp) func(t *testing.T, got []userRecord) {
	return func(t *testing.T, got []userRecord) {
		seen := map[string]bool{}
		for _, r := range got {
			if m := field.FindSubmatch(r.Data); m != nil {
				if seen[string(m[1])] {
					t.Fatalf("record id %s appears twice", m[1])
				}
				seen[string(m[1])] = true
			}
		}
	}
}

// TestRecordOptions runs one Fluent Bit with an [OUTPUT] per row, all to
// one kinesalite, posts 2,000 records with 50 partition-key values to each
// row, and reads every stream (4 shards) back with the AWS deaggregation
// library: every record exactly once, transformed as configured, with its
// own partition key, and every user record inside the hash key range of
// the shard that stored it (the KCL rule for aggregates).
func TestRecordOptions(t *testing.T) {
	e := setup(t)
	start := time.Now().UTC()
	endpoint := kinesalite(t, e)
	rows := recordRows(start)
	var outputs strings.Builder
	for _, row := range rows {
		if row.skip != "" {
			continue
		}
		for _, s := range streamsOf(row) {
			createStream(t, e, endpoint, s, 4)
		}
		stream := row.stream
		if stream == "" {
			stream = row.name
		}
		opts := append([]string{"partition_key pk"}, row.options...)
		if !slices.ContainsFunc(opts, func(o string) bool { return strings.HasPrefix(o, "workers ") }) {
			opts = append(opts, "workers 1") // a flush waits for delivery: never on the engine thread
		}
		outputs.WriteString(output(row.name+".*", stream, endpoint, opts...))
	}
	fb, port := pipeline(t, e, outputs.String())

	const perRow = 2000
	want := map[string]map[string]string{} // stream -> expected data -> partition key
	for _, row := range rows {
		if row.skip != "" {
			continue
		}
		records := makeRecords(perRow, 50, row.name)
		targets := targetsOf(row)
		per := perRow / len(targets)
		for i, tg := range targets {
			part := records[i*per : (i+1)*per]
			post(t, port, tg[0], part)
			if want[tg[1]] == nil {
				want[tg[1]] = map[string]string{}
			}
			for _, r := range part {
				var body struct{ PK string }
				_ = json.Unmarshal(r, &body)
				exp := r
				if row.expected != nil {
					exp = row.expected(r)
				}
				want[tg[1]][string(exp)] = body.PK
			}
		}
	}
	for _, row := range rows {
		if row.skip != "" {
			continue
		}
		for _, s := range streamsOf(row) {
			waitFor(t, e, endpoint, s, len(want[s]), fb)
		}
	}
	fb.shutdown(t)
	if out := fb.output(); strings.Contains(out, "key-") || strings.Contains(out, "café") {
		t.Errorf("the log shows record data or partition keys:\n%s", out)
	}
	for _, row := range rows {
		t.Run(row.name, func(t *testing.T) {
			if row.skip != "" {
				t.Skip(row.skip)
			}
			for _, s := range streamsOf(row) {
				got := readStream(t, e, endpoint, s) // after exit: nothing more, nothing twice
				if row.check != nil {
					row.check(t, got)
				}
				if row.lines {
					got = splitLines(t, got)
				}
				checkReceived(t, want[s], got, row.received)
				agg, outer := aggregatedShare(got)
				t.Logf("stream %s: %d of %d records received, in %d Kinesis records (%d aggregated), shards %v",
					s, len(got), len(want[s]), outer, agg, shardsUsed(got))
				if len(shardsUsed(got)) != 4 {
					t.Errorf("50 keys reached %d of 4 shards", len(shardsUsed(got)))
				}
			}
		})
	}
}

func targetsOf(row recordRow) [][2]string {
	if row.targets != nil {
		return row.targets
	}
	return [][2]string{{row.name + ".logs", row.name}}
}

func streamsOf(row recordRow) []string {
	var out []string
	for _, tg := range targetsOf(row) {
		if len(out) == 0 || out[len(out)-1] != tg[1] {
			out = append(out, tg[1])
		}
	}
	return out
}

// checkReceived asserts that got holds each expected record exactly once,
// after received turns its data back, under its partition key, and inside
// the hash key range of the shard that stored it.
func checkReceived(t *testing.T, want map[string]string, got []userRecord, received func([]byte) ([]byte, error)) {
	t.Helper()
	seen := make(map[string]int, len(got))
	var problems []string
	note := func(format string, args ...any) {
		if len(problems) < 10 {
			problems = append(problems, fmt.Sprintf(format, args...))
		}
	}
	for _, r := range got {
		data := r.Data
		if received != nil {
			var err error
			if data, err = received(r.Data); err != nil {
				note("record on %s: %v", r.Shard, err)
				continue
			}
		}
		pk, ok := want[string(data)]
		if !ok {
			note("unexpected record (%d bytes) on %s", len(data), r.Shard)
			continue
		}
		seen[string(data)]++
		if r.PK != pk {
			note("record with pk field %q arrived with partition key %q", pk, r.PK)
		}
		if !r.InShard {
			note("record with partition key %q is on %s, outside the shard its hash key falls in", r.PK, r.Shard)
		}
	}
	missing, dup := 0, 0
	for k := range want {
		switch n := seen[k]; {
		case n == 0:
			missing++
		case n > 1:
			dup += n - 1
		}
	}
	if missing > 0 || dup > 0 || len(problems) > 0 {
		t.Fatalf("sent %d, received %d: %d missing, %d duplicates\n%s", len(want), len(got), missing, dup, strings.Join(problems, "\n"))
	}
}

// wantJoined checks that newline-joined Kinesis records hold more than one
// record each on average.
func wantJoined(t *testing.T, got []userRecord) {
	t.Helper()
	lines := 0
	for _, r := range got {
		lines += bytes.Count(r.Data, []byte("\n"))
	}
	if len(got) == 0 || lines < 2*len(got) {
		t.Fatalf("%d Kinesis records hold %d lines: records were not joined", len(got), lines)
	}
}

// splitLines turns each newline-joined Kinesis record into one user record
// per line, each under the partition key of its pk field, and in its shard
// when that key's hash falls in the shard's quarter of the hash key space
// (kinesalite splits a 4-shard stream evenly).
func splitLines(t *testing.T, got []userRecord) []userRecord {
	t.Helper()
	var out []userRecord
	for _, r := range got {
		shard, err := strconv.Atoi(strings.TrimPrefix(r.Shard, "shardId-"))
		if err != nil {
			t.Fatalf("shard id %q", r.Shard)
		}
		for line := range bytes.SplitSeq(bytes.TrimSuffix(r.Data, []byte("\n")), []byte("\n")) {
			var body struct{ PK string }
			_ = json.Unmarshal(line, &body)
			sum := md5.Sum([]byte(body.PK))
			out = append(out, userRecord{Shard: r.Shard, Seq: r.Seq, PK: body.PK, InShard: r.InShard && int(sum[0]>>6) == shard, Data: line})
		}
	}
	return out
}
