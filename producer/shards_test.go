package producer

import (
	"context"
	"errors"
	"fmt"
	"math/big"
	"math/rand/v2"
	"sort"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"

	"github.com/kinesis-kpl/fluent-bit-kinesis-kpl/aggregation"
)

func shard(id, start, end string, closed bool) types.Shard {
	s := types.Shard{
		ShardId:             ptr(id),
		HashKeyRange:        &types.HashKeyRange{StartingHashKey: ptr(start), EndingHashKey: ptr(end)},
		SequenceNumberRange: &types.SequenceNumberRange{StartingSequenceNumber: ptr("1")},
	}
	if closed {
		s.SequenceNumberRange.EndingSequenceNumber = ptr("2")
	}
	return s
}

func shardIDs(shards []types.Shard) []string {
	var ids []string
	for _, s := range shards {
		ids = append(ids, deref(s.ShardId))
	}
	return ids
}

func TestGetKinesisShardsFunc(t *testing.T) {
	max := aggregation.MaxHashKey.String()
	half := "170141183460469231731687303715884105727"
	halfPlus := "170141183460469231731687303715884105728"
	a := shard("shardId-a", halfPlus, max, false)
	b := shard("shardId-b", "0", half, false)
	parent := shard("shardId-parent", "0", max, true)
	tests := []struct {
		name      string
		pages     []listPage
		old       []types.Shard
		wantIDs   []string
		wantCalls int
		update    bool
		wantErr   bool
	}{
		{name: "one page, sorted by hash key, closed shards left out",
			pages:   []listPage{{shards: []types.Shard{parent, a, b}}},
			wantIDs: []string{"shardId-b", "shardId-a"}, wantCalls: 1, update: true},
		{name: "pages follow NextToken",
			pages:   []listPage{{shards: []types.Shard{a}, next: "t1"}, {shards: []types.Shard{parent}, next: "t2"}, {shards: []types.Shard{b}}},
			wantIDs: []string{"shardId-b", "shardId-a"}, wantCalls: 3, update: true},
		{name: "unchanged shards are no update",
			pages: []listPage{{shards: []types.Shard{a, b}}}, old: []types.Shard{b, a},
			wantIDs: []string{"shardId-b", "shardId-a"}, wantCalls: 1, update: false},
		{name: "error on the first page", pages: []listPage{{err: apiError("AccessDeniedException")}}, wantCalls: 1, wantErr: true},
		{name: "error on a later page", pages: []listPage{{shards: []types.Shard{a}, next: "t"}, {err: errors.New("reset")}}, wantCalls: 2, wantErr: true},
		{name: "no open shard", pages: []listPage{{shards: []types.Shard{parent}}}, wantCalls: 1, wantErr: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := &fakeKinesis{listPages: tc.pages}
			var tokens []string
			lister := listerFunc(func(ctx context.Context, in *types.Shard, nextToken, stream *string) {
				if nextToken != nil && stream != nil {
					t.Error("ListShards called with both NextToken and StreamName")
				}
				tokens = append(tokens, deref(nextToken))
			})
			shards, update, err := GetKinesisShardsFunc(spyLister{f, lister}, "s")(context.Background(), tc.old)
			if (err != nil) != tc.wantErr {
				t.Fatalf("err = %v, want error %v", err, tc.wantErr)
			}
			if f.listCalls != tc.wantCalls {
				t.Errorf("%d ListShards calls, want %d", f.listCalls, tc.wantCalls)
			}
			if err != nil {
				return
			}
			if fmt.Sprint(shardIDs(shards)) != fmt.Sprint(tc.wantIDs) || update != tc.update {
				t.Errorf("got %v update=%v, want %v update=%v", shardIDs(shards), update, tc.wantIDs, tc.update)
			}
			if tc.wantCalls == 3 && fmt.Sprint(tokens) != "[ t1 t2]" {
				t.Errorf("tokens %q", tokens)
			}
		})
	}
}

