//go:build race

package record

// raceEnabled: the race detector drops sync.Pool entries at random, so
// allocation counts of pooled paths mean nothing under it.
const raceEnabled = true
