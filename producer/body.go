package producer

import (
	"bytes"
	"context"
	"encoding/base64"
	"fmt"
	"io"
	"mime"
	"slices"
	"sync"
	"unicode/utf8"
	"unsafe"

	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"
	"github.com/aws/smithy-go"
	"github.com/aws/smithy-go/middleware"
	smithyhttp "github.com/aws/smithy-go/transport/http"

	"github.com/kinesis-kpl/fluent-bit-kinesis-kpl/aggregation"
)

// BodyPutter is a Putter that can also send a PutRecords request whose
// body the producer wrote itself, straight from its entries into a reused
// buffer: no PutRecordsInput, no SDK serialisation. The body is the
// PutRecords request in format: WireJSON, the awsJson1.1 body
// ({"Records":[{"Data":base64, "ExplicitHashKey":..., "PartitionKey":...}],
// "StreamName":...}), or WireCBOR, the same members in CBOR with the data
// as byte strings. It must be sent as it is, and is valid only until
// PutRecordsBody returns.
//
// New uses PutRecordsBody when Config.Client implements BodyPutter, and
// wraps a *kinesis.Client in one of its own (directPutter), which keeps
// what matters of the SDK: credentials, SigV4 signing, endpoint
// resolution, the retryer's decisions, and its reader of errors, which
// come out of a CBOR response exactly as out of a JSON one; successful
// responses it reads itself (ownResponses), without the results'
// sequence numbers, which the producer does not read.
// Other Putters (fakes, say) get a PutRecordsInput as before.
type BodyPutter interface {
	Putter
	// PutRecordsBody sends body, in format, as the PutRecords request of
	// streamName and returns the decoded response.
	PutRecordsBody(ctx context.Context, streamName string, format WireFormat, body []byte) (*kinesis.PutRecordsOutput, error)
}

// BodyPutterOf returns the BodyPutter to send through for c, nil for
// none. A *kinesis.Client sends its bodies itself, through its endpoint,
// credentials, signer, HTTP client and retryer (directPutter); one whose
// endpoint does not resolve goes through the SDK's stack, which reports
// that on every call.
func BodyPutterOf(c Putter) BodyPutter {
	switch c := c.(type) {
	case *kinesis.Client:
		if d, err := newDirectPutter(c); err == nil {
			return d
		}
		return kinesisBodyPutter{c}
	case BodyPutter:
		return c
	}
	return nil
}

// kinesisBodyPutter sends bodies through a *kinesis.Client: a PutRecords
// call whose serialised input is replaced by the body (presetBody), so
// that every other middleware of the SDK runs as for any call. The
// response is read by ownResponses.
//
// The producer reuses the body's buffer once the call returns, even when
// net/http may still hold the request (a canceled or failed attempt): the
// SDK hands net/http the body wrapped in a reader that, once the SDK
// closed it at the end of each attempt, waits for a read under way and
// gives no byte after.
type kinesisBodyPutter struct{ *kinesis.Client }

// noEntries is the Records of the input PutRecordsBody hands the SDK: not
// nil, which its validation requires, and empty, so that its serialiser
// has next to nothing to do before presetBody replaces its output.
var noEntries = []types.PutRecordsRequestEntry{}

func (k kinesisBodyPutter) PutRecordsBody(ctx context.Context, streamName string, format WireFormat, body []byte) (*kinesis.PutRecordsOutput, error) {
	in := &kinesis.PutRecordsInput{StreamName: &streamName, Records: noEntries}
	preset := &presetBody{body: body}
	return k.PutRecords(ctx, in, func(o *kinesis.Options) {
		if format == WireCBOR {
			preset.contentType = cborContentType
		}
		o.Protocol = ownResponses{o.Protocol}
		// Options.APIOptions is a copy per call: appending is safe.
		o.APIOptions = append(o.APIOptions, func(s *middleware.Stack) error {
			return s.Serialize.Insert(preset, "OperationSerializer", middleware.After)
		})
	})
}

// presetBody is a Serialize-step middleware that replaces the request
// body the SDK serialised with the one the producer wrote, and its
// content type when it is not the SDK's JSON. It runs right after the
// SDK's serialiser, which sets the method, the target and the content
// type; signing (which hashes the body), retries (which rewind it) and
// sending see only the preset body.
type presetBody struct {
	body        []byte
	contentType string // "" keeps the SDK's
}

