package producer

import (
	"math/big"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"

	"github.com/kinesis-kpl/fluent-bit-kinesis-kpl/aggregation"
)

// FuzzShardTable feeds shard maps as ListShards could return them (any
// decimal strings) and hash keys. Invariants: building the table never
// panics; when it succeeds, lookup finds exactly the shard whose range
// holds the key, as a big.Int comparison decides, or -1 when none does.
func FuzzShardTable(f *testing.F) {
	f.Add("0", "99", "100", "340282366920938463463374607431768211455", uint64(0), uint64(50))
	f.Add("0", "170141183460469231731687303715884105727", "170141183460469231731687303715884105728", "340282366920938463463374607431768211455", uint64(1<<63), uint64(0))
	f.Add("5", "4", "10", "20", uint64(0), uint64(7))
	f.Add("00", "x", "", "-1", uint64(3), uint64(3))
	f.Add("0", "10", "30", "340282366920938463463374607431768211456", uint64(0), uint64(20))
	f.Fuzz(func(t *testing.T, s1, e1, s2, e2 string, hi, lo uint64) {
		shards := []types.Shard{
			{ShardId: ptr("a"), HashKeyRange: &types.HashKeyRange{StartingHashKey: &s1, EndingHashKey: &e1}},
			{ShardId: ptr("b"), HashKeyRange: &types.HashKeyRange{StartingHashKey: &s2, EndingHashKey: &e2}},
		}
		tab, err := newShardTable(shards)
		if err != nil || tab == nil {
			return
		}
		h := aggregation.HashKey{Hi: hi, Lo: lo}
		got := tab.lookup(h)
		want := -1
		hb := h.BigInt()
		for i, s := range tab.shards {
			start, _ := new(big.Int).SetString(*s.HashKeyRange.StartingHashKey, 10)
			end, _ := new(big.Int).SetString(*s.HashKeyRange.EndingHashKey, 10)
			if start.Cmp(hb) <= 0 && hb.Cmp(end) <= 0 {
				want = i
			}
		}
		if got != want {
			t.Fatalf("lookup(%v) = %d, want %d", h, got, want)
		}
		// The range's own bounds are found too.
		for i := range tab.starts {
			if tab.lookup(tab.starts[i]) != i || tab.lookup(tab.ends[i]) != i {
				t.Fatalf("shard %d bounds not found", i)
			}
		}
	})
}
