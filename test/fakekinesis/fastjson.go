package fakekinesis

import (
	"bytes"
	"encoding/base64"
	"encoding/binary"
	"strconv"
)

// readPutRecordsJSON reads a JSON PutRecords body of the plain shape every
// producer sends (members named exactly, strings of printable ASCII
// without escapes, Data in padded base64) into in, and reports whether it
// could. It never accepts what encoding/json would read differently or
// reject: on anything else it returns false and the caller reads the body
// with encoding/json, which gives the error or the result for the rest
// (FuzzPutRecordsJSON holds it to that). It exists for the benchmarks: the
// library's reader took 3 µs for each record of 525 bytes, so the fake, not
// the client measured, set the pace of a JSON run.
func readPutRecordsJSON(body []byte, in *putRecordsInput) bool {
	r := jsonReader{b: body}
	var ref streamRef
	var records []putRecordsEntry
	seen := 0
	ok := r.object(func(key string) bool {
		switch key {
		case "StreamName":
			return r.once(&seen, 1) && r.stringInto(&ref.StreamName)
		case "StreamARN":
			return r.once(&seen, 2) && r.stringInto(&ref.StreamARN)
		case "Records":
			return r.once(&seen, 4) && r.records(&records)
		}
		return false
	})
	if !ok || r.skipSpace() != len(r.b) {
		return false
	}
	*in = putRecordsInput{streamRef: ref, Records: records}
	return true
}

// jsonReader walks a body from its front; every method returns false on
// what the plain shape leaves out.
type jsonReader struct {
	b []byte
	i int
}

// skipSpace moves past JSON white space and returns where it stopped.
func (r *jsonReader) skipSpace() int {
	for r.i < len(r.b) {
		switch r.b[r.i] {
		case ' ', '\t', '\n', '\r':
			r.i++
		default:
			return r.i
		}
	}
	return r.i
}

// take moves past c, after any white space.
func (r *jsonReader) take(c byte) bool {
	if r.skipSpace() < len(r.b) && r.b[r.i] == c {
		r.i++
		return true
	}
	return false
}

// once marks member bit as seen; a member twice is left to the library,
// which keeps the last.
func (r *jsonReader) once(seen *int, bit int) bool {
	if *seen&bit != 0 {
		return false
	}
	*seen |= bit
	return true
}

// object reads {"key": value, ...}, member calling on each key to read its
// value.
func (r *jsonReader) object(member func(key string) bool) bool {
	if !r.take('{') {
		return false
	}
	if r.take('}') {
		return true
	}
	for {
		key, ok := r.plainString()
		if !ok || !r.take(':') || !member(string(key)) {
			return false
		}
		if r.take('}') {
			return true
		}
		if !r.take(',') {
			return false
		}
	}
}

// plainString reads a string of printable ASCII with no escapes and returns
// its bytes, within the body.
func (r *jsonReader) plainString() ([]byte, bool) {
	if !r.take('"') {
		return nil, false
	}
	end := bytes.IndexByte(r.b[r.i:], '"')
	if end < 0 {
		return nil, false
	}
	s := r.b[r.i : r.i+end]
	for len(s) >= 8 && plainWord(binary.LittleEndian.Uint64(s)) {
		s = s[8:]
	}
	for _, c := range s {
		if c < 0x20 || c >= 0x7f || c == '\\' {
			return nil, false
		}
	}
	s = r.b[r.i : r.i+end]
	r.i += end + 1
	return s, true
}

// plainWord reports whether none of the 8 bytes of x is below 0x20, above
// 0x7e or a backslash, without looking at them one by one (the bit tricks
// of "has less", "has more" and "has zero"): the fake reads every byte of
// every request this way.
func plainWord(x uint64) bool {
	const ones, highs = 0x0101010101010101, 0x8080808080808080
	less := (x - ones*0x20) &^ x & highs
	more := (x + ones*(0x7f-0x7e) | x) & highs
	y := x ^ ones*'\\'
	backslash := (y - ones) &^ y & highs
	return less|more|backslash == 0
}

func (r *jsonReader) stringInto(p **string) bool {
	s, ok := r.plainString()
	if ok {
		v := string(s)
		*p = &v
	}
	return ok
}

// records reads the Records array; null and other values are left to the
// library.
func (r *jsonReader) records(out *[]putRecordsEntry) bool {
	if !r.take('[') {
		return false
	}
	entries := make([]putRecordsEntry, 0, 64)
	if !r.take(']') {
		for {
			var e putRecordsEntry
			if !r.entry(&e) {
				return false
			}
			entries = append(entries, e)
			if r.take(']') {
				break
			}
			if !r.take(',') {
				return false
			}
		}
	}
	*out = entries
	return true
}

func (r *jsonReader) entry(e *putRecordsEntry) bool {
	seen := 0
	return r.object(func(key string) bool {
		switch key {
		case "Data":
			return r.once(&seen, 1) && r.base64Into(&e.Data)
		case "PartitionKey":
			return r.once(&seen, 2) && r.stringInto(&e.PartitionKey)
		case "ExplicitHashKey":
			return r.once(&seen, 4) && r.stringInto(&e.ExplicitHashKey)
		}
		return false
	})
}

// base64Into decodes a blob as the library does: standard, padded base64,
// an empty string giving an empty, non-nil slice.
func (r *jsonReader) base64Into(p *[]byte) bool {
	s, ok := r.plainString()
	if !ok {
		return false
	}
	b := make([]byte, base64.StdEncoding.DecodedLen(len(s)))
	n, err := base64.StdEncoding.Decode(b, s)
	if err != nil {
		return false
	}
	*p = b[:n]
	return true
}

// appendPutRecordsOutputJSON appends out as json.Marshal writes it and
// reports whether it could: a string that is not plain ASCII, or that
// json.Marshal would escape, is left to the library. The library's
// reflection cost the fake a microsecond an entry, with C's output (an
// entry a record) enough to set the pace of a benchmark.
func appendPutRecordsOutputJSON(b []byte, out putRecordsOutput) ([]byte, bool) {
	b = append(b, `{"FailedRecordCount":`...)
	b = strconv.AppendInt(b, int64(out.FailedRecordCount), 10)
	b = append(b, `,"Records":`...)
	if out.Records == nil {
		b = append(b, "null"...)
	} else {
		b = append(b, '[')
		for i, e := range out.Records {
			if i > 0 {
				b = append(b, ',')
			}
			b = append(b, '{')
			n := len(b)
			for _, m := range [...]struct{ name, v string }{
				{"SequenceNumber", e.SequenceNumber}, {"ShardId", e.ShardId},
				{"ErrorCode", e.ErrorCode}, {"ErrorMessage", e.ErrorMessage},
			} {
				if m.v == "" {
					continue // omitempty
				}
				if !plainJSON(m.v) {
					return b, false
				}
				if len(b) > n {
					b = append(b, ',')
				}
				b = append(b, '"')
				b = append(b, m.name...)
				b = append(b, `":"`...)
				b = append(b, m.v...)
				b = append(b, '"')
			}
			b = append(b, '}')
		}
		b = append(b, ']')
	}
	if !plainJSON(out.EncryptionType) {
		return b, false
	}
	b = append(b, `,"EncryptionType":"`...)
	b = append(b, out.EncryptionType...)
	return append(b, `"}`...), true
}

// plainJSON reports whether json.Marshal writes s as it is between quotes:
// printable ASCII without '"', '\\' and the HTML characters it escapes.
func plainJSON(s string) bool {
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c < 0x20 || c > 0x7e, c == '"', c == '\\', c == '<', c == '>', c == '&':
			return false
		}
	}
	return true
}
