package instance

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync"
	"time"
)

// NewLogger returns a logger that writes lines in Fluent Bit's own format,
// "[2006/01/02 15:04:05] [ info] [output:kinesis_kpl:kinesis_kpl.0] msg k=v",
// so the plugin's lines sit among Fluent Bit's. Attributes must never carry
// record data or partition keys: callers log counts, reasons and names.
func NewLogger(w io.Writer, name string, level slog.Level) *slog.Logger {
	return slog.New(&flbHandler{w: w, mu: new(sync.Mutex), prefix: "[output:kinesis_kpl:" + name + "] ", level: level})
}

// ParseLevel maps Fluent Bit's log_level names to slog levels.
func ParseLevel(s string) (slog.Level, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "", "info":
		return slog.LevelInfo, nil
	case "debug", "trace":
		return slog.LevelDebug, nil
	case "warn", "warning":
		return slog.LevelWarn, nil
	case "error", "off":
		return slog.LevelError, nil
	}
	return 0, fmt.Errorf("log_level: %q is not one of off, error, warn, info, debug, trace", s)
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
