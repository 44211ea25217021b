package producer

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"

	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"
)

// The SDK's generic JSON reader costs about four allocations per result of
// a PutRecords response, one result per record with aggregation off: this
// reader reads a view of the body and copies what it keeps into a
// stringSlab, as the CBOR reader does. It reads members as the SDK does:
// names matched exactly, unknown members skipped, null members left unset;
// and it skips the results' sequence numbers, which the producer does not
// read (resultField).

// errJSONTruncated is the error of JSON input that ends inside a value.
var errJSONTruncated = errors.New("unexpected end of input")

// jsonReader reads JSON values from a string.
type jsonReader struct {
	s string
	i int
}

func (r *jsonReader) fail(err error) error { return fmt.Errorf("at byte %d: %w", r.i, err) }

// space skips white space and returns the next byte, 0 at the end.
func (r *jsonReader) space() byte {
	for r.i < len(r.s) {
		switch c := r.s[r.i]; c {
		case ' ', '\t', '\n', '\r':
			r.i++
		default:
			return c
		}
	}
	return 0
}

// expect reads the byte c after white space.
func (r *jsonReader) expect(c byte) error {
	switch r.space() {
	case c:
		r.i++
		return nil
	case 0:
		return r.fail(errJSONTruncated)
	}
	return r.fail(fmt.Errorf("found %q, want %q", r.s[r.i], c))
}

// literal reads one of true, false and null.
func (r *jsonReader) literal(word string) bool {
	if len(r.s)-r.i >= len(word) && r.s[r.i:r.i+len(word)] == word {
		r.i += len(word)
		return true
	}
	return false
}

// null reads a null in place of a member's value.
func (r *jsonReader) null() bool { return r.space() == 'n' && r.literal("null") }

// str reads a string. Without escapes it is a substring of the input,
// bytes that are not UTF-8 included, as the SDK's reader gives it; with
// escapes encoding/json unquotes it.
func (r *jsonReader) str() (string, error) {
	if err := r.expect('"'); err != nil {
		return "", err
	}
	start, plain := r.i, true
	for r.i < len(r.s) {
		c := r.s[r.i]
		switch {
		case c == '"':
			s := r.s[start:r.i]
			r.i++
			if plain {
				return s, nil
			}
			var v string
			if err := json.Unmarshal([]byte(r.s[start-1:r.i]), &v); err != nil {
				return "", r.fail(err)
			}
			return v, nil
		case c == '\\':
			plain = false
			r.i += 2
		case c < 0x20:
			return "", r.fail(fmt.Errorf("control character 0x%02x in a string", c))
		default:
			r.i++
		}
	}
	return "", r.fail(errJSONTruncated)
}

// number reads a number as JSON writes it and returns its text.
func (r *jsonReader) number() (string, error) {
	start := r.i
	digits := func() int {
		n := 0
		for r.i < len(r.s) && r.s[r.i] >= '0' && r.s[r.i] <= '9' {
			r.i++
			n++
		}
		return n
	}
	if r.i < len(r.s) && r.s[r.i] == '-' {
		r.i++
	}
	switch {
	case r.i < len(r.s) && r.s[r.i] == '0':
		r.i++
	case digits() == 0:
		return "", r.bad(start)
	}
	if r.i < len(r.s) && r.s[r.i] == '.' {
		r.i++
		if digits() == 0 {
			return "", r.bad(start)
		}
	}
	if r.i < len(r.s) && (r.s[r.i] == 'e' || r.s[r.i] == 'E') {
		r.i++
		if r.i < len(r.s) && (r.s[r.i] == '+' || r.s[r.i] == '-') {
			r.i++
		}
		if digits() == 0 {
			return "", r.bad(start)
		}
	}
	return r.s[start:r.i], nil
}

// bad is the error of a malformed number that began at start.
func (r *jsonReader) bad(start int) error {
	if r.i >= len(r.s) {
		return r.fail(errJSONTruncated)
	}
	return r.fail(fmt.Errorf("malformed number %q", r.s[start:r.i+1]))
}

// int reads an integer in [lo, hi].
func (r *jsonReader) int(lo, hi int64) (int64, error) {
	r.space()
	text, err := r.number()
	if err != nil {
		return 0, err
	}
	var v int64
	neg := text[0] == '-'
	digits := text
	if neg {
		digits = text[1:]
	}
	for _, c := range []byte(digits) {
		if c < '0' || c > '9' || v > (math.MaxInt64-9)/10 {
			return 0, r.fail(fmt.Errorf("%q is not an integer in [%d, %d]", text, lo, hi))
		}
		v = v*10 + int64(c-'0')
	}
	if neg {
		v = -v
	}
	if v < lo || v > hi {
		return 0, r.fail(fmt.Errorf("%q is not an integer in [%d, %d]", text, lo, hi))
	}
	return v, nil
}

