package aggregation

import (
	"strconv"
	"testing"
)

// The table gives every key the index of its first appearance, through
// each of its shapes: empty, one key without a map, a map with its cache,
// and reset (which keeps the map).
func TestKeyTableIndexes(t *testing.T) {
	tests := []struct {
		name string
		keys []string
	}{
		{"one key", []string{"a", "a", "a"}},
		{"the first key again after the second", []string{"a", "b", "a", "b", "c", "a"}},
		{"a miss remembered, then added", []string{"a", "b", "b"}},
		{"empty key", []string{"", "x", ""}},
		{"many keys", func() []string {
			var ks []string
			for i := range 600 { // more than the cache's slots
				ks = append(ks, strconv.Itoa(i%300))
			}
			return ks
		}()},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var kt keyTable
			for round := range 2 { // the second round runs on the reset table
				want := map[string]uint64{}
				var order []string
				for i, k := range tt.keys {
					wantIdx, seen := want[k]
					if !seen {
						wantIdx = uint64(len(order))
						want[k] = wantIdx
						order = append(order, k)
					}
					if idx, found := kt.lookup(k); idx != wantIdx || found != seen {
						t.Fatalf("round %d, key %d (%q): lookup = %d, %v; want %d, %v", round, i, k, idx, found, wantIdx, seen)
					}
					if idx, added := kt.indexOf(k); idx != wantIdx || added == seen {
						t.Fatalf("round %d, key %d (%q): indexOf = %d, added %v; want %d, added %v", round, i, k, idx, added, wantIdx, !seen)
					}
				}
				if len(kt.keys) != len(order) {
					t.Fatalf("round %d: %d keys, want %d", round, len(kt.keys), len(order))
				}
				for i, k := range order {
					if kt.keys[i] != k {
						t.Fatalf("round %d: keys[%d] = %q, want %q", round, i, kt.keys[i], k)
					}
				}
				kt.reset()
			}
		})
	}
}

// An aggregate of one key allocates nothing for its table beyond the key
// slice.
func TestKeyTableOneKeyNoMap(t *testing.T) {
	var kt keyTable
	for range 10 {
		kt.indexOf("pod-a")
	}
	if kt.index != nil || kt.cache != nil {
		t.Fatalf("a table of one key made its map (%v) or cache (%v)", kt.index != nil, kt.cache != nil)
	}
	kt.indexOf("pod-b")
	if kt.index == nil || kt.cache == nil {
		t.Fatal("the second key did not make the map and cache")
	}
}
