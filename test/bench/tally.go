package bench

import (
	"fmt"

	"github.com/kinesis-kpl/fluent-bit-kinesis-kpl/aggregation"
	"github.com/kinesis-kpl/fluent-bit-kinesis-kpl/test/fakekinesis"
)

// Tally is what arrived of records 0 to Want-1, counted as a KCL
// consumer reads them: aggregates are taken apart first.
type Tally struct {
	Want       int
	Distinct   int // records of 0..Want-1 seen at least once
	Duplicates int // extra copies
	Foreign    int // user records that carry no number in range
	Stored     int // Kinesis records stored (aggregates count once)
}

// Complete says whether every record arrived.
func (t Tally) Complete() bool { return t.Distinct == t.Want && t.Foreign == 0 }

func (t Tally) String() string {
	return fmt.Sprintf("%d of %d records (%d duplicates, %d foreign) in %d Kinesis records", t.Distinct, t.Want, t.Duplicates, t.Foreign, t.Stored)
}

// Count deaggregates stored records and counts the generated ones among
// them.
func Count(stored []fakekinesis.Record, want int) (Tally, error) {
	t := Tally{Want: want, Stored: len(stored)}
	seen := make([]bool, want)
	var subs []aggregation.Record
	for i, r := range stored {
		var err error
		subs, err = aggregation.AppendDeaggregated(subs[:0], r.Data, r.PartitionKey, r.ExplicitHashKey)
		if err != nil {
			return t, fmt.Errorf("stored record %d: %w", i, err)
		}
		for _, s := range subs {
			n, err := Seq(s.Data)
			switch {
			case err != nil || n < 0 || n >= want:
				t.Foreign++
			case seen[n]:
				t.Duplicates++
			default:
				seen[n] = true
				t.Distinct++
			}
		}
	}
	return t, nil
}
