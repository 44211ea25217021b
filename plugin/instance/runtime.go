package instance

import (
	"log/slog"
	"os"
	"runtime"
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

// Go runs goroutines on GOMAXPROCS threads at once (by default one per
// core the process may use). Each flush is a call from Fluent Bit's thread
// into Go; when it returns, the runtime keeps that thread's slot for it,
// and while another slot is idle its monitor thread polls every 20 µs for
// up to 10 ms to take it back: at one flush a second that polling was a
// third of an idle plugin's CPU. With one slot none is idle, and the slot
// comes back within about 40 µs. One slot carries the plugin's work for
// any number of workers: about 3 µs of CPU per record, well over 300,000
// records a second (the side-by-side runs pin Fluent Bit to one core, so
// Go had one slot there too). So the plugin runs Go on goMaxProcs threads
// unless the user chose with the GOMAXPROCS environment variable.
const goMaxProcs = 1

var runtimeTuned sync.Once

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

// tuneProcs sets GOMAXPROCS to goMaxProcs unless the GOMAXPROCS
// environment variable is set, and reports whether it did. getenv and set
// stand for os.Getenv and runtime.GOMAXPROCS.
func tuneProcs(getenv func(string) string, set func(int) int) bool {
	if getenv("GOMAXPROCS") != "" {
		return false
	}
	set(goMaxProcs)
	return true
}

// tuneProcessRuntime is tuneGC and tuneProcs for the process, done once, by
// the first instance to open.
func tuneProcessRuntime(log *slog.Logger) {
	runtimeTuned.Do(func() {
		if tuneGC(os.Getenv, debug.SetGCPercent) {
			log.Debug("garbage collection", "GOGC", gcPercent, "from", "plugin")
		} else {
			log.Debug("garbage collection", "GOGC", os.Getenv("GOGC"), "from", "environment")
		}
		if tuneProcs(os.Getenv, runtime.GOMAXPROCS) {
			log.Debug("Go threads", "GOMAXPROCS", goMaxProcs, "from", "plugin")
		} else {
			log.Debug("Go threads", "GOMAXPROCS", os.Getenv("GOMAXPROCS"), "from", "environment")
		}
	})
}
