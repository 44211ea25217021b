package fakekinesis

import (
	"net/http"
	"slices"
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/kinesis-kpl/fluent-bit-kinesis-kpl/aggregation"
)

// Kinesis limits that are not configurable.
const (
	maxEntriesPerRequest = 500
	maxPartitionKeyChars = 256
)

var malformedBody = &apiError{http.StatusBadRequest, codeSerialization, "Request body is not a valid JSON document for this operation."}

func (s *Server) putRecords(q *request) {
	start := time.Now() // Delay runs on the real clock
	var in putRecordsInput
	if err := q.wire.decode(q.body, &in); err != nil {
		s.reject(q.w, q.wire, malformedBody)
		return
	}
	st := s.admitPut(q, start, in.streamRef, in.Records, true)
	if st == nil {
		return
	}

	s.mu.Lock()
	fault := s.takeRequestFaultLocked(true)
	if s.answerRequestFaultLocked(q, fault, st, "PutRecords") {
		return
	}
	out := putRecordsOutput{Records: make([]putRecordsResultEntry, 0, len(in.Records)), EncryptionType: "NONE"}
	for i, e := range in.Records {
		sh := st.route(entryHashKey(e))
		if fault == faultMismatch {
			// Answer as if stored, minus the last entry; store nothing.
			if i < len(in.Records)-1 {
				out.Records = append(out.Records, putRecordsResultEntry{ShardId: sh.id, SequenceNumber: st.nextSequenceNumber()})
			}
			continue
		}
		switch code := s.entryFaultLocked(sh, e); code {
		case codeThroughput:
			out.Records = append(out.Records, putRecordsResultEntry{ErrorCode: code, ErrorMessage: throughputExceeded(sh.id, st.name)})
		case codeInternalFailure:
			out.Records = append(out.Records, putRecordsResultEntry{ErrorCode: code, ErrorMessage: internalFailureMessage})
		default:
			out.Records = append(out.Records, putRecordsResultEntry{ShardId: sh.id, SequenceNumber: s.storeLocked(st, sh, e, fault == faultLose)})
			continue
		}
		out.FailedRecordCount++
		s.stats.EntriesFailed++
	}
	s.finishLocked(fault)
	s.mu.Unlock()

	if fault == faultLose {
		dropConnection(q.w)
		return
	}
	q.wire.writeResult(q.w, out)
}

func (s *Server) putRecord(q *request) {
	start := time.Now() // Delay runs on the real clock
	var in putRecordInput
	if err := q.wire.decode(q.body, &in); err != nil {
		s.reject(q.w, q.wire, malformedBody)
		return
	}
	st := s.admitPut(q, start, in.streamRef, []putRecordsEntry{in.putRecordsEntry}, false)
	if st == nil {
		return
	}

	s.mu.Lock()
	fault := s.takeRequestFaultLocked(false)
	if s.answerRequestFaultLocked(q, fault, st, "PutRecord") {
		return
	}
	sh := st.route(entryHashKey(in.putRecordsEntry))
	var entryErr *apiError
	switch s.entryFaultLocked(sh, in.putRecordsEntry) {
	case codeThroughput:
		entryErr = &apiError{http.StatusBadRequest, codeThroughput, throughputExceeded(sh.id, st.name)}
	case codeInternalFailure:
		entryErr = &apiError{http.StatusInternalServerError, codeInternalFailure, internalFailureMessage}
	}
	var out putRecordOutput
	if entryErr != nil {
		s.stats.EntriesFailed++
	} else {
		out = putRecordOutput{ShardId: sh.id, SequenceNumber: s.storeLocked(st, sh, in.putRecordsEntry, fault == faultLose), EncryptionType: "NONE"}
	}
	s.finishLocked(fault)
	s.mu.Unlock()

	switch {
	case fault == faultLose:
		dropConnection(q.w)
	case entryErr != nil:
		q.wire.writeError(q.w, entryErr)
	default:
		q.wire.writeResult(q.w, out)
	}
}

