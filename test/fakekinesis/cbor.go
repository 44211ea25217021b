package fakekinesis

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"

	"github.com/fxamacker/cbor/v2"
)

// Kinesis takes every operation in CBOR as well as in JSON: the same
// members, blobs as byte strings, timestamps as epoch seconds under tag 1.
// The AWS Java SDKs send CBOR by default. The server answers each request
// in the format it came in.
const contentTypeCBOR = "application/x-amz-cbor-1.1"

// WithIndefiniteLengths makes the server write its CBOR answers with
// indefinite-length maps, arrays and strings, and every integer and length
// in its widest form, as Jackson (behind the Java SDKs) writes lengths it
// does not know in advance: a client must read both.
func WithIndefiniteLengths() Option { return func(s *Server) { s.indefinite = true } }

// wire is the format of one request and of its answer.
type wire struct {
	cbor       bool
	indefinite bool // CBOR answers in Indefinite's form
}

// wireOf returns the format of a request whose media type is mediaType, and
// whether it is one the server speaks.
func (s *Server) wireOf(mediaType string) (wire, bool) {
	switch mediaType {
	case contentType:
		return wire{}, true
	case contentTypeCBOR:
		return wire{cbor: true, indefinite: s.indefinite}, true
	}
	return wire{}, false
}

func (f wire) contentType() string {
	if f.cbor {
		return contentTypeCBOR
	}
	return contentType
}

// cborDecoding reads requests as Kinesis does: unknown members are
// ignored, definite and indefinite lengths alike.
var cborDecoding = func() cbor.DecMode {
	m, err := cbor.DecOptions{}.DecMode()
	if err != nil {
		panic(err)
	}
	return m
}()

// decode reads a request body into v.
func (f wire) decode(body []byte, v any) error {
	if f.cbor {
		return cborDecoding.Unmarshal(body, v)
	}
	if in, ok := v.(*putRecordsInput); ok && readPutRecordsJSON(body, in) {
		return nil
	}
	return json.Unmarshal(body, v)
}

// encode writes v, one of the response types, which cannot fail to encode.
func (f wire) encode(v any) []byte {
	if !f.cbor {
		if out, ok := v.(putRecordsOutput); ok {
			if b, ok := appendPutRecordsOutputJSON(nil, out); ok {
				return b
			}
		}
		b, _ := json.Marshal(v)
		return b
	}
	b, _ := cbor.Marshal(v)
	if f.indefinite {
		b, _ = Indefinite(b)
	}
	return b
}

// writeError answers with the error e; the code goes in the
// X-Amzn-ErrorType header as well as in the body.
func (f wire) writeError(w http.ResponseWriter, e *apiError) {
	w.Header().Set("X-Amzn-ErrorType", e.code)
	f.writeBody(w, e.status, f.encode(errorBody{Type: e.code, Message: e.message}))
}

// writeResult answers 200 with v encoded.
func (f wire) writeResult(w http.ResponseWriter, v any) {
	f.writeBody(w, http.StatusOK, f.encode(v))
}

