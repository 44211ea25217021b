package e2e

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/kinesis-kpl/fluent-bit-kinesis-kpl/test/fakekinesis"
)

// Reliability runs: real Fluent Bit through the plugin against the fake
// with Kinesis' own failure modes (shard limits, outages, a PutRecords-only
// policy, a missing stream next to healthy ones), each ending in an exact
// count of every record.
//
// KPL_E2E_SCALE (a fraction such as 0.1) shrinks every record count for a
// quick run; the defaults are the figures the project reports.

// scaled returns n times KPL_E2E_SCALE, or n when it is not set.
func scaled(t *testing.T, n int) int {
	t.Helper()
	v := os.Getenv("KPL_E2E_SCALE")
	if v == "" {
		return n
	}
	f, err := strconv.ParseFloat(v, 64)
	if err != nil || f <= 0 || f > 1 {
		t.Fatalf("KPL_E2E_SCALE=%q: want a number in (0, 1]", v)
	}
	return max(int(float64(n)*f), 100)
}

// figures is the outcome of a run, counted record by record.
type figures struct {
	sent, accepted, lost, duplicated int
	// lostResponse counts the duplicates that a lost response explains: the
	// extra copies of a record, up to the number of its copies stored under
	// a response the fake lost. They are in duplicated too.
	lostResponse int
	// outsideShard counts copies that a KCL consumer drops: the user
	// records of a Kinesis record any of whose user records hashes outside
	// the shard that stored it (an aggregate built for a map that a reshard
	// made stale; KCL drops such an aggregate whole). They count as neither
	// accepted nor duplicated; the producer must put those records again.
	outsideShard int
	// lostOutside counts the lost records that did arrive, but only in
	// aggregates a KCL consumer drops: the producer did not put them again.
	lostOutside int
	// wrongKey counts copies (keyed runs) that arrived under a partition
	// key other than their pk field.
	wrongKey   int
	peakRSSKiB int
	elapsed    time.Duration
}

// delivery counts, record by record, what a KCL consumer reads of the n
// records record(0) ... record(n-1) of makeRecords, which carry their index
// in their seq field. It holds a few bytes per record, so that a long run
// can be counted as it goes (see add).
type delivery struct {
	record func(i int) []byte
	keyed  bool // the plugin uses the pk field as the partition key
	// Per record: copies read, those of them stored under a lost response,
	// and whether a copy was in an aggregate KCL drops.
	copies, unanswered []uint16
	dropped            []bool
	f                  figures // the counts by copy, not by record
	unexpected         int     // copies of no record sent
}

func newDelivery(n int, record func(int) []byte, keyed bool) *delivery {
	return &delivery{record: record, keyed: keyed, copies: make([]uint16, n), unanswered: make([]uint16, n),
		dropped: make([]bool, n), f: figures{sent: n}}
}

// tally counts what arrived (got) against what was sent (want).
func tally(want [][]byte, got []userRecord, keyed bool) figures {
	d := newDelivery(len(want), func(i int) []byte { return want[i] }, keyed)
	d.add(got)
	return d.figures()
}

// add counts user records read from the stream. Each call must hold every
// user record of the Kinesis records it holds (the fake hands them over
// whole), since KCL drops an aggregate whole when any of its records hashes
// outside the shard that stored it.
func (d *delivery) add(got []userRecord) {
	dropped := map[string]bool{} // sequence numbers of the Kinesis records KCL drops
	for _, r := range got {
		if !r.InShard {
			dropped[r.Seq] = true
		}
	}
	for _, r := range got {
		i, ok := d.index(r.Data)
		switch {
		case dropped[r.Seq]:
			d.f.outsideShard++
			if ok {
				d.dropped[i] = true
			}
			continue
		case !ok:
			d.unexpected++
			continue
		}
		d.copies[i] = min(d.copies[i]+1, math.MaxUint16-1)
		if r.ResponseLost {
			d.unanswered[i]++
		}
		if d.keyed {
			var body struct {
				PK string `json:"pk"`
			}
			if json.Unmarshal(r.Data, &body) != nil || body.PK != r.PK {
				d.f.wrongKey++
			}
		}
	}
}

