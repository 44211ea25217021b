package instance

import "testing"

// TestTuneRuntime: the plugin sets GOGC and GOMAXPROCS to its own values
// only when the environment variable of the same name is unset.
func TestTuneRuntime(t *testing.T) {
	tests := []struct {
		name    string
		env     string // the variable tune reads
		value   string
		tune    func(getenv func(string) string, set func(int) int) bool
		wantSet int // 0: not set
	}{
		{name: "GOGC unset: the plugin's", env: "GOGC", tune: tuneGC, wantSet: gcPercent},
		{name: "GOGC set: the user's", env: "GOGC", value: "200", tune: tuneGC},
		{name: "GOGC off: the user's", env: "GOGC", value: "off", tune: tuneGC},
		{name: "GOMAXPROCS unset: the plugin's", env: "GOMAXPROCS", tune: tuneProcs, wantSet: goMaxProcs},
		{name: "GOMAXPROCS set: the user's", env: "GOMAXPROCS", value: "4", tune: tuneProcs},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			getenv := func(k string) string {
				if k == tc.env {
					return tc.value
				}
				return ""
			}
			set := 0
			ours := tc.tune(getenv, func(n int) int { set = n; return 100 })
			if set != tc.wantSet || ours != (tc.wantSet != 0) {
				t.Errorf("set %d (ours %v), want %d", set, ours, tc.wantSet)
			}
		})
	}
}