// skip reads past one value of any kind.
func (r *jsonReader) skip(depth int) error {
	if depth > maxCBORDepth {
		return r.fail(fmt.Errorf("values nested deeper than %d", maxCBORDepth))
	}
	switch c := r.space(); c {
	case 0:
		return r.fail(errJSONTruncated)
	case '"':
		_, err := r.str()
		return err
	case '{':
		return r.object("a value", func(string) error { return r.skip(depth + 1) })
	case '[':
		return r.array("a value", func() error { return r.skip(depth + 1) })
	case 't', 'f', 'n':
		if r.literal("true") || r.literal("false") || r.literal("null") {
			return nil
		}
		return r.fail(errors.New("malformed literal"))
	default:
		if c == '-' || c >= '0' && c <= '9' {
			_, err := r.number()
			return err
		}
		return r.fail(fmt.Errorf("unexpected %q", c))
	}
}

// object reads an object, calling member with each key, which must read
// the key's value.
func (r *jsonReader) object(what string, member func(key string) error) error {
	if r.space() != '{' {
		if r.i >= len(r.s) {
			return r.fail(errJSONTruncated)
		}
		return r.fail(fmt.Errorf("%s is not an object", what))
	}
	r.i++
	if r.space() == '}' {
		r.i++
		return nil
	}
	for {
		key, err := r.str()
		if err != nil {
			return err
		}
		if err := r.expect(':'); err != nil {
			return err
		}
		if err := member(key); err != nil {
			return err
		}
		switch r.space() {
		case ',':
			r.i++
		case '}':
			r.i++
			return nil
		case 0:
			return r.fail(errJSONTruncated)
		default:
			return r.fail(fmt.Errorf("found %q after a member of %s", r.s[r.i], what))
		}
	}
}

// array reads an array, calling elem for each element.
func (r *jsonReader) array(what string, elem func() error) error {
	if r.space() != '[' {
		if r.i >= len(r.s) {
			return r.fail(errJSONTruncated)
		}
		return r.fail(fmt.Errorf("%s is not an array", what))
	}
	r.i++
	if r.space() == ']' {
		r.i++
		return nil
	}
	for {
		if err := elem(); err != nil {
			return err
		}
		switch r.space() {
		case ',':
			r.i++
		case ']':
			r.i++
			return nil
		case 0:
			return r.fail(errJSONTruncated)
		default:
			return r.fail(fmt.Errorf("found %q after an element of %s", r.s[r.i], what))
		}
	}
}

// decodePutRecordsJSON reads a PutRecords response body in JSON into out.
func decodePutRecordsJSON(body string, out *kinesis.PutRecordsOutput) error {
	r := &jsonReader{s: body}
	if r.space() == 0 {
		return nil // an empty body, as the SDK takes it
	}
	var slab stringSlab
	err := r.object("the response", func(key string) error {
		if r.null() {
			return nil
		}
		switch key {
		case "Records":
			return r.jsonResults(out, &slab)
		case "FailedRecordCount":
			v, err := r.int(math.MinInt32, math.MaxInt32)
			n := int32(v)
			out.FailedRecordCount = &n
			return err
		case "EncryptionType":
			v, err := r.str()
			out.EncryptionType = types.EncryptionType(slab.keep(v))
			return err
		}
		return r.skip(0)
	})
	if err == nil && r.space() != 0 {
		err = r.fail(fmt.Errorf("%d bytes after the response", len(r.s)-r.i))
	}
	if err != nil {
		return fmt.Errorf("PutRecords response in JSON: %w", err)
	}
	return nil
}

// jsonResults reads the Records array of a PutRecords response.
func (r *jsonReader) jsonResults(out *kinesis.PutRecordsOutput, slab *stringSlab) error {
	// A result takes some 60 bytes: room for all at once.
	n := min(len(r.s)/60+1, kinesisMaxBatchCount)
	out.Records = make([]types.PutRecordsResultEntry, 0, n)
	slab.grow(n, len("shardId-000000000000"))
	return r.array("Records", func() error {
		out.Records = append(out.Records, types.PutRecordsResultEntry{})
		res := &out.Records[len(out.Records)-1]
		if r.null() {
			return nil
		}
		return r.object("a result", func(key string) error {
			field := resultField(res, key)
			if field == nil {
				return r.skip(0)
			}
			if r.null() {
				return nil
			}
			v, err := r.str()
			if err == nil {
				*field = slab.ptr(v)
			}
			return err
		})
	})
}