// index returns the index of the record whose bytes data are, from its seq
// field ("prefix-000123", first).
func (d *delivery) index(data []byte) (int, bool) {
	rest, ok := bytes.CutPrefix(data, []byte(`{"seq":"`))
	end := bytes.IndexByte(rest, '"')
	if !ok || end < 0 {
		return 0, false
	}
	seq := rest[:end]
	i, err := strconv.Atoi(string(seq[bytes.LastIndexByte(seq, '-')+1:]))
	if err != nil || i < 0 || i >= len(d.copies) || !bytes.Equal(data, d.record(i)) {
		return 0, false
	}
	return i, true
}

// figures returns the counts so far.
func (d *delivery) figures() figures {
	f := d.f
	for i, n := range d.copies {
		switch {
		case n == 0:
			f.lost++
			if d.dropped[i] {
				f.lostOutside++
			}
		default:
			f.accepted++
			f.duplicated += int(n) - 1
			f.lostResponse += min(int(n)-1, int(d.unanswered[i]))
		}
	}
	// A copy of no record sent counts as a duplicate of nothing: it must
	// not happen either.
	f.duplicated += d.unexpected
	return f
}

// add counts g's records into f.
func (f *figures) add(g figures) {
	f.sent += g.sent
	f.accepted += g.accepted
	f.lost += g.lost
	f.duplicated += g.duplicated
	f.lostResponse += g.lostResponse
	f.lostOutside += g.lostOutside
	f.outsideShard += g.outsideShard
	f.wrongKey += g.wrongKey
}

func (f figures) String() string {
	return fmt.Sprintf("sent %d, accepted %d, lost %d (%d only in aggregates KCL drops), duplicated %d (%d by lost responses), "+
		"copies in aggregates KCL drops %d, under a wrong key %d, peak RSS %.1f MiB, %s",
		f.sent, f.accepted, f.lost, f.lostOutside, f.duplicated, f.lostResponse, f.outsideShard, f.wrongKey,
		float64(f.peakRSSKiB)/1024, f.elapsed.Round(100*time.Millisecond))
}

// exactlyOnce logs the figures on one line and fails the test unless a
// KCL consumer reads every record once, under its own key. Copies in
// aggregates KCL drops are allowed only after a reshard (reshard).
func (f figures) exactlyOnce(t *testing.T, reshard bool) {
	t.Helper()
	t.Logf("figures: %s", f)
	if f.lost != 0 || f.duplicated != 0 || f.wrongKey != 0 || f.accepted != f.sent || f.outsideShard != 0 && !reshard {
		t.Errorf("not exactly once: %s", f)
	}
}

// postPaced posts n records, record(0) to record(n-1), to tag spread
// evenly over d, as a service that logs steadily would, so that
// time-driven faults meet records in flight. It calls after (unless nil)
// after each post.
func postPaced(t *testing.T, port int, tag string, n int, record func(int) []byte, d time.Duration, after func()) {
	t.Helper()
	const every = 100 * time.Millisecond
	steps := max(int(d/every), 1)
	per := (n + steps - 1) / steps
	tick := time.NewTicker(every)
	defer tick.Stop()
	batch := make([][]byte, 0, per)
	for i := 0; i < n; i += per {
		if i > 0 {
			<-tick.C
		}
		batch = batch[:0]
		for j := i; j < min(i+per, n); j++ {
			batch = append(batch, record(j))
		}
		post(t, port, tag, batch)
		if after != nil {
			after()
		}
	}
}

