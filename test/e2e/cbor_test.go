package e2e

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/smithy-go"
	"github.com/fxamacker/cbor/v2"

	"github.com/kinesis-kpl/fluent-bit-kinesis-kpl/producer"
)

// TestCBORAgainstKinesalite: the producer sends PutRecords in CBOR to
// kinesalite, which decodes CBOR with a library of its own and answers in
// CBOR. Every record, binary data included, reaches the independent
// consumer intact with its key, aggregated and not; and a call to a
// missing stream fails with the same error in CBOR as in JSON. (kinesalite
// cuts CBOR answers off at 16 KiB, which is why wire_format is json by
// default; the fake Kinesis proves full-size answers.)
func TestCBORAgainstKinesalite(t *testing.T) {
	e := setup(t)
	endpoint := kinesalite(t, e)
	client := kinesis.New(kinesis.Options{
		Region:       "us-east-1",
		Credentials:  credentials.NewStaticCredentialsProvider("e2e", "secret", ""),
		BaseEndpoint: aws.String(endpoint),
	})
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	const n = 300
	data := func(i int) []byte {
		b := make([]byte, 64+i)
		for j := range b {
			b[j] = byte(i*7 + j) // every byte value, base64's specials and CBOR's break among them
		}
		return b
	}
	for _, agg := range []struct {
		name  string
		count int
	}{{"aggregated", 0}, {"plain", 1}} {
		t.Run(agg.name, func(t *testing.T) {
			stream := "cbor" + agg.name
			createStream(t, e, endpoint, stream, 2)
			p, err := producer.New(&producer.Config{StreamName: stream, Client: client, WireFormat: producer.WireCBOR,
				GetShards: producer.GetKinesisShardsFunc(client, stream), AggregateBatchCount: agg.count,
				FlushInterval: 50 * time.Millisecond,
				// kinesalite's CBOR encoder (node-cbor 5's encodeOne) cuts
				// an answer off at 16 KiB, about 150 results: keep under.
				BatchCount: 100})
			if err != nil {
				t.Fatal(err)
			}
			p.Start()
			g := p.NewGroup()
			for i := range n {
				g.Add(data(i), fmt.Sprintf("key-%d-ünï", i%20))
			}
			if err := p.PutGroup(ctx, g); err != nil {
				t.Fatal(err)
			}
			if err := g.Wait(ctx); err != nil {
				t.Fatal(err)
			}
			if d, _, _, _ := g.Counts(); d != n {
				t.Fatalf("%d of %d delivered", d, n)
			}
			g.Release()
			if err := p.Stop(ctx); err != nil {
				t.Fatal(err)
			}
			recs := readStream(t, e, endpoint, stream)
			if len(recs) != n {
				t.Fatalf("the consumer read %d records, want %d", len(recs), n)
			}
			slices.SortFunc(recs, func(a, b userRecord) int { return len(a.Data) - len(b.Data) })
			for i, r := range recs {
				if string(r.Data) != string(data(i)) || r.PK != fmt.Sprintf("key-%d-ünï", i%20) {
					t.Fatalf("record %d arrived as %d bytes under %q", i, len(r.Data), r.PK)
				}
				if r.Aggregated != (agg.count == 0) {
					t.Errorf("record %d: aggregated %v", i, r.Aggregated)
				}
			}
		})
	}

	t.Run("missing stream", func(t *testing.T) {
		req := map[string]any{"StreamName": "missing", "Records": []map[string]any{{"Data": []byte("x"), "PartitionKey": "k"}}}
		cborBody, err := cbor.Marshal(req)
		if err != nil {
			t.Fatal(err)
		}
		jsonBody, err := json.Marshal(req)
		if err != nil {
			t.Fatal(err)
		}
		putter := producer.BodyPutterOf(client)
		_, cerr := putter.PutRecordsBody(ctx, "missing", producer.WireCBOR, cborBody)
		_, jerr := putter.PutRecordsBody(ctx, "missing", producer.WireJSON, jsonBody)
		var capi, japi smithy.APIError
		if !errors.As(cerr, &capi) || !errors.As(jerr, &japi) {
			t.Fatalf("errors %v and %v, want API errors", cerr, jerr)
		}
		if capi.ErrorCode() != "ResourceNotFoundException" || capi.ErrorCode() != japi.ErrorCode() ||
			capi.ErrorMessage() != japi.ErrorMessage() || fmt.Sprintf("%T", capi) != fmt.Sprintf("%T", japi) {
			t.Errorf("CBOR: %T %v; JSON: %T %v", capi, capi, japi, japi)
		}
	})
}
