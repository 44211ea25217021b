package fakekinesis

import (
	"bytes"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log"
	"mime"
	"net"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"
)

// Default limits: those of Kinesis today. Emulators and older documentation
// use a 5 MiB request limit; WithMaxRequestBytes sets it.
const (
	DefaultMaxRequestBytes = 10 << 20
	DefaultMaxRecordBytes  = 1 << 20
)

// Server is a fake Kinesis endpoint. All methods are safe for concurrent use.
type Server struct {
	url             string
	http            *http.Server
	served          chan struct{} // closed when the serve loop has returned
	maxRequestBytes int
	maxRecordBytes  int
	clock           func() time.Time
	indefinite      bool // CBOR answers with indefinite lengths
	listenAddr      string
	tlsConfig       *tls.Config // serve HTTPS; nil: plain HTTP

	takeMu    sync.Mutex // serialises TakeUserRecords
	mu        sync.Mutex
	closed    bool
	done      chan struct{} // closed by Close; releases held requests
	handlers  sync.WaitGroup
	streams   map[string]*stream
	requestID uint64
	faults    faultState
	stats     Stats
	// statsChanged is closed (and cleared) at the next change of stats; it
	// exists only while someone waits in WaitFor.
	statsChanged chan struct{}
}

// Option configures a Server.
type Option func(*Server)

// WithMaxRequestBytes sets the PutRecords request limit: the sum of data
// and partition key bytes over its entries (10 MiB by default, like Kinesis;
// 5 MiB mimics emulators).
func WithMaxRequestBytes(n int) Option { return func(s *Server) { s.maxRequestBytes = n } }

// WithMaxRecordBytes sets the record limit (data plus partition key bytes)
// of streams created by CreateStream (1 MiB by default, like Kinesis).
// CreateStream over the wire may set its own with MaxRecordSizeInKiB.
func WithMaxRecordBytes(n int) Option { return func(s *Server) { s.maxRecordBytes = n } }

// WithClock gives the server a clock other than time.Now, for tests that
// move time by hand: ShardLimit buckets refill and Outage periods turn by
// it. It must be safe for concurrent use and never go backwards. Delay is
// timed by the real clock all the same.
func WithClock(now func() time.Time) Option { return func(s *Server) { s.clock = now } }

// WithTLS serves HTTPS with cert on addr ("127.0.0.1:443" for clients
// that dial only 443) instead of plain HTTP on a free port; URL then
// starts with https. The benchmarks use it, as clients reach Kinesis.
func WithTLS(addr string, cert tls.Certificate) Option {
	return func(s *Server) {
		s.listenAddr = addr
		s.tlsConfig = &tls.Config{Certificates: []tls.Certificate{cert}, NextProtos: []string{"http/1.1"}}
	}
}

// New starts a Server on a free port of 127.0.0.1 (or as WithTLS says).
// Close it when done.
func New(opts ...Option) (*Server, error) {
	s, err := newUnstarted(opts...)
	if err != nil {
		return nil, err
	}
	scheme, ln := "http://", net.Listener(nil)
	if s.tlsConfig != nil {
		scheme = "https://"
		ln, err = tls.Listen("tcp", s.listenAddr, s.tlsConfig)
	} else {
		ln, err = net.Listen("tcp", "127.0.0.1:0")
	}
	if err != nil {
		return nil, fmt.Errorf("fakekinesis: listen: %w", err)
	}
	s.url = scheme + ln.Addr().String()
	go func() {
		defer close(s.served)
		_ = s.http.Serve(ln) // returns http.ErrServerClosed after Close
	}()
	return s, nil
}

// newUnstarted returns a configured Server that listens nowhere yet.
func newUnstarted(opts ...Option) (*Server, error) {
	s := &Server{
		maxRequestBytes: DefaultMaxRequestBytes,
		maxRecordBytes:  DefaultMaxRecordBytes,
		served:          make(chan struct{}),
		done:            make(chan struct{}),
		streams:         map[string]*stream{},
		stats:           Stats{Operations: map[string]int{}, SignedBy: map[string]int{}},
		clock:           time.Now,
	}
	for _, o := range opts {
		o(s)
	}
	if s.maxRequestBytes < 1 {
		return nil, fmt.Errorf("%w: max request bytes must be positive, got %d", ErrInvalidOption, s.maxRequestBytes)
	}
	if s.clock == nil {
		return nil, fmt.Errorf("%w: the clock must not be nil", ErrInvalidOption)
	}
	if s.maxRecordBytes < 1 {
		return nil, fmt.Errorf("%w: max record bytes must be positive, got %d", ErrInvalidOption, s.maxRecordBytes)
	}
	s.faults.since = s.now()
	s.http = &http.Server{
		Handler:           http.HandlerFunc(s.serveHTTP),
		ReadHeaderTimeout: 30 * time.Second,
		// net/http's own log lines would only report faults we inject.
		ErrorLog: log.New(io.Discard, "", 0),
	}
	return s, nil
}

// URL returns the endpoint ("http://127.0.0.1:port") to give a client as
// its BaseEndpoint.
func (s *Server) URL() string { return s.url }

// Close stops the server: it closes the listener and every connection,
// releases requests held by Delay or Hang without an answer, and returns
// once every handler has returned. What was recorded stays readable.
func (s *Server) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	close(s.done)
	s.notifyLocked()
	s.mu.Unlock()

	err := s.http.Close()
	if s.url != "" { // started by New
		<-s.served
	}
	s.handlers.Wait()
	if errors.Is(err, http.ErrServerClosed) {
		err = nil
	}
	return err
}

func (s *Server) now() time.Time { return s.clock() }

