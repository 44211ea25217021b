package main

import (
	"bufio"
	"bytes"
	"crypto/md5"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"

	"github.com/kinesis-kpl/fluent-bit-kinesis-kpl/aggregation"
)

var (
	lowHalf  = [2]aggregation.HashKey{{}, aggregation.Midpoint(aggregation.HashKey{}, aggregation.MaxHashKey)}
	highHalf = [2]aggregation.HashKey{lowHalf[1].Add(aggregation.HashKey{Lo: 1}), aggregation.MaxHashKey}
)

// keyIn returns a partition key, prefix-N, whose hash lies in r.
func keyIn(prefix string, r [2]aggregation.HashKey) string {
	for i := 0; ; i++ {
		k := fmt.Sprintf("%s-%d", prefix, i)
		if aggregation.PartitionKeyHash(k).InRange(r[0], r[1]) {
			return k
		}
	}
}

type sub struct{ pk, ehk, data string }

func aggregate(subs ...sub) []byte {
	var enc aggregation.Encoder
	for _, s := range subs {
		enc.Add(s.pk, s.ehk, []byte(s.data))
	}
	return enc.AppendTo(nil)
}

func record(seq string, data []byte) types.Record {
	return types.Record{SequenceNumber: aws.String(seq), PartitionKey: aws.String("outer"), Data: data,
		ApproximateArrivalTimestamp: aws.Time(time.Date(2026, 11, 25, 12, 0, 0, 5e6, time.UTC))}
}

// decoded is an output line read back.
type decoded struct {
	line
	Data json.RawMessage `json:"data"`
}

func readLines(t *testing.T, out []byte) []decoded {
	t.Helper()
	var lines []decoded
	sc := bufio.NewScanner(bytes.NewReader(out))
	sc.Buffer(nil, 16<<20)
	for sc.Scan() {
		var d decoded
		dec := json.NewDecoder(bytes.NewReader(sc.Bytes()))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&d); err != nil {
			t.Fatalf("output line %q: %v", sc.Text(), err)
		}
		lines = append(lines, d)
	}
	return lines
}

// describe is a line in short: pk/sub=data, with data as printed.
func (d decoded) describe() string {
	data := string(d.Data)
	if d.DataBase64 != nil {
		data = "b64:" + *d.DataBase64
	}
	return fmt.Sprintf("%s %s/%d agg=%v pk=%s ehk=%s data=%s", d.Shard, d.SequenceNumber, d.SubSequenceNumber, d.Aggregated, d.PartitionKey, d.ExplicitHashKey, data)
}

func TestPrintAppliesTheKCLRule(t *testing.T) {
	in1, in2 := keyIn("in", lowHalf), keyIn("in2", lowHalf)
	out1 := keyIn("out", highHalf)
	badSum := aggregate(sub{in1, "", `{"a":1}`}, sub{in2, "", `{"b":2}`})
	badSum[len(badSum)-1] ^= 0xFF
	// A valid frame whose sub-record points past the key table.
	malformedBody := []byte{0x0A, 0x01, 'k', 0x1A, 0x05, 0x08, 0x07, 0x1A, 0x01, 'd'}
	malformed := frame(malformedBody)
	const sh = "shardId-000000000000"

	tests := []struct {
		name      string
		records   []types.Record
		want      []string
		counts    counts
		noteParts []string
	}{{
		name:    "plain JSON record",
		records: []types.Record{record("1", []byte(`{"log": "hi",`+"\n"+` "n": [1, 2]}`))},
		want:    []string{sh + ` 1/0 agg=false pk=outer ehk= data={"log":"hi","n":[1,2]}`},
		counts:  counts{KinesisRecords: 1, UserRecords: 1},
	}, {
		name:    "plain binary record",
		records: []types.Record{record("1", []byte{0, 1, 0xFF})},
		want:    []string{sh + " 1/0 agg=false pk=outer ehk= data=b64:AAH/"},
		counts:  counts{KinesisRecords: 1, UserRecords: 1},
	}, {
		name:    "JSON-looking text that is not UTF-8",
		records: []types.Record{record("1", []byte("\"\xff\""))},
		want:    []string{sh + " 1/0 agg=false pk=outer ehk= data=b64:Iv8i"},
		counts:  counts{KinesisRecords: 1, UserRecords: 1},
	}, {
		name:    "empty record",
		records: []types.Record{record("1", nil)},
		want:    []string{sh + " 1/0 agg=false pk=outer ehk= data=b64:"},
		counts:  counts{KinesisRecords: 1, UserRecords: 1},
	}, {
		name: "aggregate inside the shard",
		records: []types.Record{record("7", aggregate(
			sub{in1, "", `{"a":1}`}, sub{in2, "", "text"}, sub{"any", "5", `"s"`}))},
		want: []string{
			sh + ` 7/0 agg=true pk=` + in1 + ` ehk= data={"a":1}`,
			sh + ` 7/1 agg=true pk=` + in2 + ` ehk= data=b64:dGV4dA==`,
			sh + ` 7/2 agg=true pk=any ehk=5 data="s"`,
		},
		counts: counts{KinesisRecords: 1, Aggregates: 1, UserRecords: 3},
	}, {
		name: "aggregate with one sub-record outside is discarded whole",
		records: []types.Record{
			record("1", aggregate(sub{in1, "", "a"}, sub{out1, "", "b"}, sub{in2, "", "c"})),
			record("2", aggregate(sub{in1, "", "d"}, sub{in2, "", "e"})),
		},
		want:      []string{sh + " 2/0 agg=true pk=" + in1 + " ehk= data=b64:ZA==", sh + " 2/1 agg=true pk=" + in2 + " ehk= data=b64:ZQ=="},
		counts:    counts{KinesisRecords: 2, Aggregates: 2, UserRecords: 2, DiscardedAggregates: 1, DiscardedRecords: 3},
		noteParts: []string{"sequence number 1: aggregate of 3 user records discarded by the KCL rule", "(sub-record 1)"},
	}, {
		name:      "explicit hash key outside the shard",
		records:   []types.Record{record("1", aggregate(sub{in1, "", "a"}, sub{in2, highHalf[0].String(), "b"}))},
		counts:    counts{KinesisRecords: 1, Aggregates: 1, DiscardedAggregates: 1, DiscardedRecords: 2},
		noteParts: []string{"discarded by the KCL rule"},
	}, {
		name:      "explicit hash key that is not a number",
		records:   []types.Record{record("1", aggregate(sub{in1, "", "a"}, sub{in2, "12x", "b"}))},
		counts:    counts{KinesisRecords: 1, Aggregates: 1, DiscardedAggregates: 1, DiscardedRecords: 2},
		noteParts: []string{"invalid hash key"},
	}, {
		name:    "magic with a wrong checksum is a plain record",
		records: []types.Record{record("1", badSum)},
		want:    []string{sh + " 1/0 agg=false pk=outer ehk= data=b64:" + base64.StdEncoding.EncodeToString(badSum)},
		counts:  counts{KinesisRecords: 1, UserRecords: 1},
	}, {
		name:      "malformed aggregate is skipped and counted",
		records:   []types.Record{record("1", malformed), record("2", []byte("1"))},
		want:      []string{sh + " 2/0 agg=false pk=outer ehk= data=1"},
		counts:    counts{KinesisRecords: 2, Aggregates: 1, UserRecords: 1, Malformed: 1},
		noteParts: []string{"sequence number 1: aggregate skipped", "key index out of range"},
	}}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var out, errOut bytes.Buffer
			p := &printer{stream: "s", out: &out, errOut: &errOut}
			s := shardInfo{id: sh, start: lowHalf[0], end: lowHalf[1]}
			if err := p.print(s, tc.records, newBatch()); err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, d := range readLines(t, out.Bytes()) {
				if d.Stream != "s" || d.Arrival != "2026-11-25T12:00:00.005Z" {
					t.Errorf("line %s: stream %q arrival %q", d.describe(), d.Stream, d.Arrival)
				}
				got = append(got, d.describe())
			}
			if strings.Join(got, "\n") != strings.Join(tc.want, "\n") {
				t.Errorf("lines:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(tc.want, "\n"))
			}
			if c := p.total(); c != tc.counts {
				t.Errorf("counts = %+v; want %+v", c, tc.counts)
			}
			notes := errOut.String()
			for _, part := range tc.noteParts {
				if !strings.Contains(notes, part) {
					t.Errorf("stderr %q lacks %q", notes, part)
				}
			}
			if len(tc.noteParts) == 0 && notes != "" {
				t.Errorf("unexpected stderr %q", notes)
			}
			for _, secret := range []string{in1, in2, out1, "outer"} {
				if strings.Contains(notes, secret) {
					t.Errorf("stderr names partition key %q: %q", secret, notes)
				}
			}
		})
	}
}

