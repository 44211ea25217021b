package record

import (
	"bytes"
	"compress/gzip"
	"compress/zlib"
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"io"
	"slices"
	"strings"
	"sync"

	"github.com/klauspost/compress/snappy"
	"github.com/klauspost/compress/zstd"
)

// Compression is how each record is compressed.
type Compression uint8

// The compressions; see the package comment.
const (
	CompressionNone Compression = iota
	CompressionZlib
	CompressionGzip
	CompressionZstd
	CompressionSnappy
)

var compressionNames = [...]string{
	CompressionNone:   "none",
	CompressionZlib:   "zlib",
	CompressionGzip:   "gzip",
	CompressionZstd:   "zstd",
	CompressionSnappy: "snappy",
}

func (c Compression) String() string {
	if int(c) < len(compressionNames) {
		return compressionNames[c]
	}
	return fmt.Sprintf("Compression(%d)", c)
}

// ParseCompression reads a compression's name: none (or empty), zlib,
// gzip, zstd or snappy, in any case.
func ParseCompression(s string) (Compression, error) {
	if strings.TrimSpace(s) == "" {
		return CompressionNone, nil
	}
	for c, name := range compressionNames {
		if strings.EqualFold(strings.TrimSpace(s), name) {
			return Compression(c), nil
		}
	}
	return 0, fmt.Errorf("%q is not one of none, zlib, gzip, zstd, snappy", s)
}

// levels are the accepted levels per compression, besides 0 (the default).
var levels = [...][2]int{
	CompressionNone:   {0, 0},
	CompressionZlib:   {1, 9},
	CompressionGzip:   {1, 9},
	CompressionZstd:   {1, 22},
	CompressionSnappy: {0, 0},
}

// compressor appends the compressed form of src to dst. It is safe for
// concurrent use.
type compressor func(dst, src []byte) ([]byte, error)

func newCompressor(c Compression, level int) (compressor, error) {
	if int(c) >= len(levels) {
		return nil, fmt.Errorf("unknown compression %d", c)
	}
	if lim := levels[c]; level != 0 && (level < lim[0] || level > lim[1]) {
		if lim[1] == 0 {
			return nil, fmt.Errorf("compression %s has no levels; leave the level at 0", c)
		}
		return nil, fmt.Errorf("compression %s takes levels %d to %d, not %d", c, lim[0], lim[1], level)
	}
	switch c {
	case CompressionZlib:
		if level == 0 {
			level = zlib.DefaultCompression
		}
		return streamCompressor(func(w io.Writer) (resetWriter, error) { return zlib.NewWriterLevel(w, level) })
	case CompressionGzip:
		if level == 0 {
			level = gzip.DefaultCompression
		}
		return streamCompressor(func(w io.Writer) (resetWriter, error) { return gzip.NewWriterLevel(w, level) })
	case CompressionZstd:
		opts := []zstd.EOption{zstd.WithZeroFrames(true), zstd.WithLowerEncoderMem(true)}
		if level != 0 {
			opts = append(opts, zstd.WithEncoderLevel(zstd.EncoderLevelFromZstd(level)))
		}
		enc, err := zstd.NewWriter(nil, opts...)
		if err != nil {
			return nil, err
		}
		return func(dst, src []byte) ([]byte, error) { return enc.EncodeAll(src, dst), nil }, nil
	case CompressionSnappy:
		return appendSnappyFramed, nil
	}
	return nil, nil
}

// resetWriter is a stream compressor that can be reused: zlib's and gzip's.
type resetWriter interface {
	io.WriteCloser
	Reset(io.Writer)
}

// pooledWriter is one reusable stream compressor with the buffer it writes
// to.
type pooledWriter struct {
	w   resetWriter
	out bytes.Buffer
}

// streamCompressor makes a compressor from a stream compressor, keeping
// compressors in a pool: making one costs far more than a record.
func streamCompressor(make func(io.Writer) (resetWriter, error)) (compressor, error) {
	if _, err := make(io.Discard); err != nil { // checks the level once
		return nil, err
	}
	pool := &sync.Pool{New: func() any {
		pw := &pooledWriter{}
		pw.w, _ = make(&pw.out)
		return pw
	}}
	return func(dst, src []byte) ([]byte, error) {
		pw := pool.Get().(*pooledWriter)
		defer pool.Put(pw)
		pw.out.Reset()
		pw.w.Reset(&pw.out)
		if _, err := pw.w.Write(src); err != nil {
			return dst, err
		}
		if err := pw.w.Close(); err != nil {
			return dst, err
		}
		return append(dst, pw.out.Bytes()...), nil
	}, nil
}

// The snappy framing format (google/snappy framing_format.txt), which
// Fluent Bit's C plugin writes: a stream identifier, then chunks of at most
// 64 KiB of input, each with its type, length and masked CRC-32C. The
// library's stream writer allocates per record; this frames the library's
// block encoder instead.
const (
	snappyStreamID      = "\xff\x06\x00\x00sNaPpY"
	snappyCompressed    = 0x00
	snappyUncompressed  = 0x01
	snappyMaxBlock      = 1 << 16
	snappyChunkOverhead = 1 + 3 + 4 // type, length, checksum
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

func appendSnappyFramed(dst, src []byte) ([]byte, error) {
	dst = append(dst, snappyStreamID...)
	for len(src) > 0 {
		block := src[:min(len(src), snappyMaxBlock)]
		src = src[len(block):]
		start := len(dst)
		dst = slices.Grow(dst, snappyChunkOverhead+snappy.MaxEncodedLen(len(block)))
		dst = dst[:start+snappyChunkOverhead]
		enc := snappy.Encode(dst[len(dst):cap(dst)], block)
		kind := byte(snappyCompressed)
		if len(enc) >= len(block) { // incompressible: store it as it is
			kind, enc = snappyUncompressed, block
		}
		dst = append(dst, enc...) // in place when enc was written there
		crc := crc32.Checksum(block, castagnoli)
		n := len(enc) + 4
		dst[start] = kind
		dst[start+1], dst[start+2], dst[start+3] = byte(n), byte(n>>8), byte(n>>16)
		binary.LittleEndian.PutUint32(dst[start+4:], (crc>>15|crc<<17)+0xa282ead8)
	}
	return dst, nil
}
