package instance

import (
	"maps"
	"math"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
)

// This file writes an instance's series in the Prometheus text
// exposition format, version 0.0.4. It stands for Prometheus' client
// library, which with its dependencies (protobuf messages, expfmt, procfs)
// added 2.4 MB to the plugin's stripped shared object (16.8 MB with it),
// and the shared object is resident nearly whole in every Fluent Bit
// process that loads it.

const (
	contentType   = "text/plain; version=0.0.4; charset=utf-8"
	typeCounter   = "counter"
	typeGauge     = "gauge"
	typeHistogram = "histogram"
)

// registry is one instance's series, served as one page.
type registry struct {
	labels []label // every series carries them

	mu       sync.Mutex
	families []family // by name
}

type label struct{ name, value string }

// family is the series of one name.
type family struct {
	name, help, kind string
	samples          sampler
}

// sampler appends the samples of a family named name whose series carry
// labels.
type sampler interface {
	appendSamples(b []byte, name string, labels []label) []byte
}

func newRegistry(labels ...label) *registry {
	return &registry{labels: slices.SortedFunc(slices.Values(labels), byName)}
}

func byName(a, b label) int { return strings.Compare(a.name, b.name) }

// add registers a family; each name is added once.
func (r *registry) add(name, help, kind string, s sampler) {
	r.mu.Lock()
	defer r.mu.Unlock()
	i, _ := slices.BinarySearchFunc(r.families, name, func(f family, name string) int { return strings.Compare(f.name, name) })
	r.families = slices.Insert(r.families, i, family{name, help, kind, s})
}

// appendPage appends every family, in the order of their names. A family
// without samples yet (a vec no value was counted under) is left out, as
// Prometheus' own library does.
func (r *registry) appendPage(b []byte) []byte {
	r.mu.Lock()
	families := slices.Clone(r.families)
	r.mu.Unlock()
	for _, f := range families {
		start := len(b)
		b = append(b, "# HELP "...)
		b = append(b, f.name...)
		b = append(b, ' ')
		b = appendEscaped(b, f.help, false)
		b = append(b, "\n# TYPE "...)
		b = append(b, f.name...)
		b = append(b, ' ')
		b = append(b, f.kind...)
		b = append(b, '\n')
		header := len(b)
		if b = f.samples.appendSamples(b, f.name, r.labels); len(b) == header {
			b = b[:start]
		}
	}
	return b
}

// ServeHTTP answers any request with the page; writing it into memory
// cannot fail, so a scrape never sees part of one.
func (r *registry) ServeHTTP(w http.ResponseWriter, _ *http.Request) {
	page := r.appendPage(nil)
	w.Header().Set("Content-Type", contentType)
	w.Header().Set("Content-Length", strconv.Itoa(len(page)))
	_, _ = w.Write(page) // a scraper gone away
}

// appendSample appends one line: name{labels} v.
func appendSample(b []byte, name string, labels []label, v float64) []byte {
	b = append(b, name...)
	if len(labels) > 0 {
		sep := byte('{')
		for _, l := range labels {
			b = append(b, sep)
			sep = ','
			b = append(b, l.name...)
			b = append(b, `="`...)
			b = appendEscaped(b, l.value, true)
			b = append(b, '"')
		}
		b = append(b, '}')
	}
	b = append(b, ' ')
	b = appendFloat(b, v)
	return append(b, '\n')
}

// appendEscaped appends s with backslash and newline escaped, and double
// quote too in a label value; bytes that are not UTF-8 become U+FFFD, as
// the format is UTF-8.
func appendEscaped(b []byte, s string, quote bool) []byte {
	s = strings.ToValidUTF8(s, "\uFFFD")
	for i := range len(s) {
		switch c := s[i]; {
		case c == '\\':
			b = append(b, `\\`...)
		case c == '\n':
			b = append(b, `\n`...)
		case c == '"' && quote:
			b = append(b, `\"`...)
		default:
			b = append(b, c)
		}
	}
	return b
}

// appendFloat writes v as Prometheus' own writer does.
func appendFloat(b []byte, v float64) []byte {
	switch {
	case math.IsInf(v, 1):
		return append(b, "+Inf"...)
	case math.IsInf(v, -1):
		return append(b, "-Inf"...)
	case math.IsNaN(v):
		return append(b, "NaN"...)
	}
	return strconv.AppendFloat(b, v, 'g', -1, 64)
}

// valueFunc is a counter or gauge read at each scrape.
type valueFunc func() float64

func (f valueFunc) appendSamples(b []byte, name string, labels []label) []byte {
	return appendSample(b, name, labels, f())
}

// counter is a float64 that only grows.
type counter struct{ bits atomic.Uint64 }

