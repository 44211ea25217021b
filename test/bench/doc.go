// Package bench owns the performance measurements that need real parts:
// the fake Kinesis served over TLS with a certificate made at run time,
// the generated Kubernetes-shaped input (as JSON lines for Fluent Bit's
// tail input, and as Fluent Bit chunks for in-process benchmarks), and the
// side-by-side run of real Fluent Bit with its C output and this plugin
// (cmd/bench-e2e, `make bench-e2e`).
//
// It drives the fake only through package fakekinesis's exported API and
// has it serve HTTPS (fakekinesis.WithTLS), so that clients verify a real
// certificate chain exactly as they would against AWS. It must not import
// the producer: what it measures must not know how it is built.
package bench
