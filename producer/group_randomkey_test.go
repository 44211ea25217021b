package producer

import (
	"testing"

	"github.com/kinesis-kpl/fluent-bit-kinesis-kpl/aggregation"
)

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

// Keys from a group's pool (AddAnyKey with aggregation off) carry their
// own hash, keep changing, and spread evenly over the hash key space.
func TestRandomKeysFromThePool(t *testing.T) {
	const takes, ranges = 400_000, 64
	var pool randomKeys
	distinct := map[[RandomKeyLen]byte]bool{}
	var perRange [ranges]int
	for range takes {
		k := pool.next()
		pk := string(k.pk[:])
		if !validPartitionKey(pk) || k.hash != aggregation.PartitionKeyHash(pk) {
			t.Fatalf("key %q: hash %v, its partition key hash is %v", pk, k.hash, aggregation.PartitionKeyHash(pk))
		}
		distinct[k.pk] = true
		perRange[k.hash.Hi>>58]++
	}
	// Every keyRenewEvery-th take makes a new key, and each slot's first.
	if want := takes / keyRenewEvery; len(distinct) < want {
		t.Errorf("%d distinct keys in %d takes, want at least %d", len(distinct), takes, want)
	}
	// About 8 takes share each key, so a range's count varies by about
	// sqrt(8/6250) = 3.6 %: 20 % is over five deviations.
	for i, n := range perRange {
		if want := takes / ranges; n < want*8/10 || n > want*12/10 {
			t.Errorf("hash range %d of %d: %d keys, want about %d", i, ranges, n, want)
		}
	}
}
