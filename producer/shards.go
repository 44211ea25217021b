package producer

import (
	"context"
	"errors"
	"fmt"
	"math/bits"
	"slices"

	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"

	"github.com/kinesis-kpl/fluent-bit-kinesis-kpl/aggregation"
)

// Putter is the part of the Kinesis API the producer sends with.
// *kinesis.Client satisfies it.
type Putter interface {
	PutRecords(ctx context.Context, in *kinesis.PutRecordsInput, optFns ...func(*kinesis.Options)) (*kinesis.PutRecordsOutput, error)
}

// ShardLister is the part of the Kinesis API GetKinesisShardsFunc reads the
// shard map with. *kinesis.Client satisfies it.
type ShardLister interface {
	ListShards(ctx context.Context, in *kinesis.ListShardsInput, optFns ...func(*kinesis.Options)) (*kinesis.ListShardsOutput, error)
}

// GetShardsFunc returns the stream's open shards. It is called by New with
// old == nil, then every Config.ShardRefreshInterval and after a record
// lands on a shard other than the predicted one, with the current list.
// It returns the new list, whether the map should be updated, and an
// error; on false or an error the map stays as it is. ctx bounds the call.
type GetShardsFunc func(ctx context.Context, old []types.Shard) ([]types.Shard, bool, error)

// GetKinesisShardsFunc returns a GetShardsFunc that pages through
// ListShards and keeps the open shards (those without an ending sequence
// number), sorted by starting hash key. It reports no update when the set
// of shard IDs did not change.
func GetKinesisShardsFunc(client ShardLister, streamName string) GetShardsFunc {
	return func(ctx context.Context, old []types.Shard) ([]types.Shard, bool, error) {
		var shards []types.Shard
		in := &kinesis.ListShardsInput{StreamName: &streamName}
		for {
			out, err := client.ListShards(ctx, in)
			if err != nil {
				return nil, false, err
			}
			for _, s := range out.Shards {
				if s.SequenceNumberRange != nil && s.SequenceNumberRange.EndingSequenceNumber != nil {
					continue // closed by a reshard: takes no more writes
				}
				shards = append(shards, s)
			}
			if out.NextToken == nil || *out.NextToken == "" {
				break
			}
			// ListShards refuses StreamName together with NextToken.
			in = &kinesis.ListShardsInput{NextToken: out.NextToken}
		}
		if len(shards) == 0 {
			return nil, false, errors.New("ListShards returned no open shard")
		}
		slices.SortFunc(shards, compareShards)
		if sameShardIDs(old, shards) {
			return old, false, nil
		}
		return shards, true, nil
	}
}

// StaticGetShardsFunc returns a GetShardsFunc that always gives count
// shards with evenly divided hash key ranges and IDs shardId-000000000000
// upwards. count <= 0 gives no shard map.
func StaticGetShardsFunc(count int) GetShardsFunc {
	return func(_ context.Context, old []types.Shard) ([]types.Shard, bool, error) {
		if count <= 0 {
			return nil, false, nil
		}
		shards := make([]types.Shard, count)
		// Each shard gets floor(2^128 / count) keys; the last takes the rest.
		var start aggregation.HashKey
		q := divHashSpace(uint64(count))
		for i := range shards {
			end := start.Add(q).Sub(aggregation.HashKey{Lo: 1})
			if i == count-1 {
				end = aggregation.MaxHashKey
			}
			id := fmt.Sprintf("shardId-%012d", i)
			shards[i] = types.Shard{
				ShardId: &id,
				HashKeyRange: &types.HashKeyRange{
					StartingHashKey: ptr(start.String()),
					EndingHashKey:   ptr(end.String()),
				},
			}
			start = end.Add(aggregation.HashKey{Lo: 1})
		}
		if sameShardIDs(old, shards) {
			return old, false, nil
		}
		return shards, true, nil
	}
}

// divHashSpace returns floor(2^128 / n) for n >= 1.
func divHashSpace(n uint64) aggregation.HashKey {
	if n == 1 {
		return aggregation.MaxHashKey
	}
	// 2^128 / n = (2^128 - 1) / n when n does not divide 2^128, and one
	// more when it does; for a power of two n, floor((2^128-1)/n) is one
	// short.
	hi, r := bits.Div64(0, ^uint64(0), n)
	lo, r := bits.Div64(r, ^uint64(0), n)
	q := aggregation.HashKey{Hi: hi, Lo: lo}
	if r == n-1 {
		q = q.Add(aggregation.HashKey{Lo: 1})
	}
	return q
}

func ptr[T any](v T) *T { return &v }

func sameShardIDs(a, b []types.Shard) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if deref(a[i].ShardId) != deref(b[i].ShardId) {
			return false
		}
	}
	return true
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

// compareShards orders shards by starting hash key (numerically); shards
// with a missing or bad range sort first.
func compareShards(a, b types.Shard) int {
	ka, _ := startingHashKey(a)
	kb, _ := startingHashKey(b)
	return ka.Cmp(kb)
}

func startingHashKey(s types.Shard) (aggregation.HashKey, error) {
	if s.HashKeyRange == nil || s.HashKeyRange.StartingHashKey == nil {
		return aggregation.HashKey{}, errors.New("shard has no starting hash key")
	}
	return aggregation.ParseHashKey(*s.HashKeyRange.StartingHashKey)
}

// ShardSlice sorts shards by starting hash key.
type ShardSlice []types.Shard

func (p ShardSlice) Len() int           { return len(p) }
func (p ShardSlice) Less(i, j int) bool { return compareShards(p[i], p[j]) < 0 }
func (p ShardSlice) Swap(i, j int)      { p[i], p[j] = p[j], p[i] }

