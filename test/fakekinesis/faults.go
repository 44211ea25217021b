package fakekinesis

import (
	"context"
	"time"
)

// Faults script what the server does to put requests (PutRecords and
// PutRecord). Other operations fail by fault only in an Outage, and
// ListShards and DescribeStreamSummary when denied. The zero value injects
// nothing. SetFaults replaces the whole script at any time; counts ("the
// next N") are used up as requests arrive, and Faults reports what is left.
//
// A put request meets the script in this order:
//
//  0. during an Outage, it is answered 503 or its connection is reset,
//     whatever its operation, before it is even decoded;
//  1. it is decoded and validated; an invalid request or an unknown stream
//     is answered at once and uses up nothing;
//  2. Delay and Hang hold it;
//  3. AccessDenied, else ResourceNotFound, answers it whole;
//  4. else the first of DropConnections, FailRequests, ThrottleRequests,
//     LoseResponses and ResponseMismatch with a count left loses one and
//     applies (so each request meets at most one of them);
//  5. ThrottleEvery and InternalErrorEvery fail single entries, then
//     ShardLimit fails the entries its shard has no room for (not for
//     ResponseMismatch, which judges no entry);
//  6. each stored entry counts towards ReshardAfter.
type Faults struct {
	// ThrottleEvery fails every Nth entry, counting the entries that reach
	// step 5 since SetFaults, with ProvisionedThroughputExceededException in
	// its PutRecords result entry (a partial failure). A PutRecord call whose
	// entry is picked fails whole with HTTP 400 and that code.
	ThrottleEvery int
	// InternalErrorEvery fails every Nth entry, on the same count, with
	// InternalFailure (PutRecord: HTTP 500). ThrottleEvery wins when both
	// pick an entry.
	InternalErrorEvery int

	// FailRequests fails the next N put requests whole: HTTP 500
	// InternalFailure, or HTTP 503 ServiceUnavailable when FailUnavailable.
	FailRequests    int
	FailUnavailable bool
	// ThrottleRequests fails the next N put requests whole with HTTP 400
	// ProvisionedThroughputExceededException.
	ThrottleRequests int
	// DropConnections closes the connection of the next N put requests
	// after reading their body, without an answer; nothing is stored.
	DropConnections int
	// LoseResponses stores the next N put requests as usual (entry faults
	// included) and then closes the connection without an answer: the
	// records arrived but the client cannot know it.
	LoseResponses int
	// ResponseMismatch answers the next N PutRecords requests with one
	// result entry fewer than the request had, all successful and none
	// stored. PutRecord is not affected.
	ResponseMismatch int

	// Delay holds each put request this long before it is processed. A
	// client that gives up meanwhile (its context ends or it closes the
	// connection) gets no answer and nothing is stored.
	Delay time.Duration
	// Hang holds every put request until the faults change (SetFaults), the
	// client gives up, or the server closes. Released requests go on under
	// the new faults.
	Hang bool

	// ResourceNotFound answers put requests with HTTP 400
	// ResourceNotFoundException, as if the stream were gone.
	ResourceNotFound bool
	// AccessDenied answers put requests with HTTP 400 AccessDeniedException.
	AccessDenied bool
	// ListShardsDenied answers ListShards with HTTP 400
	// AccessDeniedException, as for a role without kinesis:ListShards.
	ListShardsDenied bool
	// DescribeStreamSummaryDenied does the same to DescribeStreamSummary.
	// With ListShardsDenied it is a role allowed only kinesis:PutRecords
	// and kinesis:PutRecord.
	DescribeStreamSummaryDenied bool

	// ShardLimit fails, with ProvisionedThroughputExceededException, the
	// entries a shard has no room for under Kinesis' write limits (see
	// ShardLimit). The zero value sets no limit.
	ShardLimit ShardLimit

	// Outage takes the whole server down for part of every period.
	Outage Outage

	// ReshardAfter reshards the stream that stores the Nth entry accepted
	// since SetFaults, right after storing it, to ReshardTo open shards
	// (Reshard's even split; 0 splits every open shard in two). It fires
	// once: Faults then reports ReshardAfter 0. Later entries of the same
	// request already go to the new shards.
	ReshardAfter int
	ReshardTo    int
}

// KinesisShardLimit is the write limit of a Kinesis shard: 1,000 records
// and 1 MiB per second.
var KinesisShardLimit = ShardLimit{RecordsPerSecond: 1000, BytesPerSecond: 1 << 20}

// ShardLimit is a per-shard write rate, enforced as Kinesis does: each
// shard has a bucket that holds one second of its rate (the burst), starts
// full, and refills continuously on the server's clock. An entry takes one
// record and its data plus partition key bytes; a KPL aggregate is one
// entry, so it counts as one record however many user records it carries.
// An entry that does not fit fails on its own and takes nothing. A field of
// 0 or less puts no limit on its dimension.
type ShardLimit struct {
	RecordsPerSecond int
	BytesPerSecond   int
}

// Outage is a server that is down for the last For of every Every, on the
// server's clock from SetFaults (so the first Every-For of the script is
// up). For at least Every means down all the time; a zero Every or For
// means never down. While down, every request (any operation) is answered
// HTTP 503 ServiceUnavailable, or with Reset its TCP connection is reset
// (RST) without an answer. Nothing is stored.
type Outage struct {
	Every, For time.Duration
	Reset      bool
}

