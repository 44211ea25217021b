package producer

import (
	"encoding/base64"
	"slices"

	simdbase64 "github.com/segmentio/asm/base64"
)

// Request bodies in JSON carry every record in base64, written twice for a
// large body (once for its SHA-256, once as it is sent). The library's
// encoder takes 3 bytes and 4 table look-ups at a time (1.3 GB/s on an
// AMD EPYC core); segmentio/asm's takes 24 bytes at a time in AVX2
// registers (NEON on arm64), 17.8 GB/s on the same core (BenchmarkBase64),
// and falls back to the library's elsewhere. Its output is the library's
// StdEncoding, padding included.
var stdBase64 = simdbase64.StdEncoding

// appendBase64 appends src in standard base64 with padding, the bytes of
// base64.StdEncoding.AppendEncode.
func appendBase64(dst, src []byte) []byte {
	n := base64.StdEncoding.EncodedLen(len(src))
	dst = slices.Grow(dst, n)
	stdBase64.Encode(dst[len(dst):len(dst)+n], src)
	return dst[:len(dst)+n]
}

// base64Piece is how much of an aggregate encodeBase64InPlace copies aside
// at a time: a multiple of 3, so that only the last piece is padded.
const base64Piece = 2048 * 3

// encodeBase64InPlace encodes the last n bytes of out, which out is
// exactly the encoding's room for, into out itself: the JSON body's writer
// writes an aggregate at the end of its base64's room. Neither
// segmentio/asm nor the library promises to read its input before it
// writes over it (v1.2.1's AVX2 loop does: it stops with 32 bytes still
// to read, and encoding straight in place passes the tests), so the input
// goes through scratch a piece at a time rather than rest on that: 11.9
// GB/s instead of 17.8 (BenchmarkBase64). Piece k's characters end at 4/3
// of the input read so far, which is no further than the input not read
// yet starts: the input starts len(out)-n >= n/3 bytes into out.
func encodeBase64InPlace(out []byte, n int, scratch *[base64Piece]byte) {
	src, o := len(out)-n, 0
	for n > 0 {
		k := min(n, base64Piece)
		copy(scratch[:k], out[src:src+k])
		m := base64.StdEncoding.EncodedLen(k)
		stdBase64.Encode(out[o:o+m], scratch[:k])
		src, o, n = src+k, o+m, n-k
	}
}
