package producer

import (
	"errors"
	"fmt"
)

// Sentinel errors. Outcomes and returned errors match them with errors.Is.
var (
	// ErrRecordExpired is the outcome of a record that was not delivered
	// within Config.RecordTTL of being handed to the producer. It is
	// retryable: the caller may put the record again later. The outcome's
	// error also wraps the last error the record met, when there was one.
	ErrRecordExpired = errors.New("producer: record not delivered within its time to live")

	// ErrCanceled is the outcome of a record withdrawn by Group.Cancel
	// before it was sent. It is retryable.
	ErrCanceled = errors.New("producer: record withdrawn before it was sent")

	// ErrBufferFull is returned (wrapped together with the context's error)
	// by PutGroup when its context ends while the producer's buffer is at
	// its cap (Config.BufferMaxBytes or Config.BacklogCount). Records not
	// handed over stay pending.
	ErrBufferFull = errors.New("producer: buffer full")

	// ErrNotHandedOver is returned by Group.Wait when nothing of the group
	// is in the producer any more but some of its records were never
	// handed over (PutGroup was not called, or returned early), so they
	// have no final outcome and never will without another PutGroup.
	ErrNotHandedOver = errors.New("producer: some records of the group were never handed to the producer")

	// ErrNotStarted is returned by PutGroup, Put and PutUserRecord before
	// Start was called.
	ErrNotStarted = errors.New("producer: not started")

	// ErrForeignGroup is returned by PutGroup for a group that another
	// producer made (or one already released).
	ErrForeignGroup = errors.New("producer: group belongs to another producer")

	// ErrInvalidConfig is matched by every error New returns for a bad
	// Config; the error lists every problem.
	ErrInvalidConfig = errors.New("producer: invalid configuration")

	// ErrPanicked is the outcome (retryable) of records held by code that
	// panicked: the Putter, or the producer's own goroutines. The panic is
	// recovered and logged with its stack; the producer keeps running.
	// Whether the service stored such a record is unknown.
	ErrPanicked = errors.New("producer: a panic was recovered while handling the record")

	// errStopped is what errors.Is matches for every *ErrStoppedProducer.
	errStopped = errors.New("producer: stopped")
)

// ErrIllegalPartitionKey is the outcome (permanent) of a record whose
// partition key is empty or longer than 256 Unicode characters, and what
// Put returns for one. UserRecord is set for records put through the
// UserRecord API and nil for group records.
type ErrIllegalPartitionKey struct {
	UserRecord
}

func (e *ErrIllegalPartitionKey) Error() string {
	return "producer: partition key must be 1 to 256 Unicode characters"
}

// ErrRecordSizeExceeded is the outcome (permanent) of a record whose data
// plus partition key is larger than Config.MaxRecordSize, and what Put
// returns for one. UserRecord is set as for ErrIllegalPartitionKey.
type ErrRecordSizeExceeded struct {
	UserRecord
}

func (e *ErrRecordSizeExceeded) Error() string {
	return "producer: record size (data plus partition key) exceeds the maximum record size"
}

// ErrStoppedProducer is returned by Put, PutUserRecord and PutGroup after
// Stop, and is the outcome (retryable) of records that Stop could not send
// before its deadline. errors.Is(err, &ErrStoppedProducer{}) matches any of
// them.
type ErrStoppedProducer struct {
	UserRecord
}

func (e *ErrStoppedProducer) Error() string { return "producer: stopped" }

// Is reports whether target is an *ErrStoppedProducer, so that errors.Is
// works without comparing the carried UserRecord.
func (e *ErrStoppedProducer) Is(target error) bool {
	_, ok := target.(*ErrStoppedProducer)
	return ok || target == errStopped
}

// ShardBucketError happens when a record cannot be given a shard bucket.
// ShardMap.Put returns it for a record whose explicit hash key is not a
// valid hash key. The Producer logs it (once per shard map) when a
// record's hash key falls in a gap of the map, as it can during
// resharding; such a record is not dropped but aggregated only with
// records of the same key, as without a shard map.
type ShardBucketError struct {
	UserRecord
}

func (s *ShardBucketError) Error() string {
	return "producer: hash key is in no shard of the shard map"
}

// ShardRefreshError wraps an error from Config.GetShards. The producer logs
// it and keeps its current shard map.
type ShardRefreshError struct {
	Err error
}

func (s *ShardRefreshError) Error() string {
	return fmt.Sprintf("producer: refreshing shards: %v", s.Err)
}

func (s *ShardRefreshError) Unwrap() error { return s.Err }

// DrainError is returned by ShardMap.Drain and ShardMap.UpdateShards when
// an aggregator could not be drained. UserRecords are the records that
// were in it.
type DrainError struct {
	Err error
	// UserRecords in the buffer when drain attempt was made
	UserRecords []UserRecord
}

func (e *DrainError) Error() string {
	return fmt.Sprintf("producer: draining %d user records: %v", len(e.UserRecords), e.Err)
}

func (e *DrainError) Unwrap() error { return e.Err }

// FailureRecord is sent on the channel returned by NotifyFailures for each
// PutRecords entry whose records got a failed outcome. It carries the
// records (UserRecords) but its Error text never includes their content.
type FailureRecord struct {
	Err error
	// PartitionKey is the partition key of the kinesis entry that failed.
	PartitionKey string
	// ExplicitHashKey is the explicit hash key of the entry, "" if none.
	ExplicitHashKey string
	// UserRecords are the records of the failed entry.
	UserRecords []UserRecord
}

func (e *FailureRecord) Error() string {
	return fmt.Sprintf("producer: %d user records failed: %v", len(e.UserRecords), e.Err)
}

func (e *FailureRecord) Unwrap() error { return e.Err }

// EntryError is the outcome error of a record whose PutRecords entry the
// service rejected. Code and Message are those of the result entry (or of
// the request's API error). Retryable tells whether the service may accept
// the record later.
type EntryError struct {
	Code      string
	Message   string
	Retryable bool
}

func (e *EntryError) Error() string {
	if e.Message == "" {
		return "producer: kinesis rejected the record: " + e.Code
	}
	return "producer: kinesis rejected the record: " + e.Code + ": " + e.Message
}

// Shared outcome errors: group records carry these, so failing a record
// does not allocate.
var (
	errOutcomeIllegalKey = &ErrIllegalPartitionKey{}
	errOutcomeTooLarge   = &ErrRecordSizeExceeded{}
	errOutcomeStopped    = &ErrStoppedProducer{}
)

// panicError is a recovered panic: it matches ErrPanicked and carries the
// stack for the log (never for an outcome's text).
type panicError struct {
	where string
	value any
	stack []byte
}

func (e *panicError) Error() string {
	return fmt.Sprintf("%s: %s panicked: %v", ErrPanicked.Error(), e.where, e.value)
}

func (e *panicError) Unwrap() error { return ErrPanicked }

// expiredError wraps ErrRecordExpired and the last error the record met.
type expiredError struct{ last error }

func (e *expiredError) Error() string {
	if e.last == nil {
		return ErrRecordExpired.Error()
	}
	return ErrRecordExpired.Error() + ": last error: " + e.last.Error()
}

func (e *expiredError) Unwrap() []error {
	if e.last == nil {
		return []error{ErrRecordExpired}
	}
	return []error{ErrRecordExpired, e.last}
}
