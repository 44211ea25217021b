package aggregation

import (
	"crypto/md5"
	"encoding/binary"
	"math/big"
	"math/bits"
	"strconv"
	"unsafe"
)

// HashKey is a 128-bit Kinesis hash key as two words (Hi is the most
// significant). Kinesis maps a record to the shard whose HashKeyRange holds
// the record's explicit hash key, or else the MD5 of its partition key read
// as a big-endian unsigned integer. The zero value is hash key 0.
type HashKey struct{ Hi, Lo uint64 }

// MaxHashKey is 2^128-1, the top of the hash key space.
var MaxHashKey = HashKey{Hi: ^uint64(0), Lo: ^uint64(0)}

// maxHashKeyDigits is len("340282366920938463463374607431768211455").
const maxHashKeyDigits = 39

// PartitionKeyHash returns the hash key Kinesis derives from a partition key:
// the MD5 of its UTF-8 bytes as a big-endian 128-bit integer. It does not
// allocate.
func PartitionKeyHash(partitionKey string) HashKey {
	// md5.Sum only reads its argument, so viewing the string's bytes in place
	// is safe and saves the copy that []byte(partitionKey) would make.
	sum := md5.Sum(unsafe.Slice(unsafe.StringData(partitionKey), len(partitionKey)))
	return HashKey{Hi: binary.BigEndian.Uint64(sum[:8]), Lo: binary.BigEndian.Uint64(sum[8:])}
}

// ParseHashKey parses a decimal hash key as Kinesis accepts an
// ExplicitHashKey: "0" or a digit 1-9 followed by up to 38 digits, with a
// value below 2^128. Anything else returns an error matching
// ErrInvalidHashKey. It does not allocate.
func ParseHashKey(decimal string) (HashKey, error) {
	n := len(decimal)
	if n == 0 || n > maxHashKeyDigits || (n > 1 && decimal[0] == '0') {
		return HashKey{}, ErrInvalidHashKey
	}
	var h HashKey
	for i := 0; i < n; i++ {
		d := uint64(decimal[i]) - '0'
		if d > 9 {
			return HashKey{}, ErrInvalidHashKey
		}
		var ok bool
		if h, ok = h.mulAdd10(d); !ok {
			return HashKey{}, ErrInvalidHashKey
		}
	}
	return h, nil
}

// mulAdd10 returns h*10+d and whether it fits in 128 bits.
func (h HashKey) mulAdd10(d uint64) (HashKey, bool) {
	hiCarry, hi := bits.Mul64(h.Hi, 10)
	loCarry, lo := bits.Mul64(h.Lo, 10)
	hi, c1 := bits.Add64(hi, loCarry, 0)
	lo, c2 := bits.Add64(lo, d, 0)
	hi, c3 := bits.Add64(hi, 0, c2)
	return HashKey{Hi: hi, Lo: lo}, hiCarry|c1|c3 == 0
}

// String returns h in decimal, as Kinesis writes hash keys.
func (h HashKey) String() string {
	var buf [maxHashKeyDigits]byte
	return string(h.AppendDecimal(buf[:0]))
}

// AppendDecimal appends h in decimal to dst. It does not allocate when dst
// has room for 39 more bytes.
func (h HashKey) AppendDecimal(dst []byte) []byte {
	if h.Hi == 0 {
		return strconv.AppendUint(dst, h.Lo, 10)
	}
	// Split into base-10^19 limbs: 2^128 < 10^39, so at most three.
	const limb = 1e19
	q, low := h.divLimb()
	if q.Hi == 0 {
		dst = strconv.AppendUint(dst, q.Lo, 10)
		return appendPadded19(dst, low)
	}
	top, mid := bits.Div64(q.Hi, q.Lo, limb) // q.Hi < limb, so no overflow
	dst = strconv.AppendUint(dst, top, 10)
	dst = appendPadded19(dst, mid)
	return appendPadded19(dst, low)
}

// divLimb returns h / 10^19 and h % 10^19.
func (h HashKey) divLimb() (HashKey, uint64) {
	const limb = 1e19
	qHi, r := h.Hi/limb, h.Hi%limb
	qLo, r := bits.Div64(r, h.Lo, limb)
	return HashKey{Hi: qHi, Lo: qLo}, r
}

// appendPadded19 appends v as exactly 19 decimal digits.
func appendPadded19(dst []byte, v uint64) []byte {
	var buf [19]byte
	for i := len(buf) - 1; i >= 0; i-- {
		buf[i] = byte('0' + v%10)
		v /= 10
	}
	return append(dst, buf[:]...)
}

// Cmp returns -1, 0 or +1 as h is less than, equal to or greater than o.
func (h HashKey) Cmp(o HashKey) int {
	switch {
	case h.Hi < o.Hi:
		return -1
	case h.Hi > o.Hi:
		return 1
	case h.Lo < o.Lo:
		return -1
	case h.Lo > o.Lo:
		return 1
	}
	return 0
}

// InRange reports whether start <= h <= end, the inclusive bounds of a
// Kinesis shard's HashKeyRange.
func (h HashKey) InRange(start, end HashKey) bool {
	return start.Cmp(h) <= 0 && h.Cmp(end) <= 0
}

// Add returns h+o modulo 2^128.
func (h HashKey) Add(o HashKey) HashKey {
	lo, c := bits.Add64(h.Lo, o.Lo, 0)
	hi, _ := bits.Add64(h.Hi, o.Hi, c)
	return HashKey{Hi: hi, Lo: lo}
}

// Sub returns h-o modulo 2^128.
func (h HashKey) Sub(o HashKey) HashKey {
	lo, b := bits.Sub64(h.Lo, o.Lo, 0)
	hi, _ := bits.Sub64(h.Hi, o.Hi, b)
	return HashKey{Hi: hi, Lo: lo}
}

// Div2 returns h/2, rounded down.
func (h HashKey) Div2() HashKey {
	return HashKey{Hi: h.Hi >> 1, Lo: h.Lo>>1 | h.Hi<<63}
}

// Midpoint returns the hash key halfway between start and end (rounded
// down), without overflow; for start <= end it lies in [start, end]. It is
// the usual explicit hash key for sending an aggregate to a shard.
func Midpoint(start, end HashKey) HashKey {
	return start.Add(end.Sub(start).Div2())
}

// BigInt returns h as a new big.Int. It is for compatibility with APIs that
// use big.Int; hot paths should keep HashKey.
func (h HashKey) BigInt() *big.Int {
	var b [16]byte
	binary.BigEndian.PutUint64(b[:8], h.Hi)
	binary.BigEndian.PutUint64(b[8:], h.Lo)
	return new(big.Int).SetBytes(b[:])
}

// HashKeyFromBigInt converts b to a HashKey. A nil, negative or too large
// (>= 2^128) value returns an error matching ErrInvalidHashKey.
func HashKeyFromBigInt(b *big.Int) (HashKey, error) {
	if b == nil || b.Sign() < 0 || b.BitLen() > 128 {
		return HashKey{}, ErrInvalidHashKey
	}
	var buf [16]byte
	b.FillBytes(buf[:])
	return HashKey{Hi: binary.BigEndian.Uint64(buf[:8]), Lo: binary.BigEndian.Uint64(buf[8:])}, nil
}
