package producer

import (
	"errors"
	"fmt"
	"math"
	"strings"
	"unicode/utf8"

	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"
)

// Kinesis speaks its awsJson1.1 operations in CBOR (RFC 8949) as well,
// under the content type below, as the AWS Java SDKs do by default. Data
// is a byte string there, not base64 text: the body is about a quarter
// smaller to hash, encrypt and send. This file writes the PutRecords
// request and reads its response; what it reads may come with definite or
// indefinite lengths (Jackson, behind the Java SDKs and the service,
// writes indefinite ones) and integers of any width.
const cborContentType = "application/x-amz-cbor-1.1"

// CBOR major types, in the top 3 bits of an item's first byte.
const (
	cborUint   = 0 << 5
	cborNegint = 1 << 5
	cborBytes  = 2 << 5
	cborText   = 3 << 5
	cborArray  = 4 << 5
	cborMap    = 5 << 5
	cborTag    = 6 << 5
	cborSimple = 7 << 5
)

// Item bytes of note: the low 5 bits 31 mark an indefinite length (or,
// under major type 7, the break that ends one); null and undefined stand
// for absent members.
const (
	cborIndefinite = 31
	cborBreak      = cborSimple | cborIndefinite
	cborNull       = cborSimple | 22
	cborUndefined  = cborSimple | 23
)

// cborHeadLen is the size of the head of an item whose argument is n.
func cborHeadLen(n int) int {
	switch {
	case n < 24:
		return 1
	case n <= math.MaxUint8:
		return 2
	case n <= math.MaxUint16:
		return 3
	case n <= math.MaxUint32:
		return 5
	}
	return 9
}

// appendCBORHead appends the head of an item of major type major and
// argument n, in its shortest form.
func appendCBORHead(dst []byte, major byte, n int) []byte {
	u := uint64(n)
	switch {
	case n < 24:
		return append(dst, major|byte(n))
	case n <= math.MaxUint8:
		return append(dst, major|24, byte(n))
	case n <= math.MaxUint16:
		return append(dst, major|25, byte(u>>8), byte(u))
	case n <= math.MaxUint32:
		return append(dst, major|26, byte(u>>24), byte(u>>16), byte(u>>8), byte(u))
	}
	return append(dst, major|27, byte(u>>56), byte(u>>48), byte(u>>40), byte(u>>32),
		byte(u>>24), byte(u>>16), byte(u>>8), byte(u))
}

// appendCBORText appends s as a text string. CBOR text must be UTF-8:
// each byte that is not is replaced by U+FFFD, as the JSON body does.
func appendCBORText(dst []byte, s string) []byte {
	if !utf8.ValidString(s) {
		s = validUTF8(s)
	}
	dst = appendCBORHead(dst, cborText, len(s))
	return append(dst, s...)
}

// validUTF8 returns s with each byte that is not part of valid UTF-8
// replaced by U+FFFD.
func validUTF8(s string) string {
	var b strings.Builder
	b.Grow(len(s) + 8)
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b.WriteRune(utf8.RuneError)
		} else {
			b.WriteString(s[i : i+size])
		}
		i += size
	}
	return b.String()
}

// The member names of the request, as CBOR text with their heads.
const (
	cborKeyRecords      = "\x67Records"
	cborKeyData         = "\x64Data"
	cborKeyEHK          = "\x6fExplicitHashKey"
	cborKeyPartitionKey = "\x6cPartitionKey"
	cborKeyStreamName   = "\x6aStreamName"
)

// A PutRecords request body in CBOR, written in the pieces of body.go:
// {"Records": [{"Data": bytes, "ExplicitHashKey": text (when set),
// "PartitionKey": text}], "StreamName": text}, every length definite and
// shortest.

// cborBodyLenAbout is the length of the CBOR body for entries, exact
// unless keys are not UTF-8.
func cborBodyLenAbout(streamName string, entries []*entry) int {
	n := 1 + len(cborKeyRecords) + cborHeadLen(len(entries)) + len(cborKeyStreamName) + cborHeadLen(len(streamName)) + len(streamName)
	for _, e := range entries {
		dataLen := e.sentLen()
		n += 1 + len(cborKeyData) + cborHeadLen(dataLen) + dataLen +
			len(cborKeyPartitionKey) + cborHeadLen(len(e.pk)) + len(e.pk)
		if e.ehk != "" {
			n += len(cborKeyEHK) + cborHeadLen(len(e.ehk)) + len(e.ehk)
		}
	}
	return n
}

// appendCBORBodyStart appends what comes before the first of n entries.
func appendCBORBodyStart(dst []byte, n int) []byte {
	dst = append(dst, cborMap|2)
	dst = append(dst, cborKeyRecords...)
	return appendCBORHead(dst, cborArray, n)
}