func (*presetBody) ID() string { return "kinesis_kpl.PresetBody" }

func (b *presetBody) HandleSerialize(ctx context.Context, in middleware.SerializeInput, next middleware.SerializeHandler) (middleware.SerializeOutput, middleware.Metadata, error) {
	req, ok := in.Request.(*smithyhttp.Request)
	if !ok {
		return middleware.SerializeOutput{}, middleware.Metadata{}, fmt.Errorf("producer: unexpected transport request %T", in.Request)
	}
	if b.contentType != "" {
		req.Header.Set("Content-Type", b.contentType)
	}
	sreq, err := req.SetStream(bytes.NewReader(b.body))
	if err != nil {
		return middleware.SerializeOutput{}, middleware.Metadata{}, fmt.Errorf("producer: setting the request body: %w", err)
	}
	in.Request = sreq
	return next.HandleSerialize(ctx, in)
}

// ownResponses is the client's protocol (awsJson1.1) for a PutRecords
// call whose body the producer wrote, with a successful response read
// here, JSON or CBOR, straight into the PutRecordsOutput without the
// SDK's generic reader (decodePutRecordsJSON, decodePutRecordsCBOR). A
// CBOR error is turned into the JSON error body it stands for and handed
// to the SDK's own error reader, so that it becomes the same typed error,
// with the same code, message and HTTP status, that the SDK's retryer and
// classifyError see for a JSON one. JSON errors, and responses of another
// content type (a proxy's, say), are the SDK's to read as ever.
type ownResponses struct{ smithyhttp.ClientProtocol }

// jsonContentType is the content type of awsJson1.1.
const jsonContentType = "application/x-amz-json-1.1"

func (p ownResponses) DeserializeResponse(ctx context.Context, schema *smithy.OperationSchema, reg *smithy.TypeRegistry, resp *smithyhttp.Response, out smithy.Deserializable) error {
	mt, _, _ := mime.ParseMediaType(resp.Header.Get("Content-Type"))
	success := resp.StatusCode >= 200 && resp.StatusCode < 300
	o, isPut := out.(*kinesis.PutRecordsOutput)
	if !isPut || (mt != cborContentType && (mt != jsonContentType || !success)) {
		return p.ClientProtocol.DeserializeResponse(ctx, schema, reg, resp, out)
	}
	buf, err := readResponse(resp.Body)
	defer releaseResponse(buf)
	if err != nil {
		return &smithy.DeserializationError{Err: fmt.Errorf("reading the PutRecords response: %w", err)}
	}
	body := viewOf(buf.Bytes())
	switch {
	case mt == jsonContentType:
		err = decodePutRecordsJSON(body, o)
	case success:
		err = decodePutRecordsCBOR(body, o)
	default:
		info, err := decodeErrorCBOR(body)
		if err != nil {
			return &smithy.DeserializationError{Err: err, Snapshot: []byte(body[:min(len(body), 1024)])}
		}
		// The SDK closes resp.Body, the one it was given.
		jsonResp := *resp.Response
		jsonResp.Body = io.NopCloser(bytes.NewReader(info.appendJSON(nil)))
		return p.ClientProtocol.DeserializeResponse(ctx, schema, reg, &smithyhttp.Response{Response: &jsonResp}, out)
	}
	if err != nil {
		return &smithy.DeserializationError{Err: err}
	}
	return nil
}

// readResponse reads a response body whole into a pooled buffer, which
// releaseResponse gives back. The response readers read a view of it
// (viewOf) and copy every text they keep (stringSlab): nothing they
// return points into the buffer, which the next response reuses. Not
// copying the body whole spares about 140 bytes a record with
// aggregation off, a PutRecords result each.
func readResponse(r io.Reader) (*bytes.Buffer, error) {
	buf := responseBuffers.Get().(*bytes.Buffer)
	_, err := buf.ReadFrom(r)
	return buf, err
}

// releaseResponse gives a buffer of readResponse back to the pool, unless
// it grew too large to keep.
func releaseResponse(buf *bytes.Buffer) {
	if buf.Cap() <= maxPooledResponse {
		buf.Reset()
		responseBuffers.Put(buf)
	}
}

