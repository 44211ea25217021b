// Package e2e runs the plugin in a real Fluent Bit against kinesalite and
// reads the streams back with an independent consumer (the AWS
// deaggregation library for JavaScript). Run it with `make e2e`.
package e2e

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"
)

// makeRecords returns n unique JSON records carrying keys distinct partition
// key values, in the compact form Fluent Bit's JSON parser and the plugin's
// encoder both keep byte for byte.
func makeRecords(n, keys int, prefix string) [][]byte {
	out := make([][]byte, n)
	for i := range out {
		out[i] = makeRecord(i, keys, prefix)
	}
	return out
}

// makeRecord returns record i of makeRecords(n, keys, prefix); its "seq"
// field, first, is prefix-i.
func makeRecord(i, keys int, prefix string) []byte {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	// A struct keeps the key order fixed.
	_ = enc.Encode(struct {
		Seq   string `json:"seq"`
		PK    string `json:"pk"`
		N     int    `json:"n"`
		Level string `json:"level"`
		Msg   string `json:"msg"`
		Nest  struct {
			OK   bool     `json:"ok"`
			Tags []string `json:"tags"`
		} `json:"nest"`
	}{
		Seq:   fmt.Sprintf("%s-%06d", prefix, i),
		PK:    fmt.Sprintf("key-%02d", i%keys),
		N:     i * 7,
		Level: []string{"info", "warn", "error"}[i%3],
		Msg:   fmt.Sprintf("request %d handled in %dms: \"ok\" café ✓ <tag> a\\b", i, i%250),
		Nest: struct {
			OK   bool     `json:"ok"`
			Tags []string `json:"tags"`
		}{OK: i%2 == 0, Tags: []string{"a", fmt.Sprint(i % 5)}},
	})
	return bytes.TrimSuffix(b.Bytes(), []byte("\n"))
}

// checkExactlyOnce asserts that got holds every record of want exactly once,
// byte for byte, with the partition key from its "pk" field, on the shard the
// key hashes to.
func checkExactlyOnce(t *testing.T, want [][]byte, got []userRecord) {
	t.Helper()
	expected := make(map[string]string, len(want))
	for _, w := range want {
		var body struct {
			PK string `json:"pk"`
		}
		if err := json.Unmarshal(w, &body); err != nil {
			t.Fatalf("a record to send is not JSON: %v", err)
		}
		expected[string(w)] = body.PK
	}
	checkReceived(t, expected, got, nil)
}

func shardsUsed(recs []userRecord) map[string]int {
	m := map[string]int{}
	for _, r := range recs {
		m[r.Shard]++
	}
	return m
}

func aggregatedShare(recs []userRecord) (aggregated, outer int) {
	outers := map[string]bool{}
	for _, r := range recs {
		if r.Aggregated {
			aggregated++
		}
		outers[r.Seq] = true
	}
	return aggregated, len(outers)
}

func TestDeliversEveryRecordOnceOnItsShard(t *testing.T) {
	e := setup(t)
	endpoint := kinesalite(t, e)
	createStream(t, e, endpoint, "logs", 4)
	fb, port := pipeline(t, e, output("app.*", "logs", endpoint, "partition_key pk"))

	records := makeRecords(10000, 50, "one")
	post(t, port, "app.logs", records)
	got := waitFor(t, e, endpoint, "logs", len(records), fb)
	fb.shutdown(t)
	got = readStream(t, e, endpoint, "logs") // after exit: nothing more, nothing twice
	checkExactlyOnce(t, records, got)
	agg, outer := aggregatedShare(got)
	t.Logf("%d records in %d Kinesis records (%d aggregated) over shards %v", len(got), outer, agg, shardsUsed(got))
	if len(shardsUsed(got)) != 4 {
		t.Errorf("50 keys reached %d of 4 shards", len(shardsUsed(got)))
	}
	if outer*10 > len(got) {
		t.Errorf("%d records took %d Kinesis records: aggregation is not working", len(got), outer)
	}
	if out := fb.output(); strings.Contains(out, "key-") || strings.Contains(out, "café") {
		t.Errorf("the log shows record data or partition keys:\n%s", out)
	}
}

