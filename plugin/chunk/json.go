package chunk

import (
	"bytes"
	"encoding/binary"
	"math"
	"strconv"
	"unicode/utf8"
	"unsafe"
)

// AppendJSON appends the compact JSON form of one msgpack value (normally a
// body map) to dst, following the rules in the package comment. value must be
// exactly one msgpack value. On error dst is returned unchanged (same length)
// with a *FormatError wrapping ErrMalformed or ErrUnsupported; Event is -1.
func AppendJSON(dst, value []byte) ([]byte, error) {
	out, end, why := appendJSON(dst, value, 0, 1, "")
	if why == rNone && end != len(value) {
		why = rTrailing
	}
	if why != rNone {
		return dst, why.error(end, -1)
	}
	return out, nil
}

// JSONOptions changes what AppendJSONMembers writes.
type JSONOptions struct {
	// Keep, when not nil, is asked about each key of the top-level map, by
	// the name AppendJSON gives it (unescaped); only the pairs it keeps are
	// written. The name aliases the input or a scratch buffer: Keep must
	// not keep it.
	Keep func(name []byte) bool
	// ReplaceDots, when not empty, replaces each '.' in the names of map
	// keys, at every depth, with itself.
	ReplaceDots string
}

// AppendJSONMembers appends the pairs of the msgpack map m as the members of
// a JSON object, "k":v separated by commas, without the braces, so that a
// caller can add members of its own. It follows AppendJSON's rules and o.
// It returns the number of members written. On error dst is returned
// unchanged, with an error as AppendJSON's; a value that is not a map is an
// error wrapping ErrUnsupported.
func AppendJSONMembers(dst, m []byte, o JSONOptions) ([]byte, int, error) {
	out, written, end, why := appendJSONMembers(dst, m, o)
	if why == rNone && end != len(m) {
		why = rTrailing
	}
	if why != rNone {
		return dst, 0, why.error(end, -1)
	}
	return out, written, nil
}

// appendJSONMembers is AppendJSONMembers for the map at the start of m. It
// returns the offset just past the map; on failure, the offset of the
// problem.
func appendJSONMembers(dst, m []byte, o JSONOptions) ([]byte, int, int, reason) {
	h, why := readHeader(m, 0)
	if why == rNone && h.kind != kMap {
		why = rNotMap
	}
	if why != rNone {
		return dst, 0, 0, why
	}
	out, written, off := dst, 0, h.end
	for i := uint64(0); i < h.n; i++ {
		keyEnd, why := skipValue(m, off)
		if why != rNone {
			return dst, 0, keyEnd, why
		}
		if o.Keep != nil && !keep(o.Keep, out, m, off) {
			if off, why = skipValue(m, keyEnd); why != rNone {
				return dst, 0, off, why
			}
			continue
		}
		if written > 0 {
			out = append(out, ',')
		}
		if out, off, why = appendKey(out, m, off, o.ReplaceDots); why != rNone {
			return dst, 0, off, why
		}
		out = append(out, ':')
		if out, off, why = appendJSON(out, m, off, 2, o.ReplaceDots); why != rNone {
			return dst, 0, off, why
		}
		written++
	}
	return out, written, off, rNone
}

// keep asks keepFn about the well-formed key at m[off]. A key that is not a
// string is named in out's spare room, which the caller then overwrites, so
// that naming it allocates nothing. Keys that are maps or arrays are kept,
// for appendKey to report.
func keep(keepFn func([]byte) bool, out, m []byte, off int) bool {
	if start, end, found := shortStr(m, off); found {
		return keepFn(m[start:end])
	}
	h, _ := readHeader(m, off)
	switch h.kind {
	case kStr, kBin:
		return keepFn(m[h.start:h.end])
	case kMap, kArray:
		return true
	}
	name := appendScalarKeyName(out[len(out):], h, m)
	return keepFn(name)
}

// AppendJSONWith is AppendJSON with keys renamed as o.ReplaceDots says
// (o.Keep does not apply: value need not be a map).
func AppendJSONWith(dst, value []byte, o JSONOptions) ([]byte, error) {
	out, end, why := appendJSON(dst, value, 0, 1, o.ReplaceDots)
	if why == rNone && end != len(value) {
		why = rTrailing
	}
	if why != rNone {
		return dst, why.error(end, -1)
	}
	return out, nil
}

