package e2e

import (
	"os"
	"testing"
	"time"

	"github.com/kinesis-kpl/fluent-bit-kinesis-kpl/test/fakekinesis"
)

// soakRate is the records per second the soak's steady service logs.
// soakRate is the records per second the soak's steady service logs:
// about 1 MB/s.
const soakRate = 5000

// TestSoak runs real Fluent Bit through the plugin against the fake for
// KPL_SOAK (a duration, 60s from `make soak`) under every fault of a bad
// day at once: 1 % of entries throttled, Kinesis' shard limits, the
// endpoint down 5 s of every 20 s (503s in the first half, connection
// resets in the second), two lost responses in each half, and the stream's
// two shards split into four halfway. Records arrive at a steady rate
// throughout, about half of what two shards take, so that the backlog of
// an outage is more than their burst. Every record is counted as it
// arrives: none may be lost, and no duplicate may come from our own
// retries; the duplicates that lost responses explain are counted apart.
func TestSoak(t *testing.T) {
	v := os.Getenv("KPL_SOAK")
	if v == "" {
		t.Skip("the soak runs with `make soak` (KPL_SOAK=<duration>)")
	}
	d, err := time.ParseDuration(v)
	if err != nil || d < 10*time.Second {
		t.Fatalf("KPL_SOAK=%q: want a duration of 10s or more", v)
	}
	e := setup(t)
	srv := fakeKinesis(t, "logs", 2)
	faults := fakekinesis.Faults{
		ThrottleEvery: 100,
		ShardLimit:    fakekinesis.KinesisShardLimit,
		Outage:        fakekinesis.Outage{Every: 20 * time.Second, For: 5 * time.Second},
		LoseResponses: 2,
	}
	srv.SetFaults(faults)
	fb, port := pipeline(t, e, faultOutput(srv.URL()))

	// The records are made by index and counted as they arrive, taken from
	// the fake, so that a long soak runs in bounded memory.
	n := int(d.Seconds() * soakRate)
	record := func(i int) []byte { return makeRecord(i, 200, "soak") }
	del := newDelivery(n, record, true)
	newShards := 0
	var taken time.Time
	take := func() {
		taken = time.Now()
		urs, err := srv.TakeUserRecords("logs")
		if err != nil {
			t.Fatalf("the fake cannot read what it stored: %v", err)
		}
		for _, u := range urs {
			if u.ShardID >= "shardId-000000000002" {
				newShards++
			}
		}
		del.add(fromFake(urs))
	}

	split := make(chan error, 1)
	half := time.AfterFunc(d/2, func() {
		err := srv.Reshard("logs", 4)
		second := faults
		second.Outage.Reset = true
		srv.SetFaults(second) // the outage period starts again here
		split <- err
	})
	defer half.Stop()

	begin := time.Now()
	postPaced(t, port, "app", n, record, d, func() {
		if time.Since(taken) >= 5*time.Second {
			take()
		}
	})
	if err := <-split; err != nil {
		t.Fatalf("the split: %v", err)
	}
	pollUntil(t, fb, 2*time.Minute, func() bool {
		if time.Since(taken) < time.Second {
			return false
		}
		take()
		return del.figures().accepted == n
	})
	elapsed := time.Since(begin)
	rss := fb.peakRSS(t)
	fb.shutdown(t)
	take() // what came after, if anything

	f := del.figures()
	f.elapsed, f.peakRSSKiB = elapsed, rss
	t.Logf("soak %s: %s", d, f)
	st := fakeStats(t, srv)
	t.Logf("fake: %d responses lost, %d entries throttled by ThrottleEvery", st.ResponsesLost, st.EntriesFailed-st.EntriesOverLimit)
	if f.lost != 0 || f.wrongKey != 0 || f.accepted != f.sent {
		t.Errorf("records lost or misdelivered: %s", f)
	}
	if own := f.duplicated - f.lostResponse; own != 0 {
		t.Errorf("%d duplicates not explained by a lost response: %s", own, f)
	}

	// Every fault must have met records, or the soak proved less than it says.
	for what, happened := range map[string]bool{
		"entries throttled":           st.EntriesFailed > st.EntriesOverLimit,
		"entries over a shard limit":  st.EntriesOverLimit > 0,
		"requests in an outage":       st.RequestsInOutage > 0,
		"lost responses":              st.ResponsesLost > 0,
		"records on the split shards": newShards > 0,
	} {
		if !happened {
			t.Errorf("no %s", what)
		}
	}
}