func (f wire) writeBody(w http.ResponseWriter, status int, body []byte) {
	h := w.Header()
	h.Set("Content-Type", f.contentType())
	h.Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

// epochSeconds is a timestamp as Kinesis writes it: seconds since the epoch,
// a JSON number, or a CBOR float under tag 1.
type epochSeconds float64

func (t epochSeconds) MarshalCBOR() ([]byte, error) {
	return cbor.Marshal(cbor.Tag{Number: 1, Content: float64(t)})
}

// Indefinite rewrites the CBOR data item b with every map and array of
// indefinite length, every string of two or more bytes in two chunks, and
// every integer, tag number and length in 8 bytes: the same data, as a
// writer that streams would put it. Floats and simple values stay as they
// are.
func Indefinite(b []byte) ([]byte, error) {
	out, rest, err := appendIndefinite(nil, b, 0)
	if err != nil {
		return nil, err
	}
	if len(rest) > 0 {
		return nil, fmt.Errorf("cbor: %d bytes after the data item", len(rest))
	}
	return out, nil
}

var errTruncated = errors.New("cbor: unexpected end of data")

// definiteHead reads the head of the first item of b, which has a
// definite argument (info under 28): its argument and the head's length.
func definiteHead(b []byte) (arg uint64, size int, err error) {
	info := b[0] & 0x1f
	if info < 24 {
		return uint64(info), 1, nil
	}
	n := 1 << (info - 24)
	if len(b) < 1+n {
		return 0, 0, errTruncated
	}
	for _, c := range b[1 : 1+n] {
		arg = arg<<8 | uint64(c)
	}
	return arg, 1 + n, nil
}

// appendChunk appends, unchanged, the first item of b, which must be a
// definite-length string of type major (a chunk of an indefinite-length
// string), and returns what follows it.
func appendChunk(dst, b []byte, major byte) ([]byte, []byte, error) {
	if b[0]&0xe0 != major || b[0]&0x1f >= 28 {
		return nil, nil, fmt.Errorf("cbor: 0x%02x in an indefinite-length string is not a definite chunk of its type", b[0])
	}
	arg, size, err := definiteHead(b)
	if err != nil {
		return nil, nil, err
	}
	if arg > uint64(len(b)-size) {
		return nil, nil, errTruncated
	}
	end := size + int(arg)
	return append(dst, b[:end]...), b[end:], nil
}

// appendIndefinite appends the first item of b in Indefinite's form and
// returns what follows it.
func appendIndefinite(dst, b []byte, depth int) ([]byte, []byte, error) {
	if depth > 64 {
		return nil, nil, errors.New("cbor: nested too deep")
	}
	if len(b) == 0 {
		return nil, nil, errTruncated
	}
	major, info := b[0]&0xe0, b[0]&0x1f
	var arg uint64
	size := 0
	switch {
	case info <= 27:
		var err error
		if arg, size, err = definiteHead(b); err != nil {
			return nil, nil, err
		}
	case info == 31 && major != 0xe0:
		// Already indefinite: copy the marker, then the items up to the
		// break. A string's chunks must stay definite strings of its own
		// type, so they are copied as they are.
		dst = append(dst, b[0])
		b = b[1:]
		for {
			if len(b) == 0 {
				return nil, nil, errTruncated
			}
			if b[0] == 0xff {
				return append(dst, 0xff), b[1:], nil
			}
			var err error
			if major == 0x40 || major == 0x60 {
				dst, b, err = appendChunk(dst, b, major)
			} else {
				dst, b, err = appendIndefinite(dst, b, depth+1)
			}
			if err != nil {
				return nil, nil, err
			}
		}
	default:
		return nil, nil, fmt.Errorf("cbor: unexpected byte 0x%02x", b[0])
	}
	head := b[:size]
	b = b[size:]
	wide := func(dst []byte, major byte, v uint64) []byte {
		return binary.BigEndian.AppendUint64(append(dst, major|27), v)
	}
	switch major {
	case 0x00, 0x20: // integers
		return wide(dst, major, arg), b, nil
	case 0x40, 0x60: // byte and text strings
		if arg > uint64(len(b)) {
			return nil, nil, errTruncated
		}
		s := b[:arg]
		if len(s) < 2 {
			return append(wide(dst, major, arg), s...), b[arg:], nil
		}
		// Split a text string where it does not cut a character in two.
		half := len(s) / 2
		for major == 0x60 && half > 0 && s[half]&0xc0 == 0x80 {
			half--
		}
		dst = append(dst, major|31)
		if half > 0 {
			dst = append(wide(dst, major, uint64(half)), s[:half]...)
		}
		dst = append(wide(dst, major, uint64(len(s)-half)), s[half:]...)
		return append(dst, 0xff), b[arg:], nil
	case 0x80, 0xa0: // arrays and maps
		items := arg
		if major == 0xa0 {
			items *= 2
		}
		if items > uint64(len(b)) {
			return nil, nil, errTruncated
		}
		dst = append(dst, major|31)
		for range items {
			var err error
			if dst, b, err = appendIndefinite(dst, b, depth+1); err != nil {
				return nil, nil, err
			}
		}
		return append(dst, 0xff), b, nil
	case 0xc0: // a tag, then its item
		return appendIndefinite(wide(dst, major, arg), b, depth+1)
	}
	// Simple values and floats, as they were.
	return append(dst, head...), b, nil
}