func TestStaticGetShardsFunc(t *testing.T) {
	for _, n := range []int{1, 2, 3, 7, 64, 500, 4096} {
		shards, update, err := StaticGetShardsFunc(n)(context.Background(), nil)
		if err != nil || !update || len(shards) != n {
			t.Fatalf("n=%d: %d shards, update %v, err %v", n, len(shards), update, err)
		}
		tab, err := newShardTable(shards)
		if err != nil {
			t.Fatalf("n=%d: %v", n, err)
		}
		// Contiguous from 0 to 2^128-1.
		if tab.starts[0] != (aggregation.HashKey{}) || tab.ends[n-1] != aggregation.MaxHashKey {
			t.Fatalf("n=%d: does not cover the hash key space", n)
		}
		for i := 1; i < n; i++ {
			if tab.ends[i-1].Add(aggregation.HashKey{Lo: 1}) != tab.starts[i] {
				t.Fatalf("n=%d: gap or overlap after shard %d", n, i-1)
			}
		}
		if _, again, _ := StaticGetShardsFunc(n)(context.Background(), shards); again {
			t.Errorf("n=%d: same shards reported as an update", n)
		}
	}
	if shards, update, err := StaticGetShardsFunc(0)(context.Background(), nil); shards != nil || update || err != nil {
		t.Errorf("0 shards: %v %v %v", shards, update, err)
	}
}

func TestShardTable(t *testing.T) {
	max := aggregation.MaxHashKey
	tab, err := newShardTable([]types.Shard{
		shard("c", "200", "299", false),
		shard("a", "0", "99", false),
		// gap 100..199
		shard("d", "300", max.String(), false),
	})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		key  aggregation.HashKey
		want string
	}{
		{aggregation.HashKey{}, "a"},
		{aggregation.HashKey{Lo: 99}, "a"},
		{aggregation.HashKey{Lo: 100}, ""},
		{aggregation.HashKey{Lo: 199}, ""},
		{aggregation.HashKey{Lo: 200}, "c"},
		{aggregation.HashKey{Lo: 299}, "c"},
		{aggregation.HashKey{Lo: 300}, "d"},
		{aggregation.HashKey{Hi: 1}, "d"},
		{max, "d"},
	}
	for _, tc := range tests {
		got := ""
		if i := tab.lookup(tc.key); i >= 0 {
			got = tab.ids[i]
		}
		if got != tc.want {
			t.Errorf("lookup(%v) = %q, want %q", tc.key, got, tc.want)
		}
	}
	bad := [][]types.Shard{
		{shard("a", "0", "100", false), shard("b", "100", "200", false)},    // overlap
		{shard("a", "10", "5", false)},                                      // end below start
		{shard("a", "x", "5", false)},                                       // not a number
		{{ShardId: ptr("a")}},                                               // no range
		{shard("a", "0", "340282366920938463463374607431768211456", false)}, // 2^128
	}
	for i, shards := range bad {
		if _, err := newShardTable(shards); err == nil {
			t.Errorf("bad map %d accepted", i)
		}
	}
}

// TestShardLookupMatchesBigInt checks lookup against a big.Int search.
func TestShardLookupMatchesBigInt(t *testing.T) {
	shards := mustShards(97)
	tab, _ := newShardTable(shards)
	ends := make([]*big.Int, len(shards))
	for i, s := range shards {
		ends[i], _ = new(big.Int).SetString(*s.HashKeyRange.EndingHashKey, 10)
	}
	rng := rand.New(rand.NewPCG(5, 6))
	for range 10000 {
		h := aggregation.HashKey{Hi: rng.Uint64(), Lo: rng.Uint64()}
		b := h.BigInt()
		want := sort.Search(len(ends), func(i int) bool { return ends[i].Cmp(b) >= 0 })
		if got := tab.lookup(h); got != want {
			t.Fatalf("lookup(%v) = %d, want %d", h, got, want)
		}
	}
}

func TestShardSlice(t *testing.T) {
	s := ShardSlice{shard("b", "1000", "2000", false), shard("a", "999", "999", false), shard("c", "20000", "30000", false)}
	sort.Sort(s)
	if got := fmt.Sprint(shardIDs(s)); got != "[a b c]" {
		t.Fatalf("sorted %s: numeric order expected", got)
	}
}