// waitDelivered polls the fake until stream holds every record of want
// where a KCL consumer would take it, or within passes, and returns the
// figures it saw last. It fails at once if Fluent Bit exits. Records put
// again after landing outside their shard come after the count of stored
// records is complete, so it counts cheaply first and tallies after.
func waitDelivered(t *testing.T, srv *fakekinesis.Server, stream string, want [][]byte, keyed bool, fb *proc, within time.Duration) figures {
	t.Helper()
	deadline := time.Now().Add(within)
	var n int
	var err error
	pollUntil(t, fb, within, func() bool {
		n, err = srv.UserRecordCount(stream)
		return err != nil || n >= len(want)
	})
	if err != nil {
		t.Fatalf("the fake cannot read %s: %v", stream, err)
	}
	var f figures
	var tallied time.Time
	pollUntil(t, fb, time.Until(deadline), func() bool {
		if time.Since(tallied) < 2*time.Second { // a tally reads every record
			return false
		}
		tallied = time.Now()
		f = tally(want, fakeRecords(t, srv, stream), keyed)
		return f.accepted == f.sent
	})
	if f.accepted != f.sent {
		t.Errorf("%s holds %d of %d records where a consumer takes them after %s", stream, f.accepted, f.sent, within)
	}
	return f
}

// run is one reliability run: records posted (paced over pace, or at
// once) to a Fluent Bit whose outputs send them to srv's stream "logs".
type run struct {
	outputs string
	records [][]byte
	pace    time.Duration
	keyed   bool
	within  time.Duration // the longest the delivery may take
}

// do runs r to its end and returns its figures.
func (r run) do(t *testing.T, e env, srv *fakekinesis.Server) figures {
	t.Helper()
	fb, port := pipeline(t, e, r.outputs)
	begin := time.Now()
	postPaced(t, port, "app", len(r.records), func(i int) []byte { return r.records[i] }, r.pace, nil)
	waitDelivered(t, srv, "logs", r.records, r.keyed, fb, r.within)
	elapsed := time.Since(begin)
	rss := fb.peakRSS(t)
	fb.shutdown(t)
	f := tally(r.records, fakeRecords(t, srv, "logs"), r.keyed)
	f.elapsed, f.peakRSSKiB = elapsed, rss
	return f
}

// fakeStats logs the fake's counters on one line.
func fakeStats(t *testing.T, srv *fakekinesis.Server) fakekinesis.Stats {
	t.Helper()
	st := srv.Stats()
	t.Logf("fake: %d requests, %d PutRecords, %d entries accepted, %d failed (%d over a shard limit), %d requests failed, %d in an outage, %d reshards",
		st.Requests, st.Operations["PutRecords"], st.EntriesAccepted, st.EntriesFailed, st.EntriesOverLimit, st.RequestsFailed, st.RequestsInOutage, st.Reshards)
	return st
}

