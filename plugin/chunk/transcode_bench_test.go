//go:build cgo

package chunk

import (
	"encoding/json"
	"fmt"
	"runtime"
	"testing"
	"unsafe"

	"github.com/fluent/fluent-bit-go/output"
)

// The benchmarks below transcode the same chunk of benchRecords container log
// records (Fluent Bit 2.1+ form) to one JSON document per record, side by
// side: BenchmarkTranscode with this package (the plugin's way: NextLazy,
// then the event's AppendJSON, one walk per body), BenchmarkTranscodeBaseline with
// the fluent-bit-go decoder, a conversion to map[string]any and
// encoding/json, the path Go output plugins commonly take. Run them together
// (go test -bench Transcode -benchmem): the baseline then also reports
// "speedup", its time per record divided by this package's, measured in the
// same run. The baseline needs cgo (fluent-bit-go's output package imports
// "C"), hence this file's build constraint.

const benchRecords = 1000

var benchChunk = containerLogChunk(benchRecords, true)

// lastTranscodeNsPerRecord is this package's time per record from the latest
// BenchmarkTranscode run in this process, or 0 if it has not run.
var lastTranscodeNsPerRecord float64

func reportPerRecord(b *testing.B, records int, mallocsBefore uint64) float64 {
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	total := float64(b.N) * float64(records)
	nsPerRecord := float64(b.Elapsed().Nanoseconds()) / total
	b.ReportMetric(1e9/nsPerRecord, "records/s")
	b.ReportMetric(float64(ms.Mallocs-mallocsBefore)/total, "allocs/record")
	return nsPerRecord
}

func BenchmarkTranscode(b *testing.B) {
	b.ReportAllocs()
	b.SetBytes(int64(len(benchChunk)))
	var r Reader
	out := make([]byte, 0, 4096)
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	b.ResetTimer()
	for range b.N {
		r.Reset(benchChunk)
		n := 0
		for r.NextLazy() {
			ev := r.Event()
			var err error
			if out, err = ev.AppendJSON(out[:0]); err != nil {
				b.Fatal(err)
			}
			n++
		}
		if r.Err() != nil || n != benchRecords {
			b.Fatalf("read %d records: %v", n, r.Err())
		}
	}
	b.StopTimer()
	lastTranscodeNsPerRecord = reportPerRecord(b, benchRecords, ms.Mallocs)
}

func BenchmarkTranscodeBaseline(b *testing.B) {
	b.ReportAllocs()
	b.SetBytes(int64(len(benchChunk)))
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	b.ResetTimer()
	for range b.N {
		dec := output.NewDecoder(unsafe.Pointer(&benchChunk[0]), len(benchChunk))
		n := 0
		for {
			ret, _, record := output.GetRecord(dec)
			if ret != 0 {
				break
			}
			doc, err := json.Marshal(stringKeyed(record))
			if err != nil {
				b.Fatal(err)
			}
			_ = doc
			n++
		}
		if n != benchRecords {
			b.Fatalf("read %d records", n)
		}
	}
	b.StopTimer()
	nsPerRecord := reportPerRecord(b, benchRecords, ms.Mallocs)
	if lastTranscodeNsPerRecord > 0 {
		b.ReportMetric(nsPerRecord/lastTranscodeNsPerRecord, "speedup")
	}
}

// stringKeyed converts what the fluent-bit-go decoder returns into values
// encoding/json can write: map[interface{}]interface{} to map[string]any and
// []byte strings to string, recursively.
func stringKeyed(v any) any {
	switch x := v.(type) {
	case map[interface{}]interface{}:
		m := make(map[string]any, len(x))
		for k, e := range x {
			var key string
			switch kk := k.(type) {
			case []byte:
				key = string(kk)
			case string:
				key = kk
			default:
				key = fmt.Sprint(kk)
			}
			m[key] = stringKeyed(e)
		}
		return m
	case []interface{}:
		a := make([]any, len(x))
		for i, e := range x {
			a[i] = stringKeyed(e)
		}
		return a
	case []byte:
		return string(x)
	}
	return v
}

// TestBaselineReadsTheBenchChunk keeps the baseline honest: it must decode the
// same records, with the same content, as this package.
func TestBaselineReadsTheBenchChunk(t *testing.T) {
	chunk := containerLogChunk(3, true)
	dec := output.NewDecoder(unsafe.Pointer(&chunk[0]), len(chunk))
	var r Reader
	r.Reset(chunk)
	for r.Next() {
		ret, _, record := output.GetRecord(dec)
		if ret != 0 {
			t.Fatalf("baseline stopped early: %d", ret)
		}
		ours, err := AppendJSON(nil, r.Event().Body)
		if err != nil {
			t.Fatal(err)
		}
		var oursDecoded any
		if err := json.Unmarshal(ours, &oursDecoded); err != nil {
			t.Fatal(err)
		}
		theirs, err := json.Marshal(stringKeyed(record))
		if err != nil {
			t.Fatal(err)
		}
		// encoding/json sorts map keys: compare both in that form.
		if mine, _ := json.Marshal(oursDecoded); string(mine) != string(theirs) {
			t.Errorf("records differ:\n%s\n%s", mine, theirs)
		}
	}
	if ret, _, _ := output.GetRecord(dec); ret == 0 {
		t.Error("baseline found more records")
	}
}