// StringValue returns the bytes of a msgpack string or bin value, and false
// for any other value.
func StringValue(value []byte) ([]byte, bool) {
	if start, end, found := shortStr(value, 0); found && end == len(value) {
		return value[start:end], true
	}
	h, why := readHeader(value, 0)
	if why != rNone || (h.kind != kStr && h.kind != kBin) || h.end != len(value) {
		return nil, false
	}
	return value[h.start:h.end], true
}

// appendJSON appends the value at b[off], which sits at nesting depth depth,
// and returns the offset just past it; on failure, the offset of the problem.
// dots, when not empty, replaces '.' in map keys.
func appendJSON(dst, b []byte, off, depth int, dots string) ([]byte, int, reason) {
	if start, end, found := shortStr(b, off); found {
		return appendString(dst, b[start:end]), end, rNone
	}
	h, why := readHeader(b, off)
	if why != rNone {
		return dst, off, why
	}
	switch h.kind {
	case kStr, kBin:
		return appendString(dst, b[h.start:h.end]), h.end, rNone
	case kUint:
		return strconv.AppendUint(dst, h.n, 10), h.end, rNone
	case kInt:
		return strconv.AppendInt(dst, int64(h.n), 10), h.end, rNone
	case kMap:
		if depth > MaxDepth {
			return dst, off, rTooDeep
		}
		dst = append(dst, '{')
		off = h.end
		for i := uint64(0); i < h.n; i++ {
			if i > 0 {
				dst = append(dst, ',')
			}
			// Most pairs are two short strings: they are written here,
			// without a call per key and per value.
			if start, end, found := shortStr(b, off); found && dots == "" {
				dst = appendString(dst, b[start:end])
				off = end
			} else if dst, off, why = appendKey(dst, b, off, dots); why != rNone {
				return dst, off, why
			}
			dst = append(dst, ':')
			if start, end, found := shortStr(b, off); found {
				dst = appendString(dst, b[start:end])
				off = end
			} else if dst, off, why = appendJSON(dst, b, off, depth+1, dots); why != rNone {
				return dst, off, why
			}
		}
		return append(dst, '}'), off, rNone
	case kArray:
		if depth > MaxDepth {
			return dst, off, rTooDeep
		}
		dst = append(dst, '[')
		off = h.end
		for i := uint64(0); i < h.n; i++ {
			if i > 0 {
				dst = append(dst, ',')
			}
			if dst, off, why = appendJSON(dst, b, off, depth+1, dots); why != rNone {
				return dst, off, why
			}
		}
		return append(dst, ']'), off, rNone
	case kFloat64:
		return appendFloat(dst, math.Float64frombits(h.n), 64), h.end, rNone
	case kFloat32:
		return appendFloat(dst, float64(math.Float32frombits(uint32(h.n))), 32), h.end, rNone
	case kBool:
		if h.n == 1 {
			return append(dst, "true"...), h.end, rNone
		}
		return append(dst, "false"...), h.end, rNone
	case kExt:
		if f, isTime := eventTimeSeconds(h, b); isTime {
			return appendFloat(dst, f, 64), h.end, rNone
		}
	}
	return append(dst, "null"...), h.end, rNone
}

// appendKey appends the map key at b[off] as a JSON string, with each '.'
// in it replaced by dots when dots is not empty.
func appendKey(dst, b []byte, off int, dots string) ([]byte, int, reason) {
	if start, end, found := shortStr(b, off); found {
		if dots != "" {
			return appendStringReplacingDots(dst, b[start:end], dots), end, rNone
		}
		return appendString(dst, b[start:end]), end, rNone
	}
	h, why := readHeader(b, off)
	if why != rNone {
		return dst, off, why
	}
	switch h.kind {
	case kStr, kBin:
		if dots != "" {
			return appendStringReplacingDots(dst, b[h.start:h.end], dots), h.end, rNone
		}
		return appendString(dst, b[h.start:h.end]), h.end, rNone
	case kMap, kArray:
		// Malformed bytes are reported as such, even in a key of the wrong type.
		if end, why := skipValue(b, off); why != rNone {
			return dst, end, why
		}
		return dst, off, rKeyType
	}
	// The name of any other scalar is its JSON text: digits, a point, an
	// exponent's sign, or the letters of true, false and null; nothing that
	// needs escaping.
	dst = append(dst, '"')
	start := len(dst)
	dst = appendScalarKeyName(dst, h, b)
	if dots != "" && bytes.IndexByte(dst[start:], '.') >= 0 {
		var name [32]byte
		text := append(name[:0], dst[start:]...)
		return appendStringReplacingDots(dst[:start-1], text, dots), h.end, rNone
	}
	return append(dst, '"'), h.end, rNone
}