// down reports whether the outage covers the time since the script began.
func (o Outage) down(since time.Duration) bool {
	if o.Every <= 0 || o.For <= 0 {
		return false
	}
	if o.For >= o.Every {
		return true
	}
	return since%o.Every >= o.Every-o.For
}

// faultState is the current script and its progress. Guarded by Server.mu.
type faultState struct {
	Faults
	entries  int       // entries judged by ThrottleEvery/InternalErrorEvery since SetFaults
	accepted int       // entries stored since SetFaults (for ReshardAfter)
	since    time.Time // when SetFaults was called, on the server's clock (for Outage)
	// changed is closed (and cleared) by the next SetFaults; it exists only
	// while a held request waits on it.
	changed chan struct{}
}

// SetFaults replaces the fault script, restarts the entry count of
// ThrottleEvery and InternalErrorEvery, and wakes held requests so that
// they go on under f.
func (s *Server) SetFaults(f Faults) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults.Faults = f
	s.faults.entries = 0
	s.faults.accepted = 0
	s.faults.since = s.now()
	if s.faults.changed != nil {
		close(s.faults.changed)
		s.faults.changed = nil
	}
}

// Faults returns the current script: the counts are what is left.
func (s *Server) Faults() Faults {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.faults.Faults
}

// requestFault is the whole-request fault chosen for one put request.
type requestFault int

const (
	noFault requestFault = iota
	faultAccessDenied
	faultResourceNotFound
	faultDrop
	faultFail
	faultThrottle
	faultLose
	faultMismatch
)

// takeRequestFaultLocked picks the whole-request fault for a put request
// and uses up its count. mismatchable says whether ResponseMismatch applies
// (PutRecords only).
func (s *Server) takeRequestFaultLocked(mismatchable bool) requestFault {
	f := &s.faults.Faults
	take := func(n *int) bool {
		if *n > 0 {
			*n--
			return true
		}
		return false
	}
	switch {
	case f.AccessDenied:
		return faultAccessDenied
	case f.ResourceNotFound:
		return faultResourceNotFound
	case take(&f.DropConnections):
		return faultDrop
	case take(&f.FailRequests):
		return faultFail
	case take(&f.ThrottleRequests):
		return faultThrottle
	case take(&f.LoseResponses):
		return faultLose
	case mismatchable && take(&f.ResponseMismatch):
		return faultMismatch
	}
	return noFault
}

// entryFaultLocked counts one entry bound for sh and returns the error code
// it fails with, or "". An entry that passes has taken its room in sh's
// bucket.
func (s *Server) entryFaultLocked(sh *shard, e putRecordsEntry) string {
	s.faults.entries++
	k := s.faults.entries
	switch f := s.faults.Faults; {
	case f.ThrottleEvery > 0 && k%f.ThrottleEvery == 0:
		return codeThroughput
	case f.InternalErrorEvery > 0 && k%f.InternalErrorEvery == 0:
		return codeInternalFailure
	case !sh.bucket.take(s.now(), f.ShardLimit, len(e.Data)+len(*e.PartitionKey)):
		s.stats.EntriesOverLimit++
		return codeThroughput
	}
	return ""
}

// acceptedLocked counts one stored entry towards ReshardAfter, and
// reshards st when it is the one.
func (s *Server) acceptedLocked(st *stream) {
	s.faults.accepted++
	f := &s.faults.Faults
	if f.ReshardAfter <= 0 || s.faults.accepted < f.ReshardAfter {
		return
	}
	f.ReshardAfter = 0
	n := f.ReshardTo
	if n <= 0 {
		n = 2 * len(st.open)
	}
	st.openShards(min(n, MaxShards))
	s.stats.Reshards++
}

// outageLocked reports how an outage answers a request arriving now:
// false when the server is up.
func (s *Server) outageLocked() (down, reset bool) {
	o := s.faults.Outage
	return o.down(s.now().Sub(s.faults.since)), o.Reset
}

// holdResult says how a hold ended.
type holdResult int

const (
	holdDone      holdResult = iota // go on
	holdAbandoned                   // the client gave up
	holdClosed                      // the server is closing
)

// hold applies Delay and Hang to a put request that arrived at start,
// re-reading them whenever SetFaults changes them.
func (s *Server) hold(ctx context.Context, start time.Time) holdResult {
	held := false
	defer func() {
		if held {
			s.mu.Lock()
			s.stats.Held--
			s.notifyLocked()
			s.mu.Unlock()
		}
	}()
	for {
		s.mu.Lock()
		f := s.faults.Faults
		wait := time.Until(start.Add(f.Delay))
		if !f.Hang && wait <= 0 {
			s.mu.Unlock()
			return holdDone
		}
		if !held {
			held = true
			s.stats.Held++
			s.notifyLocked()
		}
		if s.faults.changed == nil {
			s.faults.changed = make(chan struct{})
		}
		changed := s.faults.changed
		s.mu.Unlock()

		if r, ok := s.waitOnce(ctx, changed, f.Hang, wait); !ok {
			return r
		}
	}
}

// waitOnce waits for a fault change, the end of wait (unless hang), the
// client giving up, or Close. ok is false when the request must end with r.
func (s *Server) waitOnce(ctx context.Context, changed <-chan struct{}, hang bool, wait time.Duration) (r holdResult, ok bool) {
	var expired <-chan time.Time
	if !hang {
		t := time.NewTimer(wait)
		defer t.Stop()
		expired = t.C
	}
	select {
	case <-expired:
	case <-changed:
	case <-ctx.Done():
		return holdAbandoned, false
	case <-s.done:
		return holdClosed, false
	}
	return holdDone, true
}
