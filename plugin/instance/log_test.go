package instance

import (
	"bytes"
	"log/slog"
	"strings"
	"testing"

	"github.com/kinesis-kpl/fluent-bit-kinesis-kpl/conf"
)

// plugin_log_level comes from the section, else from FLB_LOG_LEVEL, else
// the default; Fluent Bit's own log_level never reaches the plugin.
func TestLevelFromEnv(t *testing.T) {
	cases := []struct {
		name    string
		section conf.MapGetter
		env     string
		want    slog.Level
	}{
		{"default", conf.MapGetter{}, "", slog.LevelInfo},
		{"environment", conf.MapGetter{}, "debug", slog.LevelDebug},
		{"section wins", conf.MapGetter{"plugin_log_level": "error"}, "debug", slog.LevelError},
		{"off", conf.MapGetter{"Plugin_Log_Level": "off"}, "", conf.LevelOff},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			tc.section["stream"] = "s"
			getenv := func(k string) string {
				if k == "FLB_LOG_LEVEL" {
					return tc.env
				}
				return ""
			}
			cfg, err := conf.Load(LevelFromEnv(tc.section, getenv))
			if err != nil {
				t.Fatal(err)
			}
			if cfg.LogLevel != tc.want {
				t.Fatalf("level %v, want %v", cfg.LogLevel, tc.want)
			}
		})
	}
	_, err := conf.Load(LevelFromEnv(conf.MapGetter{"stream": "s"}, func(string) string { return "loud" }))
	if err == nil || !strings.Contains(err.Error(), "plugin_log_level:") {
		t.Fatalf("a bad FLB_LOG_LEVEL gave %v, want an error naming plugin_log_level", err)
	}
}

func TestLoggerLevels(t *testing.T) {
	for _, tc := range []struct {
		level slog.Level
		want  string // the levels written, of debug, info, warn, error
	}{
		{slog.LevelDebug, "[debug] [ info] [ warn] [error] "},
		{slog.LevelInfo, "[ info] [ warn] [error] "},
		{slog.LevelError, "[error] "},
		{conf.LevelOff, ""},
	} {
		var b bytes.Buffer
		log := NewLogger(&b, "kinesis_kpl.0", tc.level)
		log.Debug("d")
		log.Info("i")
		log.Warn("w")
		log.Error("e")
		var got strings.Builder
		for _, line := range strings.Split(strings.TrimSpace(b.String()), "\n") {
			if f := strings.SplitN(line, "] ", 3); len(f) == 3 {
				got.WriteString(f[1] + "] ")
			}
		}
		if got.String() != tc.want {
			t.Errorf("at %v wrote %q, want %q", tc.level, got.String(), tc.want)
		}
	}
}
