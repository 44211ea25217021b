package aggregation

// keyTable is one de-duplicated key table of an aggregate: keys in
// first-seen order, and each key's index in that order.
//
// Looking a key up is the main per-record cost besides copying and MD5, and
// it happens twice per record (SizeWith, then Add), so the last answer is
// remembered (Add usually asks about the very string SizeWith just asked
// about, which compares equal in O(1)), and a small direct-mapped cache sits
// in front of the map. The map stays the authority: the memo and the cache
// only hold answers the map would give, so a poor spread of keys over cache
// slots costs speed, never correctness.
type keyTable struct {
	index map[string]uint64
	keys  []string
	cache *[keyCacheSlots]cachedKey // allocated with the second key, as index
	// last is the most recent lookup's answer; set is false when there is
	// none. A remembered miss stays true until the next insert, which
	// replaces it.
	last cachedKey
}

const (
	keyCacheBits  = 7
	keyCacheSlots = 1 << keyCacheBits
)

type cachedKey struct {
	key   string
	index uint64
	found bool // false only in a remembered miss
	set   bool
}

// lookup returns the key's index and whether the table holds it; for a
// missing key the index is the one it would get.
func (t *keyTable) lookup(key string) (uint64, bool) {
	if t.last.set && key == t.last.key {
		return t.last.index, t.last.found
	}
	if t.cache == nil {
		// No map yet: the table holds at most one key.
		if len(t.keys) == 1 && t.keys[0] == key {
			t.last = cachedKey{key: key, found: true, set: true}
			return 0, true
		}
		t.last = cachedKey{key: key, index: uint64(len(t.keys)), set: true}
		return t.last.index, false
	}
	slot := &t.cache[cacheSlot(key)]
	if slot.set && slot.key == key {
		t.last = *slot
		return slot.index, true
	}
	idx, ok := t.index[key]
	if ok {
		*slot = cachedKey{key: key, index: idx, found: true, set: true}
		t.last = *slot
		return idx, true
	}
	t.last = cachedKey{key: key, index: uint64(len(t.keys)), set: true}
	return t.last.index, false
}

// indexOf returns the key's index, adding the key at the end of the table
// if it is new (added is then true).
func (t *keyTable) indexOf(key string) (idx uint64, added bool) {
	if idx, ok := t.lookup(key); ok {
		return idx, false
	}
	idx = uint64(len(t.keys))
	if idx == 0 && t.index == nil {
		// Many aggregates carry one key (records without a key of their
		// own share one, a pod's records share its name): the first key
		// needs no map and no cache, which the second one brings.
		t.keys = append(t.keys, key)
		t.last = cachedKey{key: key, found: true, set: true}
		return 0, true
	}
	if t.index == nil {
		t.index = make(map[string]uint64)
		t.cache = new([keyCacheSlots]cachedKey)
		first := t.keys[0]
		t.index[first] = 0
		t.cache[cacheSlot(first)] = cachedKey{key: first, found: true, set: true}
	}
	t.index[key] = idx
	t.keys = append(t.keys, key)
	t.last = cachedKey{key: key, index: idx, found: true, set: true}
	t.cache[cacheSlot(key)] = t.last
	return idx, true
}

// reset empties the table, keeping its memory but dropping every key string
// so that a reused Encoder does not pin them.
func (t *keyTable) reset() {
	if len(t.keys) == 0 && !t.last.set {
		return
	}
	clear(t.index)
	clear(t.keys)
	t.keys = t.keys[:0]
	if t.cache != nil {
		clear(t.cache[:])
	}
	t.last = cachedKey{}
}

// cacheSlot picks a cache slot from the key's length and up to 24 of its
// bytes (start, middle, end). It needs to be cheap, not strong: collisions
// only send a lookup on to the map.
func cacheSlot(key string) uint {
	const mul = 0x9E3779B97F4A7C15
	n := len(key)
	h := uint64(n) * mul
	if n >= 8 {
		h = (h ^ load64(key, 0)) * mul
		h = (h ^ load64(key, (n-8)/2)) * mul
		h = (h ^ load64(key, n-8)) * mul
	} else {
		for i := 0; i < n; i++ {
			h = (h ^ uint64(key[i])) * mul
		}
	}
	return uint(h >> (64 - keyCacheBits))
}

// load64 reads 8 bytes of s at i, little-endian; the compiler turns it into
// one load.
func load64(s string, i int) uint64 {
	s = s[i : i+8]
	return uint64(s[0]) | uint64(s[1])<<8 | uint64(s[2])<<16 | uint64(s[3])<<24 |
		uint64(s[4])<<32 | uint64(s[5])<<40 | uint64(s[6])<<48 | uint64(s[7])<<56
}
