package fakekinesis

import (
	"context"
	"maps"
)

// Stats counts what the server received and how it answered, exactly.
// Entries are the records of put requests (PutRecords entries, or the one
// record of a PutRecord).
type Stats struct {
	// Requests counts every HTTP request received.
	Requests int
	// CBORRequests counts the requests of Requests sent in CBOR
	// (application/x-amz-cbor-1.1).
	CBORRequests int
	// Operations counts requests per operation ("PutRecords",
	// "ListShards", ...); requests with a missing or unimplemented
	// X-Amz-Target count under "Unknown".
	Operations map[string]int
	// SignedBy counts requests per access key id of their SigV4 signature
	// ("" for unsigned ones). Signatures are not checked.
	SignedBy map[string]int

	// EntriesSeen counts the entries of every put request that decoded,
	// whatever then became of it.
	EntriesSeen int
	// EntriesAccepted counts entries stored (see Records).
	EntriesAccepted int
	// EntriesFailed counts entries failed by ThrottleEvery,
	// InternalErrorEvery or ShardLimit.
	EntriesFailed int
	// EntriesOverLimit counts the entries of EntriesFailed that ShardLimit
	// failed.
	EntriesOverLimit int

	// RequestsRejected counts error answers the request itself caused:
	// malformed or invalid requests, unknown operations, unknown streams,
	// an existing stream in CreateStream.
	RequestsRejected int
	// RequestsFailed counts error answers to whole requests caused by an
	// injected fault (FailRequests, ThrottleRequests, ResourceNotFound,
	// AccessDenied, ListShardsDenied, DescribeStreamSummaryDenied).
	RequestsFailed int
	// RequestsInOutage counts requests answered 503, or reset, by an
	// Outage (and counted nowhere else but Requests and Operations).
	RequestsInOutage int
	// RequestsDropped counts connections closed by DropConnections.
	RequestsDropped int
	// RequestsAbandoned counts put requests whose client gave up while
	// Delay or Hang held them.
	RequestsAbandoned int
	// ResponsesLost counts put requests processed and then left
	// unanswered by LoseResponses.
	ResponsesLost int
	// ResponsesMismatched counts PutRecords answered short by
	// ResponseMismatch.
	ResponsesMismatched int

	// Reshards counts reshards done by ReshardAfter.
	Reshards int

	// Held is the number of put requests being held by Delay or Hang now.
	Held int
}

// Stats returns a snapshot of the counters.
func (s *Server) Stats() Stats {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.statsLocked()
}

func (s *Server) statsLocked() Stats {
	st := s.stats
	st.Operations = maps.Clone(s.stats.Operations)
	st.SignedBy = maps.Clone(s.stats.SignedBy)
	return st
}

// WaitFor blocks until cond holds for the counters, and returns the
// snapshot it held for. It checks cond at once and after every change. It
// returns ctx's error when ctx ends first, and ErrClosed when the server is
// closed first. cond runs with no lock held and must not block.
//
// It lets tests wait for the server to reach a state (a request held, N
// entries accepted) without sleeping.
func (s *Server) WaitFor(ctx context.Context, cond func(Stats) bool) (Stats, error) {
	for {
		s.mu.Lock()
		snap := s.statsLocked()
		closed := s.closed
		if s.statsChanged == nil {
			s.statsChanged = make(chan struct{})
		}
		changed := s.statsChanged
		s.mu.Unlock()

		if cond(snap) {
			return snap, nil
		}
		if closed {
			return snap, ErrClosed
		}
		select {
		case <-changed:
		case <-ctx.Done():
			return snap, ctx.Err()
		}
	}
}

// notifyLocked wakes WaitFor callers after a change of counters or state.
func (s *Server) notifyLocked() {
	if s.statsChanged != nil {
		close(s.statsChanged)
		s.statsChanged = nil
	}
}
