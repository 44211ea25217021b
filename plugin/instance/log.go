package instance

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/kinesis-kpl/fluent-bit-kinesis-kpl/conf"
)

// NewLogger returns a logger that writes lines in Fluent Bit's own format,
// "[2006/01/02 15:04:05] [ info] [output:kinesis_kpl:kinesis_kpl.0] msg k=v",
// so the plugin's lines sit among Fluent Bit's. Attributes must never carry
// record data or partition keys: callers log counts, reasons and names.
func NewLogger(w io.Writer, name string, level slog.Level) *slog.Logger {
	return slog.New(&flbHandler{w: w, mu: new(sync.Mutex), prefix: "[output:kinesis_kpl:" + name + "] ", level: level})
}

type flbHandler struct {
	w      io.Writer
	mu     *sync.Mutex
	prefix string
	attrs  string
	level  slog.Level
}

func (h *flbHandler) Enabled(_ context.Context, l slog.Level) bool { return l >= h.level }

func (h *flbHandler) Handle(_ context.Context, r slog.Record) error {
	var b strings.Builder
	t := r.Time
	if t.IsZero() {
		t = time.Now()
	}
	b.WriteString(t.Format("[2006/01/02 15:04:05] "))
	switch {
	case r.Level >= slog.LevelError:
		b.WriteString("[error] ")
	case r.Level >= slog.LevelWarn:
		b.WriteString("[ warn] ")
	case r.Level >= slog.LevelInfo:
		b.WriteString("[ info] ")
	default:
		b.WriteString("[debug] ")
	}
	b.WriteString(h.prefix)
	b.WriteString(r.Message)
	b.WriteString(h.attrs)
	r.Attrs(func(a slog.Attr) bool {
		writeAttr(&b, a)
		return true
	})
	b.WriteByte('\n')
	h.mu.Lock()
	defer h.mu.Unlock()
	_, err := io.WriteString(h.w, b.String())
	return err
}

func writeAttr(b *strings.Builder, a slog.Attr) {
	if a.Equal(slog.Attr{}) {
		return
	}
	b.WriteByte(' ')
	b.WriteString(a.Key)
	b.WriteByte('=')
	v := a.Value.Resolve().String()
	if strings.ContainsAny(v, " \t\n\"=") {
		fmt.Fprintf(b, "%q", v)
	} else {
		b.WriteString(v)
	}
}

func (h *flbHandler) WithAttrs(as []slog.Attr) slog.Handler {
	var b strings.Builder
	b.WriteString(h.attrs)
	for _, a := range as {
		writeAttr(&b, a)
	}
	c := *h
	c.attrs = b.String()
	return &c
}

// WithGroup is not used by the plugin; groups are flattened.
func (h *flbHandler) WithGroup(string) slog.Handler { return h }

// LevelFromEnv returns a Getter that reads plugin_log_level from the
// environment variable FLB_LOG_LEVEL when the section does not set it.
// Fluent Bit keeps an [OUTPUT] section's log_level to itself (Go plugins
// never see it), and the AWS Go plugin reads FLB_LOG_LEVEL, so both a
// section option and that variable work.
func LevelFromEnv(g conf.Getter, getenv func(string) string) conf.Getter {
	return levelFromEnv{g, getenv}
}

type levelFromEnv struct {
	conf.Getter
	getenv func(string) string
}

func (g levelFromEnv) Get(key string) string {
	v := g.Getter.Get(key)
	if v == "" && strings.EqualFold(key, "plugin_log_level") {
		v = g.getenv("FLB_LOG_LEVEL")
	}
	return v
}