// appendStringReplacingDots appends s as a quoted JSON string with each '.'
// replaced by dots. A '.' byte is never part of a multi-byte UTF-8 sequence,
// so cutting s at dots keeps its characters whole.
func appendStringReplacingDots(dst, s []byte, dots string) []byte {
	dst = append(dst, '"')
	for {
		i := bytes.IndexByte(s, '.')
		if i < 0 {
			dst = appendStringBody(dst, s)
			return append(dst, '"')
		}
		dst = appendStringBody(dst, s[:i])
		dst = appendStringBody(dst, unsafe.Slice(unsafe.StringData(dots), len(dots)))
		s = s[i+1:]
	}
}

// appendScalarKeyName appends the name of a map key that is a scalar other
// than a string or bin: the JSON text that AppendJSON writes for the same
// value as a map value (true, 12, -3, 1.5, 1e+21, null for nil, NaN, ±Inf
// and extensions other than EventTime).
func appendScalarKeyName(dst []byte, h header, b []byte) []byte {
	switch h.kind {
	case kUint:
		return strconv.AppendUint(dst, h.n, 10)
	case kInt:
		return strconv.AppendInt(dst, int64(h.n), 10)
	case kBool:
		return strconv.AppendBool(dst, h.n == 1)
	case kFloat64:
		return appendFloat(dst, math.Float64frombits(h.n), 64)
	case kFloat32:
		return appendFloat(dst, float64(math.Float32frombits(uint32(h.n))), 32)
	case kExt:
		if f, isTime := eventTimeSeconds(h, b); isTime {
			return appendFloat(dst, f, 64)
		}
	}
	return append(dst, "null"...)
}

// eventTimeSeconds returns an EventTime extension as float seconds.
func eventTimeSeconds(h header, b []byte) (float64, bool) {
	if h.ext != 0 || h.n != 8 {
		return 0, false
	}
	p := b[h.start:h.end]
	return float64(binary.BigEndian.Uint32(p)) + float64(binary.BigEndian.Uint32(p[4:]))/1e9, true
}

// appendFloat appends f the way encoding/json writes a float of the given bit
// size (the ECMAScript number-to-string form), or null for NaN and ±Inf.
func appendFloat(dst []byte, f float64, bits int) []byte {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return append(dst, "null"...)
	}
	format := byte('f')
	if a := math.Abs(f); a != 0 {
		// The cut-offs compare in the value's own precision: a float32 just
		// below 1e21 may round up to it.
		if bits == 32 {
			if a32 := float32(a); a32 < 1e-6 || a32 >= 1e21 {
				format = 'e'
			}
		} else if a < 1e-6 || a >= 1e21 {
			format = 'e'
		}
	}
	dst = strconv.AppendFloat(dst, f, format, -1, bits)
	if format == 'e' {
		// strconv pads a negative exponent to two digits (1e-07); the
		// ECMAScript form does not (1e-7).
		if n := len(dst); n >= 4 && dst[n-4] == 'e' && dst[n-3] == '-' && dst[n-2] == '0' {
			dst[n-2] = dst[n-1]
			dst = dst[:n-1]
		}
	}
	return dst
}

// jsonSafe tells which ASCII bytes go into a JSON string as they are.
var jsonSafe = func() (t [utf8.RuneSelf]bool) {
	for c := 0x20; c < utf8.RuneSelf; c++ {
		t[c] = c != '"' && c != '\\'
	}
	return t
}()

const hexDigits = "0123456789abcdef"

// plainASCII8 reports whether the eight bytes packed in x are all ASCII that
// a JSON string holds as is: no high bit, nothing below 0x20, no '"' and no
// '\'.
func plainASCII8(x uint64) bool { return special8(x) == 0 }

