package aggregation

import (
	"bytes"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/golden")

// goldenCase is a fixed input whose aggregate is pinned byte for byte.
type goldenCase struct {
	name string
	recs []userRecord
}

func rec(pk, ehk, data string) userRecord { return userRecord{pk: pk, ehk: ehk, data: []byte(data)} }

// goldenCases are the fixed inputs of the golden files and of the
// cross-check against an independent deaggregator.
func goldenCases() []goldenCase {
	many := make([]userRecord, 0, 40)
	for i := range 40 {
		many = append(many, rec(fmt.Sprintf("key-%d", i%7), "", fmt.Sprintf(`{"seq":%d,"msg":"record number %d"}`, i, i)))
	}
	long := strings.Repeat("k", 256)
	longUnicode := strings.Repeat("é", 256) // 256 characters, 512 bytes
	return []goldenCase{
		{"one-record", []userRecord{rec("partition-key", "", "hello, kinesis")}},
		{"many-records", many},
		{"explicit-hash-keys", []userRecord{
			rec("a", "0", "first"),
			rec("b", "340282366920938463463374607431768211455", "second"),
			rec("c", "0", "third"),
			rec("d", "", "no explicit hash key"),
			rec("a", "170141183460469231731687303715884105728", "fifth"),
		}},
		{"repeated-keys", []userRecord{rec("same", "", "1"), rec("same", "", "2"), rec("same", "", "3"), rec("same", "", "4")}},
		{"distinct-keys", []userRecord{rec("k1", "", "1"), rec("k2", "", "2"), rec("k3", "", "3"), rec("k4", "", "4")}},
		{"repeated-and-distinct-keys", []userRecord{rec("x", "", "1"), rec("y", "", "2"), rec("x", "", "3"), rec("z", "", "4"), rec("y", "", "5")}},
		{"empty-data", []userRecord{rec("pk", "", ""), rec("pk", "", "between"), rec("other", "", "")}},
		{"non-ascii-keys", []userRecord{rec("ключ", "", "cyrillic"), rec("キー", "", "japanese"), rec("🔑", "", "emoji"), rec("ключ", "", "again")}},
		{"256-character-keys", []userRecord{rec(long, "", "ascii"), rec(longUnicode, "", "two-byte characters"), rec(long, "", "again")}},
		{"binary-data", []userRecord{rec("bin", "", "\x00\xff\xf3\x89\x9a\xc2\n\r\t")}},
		{"large-record", []userRecord{rec("big", "", strings.Repeat("0123456789abcdef", 1024)), rec("small", "", "x")}},
	}
}

func encodeCase(c goldenCase) []byte {
	var enc Encoder
	for _, r := range c.recs {
		enc.Add(r.pk, r.ehk, r.data)
	}
	return enc.AppendTo(nil)
}

func TestGolden(t *testing.T) {
	dir := filepath.Join("testdata", "golden")
	for _, c := range goldenCases() {
		t.Run(c.name, func(t *testing.T) {
			got := encodeCase(c)
			path := filepath.Join(dir, c.name+".bin")
			if *update {
				if err := os.MkdirAll(dir, 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(path, got, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (run go test -run TestGolden -update to create it)", err)
			}
			if !bytes.Equal(got, want) {
				t.Fatalf("aggregate differs from %s\n got %x\nwant %x", path, got, want)
			}
			if ref := referenceAggregate(t, c.recs); !bytes.Equal(want, ref) {
				t.Fatalf("golden file differs from proto.Marshal of the same message")
			}
			recs, err := Deaggregate(want, "outer", "")
			if err != nil || !sameRecords(recs, c.recs) {
				t.Fatalf("golden file does not decode to its records: %v", err)
			}
		})
	}
}
