package chunk

import "encoding/binary"

// kind is the type of a msgpack value, as its header tells it.
type kind uint8

const (
	kNil kind = iota
	kBool
	kUint
	kInt
	kFloat32
	kFloat64
	kStr
	kBin
	kExt
	kArray
	kMap
)

// header is one msgpack value's header.
//
// n depends on the kind: the value (kBool: 0 or 1; kUint; kInt as the bits of
// an int64; kFloat32 and kFloat64 as their IEEE bits), the count of elements
// (kArray) or of key/value pairs (kMap), or the payload length (kStr, kBin,
// kExt). start is where the payload or the first element begins; end is where
// the value ends, except for arrays and maps, whose end is start (their
// elements follow). readHeader has already checked that a payload of n bytes
// fits in the input, so b[start:end] is always safe.
type header struct {
	n     uint64
	start int
	end   int
	kind  kind
	ext   int8
}

// readHeader reads the header of the value at b[off].
func readHeader(b []byte, off int) (header, reason) {
	if off >= len(b) {
		return header{}, rTruncated
	}
	c := b[off]
	switch {
	case c <= 0x7f:
		return header{kind: kUint, n: uint64(c), start: off + 1, end: off + 1}, rNone
	case c >= 0xe0:
		return header{kind: kInt, n: uint64(int64(int8(c))), start: off + 1, end: off + 1}, rNone
	case c <= 0x8f:
		return header{kind: kMap, n: uint64(c & 0x0f), start: off + 1, end: off + 1}, rNone
	case c <= 0x9f:
		return header{kind: kArray, n: uint64(c & 0x0f), start: off + 1, end: off + 1}, rNone
	case c <= 0xbf:
		return payload(b, kStr, uint64(c&0x1f), off+1)
	}
	switch c {
	case 0xc0:
		return header{kind: kNil, start: off + 1, end: off + 1}, rNone
	case 0xc2, 0xc3:
		return header{kind: kBool, n: uint64(c & 1), start: off + 1, end: off + 1}, rNone
	case 0xc4, 0xc5, 0xc6: // bin 8/16/32
		n, start, r := length(b, off+1, 1<<(c-0xc4))
		if r != rNone {
			return header{}, r
		}
		return payload(b, kBin, n, start)
	case 0xc7, 0xc8, 0xc9: // ext 8/16/32
		n, start, r := length(b, off+1, 1<<(c-0xc7))
		if r != rNone {
			return header{}, r
		}
		if start >= len(b) {
			return header{}, rTruncated
		}
		h, r := payload(b, kExt, n, start+1)
		h.ext = int8(b[start])
		return h, r
	case 0xca:
		n, start, r := length(b, off+1, 4)
		return header{kind: kFloat32, n: n, start: start, end: start}, r
	case 0xcb:
		n, start, r := length(b, off+1, 8)
		return header{kind: kFloat64, n: n, start: start, end: start}, r
	case 0xcc, 0xcd, 0xce, 0xcf: // uint 8/16/32/64
		n, start, r := length(b, off+1, 1<<(c-0xcc))
		return header{kind: kUint, n: n, start: start, end: start}, r
	case 0xd0, 0xd1, 0xd2, 0xd3: // int 8/16/32/64
		width := 1 << (c - 0xd0)
		n, start, r := length(b, off+1, width)
		// Sign-extend from the value's width.
		shift := 64 - 8*width
		n = uint64(int64(n<<shift) >> shift)
		return header{kind: kInt, n: n, start: start, end: start}, r
	case 0xd4, 0xd5, 0xd6, 0xd7, 0xd8: // fixext 1/2/4/8/16
		if off+1 >= len(b) {
			return header{}, rTruncated
		}
		h, r := payload(b, kExt, 1<<(c-0xd4), off+2)
		h.ext = int8(b[off+1])
		return h, r
	case 0xd9, 0xda, 0xdb: // str 8/16/32
		n, start, r := length(b, off+1, 1<<(c-0xd9))
		if r != rNone {
			return header{}, r
		}
		return payload(b, kStr, n, start)
	case 0xdc, 0xdd: // array 16/32
		n, start, r := length(b, off+1, 2<<(c-0xdc))
		return header{kind: kArray, n: n, start: start, end: start}, r
	case 0xde, 0xdf: // map 16/32
		n, start, r := length(b, off+1, 2<<(c-0xde))
		return header{kind: kMap, n: n, start: start, end: start}, r
	}
	return header{}, rBadCode // 0xc1, the one byte msgpack never uses
}

// length reads a big-endian unsigned integer of width 1, 2, 4 or 8 bytes at
// b[off] and returns it with the offset just past it.
func length(b []byte, off, width int) (uint64, int, reason) {
	if len(b)-off < width {
		return 0, off, rTruncated
	}
	p := b[off:]
	switch width {
	case 1:
		return uint64(p[0]), off + 1, rNone
	case 2:
		return uint64(binary.BigEndian.Uint16(p)), off + 2, rNone
	case 4:
		return uint64(binary.BigEndian.Uint32(p)), off + 4, rNone
	default:
		return binary.BigEndian.Uint64(p), off + 8, rNone
	}
}

// payload returns the header of a value of kind k whose n payload bytes start
// at b[start], after checking that they are all there.
func payload(b []byte, k kind, n uint64, start int) (header, reason) {
	if start > len(b) || n > uint64(len(b)-start) {
		return header{}, rTruncated
	}
	return header{kind: k, n: n, start: start, end: start + int(n)}, rNone
}

// shortStr recognises the strings that fill log records, fixstr and str8, and
// returns their payload's bounds. It is a fast path in front of readHeader,
// small enough to inline; anything else, including a string that does not
// fit, is left to readHeader.
func shortStr(b []byte, off int) (start, end int, found bool) {
	if off >= len(b) {
		return 0, 0, false
	}
	if c := b[off]; c&0xe0 == 0xa0 {
		start, end = off+1, off+1+int(c&0x1f)
	} else if c == 0xd9 && off+1 < len(b) {
		start, end = off+2, off+2+int(b[off+1])
	} else {
		return 0, 0, false
	}
	return start, end, end <= len(b)
}

// skipValue returns the offset just past the value at b[off], checking that it
// is well-formed. It walks nested values with a counter instead of recursion,
// so any nesting depth costs no stack. On failure the offset is where the
// value that could not be read begins.
func skipValue(b []byte, off int) (int, reason) {
	// Each header consumes at least one byte, so the loop ends within len(b)
	// rounds whatever counts the input claims.
	for pending := uint64(1); pending > 0; pending-- {
		if _, end, found := shortStr(b, off); found {
			off = end
			continue
		}
		h, r := readHeader(b, off)
		if r != rNone {
			return off, r
		}
		switch h.kind {
		case kArray:
			pending += h.n
		case kMap:
			pending += 2 * h.n
		}
		off = h.end
	}
	return off, rNone
}
