package aggregation

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"
)

// crossCheckEnv names the directory TestWriteCrossCheckFixtures writes to.
// crosscheck/crosscheck.js then deaggregates the fixtures with the AWS
// deaggregation library for Node.js and compares them with the expectations.
const crossCheckEnv = "AGG_CROSSCHECK_DIR"

// crossCheckFixture is one line of fixtures.jsonl.
type crossCheckFixture struct {
	Name      string             `json:"name"`
	Aggregate []byte             `json:"aggregate"` // base64 in JSON
	Records   []crossCheckRecord `json:"records"`
}

type crossCheckRecord struct {
	PartitionKey    string `json:"pk"`
	ExplicitHashKey string `json:"ehk,omitempty"`
	Data            []byte `json:"data"` // base64 in JSON
}

func TestWriteCrossCheckFixtures(t *testing.T) {
	dir := os.Getenv(crossCheckEnv)
	if dir == "" {
		t.Skip("set " + crossCheckEnv + " to write the cross-check fixtures")
	}
	cases := goldenCases()
	r := rand.New(rand.NewPCG(11, 12))
	for i := range 50 {
		cases = append(cases, goldenCase{name: fmt.Sprintf("random-%d", i), recs: randomRecords(r, 1+r.IntN(60))})
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	f, err := os.Create(filepath.Join(dir, "fixtures.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	enc := json.NewEncoder(f)
	for _, c := range cases {
		fx := crossCheckFixture{Name: c.name, Aggregate: encodeCase(c), Records: make([]crossCheckRecord, len(c.recs))}
		for i, u := range c.recs {
			fx.Records[i] = crossCheckRecord{PartitionKey: u.pk, ExplicitHashKey: u.ehk, Data: u.data}
		}
		if err := enc.Encode(fx); err != nil {
			t.Fatal(err)
		}
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	t.Logf("wrote %d fixtures to %s", len(cases), dir)
}
