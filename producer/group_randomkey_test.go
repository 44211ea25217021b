package producer

import "testing"

// Every random key has the same length, so that a size counted with one
// holds with another.
func TestAppendRandomKeyHasAFixedLength(t *testing.T) {
	seen := map[string]bool{}
	for range 1000 {
		k := AppendRandomKey(nil)
		if len(k) != RandomKeyLen || !validPartitionKey(string(k)) {
			t.Fatalf("key %q: %d bytes, want %d", k, len(k), RandomKeyLen)
		}
		seen[string(k)] = true
	}
	if len(seen) < 999 {
		t.Fatalf("%d distinct keys of 1000", len(seen))
	}
}