// appendCBORBodyEntry appends entries[i], e, as appendBodyEntry does.
func appendCBORBodyEntry(dst []byte, i int, e *entry, s *bodyScratch) []byte {
	if e.ehk != "" {
		dst = append(dst, cborMap|3)
	} else {
		dst = append(dst, cborMap|2)
	}
	dst = append(dst, cborKeyData...)
	dataLen := e.sentLen()
	dst = appendCBORHead(dst, cborBytes, dataLen)
	if e.writesNow() {
		dst = append(dst, e.data...)
	} else {
		dst = s.reserve(dst, i, e, dataLen)
	}
	if e.ehk != "" {
		dst = append(dst, cborKeyEHK...)
		dst = appendCBORText(dst, e.ehk)
	}
	dst = append(dst, cborKeyPartitionKey...)
	return appendCBORText(dst, e.pk)
}

// appendCBORBodyEnd appends what comes after the last entry.
func appendCBORBodyEnd(dst []byte, streamName string) []byte {
	dst = append(dst, cborKeyStreamName...)
	return appendCBORText(dst, streamName)
}

// errCBORTruncated is the error of CBOR input that ends inside an item.
var errCBORTruncated = errors.New("unexpected end of input")

// maxCBORDepth bounds the nesting of the items a reader skips: deeper
// input is refused rather than followed down the stack.
const maxCBORDepth = 64

// cborReader reads CBOR items from a string: the response is turned into
// a string once, and every text it yields is a substring of it, without a
// copy or an allocation of its own.
type cborReader struct {
	s string
	i int
}

// fail returns err with the offset it happened at.
func (r *cborReader) fail(err error) error { return fmt.Errorf("at byte %d: %w", r.i, err) }

// head reads the head of the next item: its major type, the low 5 bits of
// its first byte, and its argument (0 for an indefinite length).
func (r *cborReader) head() (major, info byte, arg uint64, err error) {
	if r.i >= len(r.s) {
		return 0, 0, 0, r.fail(errCBORTruncated)
	}
	b := r.s[r.i]
	major, info = b&0xe0, b&0x1f
	n := 0
	switch {
	case info < 24:
		r.i++
		return major, info, uint64(info), nil
	case info == cborIndefinite:
		if major == cborUint || major == cborNegint || major == cborTag {
			return 0, 0, 0, r.fail(fmt.Errorf("indefinite length on major type %d", major>>5))
		}
		r.i++
		return major, info, 0, nil
	case info > 27:
		return 0, 0, 0, r.fail(fmt.Errorf("reserved additional information %d", info))
	default:
		n = 1 << (info - 24)
	}
	if len(r.s)-r.i-1 < n {
		return 0, 0, 0, r.fail(errCBORTruncated)
	}
	for _, c := range []byte(r.s[r.i+1 : r.i+1+n]) {
		arg = arg<<8 | uint64(c)
	}
	r.i += 1 + n
	return major, info, arg, nil
}

// length reads the head of a map or an array: its length, or indefinite.
func (r *cborReader) length(major byte, what string) (n int, indefinite bool, err error) {
	m, info, arg, err := r.head()
	if err != nil {
		return 0, false, err
	}
	if m != major {
		return 0, false, r.fail(fmt.Errorf("%s is major type %d, want %d", what, m>>5, major>>5))
	}
	if info == cborIndefinite {
		return 0, true, nil
	}
	// Each element takes at least a byte: a longer count is a lie.
	if arg > uint64(len(r.s)-r.i) {
		return 0, false, r.fail(fmt.Errorf("%s of %d elements in %d bytes: %w", what, arg, len(r.s)-r.i, errCBORTruncated))
	}
	return int(arg), false, nil
}

// next reports whether a map or an array has another element: for a
// definite length it counts *n down, for an indefinite one it reads the
// break that ends it.
func (r *cborReader) next(n *int, indefinite bool) (bool, error) {
	if !indefinite {
		if *n == 0 {
			return false, nil
		}
		*n--
		return true, nil
	}
	if r.i >= len(r.s) {
		return false, r.fail(errCBORTruncated)
	}
	if r.s[r.i] == cborBreak {
		r.i++
		return false, nil
	}
	return true, nil
}

// text reads a text string, definite or in chunks.
func (r *cborReader) text() (string, error) {
	m, info, arg, err := r.head()
	if err != nil {
		return "", err
	}
	if m != cborText {
		return "", r.fail(fmt.Errorf("text is major type %d", m>>5))
	}
	if info != cborIndefinite {
		return r.take(arg)
	}
	var b strings.Builder
	for {
		if r.i >= len(r.s) {
			return "", r.fail(errCBORTruncated)
		}
		if r.s[r.i] == cborBreak {
			r.i++
			return b.String(), nil
		}
		m, info, arg, err := r.head()
		if err != nil {
			return "", err
		}
		if m != cborText || info == cborIndefinite {
			return "", r.fail(errors.New("a chunk of a text string is not a definite text string"))
		}
		chunk, err := r.take(arg)
		if err != nil {
			return "", err
		}
		b.WriteString(chunk)
	}
}