// enter registers a running handler, or refuses once Close has begun, so
// that Close can wait for every handler.
func (s *Server) enter() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return false
	}
	s.handlers.Add(1)
	return true
}

// Operations the server implements.
var operations = map[string]func(*Server, *request){
	"CreateStream":          (*Server).createStream,
	"DescribeStreamSummary": (*Server).describeStreamSummary,
	"ListShards":            (*Server).listShards,
	"PutRecords":            (*Server).putRecords,
	"PutRecord":             (*Server).putRecord,
}

// request is one call whose operation is known and whose body was read.
type request struct {
	w    http.ResponseWriter
	r    *http.Request
	body []byte
	wire wire // the request's format, and its answer's
}

func (s *Server) serveHTTP(w http.ResponseWriter, r *http.Request) {
	if !s.enter() {
		dropConnection(w)
		return
	}
	defer s.handlers.Done()

	s.mu.Lock()
	s.requestID++
	id := fmt.Sprintf("%08x-0000-4000-8000-%012x", s.requestID, s.requestID) // UUID-shaped, unique per server
	s.mu.Unlock()
	h := w.Header()
	h.Set("X-Amzn-RequestId", id)
	h.Set("X-Amz-Id-2", id)

	// A body larger than any valid request (base64 of the request limit plus
	// room for keys and JSON) is cut off and answered as malformed.
	limit := int64(s.maxRequestBytes)/3*4 + 4<<20
	buf := bodyBuffers.Get().(*[]byte)
	defer bodyBuffers.Put(buf)
	body, readErr := readBody(http.MaxBytesReader(w, r.Body, limit), r.ContentLength, limit, *buf)
	*buf = body[:0]

	op, known := "", false
	if target, ok := strings.CutPrefix(r.Header.Get("X-Amz-Target"), targetPrefix); ok {
		_, known = operations[target]
		op = target
	}
	mediaType, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	f, spoken := s.wireOf(mediaType)
	s.mu.Lock()
	s.stats.Requests++
	if f.cbor {
		s.stats.CBORRequests++
	}
	s.stats.SignedBy[AccessKeyID(r.Header.Get("Authorization"))]++
	if known {
		s.stats.Operations[op]++
	} else {
		s.stats.Operations[unknownOperation]++
	}
	down, reset := s.outageLocked()
	if down {
		s.stats.RequestsInOutage++
	}
	s.notifyLocked()
	s.mu.Unlock()

	switch {
	case down && reset:
		resetConnection(w)
		return
	case down:
		f.writeError(w, serviceUnavailable)
		return
	}

	var bad *apiError
	switch {
	case r.Method != http.MethodPost || !known:
		bad = &apiError{http.StatusBadRequest, codeUnknownOperation, ""}
	case !spoken:
		bad = &apiError{http.StatusBadRequest, codeSerialization, "Content-Type must be " + contentType + " or " + contentTypeCBOR + "."}
	case readErr != nil:
		bad = &apiError{http.StatusBadRequest, codeSerialization, "Request body could not be read in full."}
	}
	if bad != nil {
		s.reject(w, f, bad)
		return
	}
	operations[op](s, &request{w: w, r: r, body: body, wire: f})
}

// unknownOperation is the Stats.Operations key for requests whose target is
// missing or names an operation the server does not implement.
const unknownOperation = "Unknown"

// dropConnection closes the client's connection without an answer.
func dropConnection(w http.ResponseWriter) {
	if hj, ok := w.(http.Hijacker); ok {
		if conn, _, err := hj.Hijack(); err == nil {
			_ = conn.Close()
			return
		}
	}
	// Not reachable over HTTP/1.1; net/http turns this into a closed
	// connection and recovers it.
	panic(http.ErrAbortHandler)
}

// resetConnection ends the client's connection with a TCP reset (RST)
// rather than an orderly close, as a failing load balancer does: the client
// reads ECONNRESET.
func resetConnection(w http.ResponseWriter) {
	if hj, ok := w.(http.Hijacker); ok {
		if conn, _, err := hj.Hijack(); err == nil {
			if tcp, ok := conn.(*net.TCPConn); ok {
				_ = tcp.SetLinger(0) // Close then sends RST and drops unsent data
			}
			_ = conn.Close()
			return
		}
	}
	panic(http.ErrAbortHandler)
}

// reject answers with an error that the request itself caused (not an
// injected fault) and counts it in Stats.RequestsRejected.
func (s *Server) reject(w http.ResponseWriter, f wire, e *apiError) {
	s.mu.Lock()
	s.stats.RequestsRejected++
	s.notifyLocked()
	s.mu.Unlock()
	f.writeError(w, e)
}

// AccessKeyID returns the access key id of a SigV4 Authorization header,
// or "" for an unsigned request.
func AccessKeyID(auth string) string {
	_, rest, ok := strings.Cut(auth, "Credential=")
	if !ok {
		return ""
	}
	key, _, _ := strings.Cut(rest, "/")
	return key
}

// bodyBuffers keeps request bodies' buffers for the next request: every
// decoder copies what it keeps, and a fresh buffer per request had the
// fake spend a sixth of its time faulting in new pages.
var bodyBuffers = sync.Pool{New: func() any { return new([]byte) }}

// readBody reads a request body whole into buf (grown as needed), at once
// when it declares a length within limit (net/http stops reading there):
// growing a step at a time copies a large body several times.
func readBody(r io.Reader, declared, limit int64, buf []byte) ([]byte, error) {
	if declared <= 0 || declared > limit {
		b := bytes.NewBuffer(buf[:0])
		_, err := b.ReadFrom(r)
		return b.Bytes(), err
	}
	b := slices.Grow(buf[:0], int(declared))[:declared]
	n, err := io.ReadFull(r, b)
	return b[:n], err
}
