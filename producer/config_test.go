package producer

import (
	"bytes"
	"errors"
	"log"
	"log/slog"
	"strings"
	"testing"
	"time"
)

func TestConfigDefaults(t *testing.T) {
	c := Config{StreamName: "s", Client: newNopPutter()}.withDefaults()
	if err := c.validate(); err != nil {
		t.Fatal(err)
	}
	checks := []struct {
		name      string
		got, want any
	}{
		{"FlushInterval", c.FlushInterval, 5 * time.Second},
		{"BatchCount", c.BatchCount, 500},
		{"BatchSize", c.BatchSize, 5 << 20},
		{"MaxConnections", c.MaxConnections, 24},
		{"BacklogCount", c.BacklogCount, 500},
		{"RecordTTL", c.RecordTTL, 30 * time.Second},
		{"RateLimit", c.RateLimit, 150},
		{"MaxRecordSize", c.MaxRecordSize, 1 << 20},
		{"AggregateBatchSize", c.AggregateBatchSize, 50 << 10},
		{"AggregateBatchCount", c.AggregateBatchCount, 4294967295},
		{"ShardRefreshInterval", c.ShardRefreshInterval, time.Duration(0)},
	}
	for _, ch := range checks {
		if ch.got != ch.want {
			t.Errorf("%s = %v, want %v", ch.name, ch.got, ch.want)
		}
	}
	if _, ok := c.Logger.(NopLogger); !ok {
		t.Errorf("default Logger %T", c.Logger)
	}
}

func TestConfigValidate(t *testing.T) {
	ok := func(c *Config) { c.StreamName, c.Client = "s", newNopPutter() }
	tests := []struct {
		name string
		mod  func(*Config)
		want []string // every problem named
	}{
		{"empty", func(*Config) {}, []string{"StreamName is required", "Client is required"}},
		{"too many entries", func(c *Config) { ok(c); c.BatchCount = 501 }, []string{"BatchCount"}},
		{"request over 10 MiB", func(c *Config) { ok(c); c.BatchSize = 10<<20 + 1 }, []string{"BatchSize"}},
		{"10 MiB records and requests", func(c *Config) {
			ok(c)
			c.MaxRecordSize, c.BatchSize, c.AggregateBatchSize, c.BufferMaxBytes = 10<<20, 10<<20, 10<<20, 64<<20
		}, nil},
		{"record over 10 MiB", func(c *Config) { ok(c); c.MaxRecordSize = 10<<20 + 1 }, []string{"MaxRecordSize"}},
		{"aggregate over record", func(c *Config) { ok(c); c.AggregateBatchSize = 2 << 20 }, []string{"AggregateBatchSize"}},
		{"buffer below a record", func(c *Config) { ok(c); c.BufferMaxBytes = 1000 }, []string{"BufferMaxBytes"}},
		{"negative durations", func(c *Config) {
			ok(c)
			c.FlushInterval, c.ShardRefreshInterval, c.RecordTTL, c.RequestTimeout = -1, -1, -1, -1
		}, []string{"FlushInterval", "ShardRefreshInterval", "RecordTTL", "RequestTimeout"}},
		{"bad rate limit", func(c *Config) { ok(c); c.RateLimit = -5 }, []string{"RateLimit"}},
		{"no rate limit", func(c *Config) { ok(c); c.RateLimit = NoRateLimit }, nil},
		{"connections", func(c *Config) { ok(c); c.MaxConnections = -1 }, []string{"MaxConnections"}},
		{"newline aggregation", func(c *Config) { ok(c); c.AggregationFormat = AggregationNewline }, nil},
		{"unknown aggregation format", func(c *Config) { ok(c); c.AggregationFormat = 7 }, []string{"AggregationFormat must be", "AggregationFormat(7)"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var c Config
			tc.mod(&c)
			_, err := New(&c)
			if len(tc.want) == 0 {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if !errors.Is(err, ErrInvalidConfig) {
				t.Fatalf("err = %v, want ErrInvalidConfig", err)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not name %q", err, w)
				}
			}
		})
	}
	if _, err := New(nil); !errors.Is(err, ErrInvalidConfig) {
		t.Errorf("New(nil): %v", err)
	}
}

func TestLoggers(t *testing.T) {
	var buf bytes.Buffer
	std := &StdLogger{Logger: log.New(&buf, "", 0)}
	std.Info("hello", LogValue{"n", 3})
	std.Error("bad", errors.New("boom"), LogValue{"stream", "s"})
	if got := buf.String(); got != "INFO hello n=3\nERROR bad error=boom stream=s\n" {
		t.Errorf("StdLogger wrote %q", got)
	}
	buf.Reset()
	sl := &SlogLogger{Logger: slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{
		ReplaceAttr: func(_ []string, a slog.Attr) slog.Attr {
			if a.Key == slog.TimeKey {
				return slog.Attr{}
			}
			return a
		},
	}))}
	sl.Info("hello", LogValue{"n", 3})
	sl.Error("bad", errors.New("boom"))
	if got := buf.String(); got != "level=INFO msg=hello n=3\nlevel=ERROR msg=bad error=boom\n" {
		t.Errorf("SlogLogger wrote %q", got)
	}
	var _ Logger = NopLogger{}
	NopLogger{}.Info("x")
	NopLogger{}.Error("x", nil)
}