// viewOf returns b as a string without copying it: valid only while b's
// bytes do not change.
func viewOf(b []byte) string { return unsafe.String(unsafe.SliceData(b), len(b)) }

// maxPooledResponse bounds the response buffers kept: a PutRecords
// response of 500 results is about 50 KiB.
const maxPooledResponse = 256 << 10

var responseBuffers = sync.Pool{New: func() any { return new(bytes.Buffer) }}

// bodyScratch is what writing a request body (appendWholeBody, or a
// BodyStream) reuses from one request to the next. A body
// writer writes each entry's data at once when its bytes are at hand and
// complete; it leaves room (reserve) for the data of an aggregate still to
// write or to sum, writes the aggregates not written yet into the body
// itself, sums every aggregate at once (sumEntries, so that they share
// SIMD lanes) and only then fills in the room left (later). An aggregate
// waiting as its encoder is thus written once per try, straight into the
// body: no buffer of its own, no second copy.
type bodyScratch struct {
	lanes *aggregation.Lanes // nil sums with crypto/md5
	sums  [][]byte           // sumEntries's scratch
	later []dataSlot
	b64   *[base64Piece]byte // encodeBase64InPlace's scratch, made for JSON
}

// begin returns s ready for a body, emptied of what a write that panicked
// left in it, or a scratch of its own for nil.
func (s *bodyScratch) begin() *bodyScratch {
	if s == nil {
		return new(bodyScratch)
	}
	s.later = s.later[:0]
	return s
}

// dataSlot is the room left in a body for the data of entries[i]: the
// room ends at end, where the aggregate written into it (inBody) ends too.
type dataSlot struct {
	i, end int
	inBody bool
}

// sentLen is the length of e's data in a request: an aggregate not
// written yet has none, but its length is known.
func (e *entry) sentLen() int {
	if e.aggregate() && e.data == nil {
		return e.dataLen
	}
	return len(e.data)
}

// writesNow reports whether e's data is complete and at hand: if not, the
// body writer reserves room for it.
func (e *entry) writesNow() bool {
	return !e.unsummed && (e.data != nil || !e.aggregate())
}

// reserve appends room of size bytes for the data of entries[i], e, to dst
// and writes it there when it is an aggregate not written yet, into the
// last e.dataLen bytes of the room: all of it for CBOR, the end of the
// base64 text it becomes for JSON.
func (s *bodyScratch) reserve(dst []byte, i int, e *entry, size int) []byte {
	end := len(dst) + size
	dst = slices.Grow(dst, size)
	inBody := e.data == nil
	if inBody {
		e.writeData(dst[:end-e.dataLen]) // exactly dataLen bytes, in the room grown
	}
	s.later = append(s.later, dataSlot{i, end, inBody})
	return dst[:end]
}

// fill sums the aggregates of entries in body, the ones written into it
// and the ones summed on their first try, then writes every data left for
// later: as base64 (encoded in place for an aggregate written into the
// body), or as it is.
func (s *bodyScratch) fill(body []byte, entries []*entry, asBase64 bool) {
	s.place(body, entries)
	s.sums = sumEntries(s.lanes, entries, s.sums)
	s.encode(body, entries, asBase64)
	s.later = s.later[:0]
}

// place points each aggregate written into body at its bytes there: the
// body may have grown since reserve (keys longer escaped than counted).
func (s *bodyScratch) place(body []byte, entries []*entry) {
	for _, sl := range s.later {
		if e := entries[sl.i]; sl.inBody {
			e.data = body[sl.end-e.dataLen : sl.end : sl.end]
		}
	}
}

// encode writes the data of every slot left for later, summed by now:
// as base64 (in place for an aggregate written into the body), or as it
// is.
func (s *bodyScratch) encode(body []byte, entries []*entry, asBase64 bool) {
	for _, sl := range s.later {
		e := entries[sl.i]
		switch {
		case asBase64:
			room := body[sl.end-base64.StdEncoding.EncodedLen(len(e.data)) : sl.end]
			if !sl.inBody {
				stdBase64.Encode(room, e.data)
				break
			}
			if s.b64 == nil {
				s.b64 = new([base64Piece]byte)
			}
			encodeBase64InPlace(room, len(e.data), s.b64)
		case !sl.inBody:
			copy(body[sl.end-len(e.data):sl.end], e.data)
		}
	}
}