// take returns the next n bytes.
func (r *cborReader) take(n uint64) (string, error) {
	if n > uint64(len(r.s)-r.i) {
		return "", r.fail(errCBORTruncated)
	}
	s := r.s[r.i : r.i+int(n)]
	r.i += int(n)
	return s, nil
}

// absent reads a null or undefined in place of a member's value.
func (r *cborReader) absent() bool {
	if r.i < len(r.s) && (r.s[r.i] == cborNull || r.s[r.i] == cborUndefined) {
		r.i++
		return true
	}
	return false
}

// optText reads a text member; null or undefined gives "".
func (r *cborReader) optText() (string, error) {
	if r.absent() {
		return "", nil
	}
	return r.text()
}

// int reads an integer of any width that must lie in [lo, hi].
func (r *cborReader) int(lo, hi int64) (int64, error) {
	m, _, arg, err := r.head()
	if err != nil {
		return 0, err
	}
	switch {
	case m == cborUint && arg <= uint64(hi):
		return int64(arg), nil
	case m == cborNegint && arg < uint64(-lo):
		return -1 - int64(arg), nil
	case m == cborUint || m == cborNegint:
		return 0, r.fail(fmt.Errorf("integer out of range [%d, %d]", lo, hi))
	}
	return 0, r.fail(fmt.Errorf("integer is major type %d", m>>5))
}

// skip reads past one item of any type: members the reader does not know.
func (r *cborReader) skip(depth int) error {
	if depth > maxCBORDepth {
		return r.fail(fmt.Errorf("items nested deeper than %d", maxCBORDepth))
	}
	m, info, arg, err := r.head()
	if err != nil {
		return err
	}
	switch m {
	case cborBytes, cborText:
		if info != cborIndefinite {
			_, err = r.take(arg)
			return err
		}
		for {
			if r.i < len(r.s) && r.s[r.i] == cborBreak {
				r.i++
				return nil
			}
			cm, cinfo, carg, err := r.head()
			if err != nil {
				return err
			}
			if cm != m || cinfo == cborIndefinite {
				return r.fail(errors.New("a chunk of a string is not a definite string of its type"))
			}
			if _, err := r.take(carg); err != nil {
				return err
			}
		}
	case cborArray, cborMap:
		per := 1
		if m == cborMap {
			per = 2
		}
		if info != cborIndefinite {
			if arg > uint64(len(r.s)-r.i) {
				return r.fail(errCBORTruncated)
			}
			for range int(arg) * per {
				if err := r.skip(depth + 1); err != nil {
					return err
				}
			}
			return nil
		}
		for {
			if r.i >= len(r.s) {
				return r.fail(errCBORTruncated)
			}
			if r.s[r.i] == cborBreak {
				r.i++
				return nil
			}
			for range per {
				if err := r.skip(depth + 1); err != nil {
					return err
				}
			}
		}
	case cborTag:
		return r.skip(depth + 1)
	case cborSimple:
		if info == cborIndefinite {
			return r.fail(errors.New("break outside an indefinite-length item"))
		}
	}
	return nil // integers, simple values and floats: the head was all
}

// end checks that the input holds nothing after the item read.
func (r *cborReader) end() error {
	if r.i != len(r.s) {
		return r.fail(fmt.Errorf("%d bytes after the response", len(r.s)-r.i))
	}
	return nil
}

// members calls member with each key of the map that comes next, which
// must read the key's value.
func (r *cborReader) members(what string, member func(key string) error) error {
	n, indefinite, err := r.length(cborMap, what)
	if err != nil {
		return err
	}
	for {
		more, err := r.next(&n, indefinite)
		if err != nil || !more {
			return err
		}
		key, err := r.text()
		if err != nil {
			return err
		}
		if err := member(key); err != nil {
			return err
		}
	}
}

// stringSlab keeps the texts a response reader yields, which are views of
// a buffer that is reused once the response is read (readResponse). It
// copies them into byte arrays allocated some KiB at a time, and hands out
// *string from arrays allocated a batch at a time: a response's results
// cost a few allocations in all, not one or more each. Bytes it handed
// out are never written again.
type stringSlab struct {
	ptrs []string
	text []byte
}

// grow makes room for n more strings of about size bytes each.
func (s *stringSlab) grow(n, size int) {
	s.ptrs = make([]string, 0, n)
	s.text = make([]byte, 0, n*size)
}