func (c *counter) Inc() { c.Add(1) }

// Add adds v; a counter never goes down, so v below 0 is left out.
func (c *counter) Add(v float64) {
	if v > 0 {
		addFloat(&c.bits, v)
	}
}

func (c *counter) value() float64 { return math.Float64frombits(c.bits.Load()) }

// addFloat adds v to the float64 whose bits u holds.
func addFloat(u *atomic.Uint64, v float64) {
	for {
		old := u.Load()
		if u.CompareAndSwap(old, math.Float64bits(math.Float64frombits(old)+v)) {
			return
		}
	}
}

// counterVec is a counter per value of one label; a value's counter is
// made at its first use and stays.
type counterVec struct {
	label string

	mu       sync.Mutex
	counters map[string]*counter
}

func newCounterVec(label string) *counterVec {
	return &counterVec{label: label, counters: map[string]*counter{}}
}

// WithLabelValues is the counter of label value v.
func (cv *counterVec) WithLabelValues(v string) *counter {
	cv.mu.Lock()
	defer cv.mu.Unlock()
	c := cv.counters[v]
	if c == nil {
		c = new(counter)
		cv.counters[v] = c
	}
	return c
}

func (cv *counterVec) appendSamples(b []byte, name string, labels []label) []byte {
	cv.mu.Lock()
	values := slices.Sorted(maps.Keys(cv.counters))
	counters := make([]*counter, len(values))
	for i, v := range values {
		counters[i] = cv.counters[v]
	}
	cv.mu.Unlock()
	// Sorted by name, as every series' labels are.
	all := append(slices.Clip(labels), label{name: cv.label})
	slices.SortFunc(all, byName)
	at := slices.IndexFunc(all, func(l label) bool { return l.name == cv.label })
	for i, v := range values {
		all[at].value = v
		b = appendSample(b, name, all, counters[i].value())
	}
	return b
}

// histogram counts observations into buckets of fixed upper bounds. A
// scrape while observations are added may see some of them in the count
// and not yet in the sum; the next scrape sees all of them.
type histogram struct {
	uppers []float64 // the buckets' upper bounds, ascending
	// counts has the observations per bucket (not cumulative), the last
	// above every bound; sum holds the float64 bits of their total.
	counts []atomic.Uint64
	sum    atomic.Uint64
}

// maxTallyBuckets bounds the buckets of a histogram, for countTally.
const maxTallyBuckets = 32

func newHistogram(uppers []float64) *histogram {
	if len(uppers)+1 > maxTallyBuckets {
		panic("instance: too many histogram buckets") // a programming error
	}
	return &histogram{uppers: uppers, counts: make([]atomic.Uint64, len(uppers)+1)}
}

// powersOfTwo is 1, 2, 4, … up to n bounds.
func powersOfTwo(n int) []float64 {
	uppers := make([]float64, n)
	for i := range uppers {
		uppers[i] = math.Ldexp(1, i)
	}
	return uppers
}

// bucket is the index of the first bound at or above v.
func (h *histogram) bucket(v float64) int {
	i, _ := slices.BinarySearch(h.uppers, v)
	return i
}

func (h *histogram) Observe(v float64) {
	h.counts[h.bucket(v)].Add(1)
	addFloat(&h.sum, v)
}

// countTally is one PutRecords call's observations of whole numbers, added
// to a histogram at once rather than one Observe, several atomic
// operations, per entry (BenchmarkObservePut).
type countTally struct {
	counts [maxTallyBuckets]uint64
	sum    uint64
	any    bool
}

// tally notes one observation of v in t.
func (h *histogram) tally(t *countTally, v int) {
	t.counts[h.bucket(float64(v))]++
	t.sum += uint64(max(v, 0))
	t.any = true
}

// add adds a call's observations to h.
func (h *histogram) add(t *countTally) {
	if !t.any {
		return
	}
	for i := range h.counts {
		if n := t.counts[i]; n > 0 {
			h.counts[i].Add(n)
		}
	}
	addFloat(&h.sum, float64(t.sum))
}

func (h *histogram) appendSamples(b []byte, name string, labels []label) []byte {
	bucket := name + "_bucket"
	all := append(slices.Clip(labels), label{name: "le"}) // last, as Prometheus writes it
	var count uint64
	for i := range h.counts {
		count += h.counts[i].Load()
		upper := math.Inf(1)
		if i < len(h.uppers) {
			upper = h.uppers[i]
		}
		all[len(all)-1].value = string(appendFloat(nil, upper))
		b = appendSample(b, bucket, all, float64(count))
	}
	b = appendSample(b, name+"_sum", labels, math.Float64frombits(h.sum.Load()))
	return appendSample(b, name+"_count", labels, float64(count))
}
