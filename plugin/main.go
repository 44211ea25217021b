// Command plugin is the Fluent Bit output plugin kinesis_kpl, built as a
// c-shared object (out_kinesis_kpl.so). This is the only package that uses
// cgo. It stays thin: each export recovers panics, finds its instance from
// the context Fluent Bit hands back, and calls plain Go in plugin/instance.
package main

import "C"

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"runtime/debug"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
	"unsafe"

	"github.com/kinesis-kpl/fluent-bit-kinesis-kpl/conf"
	"github.com/kinesis-kpl/fluent-bit-kinesis-kpl/plugin/instance"
)

const (
	pluginName = "kinesis_kpl"
	pluginDesc = "Amazon Kinesis Data Streams, KPL-aggregated"
)

// version is stamped by the build (-ldflags -X main.version=...) and
// logged at init, so a log says which build ran.
var version = "dev"

// instanceSeq numbers instances for their log prefix, as Fluent Bit does
// (kinesis_kpl.0, kinesis_kpl.1, ...).
var instanceSeq atomic.Int64

// open holds the instances that have not been closed, for the exit path
// only: Fluent Bit 1.8 calls FLBPluginExitCtx once per instance but always
// with the context of the last one initialised, so the exit must be able to
// reach every instance. Flushes never look here.
var open struct {
	sync.Mutex
	set map[*instance.Instance]struct{}
}

type propertyGetter struct{ plugin unsafe.Pointer }

func (g propertyGetter) Get(key string) string { return property(g.plugin, key) }

//export FLBPluginRegister
func FLBPluginRegister(def unsafe.Pointer) int {
	return registerPlugin(def, pluginName, pluginDesc)
}

//export FLBPluginInit
func FLBPluginInit(plugin unsafe.Pointer) (status int) {
	name := pluginName + "." + strconv.FormatInt(instanceSeq.Add(1)-1, 10)
	defer func() {
		if r := recover(); r != nil {
			fmt.Fprintf(os.Stderr, "[error] [output:%s:%s] init failed: internal error: %v\n%s", pluginName, name, r, debug.Stack())
			status = flbError
		}
	}()
	cfg, err := conf.Load(instance.LevelFromEnv(propertyGetter{plugin}, os.Getenv))
	if err != nil {
		instance.NewLogger(os.Stderr, name, slog.LevelError).Error("cannot start: " + err.Error())
		return flbError
	}
	log := instance.NewLogger(os.Stderr, name, cfg.LogLevel)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	in, err := instance.Open(ctx, name, cfg, log)
	if err != nil {
		log.Error("cannot start: " + err.Error())
		return flbError
	}
	open.Lock()
	if open.set == nil {
		open.set = make(map[*instance.Instance]struct{})
	}
	open.set[in] = struct{}{}
	open.Unlock()
	// cgo runs a callback on the C thread that made it: init runs on
	// Fluent Bit's engine thread, which the first flush compares against.
	in.NoteInitThread(syscall.Gettid())
	setContext(plugin, in)
	log.Info("started", "stream", cfg.Stream, "version", version)
	return flbOK
}

// FLBPluginFlush is the entry point of Fluent Bit versions without
// per-instance contexts; this plugin needs them.
//
//export FLBPluginFlush
func FLBPluginFlush(data unsafe.Pointer, length C.int, tag *C.char) int {
	fmt.Fprintf(os.Stderr, "[error] [output:%s] this Fluent Bit does not pass instance contexts (FLBPluginFlushCtx); use 1.8 or later\n", pluginName)
	return flbError
}

//export FLBPluginFlushCtx
func FLBPluginFlushCtx(ctx, data unsafe.Pointer, length C.int, tag *C.char) (status int) {
	defer func() {
		if r := recover(); r != nil {
			fmt.Fprintf(os.Stderr, "[error] [output:%s] flush failed: internal error: %v\n%s", pluginName, r, debug.Stack())
			status = flbError
		}
	}()
	in, ok := contextOf(ctx).(*instance.Instance)
	if !ok {
		fmt.Fprintf(os.Stderr, "[error] [output:%s] flush with an unknown context\n", pluginName)
		return flbError
	}
	in.CheckFlushThread(syscall.Gettid())
	var chunk []byte
	if data != nil && length > 0 {
		chunk = unsafe.Slice((*byte)(data), int(length))
	}
	return int(in.Flush(C.GoString(tag), chunk))
}

//export FLBPluginExitCtx
func FLBPluginExitCtx(ctx unsafe.Pointer) int {
	closeAll()
	return flbOK
}

//export FLBPluginExit
func FLBPluginExit() int {
	closeAll()
	return flbOK
}

// closeAll drains every open instance at once, each within its own
// exit_timeout. Later calls find nothing left to do.
func closeAll() {
	defer func() {
		if r := recover(); r != nil {
			fmt.Fprintf(os.Stderr, "[error] [output:%s] exit failed: internal error: %v\n%s", pluginName, r, debug.Stack())
		}
	}()
	open.Lock()
	ins := make([]*instance.Instance, 0, len(open.set))
	for in := range open.set {
		ins = append(ins, in)
	}
	clear(open.set)
	open.Unlock()
	var wg sync.WaitGroup
	for _, in := range ins {
		wg.Go(func() {
			ctx, cancel := context.WithTimeout(context.Background(), in.ExitTimeout())
			defer cancel()
			_ = in.Close(ctx)
		})
	}
	wg.Wait()
}

func main() {}