// ptr returns a pointer to a copy of v.
func (s *stringSlab) ptr(v string) *string {
	if len(s.ptrs) == cap(s.ptrs) {
		s.ptrs = make([]string, 0, 64)
	}
	s.ptrs = append(s.ptrs, s.keep(v))
	return &s.ptrs[len(s.ptrs)-1]
}

// keep returns a copy of v.
func (s *stringSlab) keep(v string) string {
	if v == "" {
		return ""
	}
	if cap(s.text)-len(s.text) < len(v) {
		s.text = make([]byte, 0, max(len(v), 4<<10))
	}
	start := len(s.text)
	s.text = append(s.text, v...)
	return viewOf(s.text[start:])
}

// decodePutRecordsCBOR reads a PutRecords response body into out, copying
// the texts it keeps (body may be a view of a buffer that is reused).
// Members it does not know, and the results' sequence numbers, are
// skipped; null members are left unset.
func decodePutRecordsCBOR(body string, out *kinesis.PutRecordsOutput) error {
	r := &cborReader{s: body}
	var slab stringSlab
	err := r.members("the response", func(key string) error {
		switch key {
		case "Records":
			return r.results(out, &slab)
		case "FailedRecordCount":
			if r.absent() {
				return nil
			}
			v, err := r.int(math.MinInt32, math.MaxInt32)
			if err != nil {
				return err
			}
			n := int32(v)
			out.FailedRecordCount = &n
		case "EncryptionType":
			v, err := r.optText()
			out.EncryptionType = types.EncryptionType(slab.keep(v))
			return err
		default:
			return r.skip(0)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("PutRecords response in CBOR: %w", err)
	}
	return r.end()
}

// results reads the Records array of a PutRecords response.
func (r *cborReader) results(out *kinesis.PutRecordsOutput, slab *stringSlab) error {
	if r.absent() {
		return nil
	}
	n, indefinite, err := r.length(cborArray, "Records")
	if err != nil {
		return err
	}
	out.Records = make([]types.PutRecordsResultEntry, 0, n)
	// A success keeps one member, its shard ID: room for those of every
	// result at once.
	slab.grow(n, len("shardId-000000000000"))
	for {
		more, err := r.next(&n, indefinite)
		if err != nil || !more {
			return err
		}
		out.Records = append(out.Records, types.PutRecordsResultEntry{})
		res := &out.Records[len(out.Records)-1]
		err = r.members("a result", func(key string) error {
			field := resultField(res, key)
			if field == nil {
				return r.skip(0)
			}
			if r.absent() {
				return nil
			}
			v, err := r.text()
			if err == nil {
				*field = slab.ptr(v)
			}
			return err
		})
		if err != nil {
			return err
		}
	}
}

// resultField returns the member key of a PutRecords result, nil for one
// the readers skip. They skip SequenceNumber: the producer reads a result's
// shard ID and error, and keeping a sequence number cost some 60 bytes a
// record with aggregation off.
func resultField(res *types.PutRecordsResultEntry, key string) **string {
	switch key {
	case "ShardId":
		return &res.ShardId
	case "ErrorCode":
		return &res.ErrorCode
	case "ErrorMessage":
		return &res.ErrorMessage
	}
	return nil
}

// errorInfo is what an error response says: the members the SDK's
// awsJson1.1 error reader looks at, matched as it matches them (any case).
type errorInfo struct {
	typ, code, message string
}

// decodeErrorCBOR reads the body of an error response in CBOR. An empty
// body says nothing (the X-Amzn-ErrorType header may).
func decodeErrorCBOR(body string) (errorInfo, error) {
	var e errorInfo
	if body == "" {
		return e, nil
	}
	r := &cborReader{s: body}
	err := r.members("the error response", func(key string) error {
		var field *string
		switch {
		case strings.EqualFold(key, "__type"):
			field = &e.typ
		case strings.EqualFold(key, "code"):
			field = &e.code
		case strings.EqualFold(key, "message"):
			field = &e.message
		default:
			return r.skip(0)
		}
		if r.i < len(r.s) && r.s[r.i]&0xe0 != cborText {
			return r.skip(0) // a code that is not text is not a code
		}
		v, err := r.optText()
		*field = v
		return err
	})
	if err == nil {
		err = r.end()
	}
	if err != nil {
		return errorInfo{}, fmt.Errorf("error response in CBOR: %w", err)
	}
	return e, nil
}

// appendJSON appends e as the JSON error body the SDK's awsJson1.1 error
// reader takes.
func (e errorInfo) appendJSON(dst []byte) []byte {
	dst = append(dst, `{"__type":`...)
	dst = appendJSONString(dst, e.typ)
	if e.code != "" {
		dst = append(dst, `,"code":`...)
		dst = appendJSONString(dst, e.code)
	}
	if e.message != "" {
		dst = append(dst, `,"message":`...)
		dst = appendJSONString(dst, e.message)
	}
	return append(dst, '}')
}