// shardTable finds the shard of a hash key. It is immutable once built, so
// readers share it without locks.
type shardTable struct {
	shards []types.Shard // sorted by starting hash key
	starts []aggregation.HashKey
	ends   []aggregation.HashKey
	ids    []string
	byID   map[string]int // index of each shard ID
	// mids are the explicit hash keys (decimal) that entries to a shard
	// carry: the middle of its range, so the entry lands inside it.
	mids []string
	// prefix[i] is the shard holding the first key whose top prefixBits
	// bits are i (or the last shard starting below it); the shard of any
	// key with prefix i lies in [prefix[i], prefix[i+1]], so lookup
	// searches a handful of shards instead of all of them.
	prefix []uint32
}

// prefixBits sizes shardTable.prefix: 4,097 entries (16 KiB) keep the
// table in L1 cache and leave about one candidate shard per prefix at
// 4,096 evenly split shards.
const prefixBits = 12

// newShardTable checks and sorts shards. An empty list gives nil: no map.
func newShardTable(shards []types.Shard) (*shardTable, error) {
	if len(shards) == 0 {
		return nil, nil
	}
	sorted := slices.Clone(shards)
	slices.SortFunc(sorted, compareShards)
	t := &shardTable{
		shards: sorted,
		starts: make([]aggregation.HashKey, len(sorted)),
		ends:   make([]aggregation.HashKey, len(sorted)),
		ids:    make([]string, len(sorted)),
		mids:   make([]string, len(sorted)),
		byID:   make(map[string]int, len(sorted)),
	}
	for i, s := range sorted {
		if s.ShardId == nil || s.HashKeyRange == nil || s.HashKeyRange.EndingHashKey == nil {
			return nil, fmt.Errorf("shard %d has no ID or hash key range", i)
		}
		start, err := startingHashKey(s)
		if err != nil {
			return nil, fmt.Errorf("shard %s: starting hash key: %w", *s.ShardId, err)
		}
		end, err := aggregation.ParseHashKey(*s.HashKeyRange.EndingHashKey)
		if err != nil {
			return nil, fmt.Errorf("shard %s: ending hash key: %w", *s.ShardId, err)
		}
		if end.Cmp(start) < 0 {
			return nil, fmt.Errorf("shard %s: ending hash key below starting hash key", *s.ShardId)
		}
		if i > 0 && start.Cmp(t.ends[i-1]) <= 0 {
			return nil, fmt.Errorf("shard %s overlaps shard %s", *s.ShardId, t.ids[i-1])
		}
		t.starts[i], t.ends[i], t.ids[i] = start, end, *s.ShardId
		t.byID[*s.ShardId] = i
		t.mids[i] = aggregation.Midpoint(start, end).String()
	}
	t.prefix = make([]uint32, 1<<prefixBits+1)
	for i := range 1 << prefixBits {
		t.prefix[i] = uint32(t.lastStartAtOrBelow(aggregation.HashKey{Hi: uint64(i) << (64 - prefixBits)}, 0, len(t.starts)-1))
	}
	t.prefix[1<<prefixBits] = uint32(len(t.starts) - 1)
	return t, nil
}

// lastStartAtOrBelow returns the last shard index in [lo, hi] whose start
// is <= h, or lo when none is.
func (t *shardTable) lastStartAtOrBelow(h aggregation.HashKey, lo, hi int) int {
	starts := t.starts
	n := hi - lo + 1
	for n > 1 {
		half := n >> 1
		s := starts[lo+half]
		if s.Hi < h.Hi || (s.Hi == h.Hi && s.Lo <= h.Lo) {
			lo += half
		}
		n -= half
	}
	return lo
}

// holdsAll reports whether the shard with ID id holds the hash key that
// a KCL consumer checks for every record of aggregate e: whether it keeps
// all of them when e is stored on that shard. That is a sub-record's
// explicit hash key when it has one, its partition key's hash otherwise
// (checkedHash).
func (t *shardTable) holdsAll(id string, e *entry) bool {
	if t == nil {
		return false
	}
	s, ok := t.byID[id]
	if !ok {
		return false
	}
	for i := range e.refs {
		if !e.checkedHash(&e.refs[i]).InRange(t.starts[s], t.ends[s]) {
			return false
		}
	}
	return true
}

// checkedHash is the hash key a KCL consumer checks for ref as a
// sub-record of aggregate e. A record with a key of its own carries it
// (hash). One without was encoded with the explicit hash key of the shard
// e was predicted for (aggregator.keysOf), or without a shard with the
// aggregate's partition key, which is e's.
func (e *entry) checkedHash(ref *recRef) aggregation.HashKey {
	switch {
	case !ref.anyKey:
		return ref.hash
	case e.shard >= 0:
		return aggregation.Midpoint(e.table.starts[e.shard], e.table.ends[e.shard])
	default:
		return aggregation.PartitionKeyHash(e.pk)
	}
}

// lookup returns the index of the shard holding h, or -1 when h falls in a
// gap of the map. It compares two uint64 words per step and does not
// allocate.
func (t *shardTable) lookup(h aggregation.HashKey) int {
	p := h.Hi >> (64 - prefixBits)
	lo := t.lastStartAtOrBelow(h, int(t.prefix[p]), int(t.prefix[p+1]))
	s, e := t.starts[lo], t.ends[lo]
	if h.Hi < s.Hi || (h.Hi == s.Hi && h.Lo < s.Lo) || h.Hi > e.Hi || (h.Hi == e.Hi && h.Lo > e.Lo) {
		return -1
	}
	return lo
}