// special8 returns, for the eight bytes packed in x, a word whose high bits
// are all clear exactly when every byte is plain ASCII (see plainASCII8).
// A byte with its high bit set shows in x itself. When no byte has it, a
// subtraction sets some high bit exactly when some byte is below what is
// subtracted: the lowest such byte borrows and wraps to 0x80 or more, and
// without one no byte borrows or wraps. So x - 0x20 in every byte finds
// control bytes, and x ^ c, less 1 in every byte, finds the bytes equal to
// c; the borrows past the first such byte only set more high bits.
func special8(x uint64) uint64 {
	const (
		ones  = 0x0101010101010101
		highs = 0x8080808080808080
	)
	control := x - 0x20*ones
	quote := (x ^ '"'*ones) - ones
	backslash := (x ^ '\\'*ones) - ones
	return (x | control | quote | backslash) & highs
}

// AppendJSONString appends s as a quoted JSON string, escaped by the rules
// of the package comment.
func AppendJSONString(dst, s []byte) []byte { return appendString(dst, s) }

// appendString appends s as a quoted JSON string, escaped as the package
// comment describes.
func appendString(dst, s []byte) []byte {
	dst = append(dst, '"')
	dst = appendStringBody(dst, s)
	return append(dst, '"')
}

// appendStringBody appends s escaped for the inside of a JSON string.
func appendStringBody(dst, s []byte) []byte {
	i := plainPrefix(s)
	if i == len(s) {
		return append(dst, s...)
	}
	start := 0 // s[start:i] is pending, to be copied as it is
	for i < len(s) {
		// Most text is plain ASCII: pass it eight bytes at a time.
		for len(s)-i >= 8 && plainASCII8(binary.LittleEndian.Uint64(s[i:])) {
			i += 8
		}
		if i == len(s) {
			break
		}
		c := s[i]
		if c < utf8.RuneSelf {
			if jsonSafe[c] {
				i++
				continue
			}
			dst = append(dst, s[start:i]...)
			switch c {
			case '"', '\\':
				dst = append(dst, '\\', c)
			case '\n':
				dst = append(dst, '\\', 'n')
			case '\r':
				dst = append(dst, '\\', 'r')
			case '\t':
				dst = append(dst, '\\', 't')
			case '\b':
				dst = append(dst, '\\', 'b')
			case '\f':
				dst = append(dst, '\\', 'f')
			default:
				dst = append(dst, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRune(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			dst = append(dst, s[start:i]...)
			dst = append(dst, `\ufffd`...)
		case r == '\u2028' || r == '\u2029':
			// Valid JSON, but not valid JavaScript source.
			dst = append(dst, s[start:i]...)
			dst = append(dst, '\\', 'u', '2', '0', '2', hexDigits[r&0xf])
		default:
			i += size
			continue
		}
		i += size
		start = i
	}
	return append(dst, s[start:]...)
}

// plainPrefix returns len(s) when all of s goes into a JSON string as it
// is, and otherwise the length of a prefix of s that does, ending less
// than 16 bytes before the first byte that does not. It reads words, never
// single bytes: s 32, then 16 bytes at a time, its last bytes as a word that
// overlaps the ones before it, and a string shorter than a word as one
// word made of its bytes (some read twice) and plain padding.
func plainPrefix(s []byte) int {
	n := len(s)
	var x uint64
	switch {
	case n >= 8:
		p := s
		for len(p) >= 32 {
			if special8(binary.LittleEndian.Uint64(p[:8]))|special8(binary.LittleEndian.Uint64(p[8:16]))|
				special8(binary.LittleEndian.Uint64(p[16:24]))|special8(binary.LittleEndian.Uint64(p[24:32])) != 0 {
				break
			}
			p = p[32:]
		}
		for len(p) >= 16 {
			if special8(binary.LittleEndian.Uint64(p[:8]))|special8(binary.LittleEndian.Uint64(p[8:16])) != 0 {
				break
			}
			p = p[16:]
		}
		i := n - len(p)
		if len(p) >= 16 {
			return i
		}
		if n-i >= 8 {
			if !plainASCII8(binary.LittleEndian.Uint64(s[i:])) {
				return i
			}
			i += 8
		}
		if i == n || plainASCII8(binary.LittleEndian.Uint64(s[n-8:])) {
			return n
		}
		return i
	case n >= 4:
		x = uint64(binary.LittleEndian.Uint32(s)) | uint64(binary.LittleEndian.Uint32(s[n-4:]))<<32
	case n > 0:
		const pad = 0x6161616161000000 // 'a' in the five bytes above the three read
		x = uint64(s[0]) | uint64(s[n/2])<<8 | uint64(s[n-1])<<16 | pad
	default:
		return 0
	}
	if plainASCII8(x) {
		return n
	}
	return 0
}
