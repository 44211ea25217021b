package fakekinesis_test

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/fxamacker/cbor/v2"

	"github.com/kinesis-kpl/fluent-bit-kinesis-kpl/test/fakekinesis"
)

const cborType = "application/x-amz-cbor-1.1"

// toCBOR turns a JSON request body into the same request in CBOR: Data
// members (base64 in JSON) become byte strings.
func toCBOR(t *testing.T, body string) string {
	t.Helper()
	var v any
	if err := json.Unmarshal([]byte(body), &v); err != nil {
		t.Fatal(err)
	}
	var blobs func(v any) any
	blobs = func(v any) any {
		switch v := v.(type) {
		case map[string]any:
			for k, x := range v {
				if s, ok := x.(string); ok && k == "Data" {
					b, err := base64.StdEncoding.DecodeString(s)
					if err != nil {
						t.Fatal(err)
					}
					v[k] = b
					continue
				}
				v[k] = blobs(x)
			}
		case []any:
			for i := range v {
				v[i] = blobs(v[i])
			}
		case float64:
			// Integers are integers in CBOR.
			if v == math.Trunc(v) {
				return int64(v)
			}
		}
		return v
	}
	b, err := cbor.Marshal(blobs(v))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// generic is a decoded answer in a form where JSON and CBOR compare equal:
// numbers as float64 (timestamps are tag 1 in CBOR, which fxamacker/cbor
// reads as time.Time), byte strings base64, maps as their members sorted,
// tags with their content in this form.
// A key that is not a string is named by its CBOR, which tells apart keys
// that print alike, such as tag 11 of 1 and tag 11 of simple value 1; a
// map may still hold keys of one name (NaNs, which never equal each
// other), and the members keep them all.
func generic(v any) any {
	switch v := v.(type) {
	case map[any]any:
		m := make([]member, 0, len(v))
		for k, x := range v {
			name := fmt.Sprintf("%T %v", k, k)
			if _, text := k.(string); !text {
				b, _ := cbor.Marshal(k)
				name = fmt.Sprintf("%T % x", k, b)
			}
			m = append(m, member{name, generic(x)})
		}
		return sortMembers(m)
	case map[string]any:
		m := make([]member, 0, len(v))
		for k, x := range v {
			m = append(m, member{fmt.Sprintf("%T %v", k, k), generic(x)})
		}
		return sortMembers(m)
	case []any:
		l := make([]any, len(v))
		for i := range v {
			l[i] = generic(v[i])
		}
		return l
	case cbor.Tag:
		return cbor.Tag{Number: v.Number, Content: generic(v.Content)}
	case time.Time:
		// A timestamp under tag 1, to the millisecond the fake keeps.
		return math.Round(float64(v.UnixNano())/1e6) / 1e3
	case uint64:
		return float64(v)
	case int64:
		return float64(v)
	case []byte:
		return base64.StdEncoding.EncodeToString(v)
	}
	return v
}

// member is a map's member in generic's form.
type member struct {
	Name  string
	Value any
}

// sortMembers sorts m by name, and members of one name by their printed
// value.
func sortMembers(m []member) []member {
	slices.SortFunc(m, func(a, b member) int {
		if c := strings.Compare(a.Name, b.Name); c != 0 {
			return c
		}
		return strings.Compare(fmt.Sprint(a.Value), fmt.Sprint(b.Value))
	})
	return m
}

// TestCBORAnswers: every operation answers a CBOR request in CBOR, with
// definite or (WithIndefiniteLengths) indefinite lengths, the same as it
// answers the JSON request; errors carry the same code and status.
func TestCBORAnswers(t *testing.T) {
	tests := []struct {
		name, target, body string
		faults             fakekinesis.Faults
	}{
		{"partial failure", op("PutRecords"),
			`{"StreamName":"s","Records":[{"PartitionKey":"alpha","Data":"b25l"},{"PartitionKey":"beta","Data":"dHdv"},` +
				`{"PartitionKey":"gamma","Data":"dGhyZWU="},{"PartitionKey":"delta","ExplicitHashKey":"340282366920938463463374607431768211455","Data":"Zm91cg=="}]}`,
			fakekinesis.Faults{ThrottleEvery: 3}},
		{"PutRecord", op("PutRecord"), `{"StreamName":"s","PartitionKey":"k","Data":"AA=="}`, fakekinesis.Faults{}},
		{"ListShards", op("ListShards"), `{"StreamName":"s","MaxResults":2}`, fakekinesis.Faults{}},
		{"ListShards next page", op("ListShards"), `{"NextToken":"bogus"}`, fakekinesis.Faults{}},
		{"DescribeStreamSummary", op("DescribeStreamSummary"), `{"StreamName":"s"}`, fakekinesis.Faults{}},
		{"CreateStream", op("CreateStream"), `{"StreamName":"t","ShardCount":2}`, fakekinesis.Faults{}},
		{"CreateStream exists", op("CreateStream"), `{"StreamName":"s","ShardCount":2}`, fakekinesis.Faults{}},
		{"stream not found", op("PutRecords"), `{"StreamName":"missing","Records":[{"PartitionKey":"k","Data":"AA=="}]}`, fakekinesis.Faults{}},
		{"throttled request", op("PutRecords"), `{"StreamName":"s","Records":[{"PartitionKey":"k","Data":"AA=="}]}`, fakekinesis.Faults{ThrottleRequests: 1}},
		{"outage", op("PutRecords"), `{"StreamName":"s","Records":[{"PartitionKey":"k","Data":"AA=="}]}`, fakekinesis.Faults{FailRequests: 1, FailUnavailable: true}},
	}
	at := time.Date(2026, 1, 2, 3, 4, 5, 600_000_000, time.UTC)
	answer := func(t *testing.T, ctype, body string, faults fakekinesis.Faults, target string, opts ...fakekinesis.Option) (*http.Response, []byte) {
		srv := newServer(t, append(opts, fakekinesis.WithClock(func() time.Time { return at }))...)
		newStream(t, srv, "s", 3)
		srv.SetFaults(faults)
		resp, b := raw(t, srv, http.MethodPost, target, ctype, body)
		if got := resp.Header.Get("Content-Type"); got != ctype {
			t.Errorf("Content-Type %q, want %q", got, ctype)
		}
		if st := srv.Stats(); (ctype == cborType) != (st.CBORRequests == 1) {
			t.Errorf("%d CBOR requests counted", st.CBORRequests)
		}
		return resp, b
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			jresp, jbody := answer(t, jsonType, tt.body, tt.faults, tt.target)
			var want any
			if len(jbody) > 0 {
				if err := json.Unmarshal(jbody, &want); err != nil {
					t.Fatal(err)
				}
			}
			for _, indefinite := range []bool{false, true} {
				var opts []fakekinesis.Option
				if indefinite {
					opts = append(opts, fakekinesis.WithIndefiniteLengths())
				}
				cresp, cbody := answer(t, cborType, toCBOR(t, tt.body), tt.faults, tt.target, opts...)
				if cresp.StatusCode != jresp.StatusCode || cresp.Header.Get("X-Amzn-ErrorType") != jresp.Header.Get("X-Amzn-ErrorType") {
					t.Errorf("CBOR: HTTP %d %q, JSON: HTTP %d %q", cresp.StatusCode, cresp.Header.Get("X-Amzn-ErrorType"),
						jresp.StatusCode, jresp.Header.Get("X-Amzn-ErrorType"))
				}
				if len(cbody) > 0 && (cbody[0]&0x1f == 31) != indefinite {
					t.Errorf("indefinite %v, answer starts % x", indefinite, cbody[:1])
				}
				var got any
				if len(cbody) > 0 {
					if err := cbor.Unmarshal(cbody, &got); err != nil {
						t.Fatal(err)
					}
				}
				if g, w := generic(got), generic(want); !reflect.DeepEqual(g, w) {
					t.Errorf("CBOR answer (indefinite %v) %v, JSON answer %v", indefinite, g, w)
				}
			}
		})
	}
}