// admitPut counts a put request's entries, validates it and holds it as
// Delay or Hang say. It returns the target stream, or nil when the request
// has been answered (rejected) or abandoned and must go no further.
func (s *Server) admitPut(q *request, start time.Time, ref streamRef, entries []putRecordsEntry, batch bool) *stream {
	s.countEntriesSeen(len(entries))
	st, bad := s.validatePut(ref, entries, batch)
	if bad != nil {
		s.reject(q.w, q.wire, bad)
		return nil
	}
	if !s.holdPut(q, start) {
		return nil
	}
	return st
}

func (s *Server) countEntriesSeen(n int) {
	s.mu.Lock()
	s.stats.EntriesSeen += n
	s.notifyLocked()
	s.mu.Unlock()
}

// holdPut applies Delay and Hang. A request that is not to go on is ended
// by closing its connection: returning without an answer would make
// net/http send an empty 200, which a client would take for success.
func (s *Server) holdPut(q *request, start time.Time) bool {
	switch s.hold(q.r.Context(), start) {
	case holdDone:
		return true
	case holdAbandoned:
		s.mu.Lock()
		s.stats.RequestsAbandoned++
		s.notifyLocked()
		s.mu.Unlock()
	}
	dropConnection(q.w)
	return false
}

// answerRequestFaultLocked answers a put request that a whole-request fault
// ends, and then releases s.mu; it reports whether it did. For faults that
// let the request go on it does nothing and keeps s.mu held.
func (s *Server) answerRequestFaultLocked(q *request, fault requestFault, st *stream, op string) bool {
	var e *apiError
	switch fault {
	case faultAccessDenied:
		e = accessDenied(op, st.name)
	case faultResourceNotFound:
		e = streamNotFound(st.name)
	case faultFail:
		e = &apiError{http.StatusInternalServerError, codeInternalFailure, internalFailureMessage}
		if s.faults.FailUnavailable {
			e = serviceUnavailable
		}
	case faultThrottle:
		e = &apiError{http.StatusBadRequest, codeThroughput, "Rate exceeded for stream " + st.name + " under account " + accountID + "."}
	case faultDrop:
		s.stats.RequestsDropped++
		s.notifyLocked()
		s.mu.Unlock()
		dropConnection(q.w)
		return true
	default:
		return false
	}
	s.stats.RequestsFailed++
	s.notifyLocked()
	s.mu.Unlock()
	q.wire.writeError(q.w, e)
	return true
}

// finishLocked counts how a processed put request ends.
func (s *Server) finishLocked(fault requestFault) {
	switch fault {
	case faultMismatch:
		s.stats.ResponsesMismatched++
	case faultLose:
		s.stats.ResponsesLost++
	}
	s.notifyLocked()
}

// storeLocked stores one accepted entry and returns its sequence number.
// responseLost says the request's answer will be lost (LoseResponses).
func (s *Server) storeLocked(st *stream, sh *shard, e putRecordsEntry, responseLost bool) string {
	seq := st.nextSequenceNumber()
	r := Record{ShardID: sh.id, SequenceNumber: seq, PartitionKey: *e.PartitionKey, Data: e.Data, ResponseLost: responseLost}
	if e.ExplicitHashKey != nil {
		r.ExplicitHashKey = *e.ExplicitHashKey
	}
	if len(st.records) == cap(st.records) {
		// Double: append grows a large slice by a quarter, which copied a
		// long run's records four times over.
		st.records = slices.Grow(st.records, max(len(st.records), 1024))
	}
	st.records = append(st.records, r)
	s.stats.EntriesAccepted++
	s.acceptedLocked(st)
	return seq
}

