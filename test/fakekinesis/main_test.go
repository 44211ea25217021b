package fakekinesis_test

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the run if any goroutine outlives the tests: Close must
// leave nothing behind, even with requests held or connections dropped.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}
