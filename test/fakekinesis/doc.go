// Package fakekinesis is an in-process fake of Amazon Kinesis Data Streams
// for tests: an HTTP server on 127.0.0.1 (HTTPS with WithTLS, as the
// benchmarks use it) that speaks the Kinesis JSON 1.1
// protocol to unmodified aws-sdk-go-v2 clients, and the same operations in
// CBOR (application/x-amz-cbor-1.1, as the AWS Java SDKs send them),
// answering each request in its own format, CBOR with definite or
// (WithIndefiniteLengths) indefinite lengths; it injects scripted faults
// (throttling, partial failures, Kinesis' per-shard write limits, periodic
// outages as 503s or connection resets, slow or lost responses, dropped
// connections, a PutRecords-only IAM policy, reshards on demand or after N
// records), and records exactly what it accepted. Time-driven faults run
// on a clock that tests may inject (WithClock).
//
// It owns the wire protocol of the operations a producer needs
// (CreateStream, DescribeStreamSummary, ListShards, PutRecords, PutRecord),
// the shard model (the 128-bit hash key space split evenly, as Kinesis does
// for a new stream), validation as Kinesis applies it, fault scripting, and
// the record of what arrived. It reads the KPL aggregate format only through
// package aggregation, to tell callers which user records reached which
// shard. It must not import the producer or the plugin: it stands in for
// AWS, and knowing the code under test would let the two agree on a mistake.
//
// Plain JSON PutRecords bodies and answers are read and written by hand
// (fastjson.go), held to encoding/json's results by fuzzing, so that the
// fake does not set the pace of a benchmark; everything else goes through
// encoding/json.
//
// Request signatures are accepted without being checked. Nothing is ever
// logged, and error messages never carry record data or partition keys.
package fakekinesis
