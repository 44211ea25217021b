package instance

import "testing"

func TestTuneGC(t *testing.T) {
	tests := []struct {
		name    string
		gogc    string
		wantSet int // 0: not set
	}{
		{name: "GOGC unset: the plugin's", wantSet: gcPercent},
		{name: "GOGC set: the user's", gogc: "200"},
		{name: "GOGC off: the user's", gogc: "off"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			getenv := func(k string) string {
				if k == "GOGC" {
					return tc.gogc
				}
				return ""
			}
			set := 0
			ours := tuneGC(getenv, func(p int) int { set = p; return 100 })
			if set != tc.wantSet || ours != (tc.wantSet != 0) {
				t.Errorf("set %d (ours %v), want %d", set, ours, tc.wantSet)
			}
		})
	}
}

func TestTuneProcs(t *testing.T) {
	tests := []struct {
		name       string
		gomaxprocs string
		wantSet    int // 0: not set
	}{
		{name: "GOMAXPROCS unset: the plugin's", wantSet: goMaxProcs},
		{name: "GOMAXPROCS set: the user's", gomaxprocs: "4"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			getenv := func(k string) string {
				if k == "GOMAXPROCS" {
					return tc.gomaxprocs
				}
				return ""
			}
			set := 0
			ours := tuneProcs(getenv, func(n int) int { set = n; return 2 })
			if set != tc.wantSet || ours != (tc.wantSet != 0) {
				t.Errorf("set %d (ours %v), want %d", set, ours, tc.wantSet)
			}
		})
	}
}
