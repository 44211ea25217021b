package record

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/vmihailenco/msgpack/v5"

	"github.com/kinesis-kpl/fluent-bit-kinesis-kpl/plugin/chunk"
)

// The benchmarks build records from container log events with the
// transforms a Kubernetes setup uses (nested partition key, data_keys,
// replace_dots, time_key with nanoseconds, append_newline), side by side:
// BenchmarkBuild with this package, BenchmarkBuildBaseline the generic way
// (decode into map[string]any, edit the map, encoding/json). Run them
// together: the baseline reports "speedup", its time per record over this
// package's, measured in the same run.

var benchOptions = Options{
	PartitionKey: pk("kubernetes->pod_name"), DataKeys: keys("log,stream,kubernetes,@timestamp"), ReplaceDots: "_",
	TimeKey: "@timestamp", TimeKeyFormat: "%Y-%m-%dT%H:%M:%S.%9NZ", AppendNewline: true,
}

func benchEvents(tb testing.TB) []chunk.Event {
	var c []byte
	for i := range 100 {
		body := mp(tb, ordered{
			{"log", fmt.Sprintf("2026-03-05T07:08:09.123Z INFO request %d served in 12ms path=/api/v1/items?id=%d", i, i)},
			{"stream", "stdout"},
			{"time", "2026-03-05T07:08:09.123456789Z"},
			{"kubernetes", ordered{
				{"pod_name", fmt.Sprintf("web-%d", i%7)}, {"namespace_name", "prod"}, {"container_name", "app"},
				{"labels", ordered{{"app.kubernetes.io/name", "web"}, {"pod-template-hash", "5d9f7c"}}},
			}},
		})
		c = append(c, chunkOf(tb, body)...)
	}
	return events(tb, c)
}

var lastBuildNsPerRecord float64

func BenchmarkBuild(b *testing.B) {
	evs := benchEvents(b)
	builder, err := New(benchOptions)
	if err != nil {
		b.Fatal(err)
	}
	var r Record
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		for i, ev := range evs {
			if err := builder.Build(&r, ev, Source{Tag: "kube.app", Index: i}); err != nil {
				b.Fatal(err)
			}
		}
	}
	lastBuildNsPerRecord = float64(b.Elapsed().Nanoseconds()) / float64(b.N*len(evs))
	b.ReportMetric(lastBuildNsPerRecord, "ns/record")
}

func BenchmarkBuildBaseline(b *testing.B) {
	evs := benchEvents(b)
	keep := benchOptions.DataKeys
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		for _, ev := range evs {
			var m map[string]any
			if err := msgpack.Unmarshal(ev.Body, &m); err != nil {
				b.Fatal(err)
			}
			m["@timestamp"] = time.Unix(ev.Sec, ev.Nsec).UTC().Format("2006-01-02T15:04:05.000000000Z")
			pk, _ := m["kubernetes"].(map[string]any)["pod_name"].(string)
			out := map[string]any{}
			for _, k := range keep {
				if v, ok := m[k]; ok {
					out[k] = v
				}
			}
			data, err := json.Marshal(replaceDots(out))
			if err != nil || pk == "" {
				b.Fatal(err)
			}
			_ = append(data, '\n')
		}
	}
	ns := float64(b.Elapsed().Nanoseconds()) / float64(b.N*len(evs))
	b.ReportMetric(ns, "ns/record")
	if lastBuildNsPerRecord > 0 {
		b.ReportMetric(ns/lastBuildNsPerRecord, "speedup")
	}
}

func replaceDots(v any) any {
	switch x := v.(type) {
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, val := range x {
			out[strings.ReplaceAll(k, ".", "_")] = replaceDots(val)
		}
		return out
	case []any:
		for i := range x {
			x[i] = replaceDots(x[i])
		}
	}
	return v
}

// The baseline does the same work: same fields, same partition key.
func TestBenchBaselineMatches(t *testing.T) {
	evs := benchEvents(t)
	builder, err := New(benchOptions)
	if err != nil {
		t.Fatal(err)
	}
	var r Record
	if err := builder.Build(&r, evs[0], Source{Tag: "kube.app"}); err != nil {
		t.Fatal(err)
	}
	var got map[string]any
	if err := json.Unmarshal(r.Data, &got); err != nil {
		t.Fatal(err)
	}
	if len(got) != 4 || string(r.PartitionKey) != "web-0" || !bytes.HasSuffix(r.Data, []byte("\n")) ||
		got["kubernetes"].(map[string]any)["labels"].(map[string]any)["app_kubernetes_io/name"] != "web" {
		t.Fatalf("record %s under %q", r.Data, r.PartitionKey)
	}
}
