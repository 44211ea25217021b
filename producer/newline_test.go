package producer

import (
	"fmt"
	"strings"
	"testing"
	"testing/synctest"
)

// TestNewlineAggregates checks the bytes of newline aggregates: records
// joined with a newline after each (none added after one that ends with
// one), sizes counted exactly (data plus the partition key, up to
// AggregateBatchSize and not one byte more) and an aggregate of one record
// sent as the record itself.
func TestNewlineAggregates(t *testing.T) {
	tests := []struct {
		name  string
		limit int // AggregateBatchSize
		data  []string
		want  []string // entries' data, in order
	}{
		{name: "one record is sent plain", limit: 1000, data: []string{"hello"}, want: []string{"hello"}},
		{name: "two records", limit: 1000, data: []string{"a", "b"}, want: []string{"a\nb\n"}},
		{
			// 9 records of 10 bytes take 9*11 = 99 bytes, plus the key
			// "kk": exactly 101.
			name: "exact fit", limit: 101, data: repeat("0123456789", 18),
			want: []string{strings.Repeat("0123456789\n", 9), strings.Repeat("0123456789\n", 9)},
		},
		{
			name: "one byte short", limit: 100, data: repeat("0123456789", 18),
			want: []string{strings.Repeat("0123456789\n", 8), strings.Repeat("0123456789\n", 8), strings.Repeat("0123456789\n", 2)},
		},
		{
			name: "the one left over goes plain", limit: 101, data: repeat("0123456789", 10),
			want: []string{strings.Repeat("0123456789\n", 9), "0123456789"},
		},
		{
			// Records that end with a newline take no second one: 10 of
			// them take 100 bytes, plus the key.
			name: "records ending with a newline", limit: 102, data: repeat("012345678\n", 20),
			want: []string{strings.Repeat("012345678\n", 10), strings.Repeat("012345678\n", 10)},
		},
		{name: "empty records", limit: 1000, data: []string{"", "x", ""}, want: []string{"\nx\n\n"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				f := newFake(1)
				p := newTestProducer(t, f, func(c *Config) {
					c.AggregationFormat = AggregationNewline
					c.AggregateBatchSize = tc.limit
					c.GetShards = nil
				})
				p.Start()
				g := p.NewGroup()
				for _, d := range tc.data {
					g.Add([]byte(d), "kk")
				}
				putAllAndStop(t, p, g, len(tc.data))
				var got []string
				for _, e := range f.sent {
					got = append(got, e.data)
					if e.pk != "kk" || e.ehk != "" {
						t.Errorf("entry keys %q %q, want kk and none", e.pk, e.ehk)
					}
					if len(e.data)+len(e.pk) > tc.limit {
						t.Errorf("entry of %d bytes, limit %d", len(e.data)+len(e.pk), tc.limit)
					}
				}
				if fmt.Sprintf("%q", got) != fmt.Sprintf("%q", tc.want) {
					t.Errorf("entries\n%q\nwant\n%q", got, tc.want)
				}
			})
		})
	}
}

// TestNewlineShardAware: with a shard map, only records predicted for one
// shard share a newline aggregate, which carries an explicit hash key in
// that shard; without one, only records of one key share one, or records
// added with AddAnyKey.
func TestNewlineShardAware(t *testing.T) {
	tests := []struct {
		name   string
		shards int // 0: no shard map
		anyKey bool
	}{
		{name: "four shards", shards: 4},
		{name: "no shard map", shards: 0},
		{name: "no shard map, any key", shards: 0, anyKey: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				f := newFake(max(tc.shards, 1))
				p := newTestProducer(t, f, func(c *Config) {
					c.AggregationFormat = AggregationNewline
					if tc.shards == 0 {
						c.GetShards = nil
					}
				})
				p.Start()
				const n = 400
				g := p.NewGroup()
				for i := range n {
					key := fmt.Sprintf("key-%d", i%40)
					if tc.anyKey {
						g.AddAnyKey([]byte(fmt.Sprintf("any|%04d", i)))
					} else {
						g.Add([]byte(fmt.Sprintf("%s|%04d", key, i)), key)
					}
				}
				putAllAndStop(t, p, g, n)
				f.mu.Lock()
				defer f.mu.Unlock()
				if f.outOfShard != 0 {
					t.Errorf("%d entries hold records predicted for another shard", f.outOfShard)
				}
				if len(f.kclSeen) != n {
					t.Errorf("%d distinct records read, want %d", len(f.kclSeen), n)
				}
				wantEntries := map[int]int{4: 4, 0: 40}[tc.shards]
				if tc.anyKey {
					wantEntries = 1
				}
				if f.entries != wantEntries {
					t.Errorf("%d entries, want %d", f.entries, wantEntries)
				}
				for _, e := range f.sent {
					keys := map[string]bool{}
					for _, l := range strings.Split(strings.TrimSuffix(e.data, "\n"), "\n") {
						k, _, _ := strings.Cut(l, "|")
						keys[k] = true
					}
					switch {
					case tc.shards > 0 && e.ehk != f.table.mids[e.shardIdx]:
						t.Errorf("aggregate with explicit hash key %q, want the middle of its shard", e.ehk)
					case tc.shards == 0 && (e.ehk != "" || len(keys) != 1):
						t.Errorf("without a map an entry holds keys %v, explicit hash key %q", keys, e.ehk)
					}
				}
			})
		})
	}
}