// appendWholeBody appends the whole request body for entries in format,
// the pieces a BodyStream writes in windows, written at once.
func appendWholeBody(dst []byte, format WireFormat, streamName string, entries []*entry, s *bodyScratch) []byte {
	s = s.begin()
	if n := bodyLenAbout(format, streamName, entries); cap(dst)-len(dst) < n {
		// Escaped keys, or keys that are not UTF-8 in CBOR, may need
		// more; append grows it then.
		grown := make([]byte, len(dst), len(dst)+n)
		copy(grown, dst)
		dst = grown
	}
	dst = appendBodyStart(dst, format, len(entries))
	for i, e := range entries {
		dst = appendBodyEntry(dst, format, i, e, s)
	}
	dst = appendBodyEnd(dst, format, streamName)
	s.fill(dst, entries, format != WireCBOR)
	return dst
}

// bodyLenAbout is the length of the body for entries in format, exact
// unless keys need escaping (JSON) or are not UTF-8 (CBOR).
func bodyLenAbout(format WireFormat, streamName string, entries []*entry) int {
	if format == WireCBOR {
		return cborBodyLenAbout(streamName, entries)
	}
	n := len(`{"Records":[],"StreamName":""}`) + len(streamName)
	for _, e := range entries {
		n += len(`{"Data":"","PartitionKey":""},`) +
			base64.StdEncoding.EncodedLen(e.sentLen()) + len(e.pk)
		if e.ehk != "" {
			n += len(`,"ExplicitHashKey":""`) + len(e.ehk)
		}
	}
	return n
}

// The pieces of a body: its start, each entry, its end. In JSON they are
// the awsJson1.1 body the SDK writes for the same PutRecordsInput, data in
// standard base64; in CBOR, the same members (cbor.go).

// appendBodyStart appends what comes before the first of n entries.
func appendBodyStart(dst []byte, format WireFormat, n int) []byte {
	if format == WireCBOR {
		return appendCBORBodyStart(dst, n)
	}
	return append(dst, `{"Records":[`...)
}

// appendBodyEntry appends entries[i], e: its data at once when complete
// and at hand, or room for it that s fills in later.
func appendBodyEntry(dst []byte, format WireFormat, i int, e *entry, s *bodyScratch) []byte {
	if format == WireCBOR {
		return appendCBORBodyEntry(dst, i, e, s)
	}
	if i > 0 {
		dst = append(dst, ',')
	}
	dst = append(dst, `{"Data":"`...)
	if e.writesNow() {
		dst = appendBase64(dst, e.data)
	} else {
		dst = s.reserve(dst, i, e, base64.StdEncoding.EncodedLen(e.sentLen()))
	}
	dst = append(dst, '"')
	if e.ehk != "" {
		dst = append(dst, `,"ExplicitHashKey":`...)
		dst = appendJSONString(dst, e.ehk)
	}
	dst = append(dst, `,"PartitionKey":`...)
	dst = appendJSONString(dst, e.pk)
	return append(dst, '}')
}

// appendBodyEnd appends what comes after the last entry.
func appendBodyEnd(dst []byte, format WireFormat, streamName string) []byte {
	if format == WireCBOR {
		return appendCBORBodyEnd(dst, streamName)
	}
	dst = append(dst, `],"StreamName":`...)
	dst = appendJSONString(dst, streamName)
	return append(dst, '}')
}

// appendJSONString appends s as a JSON string, escaped as the SDK's
// encoder escapes it, so that the body is byte for byte the SDK's: '"' and
// '\\' escaped, control characters and DEL as \n, \r, \t or \u00XX, U+2028 and
// U+2029 as \u2028 and \u2029, and each byte that is not valid UTF-8
// replaced by U+FFFD.
func appendJSONString(dst []byte, s string) []byte {
	const hex = "0123456789abcdef"
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' && c != 0x7f {
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
			default:
				dst = append(dst, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			dst = append(dst, s[start:i]...)
			dst = utf8.AppendRune(dst, utf8.RuneError)
		case r == '\u2028' || r == '\u2029':
			dst = append(dst, s[start:i]...)
			dst = append(dst, '\\', 'u', '2', '0', '2', hex[r&0xf])
		default:
			i += size
			continue
		}
		i += size
		start = i
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}