// frame wraps a protobuf body as an aggregate with a correct checksum.
func frame(body []byte) []byte {
	var enc aggregation.Encoder
	enc.Add("k", "", []byte("d"))
	good := enc.AppendTo(nil)
	out := append(append([]byte{}, good[:4]...), body...)
	sum := md5.Sum(body)
	return append(out, sum[:]...)
}

func TestSummaryLine(t *testing.T) {
	c := counts{Shards: 4, KinesisRecords: 10, Aggregates: 8, UserRecords: 100, DiscardedAggregates: 1, DiscardedRecords: 3, Malformed: 2}
	want := "kplcat: stream=demo shards=4 kinesis_records=10 aggregates=8 user_records=100 " +
		"kcl_discarded_aggregates=1 kcl_discarded_records=3 malformed_aggregates=2"
	if got := c.summary("demo"); got != want {
		t.Errorf("summary = %q; want %q", got, want)
	}
}

// FuzzLine: whatever the data, the record prints as one line of valid JSON
// from which the data comes back: byte for byte from data_base64, or as
// JSON equal to the input once both are compacted.
func FuzzLine(f *testing.F) {
	for _, seed := range []string{`{"a": [1, 2]}`, "", "plain", "\xff", `"<&>"`, " 1 ", "null", "{\"a\":\n\"\\u2028\"}"} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		b := newBatch()
		if err := b.add(line{Stream: "s", Shard: "x"}, data); err != nil {
			t.Fatal(err)
		}
		out := b.buf.Bytes()
		if bytes.Count(out, []byte("\n")) != 1 || out[len(out)-1] != '\n' {
			t.Fatalf("not one line: %q", out)
		}
		var d decoded
		if err := json.Unmarshal(out, &d); err != nil {
			t.Fatalf("invalid JSON %q: %v", out, err)
		}
		switch {
		case d.DataBase64 != nil && d.Data == nil:
			got, err := base64.StdEncoding.DecodeString(*d.DataBase64)
			if err != nil || !bytes.Equal(got, data) {
				t.Fatalf("data_base64 %q does not give back %q", *d.DataBase64, data)
			}
		case d.Data != nil && d.DataBase64 == nil:
			var want bytes.Buffer
			if err := json.Compact(&want, data); err != nil {
				t.Fatalf("data printed as JSON but %q does not compact: %v", data, err)
			}
			if !bytes.Equal(d.Data, want.Bytes()) {
				t.Fatalf("data = %s; want %s", d.Data, want.Bytes())
			}
		default:
			t.Fatalf("line %q has not exactly one of data and data_base64", out)
		}
	})
}