// Each run sends records through real Fluent Bit to a four-shard stream of
// the fake under one fault, counts every record as a KCL consumer reads
// it, and checks that the fault met records (else it proved nothing).
func TestReliability(t *testing.T) {
	outage := func(reset bool) fakekinesis.Faults {
		return fakekinesis.Faults{Outage: fakekinesis.Outage{Every: 5 * time.Second, For: 2 * time.Second, Reset: reset}}
	}
	inOutage := func(s fakekinesis.Stats) bool { return s.RequestsInOutage > 0 }
	// Without kinesis:ListShards the plugin has no shard map: only records
	// of one partition key share an aggregate. Random keys are the worst
	// case for memory and requests.
	denied := fakekinesis.Faults{ListShardsDenied: true, DescribeStreamSummaryDenied: true}
	listDenied := func(s fakekinesis.Stats) bool { return s.Operations["ListShards"] > 0 && s.RequestsFailed > 0 }
	tests := []struct {
		name    string
		faults  fakekinesis.Faults
		records int // before KPL_E2E_SCALE
		keys    int // distinct pk values
		// randomKeys: no partition_key option, so a random key per record.
		randomKeys bool
		pace       time.Duration // spread the records over this
		within     time.Duration // the longest the delivery may take
		met        func(fakekinesis.Stats) bool
		// reshard: aggregates built for the old map may land where KCL
		// drops them, and must then be put again.
		reshard bool
		// cbor: PutRecords in CBOR, as the plugin sends it to AWS's own
		// endpoints (wire_format auto); JSON otherwise, as to this one.
		cbor bool
	}{
		{name: "shard limits", faults: fakekinesis.Faults{ShardLimit: fakekinesis.KinesisShardLimit},
			records: 200000, keys: 50, within: 3 * time.Minute, cbor: true,
			met: func(s fakekinesis.Stats) bool { return s.EntriesOverLimit > 0 }},
		{name: "outages of 2 s in 5 s, 503", faults: outage(false), records: 30000, keys: 50,
			pace: 12 * time.Second, within: 2 * time.Minute, met: inOutage},
		{name: "outages of 2 s in 5 s, connection resets", faults: outage(true), records: 30000, keys: 50,
			pace: 12 * time.Second, within: 2 * time.Minute, met: inOutage, cbor: true},
		{name: "ListShards denied, random keys", faults: denied, records: 100000, keys: 1, randomKeys: true,
			within: 2 * time.Minute, met: listDenied},
		{name: "ListShards denied, pod keys", faults: denied, records: 100000, keys: 300,
			within: 2 * time.Minute, met: listDenied},
		// Every shard split once in the middle of the run (issue: 100,000
		// records with 50 keys, read back with KCL's rule).
		{name: "split in flight", faults: fakekinesis.Faults{ReshardAfter: 150, ReshardTo: 8}, records: 100000, keys: 50,
			pace: 8 * time.Second, within: time.Minute, reshard: true, cbor: true,
			met: func(s fakekinesis.Stats) bool { return s.Reshards == 1 }},
		{name: "split in flight, random keys", faults: fakekinesis.Faults{ReshardAfter: 150, ReshardTo: 8}, records: 100000,
			keys: 1, randomKeys: true, pace: 8 * time.Second, within: time.Minute, reshard: true, cbor: true,
			met: func(s fakekinesis.Stats) bool { return s.Reshards == 1 }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := setup(t)
			srv := fakeKinesis(t, "logs", 4)
			srv.SetFaults(tt.faults)
			wire := "wire_format json"
			if tt.cbor {
				wire = "wire_format cbor"
			}
			outputs := faultOutput(srv.URL(), wire)
			if tt.randomKeys {
				outputs = output("*", "logs", srv.URL(), "Retry_Limit False", wire)
			}
			f := run{
				outputs: outputs,
				records: makeRecords(scaled(t, tt.records), tt.keys, "run"),
				pace:    tt.pace,
				keyed:   !tt.randomKeys,
				within:  tt.within,
			}.do(t, e, srv)
			f.exactlyOnce(t, tt.reshard)
			stats := fakeStats(t, srv)
			if !tt.met(stats) {
				t.Errorf("the fault never met a record: the run did not test it")
			}
			if cbor := stats.CBORRequests > 0; cbor != tt.cbor {
				t.Errorf("%d requests came in CBOR; want CBOR %v", stats.CBORRequests, tt.cbor)
			}
		})
	}
}

