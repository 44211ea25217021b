package fakekinesis

import "errors"

// ErrStreamExists is returned by CreateStream when a stream of that name
// already exists.
var ErrStreamExists = errors.New("fakekinesis: stream already exists")

// ErrStreamNotFound is returned by Reshard and UserRecords when no stream
// has the given name.
var ErrStreamNotFound = errors.New("fakekinesis: stream not found")

// ErrInvalidShardCount is returned by CreateStream and Reshard when the shard
// count is below 1 or above MaxShards.
var ErrInvalidShardCount = errors.New("fakekinesis: invalid shard count")

// ErrInvalidStreamName is returned by CreateStream when the name is not 1 to
// 128 characters of letters, digits, '_', '.' and '-', as Kinesis requires.
var ErrInvalidStreamName = errors.New("fakekinesis: invalid stream name")

// ErrInvalidOption is returned by New when an Option has a value out of its
// range (the error names the option).
var ErrInvalidOption = errors.New("fakekinesis: invalid option")

// ErrClosed is returned by WaitFor when the server is closed before the
// condition holds.
var ErrClosed = errors.New("fakekinesis: server closed")
