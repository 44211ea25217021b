package producer

import (
	"bytes"
	"encoding/base64"
	"math/rand/v2"
	"testing"
)

// TestAppendBase64 compares appendBase64 with the library at every length
// around the 6- and 12-byte steps and their tails, appending to a prefix.
func TestAppendBase64(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	cases := []struct {
		name string
		src  func(n int) []byte
	}{
		{"zeros", func(n int) []byte { return make([]byte, n) }},
		{"ones", func(n int) []byte { return bytes.Repeat([]byte{0xff}, n) }},
		{"random", func(n int) []byte {
			b := make([]byte, n)
			for i := range b {
				b[i] = byte(rng.Uint32())
			}
			return b
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			for n := 0; n <= 80; n++ {
				src := c.src(n)
				got := appendBase64([]byte("prefix"), src)
				want := base64.StdEncoding.AppendEncode([]byte("prefix"), src)
				if !bytes.Equal(got, want) {
					t.Fatalf("%d bytes: got %q, want %q", n, got, want)
				}
			}
		})
	}
}

// encodeInPlace encodes src with encodeBase64InPlace from the end of the
// encoding's own room, as the JSON body's writer does.
func encodeInPlace(src []byte) []byte {
	out := make([]byte, base64.StdEncoding.EncodedLen(len(src)))
	copy(out[len(out)-len(src):], src)
	encodeBase64InPlace(out, len(src), new([base64Piece]byte))
	return out
}

// TestEncodeBase64InPlace: encodeBase64InPlace of bytes at the end of its
// own output is the library's encoding, at every length around the SIMD
// encoder's 24-byte turns and its 28-byte threshold, and around the pieces
// copied aside.
func TestEncodeBase64InPlace(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	lengths := []int{}
	for n := 0; n <= 200; n++ {
		lengths = append(lengths, n)
	}
	for _, k := range []int{1, 2, 3, 7} {
		for d := -4; d <= 4; d++ {
			lengths = append(lengths, k*base64Piece+d)
		}
	}
	lengths = append(lengths, 50<<10, 1<<20)
	for _, n := range lengths {
		src := make([]byte, n)
		for i := range src {
			src[i] = byte(rng.Uint32())
		}
		if got, want := encodeInPlace(src), base64.StdEncoding.EncodeToString(src); string(got) != want {
			t.Fatalf("%d bytes: got %.40q..., want %.40q...", n, got, want)
		}
	}
}

// FuzzAppendBase64: for any bytes, the library's encoding, appended or
// encoded in place.
func FuzzAppendBase64(f *testing.F) {
	f.Add([]byte{}, []byte("x"))
	f.Add([]byte("0123456789abcdef"), []byte{})
	f.Fuzz(func(t *testing.T, src, prefix []byte) {
		got := appendBase64(bytes.Clone(prefix), src)
		want := base64.StdEncoding.AppendEncode(bytes.Clone(prefix), src)
		if !bytes.Equal(got, want) {
			t.Fatalf("got %q, want %q", got, want)
		}
		if got := encodeInPlace(src); !bytes.Equal(got, want[len(prefix):]) {
			t.Fatalf("in place: got %q, want %q", got, want[len(prefix):])
		}
	})
}

// BenchmarkBase64 compares the library's encoder with the SIMD one that
// bodies use, appended and in place, on the size of a typical aggregate.
func BenchmarkBase64(b *testing.B) {
	src := make([]byte, 64<<10)
	rng := rand.New(rand.NewPCG(3, 4))
	for i := range src {
		src[i] = byte(rng.Uint32())
	}
	dst := make([]byte, 0, base64.StdEncoding.EncodedLen(len(src)))
	for _, c := range []struct {
		name string
		enc  func(dst, src []byte) []byte
	}{
		{"library", base64.StdEncoding.AppendEncode},
		{"simd", appendBase64},
	} {
		b.Run(c.name, func(b *testing.B) {
			b.SetBytes(int64(len(src)))
			for b.Loop() {
				dst = c.enc(dst[:0], src)
			}
		})
	}
	b.Run("simd-in-place", func(b *testing.B) {
		out := make([]byte, base64.StdEncoding.EncodedLen(len(src)))
		scratch := new([base64Piece]byte)
		b.SetBytes(int64(len(src)))
		for b.Loop() {
			copy(out[len(out)-len(src):], src)
			encodeBase64InPlace(out, len(src), scratch)
		}
	})
}
