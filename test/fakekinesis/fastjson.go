package fakekinesis

import "encoding/base64"

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
	start := r.i
	for ; r.i < len(r.b); r.i++ {
		switch c := r.b[r.i]; {
		case c == '"':
			r.i++
			return r.b[start : r.i-1], true
		case c < 0x20 || c >= 0x7f || c == '\\':
			return nil, false
		}
	}
	return nil, false
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