// entryHashKey returns the hash key Kinesis routes a validated entry by.
func entryHashKey(e putRecordsEntry) aggregation.HashKey {
	if e.ExplicitHashKey != nil {
		h, _ := aggregation.ParseHashKey(*e.ExplicitHashKey)
		return h
	}
	return aggregation.PartitionKeyHash(*e.PartitionKey)
}

// validatePut checks a put request as Kinesis does and returns its stream:
// constraint violations (counts, missing members, lengths, patterns) are
// ValidationException; an explicit hash key of 2^128 or more and a request
// over its byte limit are InvalidArgumentException, as Kinesis answers them.
// Messages name the member, never its value.
func (s *Server) validatePut(ref streamRef, entries []putRecordsEntry, batch bool) (*stream, *apiError) {
	name, bad := ref.name()
	if bad != nil {
		return nil, bad
	}
	member := func(i int, field string) string {
		if batch {
			return "records." + strconv.Itoa(i+1) + ".member." + field
		}
		return field
	}
	constraint := func(at, rule string) *apiError {
		return validationError("1 validation error detected: Value at '" + at + "' failed to satisfy constraint: " + rule)
	}
	if batch && len(entries) < 1 {
		return nil, constraint("records", "Member must have length greater than or equal to 1")
	}
	if batch && len(entries) > maxEntriesPerRequest {
		return nil, constraint("records", "Member must have length less than or equal to 500")
	}
	for i, e := range entries {
		switch {
		case e.Data == nil:
			return nil, constraint(member(i, "data"), "Member must not be null")
		case e.PartitionKey == nil:
			return nil, constraint(member(i, "partitionKey"), "Member must not be null")
		case !validPartitionKey(*e.PartitionKey):
			return nil, constraint(member(i, "partitionKey"), "Member must have length between 1 and 256")
		case e.ExplicitHashKey != nil && !hashKeyPattern(*e.ExplicitHashKey):
			return nil, constraint(member(i, "explicitHashKey"), `Member must satisfy regular expression pattern: 0|([1-9]\d{0,38})`)
		}
	}

	s.mu.Lock()
	st := s.streams[name]
	s.mu.Unlock()
	if st == nil {
		return nil, streamNotFound(name)
	}
	total := 0
	for i, e := range entries {
		if e.ExplicitHashKey != nil {
			if _, err := aggregation.ParseHashKey(*e.ExplicitHashKey); err != nil {
				return nil, invalidArgument("Invalid ExplicitHashKey. ExplicitHashKey must be in the range: [0, 2^128-1].")
			}
		}
		size := len(e.Data) + len(*e.PartitionKey)
		if size > st.maxRecordBytes {
			return nil, constraint(member(i, "data"), "Member must have length less than or equal to "+
				strconv.Itoa(st.maxRecordBytes)+" including the partition key")
		}
		total += size
	}
	if total > s.maxRequestBytes {
		return nil, invalidArgument("Records size exceeds " + sizeText(s.maxRequestBytes) + " limit")
	}
	return st, nil
}

// validPartitionKey reports whether pk has 1 to 256 Unicode characters.
func validPartitionKey(pk string) bool {
	n := utf8.RuneCountInString(pk)
	return n >= 1 && n <= maxPartitionKeyChars
}

// hashKeyPattern reports whether h matches 0|([1-9]\d{0,38}), the shape
// Kinesis requires of an ExplicitHashKey before checking its value.
func hashKeyPattern(h string) bool {
	if h == "0" {
		return true
	}
	if len(h) < 1 || len(h) > 39 || h[0] < '1' || h[0] > '9' {
		return false
	}
	for i := 1; i < len(h); i++ {
		if h[i] < '0' || h[i] > '9' {
			return false
		}
	}
	return true
}

// sizeText writes a byte limit as Kinesis words it ("5 MB"), or in bytes
// when it is not a whole number of MiB.
func sizeText(n int) string {
	if n%(1<<20) == 0 {
		return strconv.Itoa(n>>20) + " MB"
	}
	return strconv.Itoa(n) + " bytes"
}
