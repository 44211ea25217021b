package fakekinesis_test

import (
	"bytes"
	"encoding/json"
	"flag"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kinesis-kpl/fluent-bit-kinesis-kpl/test/fakekinesis"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/golden")

// raw sends one request by hand and returns the response and its body.
func raw(t *testing.T, srv *fakekinesis.Server, method, target, contentType, body string) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequestWithContext(testContext(t), method, srv.URL()+"/", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if target != "" {
		req.Header.Set("X-Amz-Target", target)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	transport := &http.Transport{}
	defer transport.CloseIdleConnections()
	resp, err := (&http.Client{Transport: transport}).Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, target, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, b
}

const jsonType = "application/x-amz-json-1.1"

func op(name string) string { return "Kinesis_20131202." + name }

func TestWireErrors(t *testing.T) {
	srv := newServer(t, fakekinesis.WithMaxRequestBytes(1000))
	newStream(t, srv, "s", 1)
	tests := []struct {
		name, method, target, ctype, body string
		status                            int
		code                              string // "" for success
	}{
		{"GET", http.MethodGet, op("PutRecords"), jsonType, "{}", 400, "UnknownOperationException"},
		{"no target", http.MethodPost, "", jsonType, "{}", 400, "UnknownOperationException"},
		{"other service", http.MethodPost, "DynamoDB_20120810.PutItem", jsonType, "{}", 400, "UnknownOperationException"},
		{"unimplemented operation", http.MethodPost, op("GetRecords"), jsonType, "{}", 400, "UnknownOperationException"},
		{"wrong content type", http.MethodPost, op("PutRecords"), "application/json", "{}", 400, "SerializationException"},
		{"malformed JSON", http.MethodPost, op("PutRecords"), jsonType, `{"StreamName":`, 400, "SerializationException"},
		{"bad base64", http.MethodPost, op("PutRecords"), jsonType,
			`{"StreamName":"s","Records":[{"PartitionKey":"k","Data":"!!!"}]}`, 400, "SerializationException"},
		{"no records", http.MethodPost, op("PutRecords"), jsonType, `{"StreamName":"s","Records":[]}`, 400, "ValidationException"},
		{"no data", http.MethodPost, op("PutRecords"), jsonType, `{"StreamName":"s","Records":[{"PartitionKey":"k"}]}`, 400, "ValidationException"},
		{"no partition key", http.MethodPost, op("PutRecords"), jsonType, `{"StreamName":"s","Records":[{"Data":"AA=="}]}`, 400, "ValidationException"},
		{"no stream", http.MethodPost, op("PutRecords"), jsonType, `{"Records":[{"PartitionKey":"k","Data":"AA=="}]}`, 400, "InvalidArgumentException"},
		{"name and ARN", http.MethodPost, op("PutRecords"), jsonType,
			`{"StreamName":"s","StreamARN":"arn:aws:kinesis:us-east-1:000000000000:stream/s","Records":[{"PartitionKey":"k","Data":"AA=="}]}`, 400, "InvalidArgumentException"},
		{"bad ARN", http.MethodPost, op("PutRecords"), jsonType,
			`{"StreamARN":"arn:aws:sqs:us-east-1:000000000000:queue","Records":[{"PartitionKey":"k","Data":"AA=="}]}`, 400, "ValidationException"},
		{"PutRecord without data", http.MethodPost, op("PutRecord"), jsonType, `{"StreamName":"s","PartitionKey":"k"}`, 400, "ValidationException"},
		{"body over any valid size", http.MethodPost, op("PutRecords"), jsonType, strings.Repeat(" ", 5<<20) + "{}", 400, "SerializationException"},
		{"empty data is allowed", http.MethodPost, op("PutRecords"), jsonType, `{"StreamName":"s","Records":[{"PartitionKey":"k","Data":""}]}`, 200, ""},
		{"by ARN", http.MethodPost, op("PutRecords"), jsonType,
			`{"StreamARN":"arn:aws:kinesis:us-east-1:000000000000:stream/s","Records":[{"PartitionKey":"k","Data":"AA=="}]}`, 200, ""},
		{"PutRecord", http.MethodPost, op("PutRecord"), jsonType, `{"StreamName":"s","PartitionKey":"k","Data":"AA==","SequenceNumberForOrdering":"1"}`, 200, ""},
		{"content type parameters", http.MethodPost, op("ListShards"), jsonType + "; charset=utf-8", `{"StreamName":"s"}`, 200, ""},
	}
	ids := map[string]bool{}
	for _, tt := range tests {
		resp, body := raw(t, srv, tt.method, tt.target, tt.ctype, tt.body)
		if resp.StatusCode != tt.status {
			t.Errorf("%s: HTTP %d, want %d (%s)", tt.name, resp.StatusCode, tt.status, body)
		}
		if got := resp.Header.Get("Content-Type"); got != jsonType {
			t.Errorf("%s: Content-Type %q", tt.name, got)
		}
		id := resp.Header.Get("X-Amzn-RequestId")
		if id == "" || ids[id] {
			t.Errorf("%s: request id %q missing or reused", tt.name, id)
		}
		ids[id] = true
		var e struct {
			Type    string `json:"__type"`
			Message *string
		}
		if err := json.Unmarshal(body, &e); err != nil {
			t.Errorf("%s: body %q is not JSON: %v", tt.name, body, err)
		}
		if e.Type != tt.code || resp.Header.Get("X-Amzn-ErrorType") != tt.code {
			t.Errorf("%s: __type %q, X-Amzn-ErrorType %q, want %q", tt.name, e.Type, resp.Header.Get("X-Amzn-ErrorType"), tt.code)
		}
	}
	st := srv.Stats()
	if st.Operations["Unknown"] != 3 || st.EntriesAccepted != 3 || st.RequestsRejected != len(tests)-4 {
		t.Errorf("Stats = %+v", st)
	}
}

// TestGoldenResponses pins the exact bytes of representative answers.
func TestGoldenResponses(t *testing.T) {
	tests := []struct {
		file, target, body string
		faults             fakekinesis.Faults
	}{
		{"putrecords-partial-failure.json", op("PutRecords"),
			`{"StreamName":"s","Records":[` +
				`{"PartitionKey":"alpha","Data":"b25l"},` +
				`{"PartitionKey":"beta","Data":"dHdv"},` +
				`{"PartitionKey":"gamma","Data":"dGhyZWU="},` +
				`{"PartitionKey":"delta","ExplicitHashKey":"340282366920938463463374607431768211455","Data":"Zm91cg=="}]}`,
			fakekinesis.Faults{ThrottleEvery: 3}},
		{"putrecords-internal-failure.json", op("PutRecords"),
			`{"StreamName":"s","Records":[{"PartitionKey":"alpha","Data":"b25l"}]}`,
			fakekinesis.Faults{InternalErrorEvery: 1}},
		{"listshards-first-page.json", op("ListShards"), `{"StreamName":"s","MaxResults":2}`, fakekinesis.Faults{}},
		{"error-resource-not-found.json", op("PutRecords"),
			`{"StreamName":"missing","Records":[{"PartitionKey":"k","Data":"AA=="}]}`, fakekinesis.Faults{}},
		{"error-throttled-request.json", op("PutRecords"),
			`{"StreamName":"s","Records":[{"PartitionKey":"k","Data":"AA=="}]}`, fakekinesis.Faults{ThrottleRequests: 1}},
		{"error-too-many-records.json", op("PutRecords"),
			`{"StreamName":"s","Records":[` + strings.Repeat(`{"PartitionKey":"k","Data":"AA=="},`, 500) + `{"PartitionKey":"k","Data":"AA=="}]}`,
			fakekinesis.Faults{}},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			srv := newServer(t)
			newStream(t, srv, "s", 3)
			srv.SetFaults(tt.faults)
			_, body := raw(t, srv, http.MethodPost, tt.target, jsonType, tt.body)
			var pretty bytes.Buffer
			if err := json.Indent(&pretty, body, "", "  "); err != nil {
				t.Fatalf("response %q: %v", body, err)
			}
			pretty.WriteByte('\n')
			path := filepath.Join("testdata", "golden", tt.file)
			if *update {
				if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(path, pretty.Bytes(), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (run with -update to create it)", err)
			}
			if !bytes.Equal(pretty.Bytes(), want) {
				t.Errorf("response differs from %s:\n%s", path, pretty.Bytes())
			}
		})
	}
}
