package chunk

// Lookup finds the value at a key path in a msgpack map: path[0] is a key of
// m, path[1] a key of the map found there, and so on. Keys match string and
// bin keys byte for byte, and integer keys by their decimal form (the name
// AppendJSON gives them); the first match wins. It returns the raw msgpack of
// the value, aliasing m with its capacity cut to its length. An empty path
// returns m itself.
//
// A path that leads nowhere (a missing key, or a step into something that is
// not a map) gives ok false and a nil error. m that is not a map is an error
// wrapping ErrUnsupported; malformed bytes met on the way are an error
// wrapping ErrMalformed. Lookup reads only as far as it needs to, so it does
// not vouch for the bytes past the value it finds.
func Lookup(m []byte, path []string) (value []byte, ok bool, err error) {
	start, end := 0, len(m)
	for step, key := range path {
		h, why := readHeader(m, start)
		if why != rNone {
			return nil, false, why.error(start, -1)
		}
		if h.kind != kMap {
			if step == 0 {
				return nil, false, rNotMap.error(start, -1)
			}
			return nil, false, nil
		}
		found := false
		off := h.end
		for i := uint64(0); i < h.n && !found; i++ {
			var match bool
			if match, off, why = keyMatches(m, off, key); why != rNone {
				return nil, false, why.error(off, -1)
			}
			valueEnd, why := skipValue(m, off)
			if why != rNone {
				return nil, false, why.error(valueEnd, -1)
			}
			if match {
				start, end, found = off, valueEnd, true
			}
			off = valueEnd
		}
		if !found {
			return nil, false, nil
		}
	}
	return m[start:end:end], true, nil
}

// keyMatches reports whether the map key at b[off] names key, and returns the
// offset just past it.
func keyMatches(b []byte, off int, key string) (bool, int, reason) {
	if start, end, found := shortStr(b, off); found {
		return string(b[start:end]) == key, end, rNone
	}
	h, why := readHeader(b, off)
	if why != rNone {
		return false, off, why
	}
	switch h.kind {
	case kStr, kBin:
		return string(b[h.start:h.end]) == key, h.end, rNone
	case kMap, kArray:
		end, why := skipValue(b, off)
		return false, end, why
	}
	var name [32]byte
	return string(appendScalarKeyName(name[:0], h, b)) == key, h.end, rNone
}

// AppendText appends the text of a scalar msgpack value to dst: a string or
// bin as its bytes (unchanged, not escaped), an integer in decimal, a float
// in the form AppendJSON writes, a boolean as true or false, and the
// EventTime extension as AppendJSON's number of seconds. Maps, arrays, nil,
// NaN, ±Inf and other extensions have no text: ok is false and dst is
// returned unchanged. value must be exactly one well-formed msgpack value;
// otherwise the error wraps ErrMalformed.
func AppendText(dst, value []byte) (out []byte, ok bool, err error) {
	if start, end, found := shortStr(value, 0); found && end == len(value) {
		return append(dst, value[start:end]...), true, nil
	}
	end, why := skipValue(value, 0)
	if why == rNone && end != len(value) {
		why = rTrailing
	}
	if why != rNone {
		return dst, false, why.error(end, -1)
	}
	h, _ := readHeader(value, 0)
	switch h.kind {
	case kStr, kBin:
		return append(dst, value[h.start:h.end]...), true, nil
	case kMap, kArray, kNil:
		return dst, false, nil
	}
	// Other scalars have the text that names them as map keys; null there
	// stands for a value with no text.
	out = appendScalarKeyName(dst, h, value)
	if string(out[len(dst):]) == "null" {
		return dst, false, nil
	}
	return out, true, nil
}