// twoOutputs runs two instances of the plugin, to streams alpha (2 shards)
// and beta (3 shards), and posts 3,000 and 2,000 records to them.
func twoOutputs(t *testing.T, e env) (endpoint string, fb *proc, alpha, beta [][]byte) {
	t.Helper()
	endpoint = kinesalite(t, e)
	createStream(t, e, endpoint, "alpha", 2)
	createStream(t, e, endpoint, "beta", 3)
	fb, port := pipeline(t, e, output("a.*", "alpha", endpoint, "partition_key pk")+
		output("b.*", "beta", endpoint, "partition_key $pk"))
	alpha = makeRecords(3000, 50, "alpha")
	beta = makeRecords(2000, 20, "beta")
	post(t, port, "a.logs", alpha)
	post(t, port, "b.logs", beta)
	return endpoint, fb, alpha, beta
}

func TestTwoOutputsAreIndependent(t *testing.T) {
	e := setup(t)
	endpoint, fb, alpha, beta := twoOutputs(t, e)
	waitFor(t, e, endpoint, "alpha", len(alpha), fb)
	waitFor(t, e, endpoint, "beta", len(beta), fb)
	fb.shutdown(t)
	checkExactlyOnce(t, alpha, readStream(t, e, endpoint, "alpha"))
	checkExactlyOnce(t, beta, readStream(t, e, endpoint, "beta"))
}

func TestWorkers(t *testing.T) {
	e := setup(t)
	endpoint := kinesalite(t, e)
	createStream(t, e, endpoint, "logs", 4)
	fb, port := pipeline(t, e, output("*", "logs", endpoint, "partition_key pk", "workers 2"))

	records := makeRecords(10000, 50, "workers")
	// Several tags make several chunks that the two workers flush at once.
	for i := 0; i < 4; i++ {
		part := records[i*2500 : (i+1)*2500]
		post(t, port, fmt.Sprintf("w%d.logs", i), part)
	}
	waitFor(t, e, endpoint, "logs", len(records), fb)
	fb.shutdown(t)
	checkExactlyOnce(t, records, readStream(t, e, endpoint, "logs"))
}

func TestBadConfigurationStopsFluentBit(t *testing.T) {
	e := setup(t)
	fb := fluentBit(t, e, `
[SERVICE]
    Flush     1
[INPUT]
    Name      dummy
[OUTPUT]
    Name      kinesis_kpl
    Match     *
    endpoint  ftp://127.0.0.1:1
    flush_timeout 30sa
`)
	select {
	case <-fb.done:
	case <-time.After(30 * time.Second):
		t.Fatalf("fluent-bit kept running with a bad configuration\n%s", fb.output())
	}
	out := fb.output()
	for _, want := range []string{"stream: is required", "endpoint: scheme", "flush_timeout:"} {
		if !strings.Contains(out, want) {
			t.Errorf("log does not name %q:\n%s", want, out)
		}
	}
}

// Records still on their way when Fluent Bit is told to stop are sent
// before it exits, by every instance: Fluent Bit 1.8 hands the exit
// callback the last instance's context for each of them.
func TestShutdownDrainsEveryInstance(t *testing.T) {
	e := setup(t)
	endpoint, fb, alpha, beta := twoOutputs(t, e)
	fb.shutdown(t) // at once: nothing waited for the records
	checkExactlyOnce(t, alpha, readStream(t, e, endpoint, "alpha"))
	checkExactlyOnce(t, beta, readStream(t, e, endpoint, "beta"))
	out := fb.output()
	for _, name := range []string{"kinesis_kpl.0] stopped", "kinesis_kpl.1] stopped"} {
		if strings.Count(out, name) != 1 {
			t.Errorf("the log does not show %q once:\n%s", name, out)
		}
	}
}
