// Package deaggregation splits KPL aggregated Kinesis records, as returned by
// GetRecords in aws-sdk-go-v2, back into their user records. It offers the
// functions consumers of the original producer library's deaggregation
// package used, on aws-sdk-go-v2 types, with the behaviour of the KCL.
//
// It owns only the adaptation to SDK types; the format itself belongs to
// package aggregation. It must not send, log or retry anything.
package deaggregation

import (
	"crypto/md5"
	"errors"
	"strconv"

	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"
	"google.golang.org/protobuf/proto"

	"github.com/kinesis-kpl/fluent-bit-kinesis-kpl/aggregation"
	"github.com/kinesis-kpl/fluent-bit-kinesis-kpl/aggregation/pb"
)

// ErrNotAggregated is returned by Unmarshal when the data is not a KPL
// aggregate (no magic, too short, or a checksum that does not match).
var ErrNotAggregated = errors.New("deaggregation: not an aggregated record")

// RecordError says which Kinesis record of a batch could not be
// deaggregated. errors.Is(err, aggregation.ErrMalformed) holds, and
// errors.As reaches the *aggregation.DecodeError.
type RecordError struct {
	Index int // position of the Kinesis record in the input slice
	Err   error
}

func (e *RecordError) Error() string {
	return "deaggregation: kinesis record " + strconv.Itoa(e.Index) + ": " + e.Err.Error()
}

func (e *RecordError) Unwrap() error { return e.Err }

// IsAggregatedRecord reports whether data is a KPL aggregate: magic prefix
// and a matching MD5 (see aggregation.IsAggregated).
func IsAggregatedRecord(data []byte) bool { return aggregation.IsAggregated(data) }

// DeaggregateRecords expands every aggregated record of records into its
// user records, in order; plain records pass through unchanged. Like the
// KCL, it takes a record with the magic but a wrong checksum for a plain
// record. Each user record keeps the enclosing record's SequenceNumber,
// ApproximateArrivalTimestamp and EncryptionType, and gets its own
// PartitionKey and Data (Data aliases the input). Sub-records' explicit hash
// keys are dropped, because types.Record has no field for them; use
// aggregation.DeaggregateKCL to see them.
//
// A malformed aggregate fails the whole call with a *RecordError, so that a
// caller never checkpoints past records it did not see.
func DeaggregateRecords(records []types.Record) ([]types.Record, error) {
	out := make([]types.Record, 0, len(records))
	var subs []aggregation.Record
	for i, r := range records {
		if !aggregation.IsAggregated(r.Data) {
			out = append(out, r)
			continue
		}
		var err error
		subs, err = aggregation.AppendDeaggregatedKCL(subs[:0], r.Data, "", "")
		if err != nil {
			return nil, &RecordError{Index: i, Err: err}
		}
		for _, s := range subs {
			pk := s.PartitionKey
			out = append(out, types.Record{
				Data:                        s.Data,
				PartitionKey:                &pk,
				SequenceNumber:              r.SequenceNumber,
				ApproximateArrivalTimestamp: r.ApproximateArrivalTimestamp,
				EncryptionType:              r.EncryptionType,
			})
		}
	}
	return out, nil
}

// ExtractRecordDatas returns the Data of every user record in one Kinesis
// record's data: the sub-records of an aggregate, or the data itself for a
// plain record. The slices alias data.
func ExtractRecordDatas(data []byte) ([][]byte, error) {
	subs, err := aggregation.DeaggregateKCL(data, "", "")
	if err != nil {
		return nil, err
	}
	out := make([][]byte, len(subs))
	for i, s := range subs {
		out[i] = s.Data
	}
	return out, nil
}

// Unmarshal decodes the protobuf of an aggregate into the generated
// message, for callers that want the raw tables. It returns ErrNotAggregated
// when IsAggregatedRecord(data) is false, and an error matching
// aggregation.ErrMalformed when the protobuf is not a valid aggregate
// (including key indexes outside their tables). It uses proto.Unmarshal and
// is not meant for hot paths.
func Unmarshal(data []byte) (*pb.AggregatedRecord, error) {
	if !aggregation.IsAggregated(data) {
		return nil, ErrNotAggregated
	}
	// The hand-written decoder is at least as strict as proto.Unmarshal and
	// returns typed errors without record content.
	if _, err := aggregation.DeaggregateKCL(data, "", ""); err != nil {
		return nil, err
	}
	msg := &pb.AggregatedRecord{}
	if err := proto.Unmarshal(data[len(aggregation.Magic):len(data)-md5.Size], msg); err != nil {
		return nil, aggregation.ErrMalformed
	}
	return msg, nil
}