// Eight instances with four workers each; one sends to a stream that does
// not exist and retries for ever. The other seven are not held up.
func TestReliabilityOneMissingStreamAmongEight(t *testing.T) {
	const instances, missing = 8, 7
	e := setup(t)
	srv, err := fakekinesis.New()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	var outputs string
	for i := range instances {
		stream := fmt.Sprintf("s%d", i)
		if i == missing {
			stream = "does-not-exist"
		} else if err := srv.CreateStream(stream, 2); err != nil {
			t.Fatal(err)
		}
		outputs += output(fmt.Sprintf("t%d.*", i), stream, srv.URL(), "partition_key pk", "workers 4", "Retry_Limit False")
	}
	fb, port := pipeline(t, e, outputs)

	n := scaled(t, 20000)
	records := make([][][]byte, instances)
	begin := time.Now()
	for i := range instances {
		records[i] = makeRecords(n, 50, fmt.Sprintf("inst%d", i))
		post(t, port, fmt.Sprintf("t%d.logs", i), records[i])
	}
	// On time: what a healthy instance needs, a few flush intervals (about
	// 2 s on an idle machine), not waiting behind the failing one's
	// retries, each of which may take a flush_timeout.
	const onTime = 15 * time.Second
	for i := range instances {
		if i != missing {
			waitDelivered(t, srv, fmt.Sprintf("s%d", i), records[i], true, fb, onTime-time.Since(begin))
		}
	}
	elapsed := time.Since(begin)
	rss := fb.peakRSS(t)
	stopping := time.Now()
	fb.shutdown(t)
	exit := time.Since(stopping)
	t.Logf("Fluent Bit exited %s after SIGTERM with the missing stream's chunks still queued", exit.Round(100*time.Millisecond))
	// Grace (10 s in pipelineConfig) plus exit_timeout (5 s) plus a second.
	if limit := 16 * time.Second; exit > limit {
		t.Errorf("Fluent Bit took %s to exit, more than %s", exit, limit)
	}
	if !strings.Contains(fb.output(), "ResourceNotFoundException") {
		t.Errorf("the log does not say the stream was not found")
	}

	var total figures
	for i := range instances {
		if i == missing {
			continue
		}
		f := tally(records[i], fakeRecords(t, srv, fmt.Sprintf("s%d", i)), true)
		if f.lost+f.duplicated+f.outsideShard+f.wrongKey > 0 {
			t.Errorf("instance %d: %s", i, f)
		}
		total.add(f)
	}
	total.elapsed, total.peakRSSKiB = elapsed, rss
	total.exactlyOnce(t, false)
	if elapsed > onTime {
		t.Errorf("the seven healthy instances took %s, more than %s", elapsed, onTime)
	}
	if st := fakeStats(t, srv); st.RequestsRejected == 0 {
		t.Errorf("the missing stream was never asked for: the run did not test it")
	}
}

// The count behind every figure: each way a record can arrive wrongly is
// seen, and KCL's rule is applied to whole Kinesis records.
func TestDeliveryCounts(t *testing.T) {
	want := makeRecords(3, 3, "count")
	pk := func(i int) string { return fmt.Sprintf("key-%02d", i) }
	copyOf := func(i int, seq string) userRecord {
		return userRecord{Seq: seq, PK: pk(i), InShard: true, Data: want[i]}
	}
	tests := []struct {
		name string
		got  []userRecord
		want figures
	}{
		{"exactly once", []userRecord{copyOf(0, "a"), copyOf(1, "a"), copyOf(2, "b")},
			figures{sent: 3, accepted: 3}},
		{"one lost, one twice", []userRecord{copyOf(0, "a"), copyOf(0, "b"), copyOf(1, "c")},
			figures{sent: 3, accepted: 2, lost: 1, duplicated: 1}},
		{"a duplicate a lost response explains", func() []userRecord {
			lost := copyOf(2, "b")
			lost.ResponseLost = true
			return []userRecord{copyOf(0, "a"), copyOf(1, "a"), lost, copyOf(2, "c")}
		}(), figures{sent: 3, accepted: 3, duplicated: 1, lostResponse: 1}},
		{"KCL drops an aggregate whole", func() []userRecord {
			outside := copyOf(1, "a")
			outside.InShard = false
			return []userRecord{copyOf(0, "a"), outside, copyOf(2, "b"), copyOf(1, "c")}
		}(), figures{sent: 3, accepted: 2, lost: 1, lostOutside: 1, outsideShard: 2}},
		{"under a wrong key", func() []userRecord {
			wrong := copyOf(1, "a")
			wrong.PK = "other"
			return []userRecord{copyOf(0, "a"), wrong, copyOf(2, "b")}
		}(), figures{sent: 3, accepted: 3, wrongKey: 1}},
		{"a record never sent", []userRecord{copyOf(0, "a"), copyOf(1, "a"), copyOf(2, "b"),
			{Seq: "c", PK: pk(0), InShard: true, Data: makeRecord(0, 3, "other")},
			{Seq: "c", PK: pk(0), InShard: true, Data: append([]byte(nil), want[0][:len(want[0])-1]...)}},
			figures{sent: 3, accepted: 3, duplicated: 2}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tally(want, tt.got, true); got != tt.want {
				t.Errorf("tally = %+v\nwant    %+v", got, tt.want)
			}
		})
	}
}
