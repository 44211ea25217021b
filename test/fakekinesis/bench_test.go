package fakekinesis

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"
)

// BenchmarkPutRecords measures one full PutRecords (decode, validate,
// route, store, answer) of 500 entries of 200 bytes, and reports it as a
// ratio to the baseline measured in the same loop: decoding the same body
// with encoding/json alone, the least any JSON 1.1 server must do.
func BenchmarkPutRecords(b *testing.B) {
	// The body as producers write it: no null members.
	body := []byte(`{"StreamName":"s","Records":[`)
	data := base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{'x'}, 200))
	for i := range maxEntriesPerRequest {
		if i > 0 {
			body = append(body, ',')
		}
		body = fmt.Appendf(body, `{"Data":"%s","PartitionKey":"partition-%06d"}`, data, i)
	}
	body = append(body, "]}"...)
	s, err := newUnstarted()
	if err != nil {
		b.Fatal(err)
	}
	if err := s.CreateStream("s", 8); err != nil {
		b.Fatal(err)
	}

	var decode, serve time.Duration
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		t0 := time.Now()
		var baseline putRecordsInput
		if err := json.Unmarshal(body, &baseline); err != nil {
			b.Fatal(err)
		}
		t1 := time.Now()
		req := httptest.NewRequest(http.MethodPost, "/", bytes.NewReader(body))
		req.Header.Set("X-Amz-Target", targetPrefix+"PutRecords")
		req.Header.Set("Content-Type", contentType)
		rec := httptest.NewRecorder()
		s.serveHTTP(rec, req)
		t2 := time.Now()
		if rec.Code != http.StatusOK {
			b.Fatalf("HTTP %d: %s", rec.Code, rec.Body)
		}
		decode += t1.Sub(t0)
		serve += t2.Sub(t1)

		s.mu.Lock()
		s.streams["s"].records = s.streams["s"].records[:0] // keep memory flat
		s.mu.Unlock()
	}
	b.ReportMetric(float64(serve)/float64(decode), "x-decode-only")
	b.ReportMetric(float64(serve.Nanoseconds())/float64(b.N*maxEntriesPerRequest), "ns/entry")
}
