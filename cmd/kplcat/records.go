package main

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"

	"github.com/kinesis-kpl/fluent-bit-kinesis-kpl/aggregation"
)

// line is one user record as kplcat prints it. Data holds the record's
// bytes as a JSON value when they are valid UTF-8 JSON text (compacted onto
// one line), else DataBase64 holds them in standard base64: two names, so a
// reader never has to guess which form a string is in.
type line struct {
	Stream            string          `json:"stream"`
	Shard             string          `json:"shard"`
	SequenceNumber    string          `json:"sequence_number"`
	SubSequenceNumber int             `json:"sub_sequence_number"`
	Aggregated        bool            `json:"aggregated"`
	PartitionKey      string          `json:"partition_key"`
	ExplicitHashKey   string          `json:"explicit_hash_key,omitempty"`
	Arrival           string          `json:"arrival,omitempty"`
	Data              json.RawMessage `json:"data,omitempty"`
	DataBase64        *string         `json:"data_base64,omitempty"`
}

// setData puts data into l as a JSON value or as base64.
func (l *line) setData(data []byte, scratch *bytes.Buffer) {
	l.Data, l.DataBase64 = nil, nil
	// json.Valid alone accepts invalid UTF-8 inside strings, which would make
	// the output line invalid UTF-8.
	if utf8.Valid(data) && json.Valid(data) {
		scratch.Reset()
		if json.Compact(scratch, data) == nil {
			l.Data = scratch.Bytes()
			return
		}
	}
	s := base64.StdEncoding.EncodeToString(data)
	l.DataBase64 = &s
}

// counts is what kplcat read, for the summary on stderr.
type counts struct {
	Shards              int // shards read
	KinesisRecords      int // records GetRecords returned
	Aggregates          int // of those, KPL aggregates
	UserRecords         int // user records printed
	DiscardedAggregates int // aggregates dropped whole by the KCL rule
	DiscardedRecords    int // user records in those aggregates
	Malformed           int // aggregates that could not be decoded
}

// summary is one line of key=value pairs, stable for scripts to read.
func (c counts) summary(stream string) string {
	return fmt.Sprintf("kplcat: stream=%s shards=%d kinesis_records=%d aggregates=%d user_records=%d "+
		"kcl_discarded_aggregates=%d kcl_discarded_records=%d malformed_aggregates=%d",
		stream, c.Shards, c.KinesisRecords, c.Aggregates, c.UserRecords,
		c.DiscardedAggregates, c.DiscardedRecords, c.Malformed)
}

// printer turns the Kinesis records of one shard into lines. Shard readers
// run concurrently; each formats a batch on its own and writes it whole under
// the lock, so lines never interleave and a shard's lines stay in order.
type printer struct {
	stream string

	mu     sync.Mutex
	out    io.Writer // stdout: one JSON line per user record
	errOut io.Writer // stderr: problems and the summary, never record content
	counts counts
}

// batch is a shard reader's reusable formatting state.
type batch struct {
	buf     bytes.Buffer
	enc     *json.Encoder
	scratch bytes.Buffer
	subs    []aggregation.Record
	counts  counts
	notes   []string
}

func newBatch() *batch {
	b := &batch{}
	b.enc = json.NewEncoder(&b.buf)
	b.enc.SetEscapeHTML(false)
	return b
}

// print writes the user records of records, read from shard s. It applies
// the KCL's rule: an aggregate holding a sub-record whose hash key lies
// outside s's hash key range is discarded whole (the KCL's
// AggregatorUtil.deaggregate removes the sub-records of that aggregate it
// had already taken and stops). Plain records are not checked, as in the
// KCL: Kinesis itself placed them by their key.
func (p *printer) print(s shardInfo, records []types.Record, b *batch) error {
	b.buf.Reset()
	b.counts = counts{}
	b.notes = b.notes[:0]
	for _, r := range records {
		b.counts.KinesisRecords++
		seq := aws.ToString(r.SequenceNumber)
		base := line{Stream: p.stream, Shard: s.id, SequenceNumber: seq, PartitionKey: aws.ToString(r.PartitionKey)}
		if r.ApproximateArrivalTimestamp != nil {
			base.Arrival = r.ApproximateArrivalTimestamp.UTC().Format(time.RFC3339Nano)
		}
		if !aggregation.IsAggregated(r.Data) {
			if err := b.add(base, r.Data); err != nil {
				return err
			}
			continue
		}
		b.counts.Aggregates++
		var err error
		b.subs, err = aggregation.AppendDeaggregatedKCL(b.subs[:0], r.Data, "", "")
		if err != nil {
			b.counts.Malformed++
			b.notes = append(b.notes, fmt.Sprintf("kplcat: shard %s, sequence number %s: aggregate skipped: %v", s.id, seq, err))
			continue
		}
		if err := aggregation.CheckShardRange(b.subs, s.start, s.end); err != nil {
			b.counts.DiscardedAggregates++
			b.counts.DiscardedRecords += len(b.subs)
			b.notes = append(b.notes, fmt.Sprintf("kplcat: shard %s, sequence number %s: aggregate of %d user records discarded by the KCL rule: %v",
				s.id, seq, len(b.subs), err))
			continue
		}
		base.Aggregated = true
		for i, sub := range b.subs {
			l := base
			l.SubSequenceNumber = i
			l.PartitionKey = sub.PartitionKey
			l.ExplicitHashKey = sub.ExplicitHashKey
			if err := b.add(l, sub.Data); err != nil {
				return err
			}
		}
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.counts.add(b.counts)
	for _, n := range b.notes {
		fmt.Fprintln(p.errOut, n)
	}
	if _, err := p.out.Write(b.buf.Bytes()); err != nil {
		return fmt.Errorf("writing output: %w", err)
	}
	return nil
}

func (b *batch) add(l line, data []byte) error {
	l.setData(data, &b.scratch)
	if err := b.enc.Encode(&l); err != nil {
		return fmt.Errorf("formatting record %s/%d: %w", l.SequenceNumber, l.SubSequenceNumber, err)
	}
	b.counts.UserRecords++
	return nil
}

func (c *counts) add(o counts) {
	c.Shards += o.Shards
	c.KinesisRecords += o.KinesisRecords
	c.Aggregates += o.Aggregates
	c.UserRecords += o.UserRecords
	c.DiscardedAggregates += o.DiscardedAggregates
	c.DiscardedRecords += o.DiscardedRecords
	c.Malformed += o.Malformed
}

// note writes a message to stderr.
func (p *printer) note(format string, args ...any) {
	p.mu.Lock()
	defer p.mu.Unlock()
	fmt.Fprintf(p.errOut, "kplcat: "+format+"\n", args...)
}

// shardStarted counts a shard whose reading began.
func (p *printer) shardStarted() {
	p.mu.Lock()
	p.counts.Shards++
	p.mu.Unlock()
}

func (p *printer) total() counts {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.counts
}
