package aggregation_test

import (
	"fmt"

	"github.com/kinesis-kpl/fluent-bit-kinesis-kpl/aggregation"
)

// Fill aggregates up to a record size limit, asking before each Add whether
// the record still fits.
func ExampleEncoder() {
	const limit = 80 // bytes; Kinesis allows 1 MiB (data + partition key)
	records := []struct{ pk, data string }{
		{"host-a", `{"msg":"one"}`}, {"host-b", `{"msg":"two"}`}, {"host-a", `{"msg":"three"}`},
	}
	var enc aggregation.Encoder
	var out []byte
	flush := func() {
		out = enc.AppendTo(out[:0])
		fmt.Printf("records: %d, bytes: %d\n", enc.Count(), len(out))
		enc.Reset()
	}
	for _, r := range records {
		if enc.Count() > 0 && enc.SizeWith(r.pk, "", len(r.data)) > limit {
			flush()
		}
		enc.Add(r.pk, "", []byte(r.data))
	}
	flush()
	// Output:
	// records: 2, bytes: 74
	// records: 1, bytes: 49
}

// Split a Kinesis record back into user records and check the KCL rule for
// the shard it was read from.
func ExampleDeaggregate() {
	var enc aggregation.Encoder
	enc.Add("host-a", "", []byte("one"))
	enc.Add("host-b", "", []byte("two"))
	data := enc.AppendTo(nil)

	records, err := aggregation.Deaggregate(data, "host-a", "")
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, r := range records {
		fmt.Printf("%s %s\n", r.PartitionKey, r.Data)
	}
	// A shard that owns the whole hash key space accepts every sub-record.
	fmt.Println(aggregation.CheckShardRange(records, aggregation.HashKey{}, aggregation.MaxHashKey))
	// Output:
	// host-a one
	// host-b two
	// <nil>
}
