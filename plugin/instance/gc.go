package instance

import (
	"log/slog"
	"os"
	"runtime/debug"
	"sync"
)

// The Go runtime lets its heap grow to twice what is live before it
// collects (GOGC=100). In a process of its own that is a fair trade; as a
// plugin it is Fluent Bit's memory, and the garbage between collections
// is mostly request bodies and records' bytes that were already sent. So
// the plugin collects when the heap has grown by half of what is live
// (gcPercent), unless the user chose for the process with the GOGC
// environment variable, which the runtime reads and the plugin then leaves
// alone. The collector's marking cost per cycle is small here: most of
// the live heap is byte slices, which hold no pointers to follow.
// GOMEMLIMIT, a ceiling the runtime collects harder to stay under, is
// honoured as the runtime reads it; the plugin sets none of its own.
const gcPercent = 50

var gcTuned sync.Once

// tuneGC sets the collector's percentage to gcPercent unless GOGC is set,
// and reports whether it did. getenv and set stand for os.Getenv and
// debug.SetGCPercent.
func tuneGC(getenv func(string) string, set func(int) int) bool {
	if getenv("GOGC") != "" {
		return false
	}
	set(gcPercent)
	return true
}

// tuneProcessGC is tuneGC for the process, done once, by the first
// instance to open.
func tuneProcessGC(log *slog.Logger) {
	gcTuned.Do(func() {
		if tuneGC(os.Getenv, debug.SetGCPercent) {
			log.Debug("garbage collection", "GOGC", gcPercent, "from", "plugin")
		} else {
			log.Debug("garbage collection", "GOGC", os.Getenv("GOGC"), "from", "environment")
		}
	})
}
