package record

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"io"
	"strconv"
)

// ChunkID names a chunk for record ids: the first 16 bytes of the SHA-256 of
// its tag and bytes. Unlike the instance's ledger fingerprint, whose seed
// changes with every start, it is the same in every process, so a chunk that
// Fluent Bit hands again after a restart gives its records the same ids.
type ChunkID [16]byte

// NewChunkID returns the id of the chunk data flushed under tag.
func NewChunkID(tag string, data []byte) ChunkID {
	h := sha256.New()
	var n [8]byte
	binary.BigEndian.PutUint64(n[:], uint64(len(tag)))
	h.Write(n[:]) // the length keeps tag and data apart
	io.WriteString(h, tag)
	h.Write(data)
	var sum [sha256.Size]byte
	var id ChunkID
	copy(id[:], h.Sum(sum[:0]))
	return id
}

// AppendRecordID appends the id of the record made from the chunk's event
// at index (counting every event the reader returned, invalid ones too, so
// that the same chunk numbers its records the same way): 32 hex digits, a
// '-', and the index in decimal.
func (c ChunkID) AppendRecordID(dst []byte, index int) []byte {
	dst = hex.AppendEncode(dst, c[:])
	dst = append(dst, '-')
	return strconv.AppendInt(dst, int64(index), 10)
}