// TestCBORMalformed: a CBOR body that does not decode is a
// SerializationException, answered in CBOR.
func TestCBORMalformed(t *testing.T) {
	srv := newServer(t)
	newStream(t, srv, "s", 1)
	for _, body := range []string{"", "\xa1\x6aStreamName", "\xff", `{"StreamName":"s"}`} {
		resp, b := raw(t, srv, http.MethodPost, op("PutRecords"), cborType, body)
		var e struct {
			Type string `cbor:"__type"`
		}
		if err := cbor.Unmarshal(b, &e); err != nil || resp.StatusCode != 400 || e.Type != "SerializationException" {
			t.Errorf("body %q: HTTP %d, %q, %v", body, resp.StatusCode, e.Type, err)
		}
	}
}

// TestIndefinite: Indefinite keeps the data and changes the form.
func TestIndefinite(t *testing.T) {
	v := map[string]any{"a": []any{uint64(1), int64(-300), "ünï", []byte("bytes"), 1.5, true, nil,
		map[string]any{"x": strings.Repeat("y", 300)}}, "t": cbor.Tag{Number: 1, Content: 1.5e9}, "e": []any{}, "s": ""}
	b, err := cbor.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	ind, err := fakekinesis.Indefinite(b)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Equal(ind, b) || ind[0] != 0xbf {
		t.Fatalf("not rewritten: % x", ind[:8])
	}
	var got, want any
	if err := cbor.Unmarshal(ind, &got); err != nil {
		t.Fatal(err)
	}
	if err := cbor.Unmarshal(b, &want); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("%v, want %v", got, want)
	}
	for _, bad := range []string{"", "\x82\x01", "\x1c", "\x01\x02", "\x62a", "\x7f\x01\xff", "\x7f\x7f\xff\xff", "\x5f\x61a\xff", "\x7f\x62a"} {
		if _, err := fakekinesis.Indefinite([]byte(bad)); err == nil {
			t.Errorf("% x rewritten", bad)
		}
	}
}

// FuzzIndefinite: whatever Indefinite rewrites, fxamacker/cbor reads as
// the same data as the original.
func FuzzIndefinite(f *testing.F) {
	b, _ := cbor.Marshal(map[string]any{"Records": []any{map[string]any{"Data": []byte("x"), "PartitionKey": "ü"}}, "n": -5})
	f.Add(b)
	f.Add([]byte("\x9f\x01\x7f\x61a\xff\xff"))
	f.Add([]byte("\x7f\x62\x30\x30\xff"))                     // a chunk of an indefinite string stays definite
	f.Add([]byte("\xc6\xa2\xf9\x7e\x00\x01\xf9\x7e\x00\x02")) // a tag of a map of two NaN keys
	f.Fuzz(func(t *testing.T, b []byte) {
		ind, err := fakekinesis.Indefinite(b)
		if err != nil {
			return
		}
		var want any
		if cbor.Wellformed(b) != nil || cbor.Unmarshal(b, &want) != nil {
			return
		}
		var got any
		if err := cbor.Unmarshal(ind, &got); err != nil {
			t.Fatalf("% x rewritten as % x, which fails: %v", b, ind, err)
		}
		// Printed, so that NaN equals NaN.
		if g, w := fmt.Sprint(generic(got)), fmt.Sprint(generic(want)); g != w {
			t.Fatalf("%s, want %s", g, w)
		}
	})
}
