package chunk

import (
	"encoding/binary"
	"math"
)

// A small msgpack writer for building test chunks byte by byte. Each function
// returns one encoded piece; cat joins pieces. Functions named by a width
// (str8, map16, ...) force that encoding; the others pick the shortest.

func cat(parts ...[]byte) []byte {
	var out []byte
	for _, p := range parts {
		out = append(out, p...)
	}
	return out
}

func be16(v uint16) []byte { return binary.BigEndian.AppendUint16(nil, v) }
func be32(v uint32) []byte { return binary.BigEndian.AppendUint32(nil, v) }
func be64(v uint64) []byte { return binary.BigEndian.AppendUint64(nil, v) }

func mpNil() []byte { return []byte{0xc0} }
func mpBool(v bool) []byte {
	if v {
		return []byte{0xc3}
	}
	return []byte{0xc2}
}

func fixint(v int8) []byte { return []byte{byte(v)} } // -32..127
func u8(v uint8) []byte    { return []byte{0xcc, v} }
func u16(v uint16) []byte  { return cat([]byte{0xcd}, be16(v)) }
func u32(v uint32) []byte  { return cat([]byte{0xce}, be32(v)) }
func u64(v uint64) []byte  { return cat([]byte{0xcf}, be64(v)) }
func i8(v int8) []byte     { return []byte{0xd0, byte(v)} }
func i16(v int16) []byte   { return cat([]byte{0xd1}, be16(uint16(v))) }
func i32(v int32) []byte   { return cat([]byte{0xd2}, be32(uint32(v))) }
func i64(v int64) []byte   { return cat([]byte{0xd3}, be64(uint64(v))) }
func f32(v float32) []byte { return cat([]byte{0xca}, be32(math.Float32bits(v))) }
func f64(v float64) []byte { return cat([]byte{0xcb}, be64(math.Float64bits(v))) }

// mpInt picks the shortest encoding of v.
func mpInt(v int64) []byte {
	switch {
	case v >= -32 && v <= 127:
		return fixint(int8(v))
	case v >= 0 && v <= math.MaxUint8:
		return u8(uint8(v))
	case v >= 0 && v <= math.MaxUint16:
		return u16(uint16(v))
	case v >= 0 && v <= math.MaxUint32:
		return u32(uint32(v))
	case v >= 0:
		return u64(uint64(v))
	case v >= math.MinInt8:
		return i8(int8(v))
	case v >= math.MinInt16:
		return i16(int16(v))
	case v >= math.MinInt32:
		return i32(int32(v))
	}
	return i64(v)
}

func fixstr(s string) []byte { return cat([]byte{0xa0 | byte(len(s))}, []byte(s)) }
func str8(s string) []byte   { return cat([]byte{0xd9, byte(len(s))}, []byte(s)) }
func str16(s string) []byte  { return cat([]byte{0xda}, be16(uint16(len(s))), []byte(s)) }
func str32(s string) []byte  { return cat([]byte{0xdb}, be32(uint32(len(s))), []byte(s)) }
func bin8(s string) []byte   { return cat([]byte{0xc4, byte(len(s))}, []byte(s)) }
func bin16(s string) []byte  { return cat([]byte{0xc5}, be16(uint16(len(s))), []byte(s)) }
func bin32(s string) []byte  { return cat([]byte{0xc6}, be32(uint32(len(s))), []byte(s)) }

// str picks the shortest string encoding.
func str(s string) []byte {
	switch {
	case len(s) < 32:
		return fixstr(s)
	case len(s) <= math.MaxUint8:
		return str8(s)
	case len(s) <= math.MaxUint16:
		return str16(s)
	}
	return str32(s)
}

func arrayHdr(n int) []byte {
	switch {
	case n < 16:
		return []byte{0x90 | byte(n)}
	case n <= math.MaxUint16:
		return array16(n)
	}
	return array32(n)
}
func array16(n int) []byte { return cat([]byte{0xdc}, be16(uint16(n))) }
func array32(n int) []byte { return cat([]byte{0xdd}, be32(uint32(n))) }

func mapHdr(n int) []byte {
	switch {
	case n < 16:
		return []byte{0x80 | byte(n)}
	case n <= math.MaxUint16:
		return map16(n)
	}
	return map32(n)
}
func map16(n int) []byte { return cat([]byte{0xde}, be16(uint16(n))) }
func map32(n int) []byte { return cat([]byte{0xdf}, be32(uint32(n))) }

// array and mapOf write a header and then the elements.
func array(elems ...[]byte) []byte { return cat(arrayHdr(len(elems)), cat(elems...)) }

// mapOf takes alternating keys and values.
func mapOf(kv ...[]byte) []byte { return cat(mapHdr(len(kv)/2), cat(kv...)) }

// fixext writes a fixext of 1, 2, 4, 8 or 16 bytes.
func fixext(typ int8, data []byte) []byte {
	code := map[int]byte{1: 0xd4, 2: 0xd5, 4: 0xd6, 8: 0xd7, 16: 0xd8}[len(data)]
	return cat([]byte{code, byte(typ)}, data)
}
func ext8(typ int8, data []byte) []byte {
	return cat([]byte{0xc7, byte(len(data)), byte(typ)}, data)
}
func ext16(typ int8, data []byte) []byte {
	return cat([]byte{0xc8}, be16(uint16(len(data))), []byte{byte(typ)}, data)
}
func ext32(typ int8, data []byte) []byte {
	return cat([]byte{0xc9}, be32(uint32(len(data))), []byte{byte(typ)}, data)
}

// timeExt writes Fluent Bit's EventTime as fixext8; timeExt8 as ext8.
func timeExt(sec, nsec uint32) []byte  { return fixext(0, cat(be32(sec), be32(nsec))) }
func timeExt8(sec, nsec uint32) []byte { return ext8(0, cat(be32(sec), be32(nsec))) }

// eventV1 writes [time, body]; eventV2 writes [[time, metadata], body].
func eventV1(time, body []byte) []byte           { return array(time, body) }
func eventV2(time, metadata, body []byte) []byte { return array(array(time, metadata), body) }
