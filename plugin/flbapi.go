package main

// Fluent Bit's Go proxy (src/proxy/go in Fluent Bit) is a small C ABI:
// the plugin fills in a definition at register, reads its properties at
// init through a function table Fluent Bit hands it, and leaves a pointer
// there that every flush and exit hands back. The plugin speaks it here
// directly. fluent-bit-go's output package speaks the same ABI, but it
// also carries a msgpack decoder this plugin does not use (plugin/chunk
// reads chunks), and the code that decoder pulls in is resident in every
// Fluent Bit process that loads the plugin.

/*
#include <stdint.h>
#include <stdlib.h>

// The plugin's definition, filled in by FLBPluginRegister. Newer Fluent
// Bit versions have fields after description, which the plugin leaves as
// Fluent Bit set them.
struct kpl_proxy_def {
	int type;
	int proxy;
	int flags;
	char *name;
	char *description;
};

// The functions Fluent Bit exports to proxied plugins; only the first is
// used.
struct kpl_proxy_api {
	const char *(*output_get_property)(const char *key, void *instance);
};

// What a flush and the exit are handed back: remote_context.
struct kpl_proxy_context {
	void *remote_context;
};

// The output plugin as FLBPluginInit receives it.
struct kpl_proxy_output {
	char *name;
	struct kpl_proxy_api *api;
	void *instance;
	struct kpl_proxy_context *context;
};

static const char *kpl_output_property(struct kpl_proxy_output *p, const char *key) {
	return p->api->output_get_property(key, p->instance);
}
*/
import "C"

import (
	"runtime/cgo"
	"unsafe"

	"github.com/kinesis-kpl/fluent-bit-kinesis-kpl/plugin/instance"
)

// Return codes of the proxy's callbacks: a flush returns the instance's
// Status, which has Fluent Bit's values.
const (
	flbError = int(instance.Error)
	flbOK    = int(instance.OK)
)

// The definition's type and proxy: an output plugin written in Go.
const (
	proxyOutputPlugin = 2
	proxyGolang       = 11
)

// registerPlugin fills in the definition Fluent Bit passes to
// FLBPluginRegister. The strings stay allocated for the life of the
// process, as Fluent Bit keeps pointing at them.
func registerPlugin(def unsafe.Pointer, name, desc string) int {
	d := (*C.struct_kpl_proxy_def)(def)
	d._type = proxyOutputPlugin
	d.proxy = proxyGolang
	d.flags = 0
	d.name = C.CString(name)
	d.description = C.CString(desc)
	return 0
}

// property returns the value of the instance's property key ("" when it
// is not set).
func property(plugin unsafe.Pointer, key string) string {
	k := C.CString(key)
	defer C.free(unsafe.Pointer(k))
	v := C.kpl_output_property((*C.struct_kpl_proxy_output)(plugin), k)
	if v == nil {
		return ""
	}
	return C.GoString(v)
}

// setContext leaves a handle to v where Fluent Bit hands it back to every
// flush and exit of this instance (contextOf). The handle lives in C
// memory, for as long as the process: Fluent Bit may flush until it
// exits.
func setContext(plugin unsafe.Pointer, v any) {
	h := (*C.uintptr_t)(C.malloc(C.size_t(unsafe.Sizeof(C.uintptr_t(0)))))
	*h = C.uintptr_t(cgo.NewHandle(v))
	(*C.struct_kpl_proxy_output)(plugin).context.remote_context = unsafe.Pointer(h)
}

// contextOf returns what setContext left for the context Fluent Bit
// handed back, or nil for one it did not leave.
func contextOf(ctx unsafe.Pointer) any {
	if ctx == nil {
		return nil
	}
	h := cgo.Handle(*(*C.uintptr_t)(ctx))
	if h == 0 {
		return nil
	}
	return h.Value()
}
