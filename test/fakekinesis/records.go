package fakekinesis

import (
	"bytes"
	"fmt"
	"slices"

	"github.com/kinesis-kpl/fluent-bit-kinesis-kpl/aggregation"
)

// Record is one Kinesis record as the server stored it: what a consumer's
// GetRecords would return. Its Data may be a KPL aggregate.
type Record struct {
	ShardID         string
	SequenceNumber  string
	PartitionKey    string
	ExplicitHashKey string // "" when the entry had none
	Data            []byte
	// ResponseLost says the request that stored the record was left
	// unanswered (LoseResponses): its sender could not know, and a
	// producer that sends it again makes a duplicate that is not its fault.
	ResponseLost bool
}

// Records returns a copy of the records a stream accepted, in order of
// acceptance (sequence number order), or nil for an unknown stream.
func (s *Server) Records(stream string) []Record {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.streams[stream]
	if st == nil {
		return nil
	}
	out := make([]Record, len(st.records))
	for i, r := range st.records {
		r.Data = bytes.Clone(r.Data)
		out[i] = r
	}
	return out
}

// UserRecord is one user record as a KCL consumer would see it: a
// sub-record of a stored aggregate, or a stored plain record.
type UserRecord struct {
	// ShardID and SequenceNumber are those of the Kinesis record that
	// carried the user record.
	ShardID        string
	SequenceNumber string
	// SubIndex is the position within its aggregate (0 for a plain record).
	SubIndex int
	// Aggregated says whether the carrying record was a KPL aggregate.
	Aggregated bool

	PartitionKey    string
	ExplicitHashKey string // "" when it has none
	Data            []byte

	// InShard says whether the user record's hash key (its explicit hash
	// key, else the MD5 of its partition key) lies in the hash key range of
	// the shard that stored the carrying record. A KCL consumer drops a
	// whole aggregate when any of its sub-records has it false.
	InShard bool
	// ResponseLost is that of the carrying record.
	ResponseLost bool
}

// UserRecords deaggregates every record a stream accepted, in order, with
// aggregation.Deaggregate (strict: an aggregate whose checksum does not
// match is an error, not a plain record). A record that fails to decode
// fails the call with an error naming its position and matching the
// aggregation error (errors.Is(err, aggregation.ErrMalformed)). An unknown
// stream returns ErrStreamNotFound.
func (s *Server) UserRecords(stream string) ([]UserRecord, error) {
	return s.userRecords(stream, false)
}

// TakeUserRecords is UserRecords that also removes the records it returns
// from the stream (Records and later calls no longer list them), so that a
// long run can be counted as it goes in bounded memory. Records stored
// meanwhile stay for the next call. On error nothing is removed.
func (s *Server) TakeUserRecords(stream string) ([]UserRecord, error) {
	return s.userRecords(stream, true)
}

func (s *Server) userRecords(stream string, take bool) ([]UserRecord, error) {
	if take {
		// Takes run one at a time, so that the records one reads are
		// still the first of the stream when it removes them.
		s.takeMu.Lock()
		defer s.takeMu.Unlock()
	}
	s.mu.Lock()
	st := s.streams[stream]
	if st == nil {
		s.mu.Unlock()
		return nil, ErrStreamNotFound
	}
	records := make([]Record, len(st.records))
	ranges := make([][2]aggregation.HashKey, len(st.records))
	for i, r := range st.records {
		r.Data = bytes.Clone(r.Data)
		records[i] = r
		sh := st.byID[r.ShardID]
		ranges[i] = [2]aggregation.HashKey{sh.start, sh.end}
	}
	s.mu.Unlock()

	var out []UserRecord
	var subs []aggregation.Record
	for i, r := range records {
		var err error
		subs, err = aggregation.AppendDeaggregated(subs[:0], r.Data, r.PartitionKey, r.ExplicitHashKey)
		if err != nil {
			return nil, fmt.Errorf("fakekinesis: stream %s, record %d (%s): %w", stream, i, r.SequenceNumber, err)
		}
		aggregated := aggregation.IsAggregated(r.Data)
		for j, sub := range subs {
			h, err := sub.HashKey()
			out = append(out, UserRecord{
				ShardID:         r.ShardID,
				SequenceNumber:  r.SequenceNumber,
				SubIndex:        j,
				Aggregated:      aggregated,
				PartitionKey:    sub.PartitionKey,
				ExplicitHashKey: sub.ExplicitHashKey,
				Data:            sub.Data,
				InShard:         err == nil && h.InRange(ranges[i][0], ranges[i][1]),
				ResponseLost:    r.ResponseLost,
			})
		}
	}
	if take {
		s.mu.Lock()
		// Records are only ever appended, so the first len(records) are
		// the ones read; the cache of UserRecordCount starts again.
		st.records = slices.Clone(st.records[len(records):])
		st.counted, st.userCount = 0, 0
		st.takes++
		s.mu.Unlock()
	}
	return out, nil
}

// UserRecordCount returns how many user records the stream's records
// carry, as UserRecords would list them, without copying them: it lets a
// test poll a large run for completion cheaply, since each call decodes
// only the records stored since the last. Errors are those of UserRecords.
func (s *Server) UserRecordCount(stream string) (int, error) {
	s.mu.Lock()
	st := s.streams[stream]
	if st == nil {
		s.mu.Unlock()
		return 0, ErrStreamNotFound
	}
	from, n, takes := st.counted, st.userCount, st.takes
	// Stored records are never changed, only appended to (or taken, which
	// makes a new slice): the new ones can be read without the lock.
	fresh := st.records[from:len(st.records):len(st.records)]
	s.mu.Unlock()

	var subs []aggregation.Record
	for i, r := range fresh {
		var err error
		subs, err = aggregation.AppendDeaggregated(subs[:0], r.Data, r.PartitionKey, r.ExplicitHashKey)
		if err != nil {
			return 0, fmt.Errorf("fakekinesis: stream %s, record %d (%s): %w", stream, from+i, r.SequenceNumber, err)
		}
		n += len(subs)
	}

	s.mu.Lock()
	if st.counted == from && st.takes == takes {
		st.counted, st.userCount = from+len(fresh), n
	}
	s.mu.Unlock()
	return n, nil
}
