package producer

import (
	"context"
	"fmt"
	"log"
	"log/slog"
	"strings"
)

// LogValue is a key:value pair given to a Logger. The producer never puts
// record data or partition keys in one.
type LogValue struct {
	Name  string
	Value interface{}
}

func (v LogValue) String() string { return fmt.Sprintf("%s=%v", v.Name, v.Value) }

// Logger is what the producer logs through. Implementations must be safe
// for concurrent use.
type Logger interface {
	Info(msg string, values ...LogValue)
	Error(msg string, err error, values ...LogValue)
}

// StdLogger is a Logger over a standard library *log.Logger.
type StdLogger struct {
	Logger *log.Logger
}

// Info logs msg and values.
func (l *StdLogger) Info(msg string, values ...LogValue) {
	l.Logger.Print(formatLog("INFO", msg, nil, values))
}

// Error logs msg, err and values.
func (l *StdLogger) Error(msg string, err error, values ...LogValue) {
	l.Logger.Print(formatLog("ERROR", msg, err, values))
}

func formatLog(level, msg string, err error, values []LogValue) string {
	var b strings.Builder
	b.WriteString(level)
	b.WriteByte(' ')
	b.WriteString(msg)
	if err != nil {
		b.WriteString(" error=")
		b.WriteString(err.Error())
	}
	for _, v := range values {
		b.WriteByte(' ')
		b.WriteString(v.String())
	}
	return b.String()
}

// NopLogger discards everything.
type NopLogger struct{}

// Info does nothing.
func (NopLogger) Info(string, ...LogValue) {}

// Error does nothing.
func (NopLogger) Error(string, error, ...LogValue) {}

// SlogLogger adapts a *log/slog.Logger: Info logs at slog.LevelInfo, Error
// at slog.LevelError with the error under the key "error".
type SlogLogger struct {
	Logger *slog.Logger
}

// Info logs msg and values at LevelInfo.
func (l *SlogLogger) Info(msg string, values ...LogValue) {
	l.log(slog.LevelInfo, msg, nil, values)
}

// Error logs msg, err and values at LevelError.
func (l *SlogLogger) Error(msg string, err error, values ...LogValue) {
	l.log(slog.LevelError, msg, err, values)
}

func (l *SlogLogger) log(level slog.Level, msg string, err error, values []LogValue) {
	ctx := context.Background()
	if !l.Logger.Enabled(ctx, level) {
		return
	}
	attrs := make([]slog.Attr, 0, len(values)+1)
	if err != nil {
		attrs = append(attrs, slog.String("error", err.Error()))
	}
	for _, v := range values {
		attrs = append(attrs, slog.Any(v.Name, v.Value))
	}
	l.Logger.LogAttrs(ctx, level, msg, attrs...)
}
