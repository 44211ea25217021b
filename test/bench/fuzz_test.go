package bench_test

import (
	"bytes"
	"testing"

	"github.com/kinesis-kpl/fluent-bit-kinesis-kpl/test/bench"
)

// FuzzSeq: Seq never panics, and a number it returns was written after
// the marker.
func FuzzSeq(f *testing.F) {
	f.Add(bench.AppendJSONLine(nil, 42, bench.SmallRecord))
	f.Add([]byte(`"bench_seq":`))
	f.Add([]byte(`"bench_seq":99999999999999999999999`))
	f.Fuzz(func(t *testing.T, data []byte) {
		n, err := bench.Seq(data)
		if err == nil && (n < 0 || !bytes.Contains(data, []byte(`"bench_seq":`))) {
			t.Fatalf("Seq(%q) = %d without an error", data, n)
		}
	})
}
