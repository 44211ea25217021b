package bench

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"strconv"
)

// Record sizes the harness offers: the length of one JSON line without
// its newline.
const (
	SmallRecord  = 100
	MediumRecord = 525
	LargeRecord  = 5 << 10
)

// SeqKey is the field that numbers each generated record, so that the
// receiving end can tell which records arrived, and how often.
const SeqKey = "bench_seq"

// field is one key of a generated record: a string, a number or a map.
type field struct {
	key   string
	str   string
	num   int64
	isNum bool
	sub   []field
}

// filler pads log lines with text that compresses like logs do, not like
// a run of one byte.
const filler = " user_agent=Mozilla/5.0 upstream=10.0.3.41:8080 bytes_sent=18231 cache=miss trace_id=4bf92f3577b34da6a3ce929d0e0e4736 span_id=00f067aa0ba902b7 retry=0"

// fields is record i, padded so that its JSON line is size bytes long (or
// as short as it can be, when size is smaller than its fixed part).
func fields(i, size int) []field {
	build := func(pad int) []field {
		if size < 300 {
			return []field{
				{key: "log", str: fmt.Sprintf("INFO cart status=200 ms=%d", i%900) + padding(pad)},
				{key: "stream", str: "stdout"},
				{key: SeqKey, num: int64(i), isNum: true},
			}
		}
		pod := fmt.Sprintf("checkout-7d9c5f8b6-%05d", i%97)
		return []field{
			{key: "log", str: fmt.Sprintf("2026-11-25T12:00:00.%03dZ INFO checkout request_id=%016x path=/api/v1/cart/%d status=200 duration_ms=%d msg=handled", i%1000, uint64(i)*0x9e3779b97f4a7c15, i%37, i%900) + padding(pad)},
			{key: "stream", str: "stdout"},
			{key: "time", str: "2026-11-25T12:00:00.049123456Z"},
			{key: SeqKey, num: int64(i), isNum: true},
			{key: "kubernetes", sub: []field{
				{key: "pod_name", str: pod},
				{key: "namespace_name", str: "shop"},
				{key: "pod_id", str: fmt.Sprintf("6f1c2a4e-%04x-4d2b-9a51-7c0e8b3f%04x", i%65536, i%97)},
				{key: "host", str: "ip-10-0-1-17.ec2.internal"},
				{key: "container_name", str: "checkout"},
				{key: "container_image", str: "registry.example.com/checkout:1.4.2"},
				{key: "labels", sub: []field{{key: "app", str: "checkout"}, {key: "tier", str: "web"}}},
			}},
		}
	}
	f := build(0)
	if pad := size - len(appendJSON(nil, f)); pad > 0 {
		f = build(pad)
	}
	return f
}

func padding(n int) string {
	var b []byte
	for len(b) < n {
		b = append(b, filler...)
	}
	return string(b[:n])
}

// AppendJSONLine appends record i of the given size as one JSON line.
func AppendJSONLine(dst []byte, i, size int) []byte {
	return append(appendJSON(dst, fields(i, size)), '\n')
}

// appendJSON writes a map of fields; generated strings need no escaping.
func appendJSON(dst []byte, fs []field) []byte {
	dst = append(dst, '{')
	for j, f := range fs {
		if j > 0 {
			dst = append(dst, ',')
		}
		dst = strconv.AppendQuote(dst, f.key)
		dst = append(dst, ':')
		switch {
		case f.sub != nil:
			dst = appendJSON(dst, f.sub)
		case f.isNum:
			dst = strconv.AppendInt(dst, f.num, 10)
		default:
			dst = strconv.AppendQuote(dst, f.str)
		}
	}
	return append(dst, '}')
}

// AppendEvent appends record i as one Fluent Bit event in the form 1.8
// sends: [time as EventTime, body].
func AppendEvent(dst []byte, i, size int) []byte {
	dst = append(dst, 0x92, 0xd7, 0x00) // fixarray 2, fixext8 of type 0: EventTime
	dst = binary.BigEndian.AppendUint32(dst, 1764072000+uint32(i/1000))
	dst = binary.BigEndian.AppendUint32(dst, uint32(i%1000)*1000000)
	return appendMsgpack(dst, fields(i, size))
}

// Chunk is n events starting at record first, as Fluent Bit hands a chunk
// to an output.
func Chunk(first, n, size int) []byte {
	var c []byte
	for i := first; i < first+n; i++ {
		c = AppendEvent(c, i, size)
	}
	return c
}

func appendMsgpack(dst []byte, fs []field) []byte {
	dst = appendMapHeader(dst, len(fs))
	for _, f := range fs {
		dst = appendStr(dst, f.key)
		switch {
		case f.sub != nil:
			dst = appendMsgpack(dst, f.sub)
		case f.isNum:
			dst = append(dst, 0xce) // uint32
			dst = binary.BigEndian.AppendUint32(dst, uint32(f.num))
		default:
			dst = appendStr(dst, f.str)
		}
	}
	return dst
}

func appendMapHeader(dst []byte, n int) []byte {
	if n < 16 {
		return append(dst, 0x80|byte(n))
	}
	return binary.BigEndian.AppendUint16(append(dst, 0xde), uint16(n))
}

func appendStr(dst []byte, s string) []byte {
	switch n := len(s); {
	case n < 32:
		dst = append(dst, 0xa0|byte(n))
	case n < 1<<8:
		dst = append(dst, 0xd9, byte(n))
	case n < 1<<16:
		dst = binary.BigEndian.AppendUint16(append(dst, 0xda), uint16(n))
	default:
		dst = binary.BigEndian.AppendUint32(append(dst, 0xdb), uint32(n))
	}
	return append(dst, s...)
}

// ErrNoSeq is returned by Seq for data that carries no record number.
var ErrNoSeq = errors.New("bench: no " + SeqKey + " field")

var seqMarker = []byte(`"` + SeqKey + `":`)

// Seq returns the number of a generated record from its JSON, as any
// output writes it (whatever else was added around it).
func Seq(data []byte) (int, error) {
	at := bytes.Index(data, seqMarker)
	if at < 0 {
		return 0, ErrNoSeq
	}
	rest := data[at+len(seqMarker):]
	end := 0
	for end < len(rest) && rest[end] >= '0' && rest[end] <= '9' {
		end++
	}
	n, err := strconv.Atoi(string(rest[:end]))
	if err != nil {
		return 0, fmt.Errorf("bench: %s is not a number: %w", SeqKey, err)
	}
	return n, nil
}
