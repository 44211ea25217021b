package record

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/vmihailenco/msgpack/v5"

	"github.com/kinesis-kpl/fluent-bit-kinesis-kpl/conf"
	"github.com/kinesis-kpl/fluent-bit-kinesis-kpl/plugin/chunk"
)

// pk, tpl, path and keys parse options as conf does, for tables of
// Options; a bad one is a broken test.
func pk(s string) conf.Template  { return must(conf.ParsePartitionKey(s)) }
func tpl(s string) conf.Template { return must(conf.ParseTemplate(s)) }
func path(s string) []string     { return must(conf.ParseFieldPath(s)) }
func keys(s string) []string {
	out := strings.Split(s, ",")
	for i := range out {
		out[i] = strings.TrimSpace(out[i])
	}
	return out
}
func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

// kv is one key/value pair of a msgpack map, kept in order.
type kv struct {
	k any
	v any
}

// ordered is a map written with its pairs in order.
type ordered []kv

// mp encodes v as msgpack; ordered values become maps in their order.
func mp(t testing.TB, v any) []byte {
	t.Helper()
	var buf bytes.Buffer
	enc := msgpack.NewEncoder(&buf)
	if err := encode(enc, v); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func encode(enc *msgpack.Encoder, v any) error {
	m, ok := v.(ordered)
	if !ok {
		return enc.Encode(v)
	}
	if err := enc.EncodeMapLen(len(m)); err != nil {
		return err
	}
	for _, p := range m {
		if err := encode(enc, p.k); err != nil {
			return err
		}
		if err := encode(enc, p.v); err != nil {
			return err
		}
	}
	return nil
}

// eventTime is the time of the test events: Thursday 2026-03-05 07:08:09.123456789 UTC.
var eventTime = time.Date(2026, 3, 5, 7, 8, 9, 123456789, time.UTC)

// chunkOf builds a chunk holding body as one event in each form: [time,
// body] and [[time, metadata], body], with EventTime at full precision.
func chunkOf(t testing.TB, body []byte) []byte {
	t.Helper()
	ts := []byte{0xd7, 0x00, 0, 0, 0, 0, 0, 0, 0, 0}
	sec, nsec := uint32(eventTime.Unix()), uint32(eventTime.Nanosecond())
	ts[2], ts[3], ts[4], ts[5] = byte(sec>>24), byte(sec>>16), byte(sec>>8), byte(sec)
	ts[6], ts[7], ts[8], ts[9] = byte(nsec>>24), byte(nsec>>16), byte(nsec>>8), byte(nsec)
	var c []byte
	c = append(c, 0x92)
	c = append(c, ts...)
	c = append(c, body...)
	c = append(c, 0x92, 0x92)
	c = append(c, ts...)
	c = append(c, 0x81, 0xa1, 'm', 0x01)
	return append(c, body...)
}

// events reads the events of a chunk.
func events(t testing.TB, c []byte) []chunk.Event {
	t.Helper()
	var r chunk.Reader
	r.Reset(c)
	var evs []chunk.Event
	for r.Next() {
		evs = append(evs, r.Event())
	}
	if r.Err() != nil {
		t.Fatal(r.Err())
	}
	return evs
}
