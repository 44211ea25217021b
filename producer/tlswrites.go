package producer

import (
	"context"
	"crypto/tls"
	"io"
	"net"
	"net/http"
	"sync"
	"time"
)

// Go's crypto/tls makes one write to its connection per TLS record, and a
// record holds at most 16 KiB: a 5 MiB PutRecords body leaves in some 320
// system calls. Each costs about as much as the copy it carries: over
// loopback, on a 2-core AMD EPYC VM, 256 MiB took 92-123 ms of CPU in
// writes of 16 KiB and 44-56 ms in writes of 64 KiB. A body copied in
// through ReadFrom (as net/http sends every HTTP/1.1 request body) leaves
// in writes of up to coalesceBytes here: its records gather below TLS, and
// go out when the next one would not fit, and all at the body's end.
// Everything else (headers, handshakes, alerts) is written as crypto/tls
// writes it.
const (
	coalesceBytes = 128 << 10
	// bodyCopyBytes is how much of a body ReadFrom hands crypto/tls at a
	// time: several records, so that TLS is called less often too.
	bodyCopyBytes = 64 << 10
)

// CoalesceTLSWrites makes t dial its TLS connections itself, so that the
// request bodies sent over them leave in writes of up to 128 KiB instead
// of one per TLS record, and makes it speak HTTP/1.1 only (net/http runs
// HTTP/2 only on a *tls.Conn it can see): one request at a time on each
// pooled connection, as MaxConnsPerHost counts them. Call it after t's
// other settings: its dialer (DialContext), TLS configuration and
// handshake timeout are taken as they are then, so a transport cloned
// from t later dials with them too. Requests through a proxy are dialed
// by net/http, as before.
//
// On a connection dialed so, a response's TLS field is nil: net/http
// fills it only for a *tls.Conn.
func CoalesceTLSWrites(t *http.Transport) {
	d := &coalescingDialer{dial: t.DialContext, handshakeTimeout: t.TLSHandshakeTimeout, tls: &tls.Config{}}
	if d.dial == nil {
		d.dial = (&net.Dialer{}).DialContext
	}
	if t.TLSClientConfig != nil {
		d.tls = t.TLSClientConfig.Clone()
	}
	d.tls.NextProtos = []string{"http/1.1"}
	t.ForceAttemptHTTP2 = false
	t.TLSNextProto = map[string]func(string, *tls.Conn) http.RoundTripper{} // net/http's way to turn HTTP/2 off
	t.DialTLSContext = d.dialContext
}

// coalescingDialer dials a TLS connection whose request bodies leave in
// large writes (bodyConn).
type coalescingDialer struct {
	dial             func(ctx context.Context, network, addr string) (net.Conn, error)
	tls              *tls.Config
	handshakeTimeout time.Duration
}

func (d *coalescingDialer) dialContext(ctx context.Context, network, addr string) (net.Conn, error) {
	raw, err := d.dial(ctx, network, addr)
	if err != nil {
		return nil, err
	}
	cfg := d.tls
	if cfg.ServerName == "" {
		host, _, err := net.SplitHostPort(addr)
		if err != nil {
			host = addr
		}
		cfg = cfg.Clone()
		cfg.ServerName = host
	}
	gather := &gatherConn{Conn: raw}
	tc := tls.Client(gather, cfg)
	hctx := ctx
	if d.handshakeTimeout > 0 {
		var cancel context.CancelFunc
		hctx, cancel = context.WithTimeout(ctx, d.handshakeTimeout)
		defer cancel()
	}
	if err := tc.HandshakeContext(hctx); err != nil {
		raw.Close()
		return nil, err
	}
	return &bodyConn{Conn: tc, gather: gather}, nil
}

// bodyConn is a TLS connection whose ReadFrom, which net/http calls with
// each request body, gathers the body's records into large writes.
type bodyConn struct {
	*tls.Conn
	gather *gatherConn
}

var bodyCopyBuffers = sync.Pool{New: func() any { return new([bodyCopyBytes]byte) }}

// ReadFrom writes what r gives until its end, gathering the TLS records
// that carry it, and writes out the last of them before it returns.
func (c *bodyConn) ReadFrom(r io.Reader) (n int64, err error) {
	c.gather.start()
	buf := bodyCopyBuffers.Get().(*[bodyCopyBytes]byte)
	n, err = io.CopyBuffer(plainWriter{c.Conn}, r, buf[:])
	bodyCopyBuffers.Put(buf)
	if ferr := c.gather.stop(); err == nil {
		err = ferr
	}
	return n, err
}

// plainWriter hides every method of its writer but Write, so that
// io.CopyBuffer uses the buffer it is given.
type plainWriter struct{ io.Writer }

// gatherConn is the connection under TLS. Between start and stop, its
// writes gather into one buffer, written out when the next would not fit
// and at stop; otherwise each write goes straight out. Its lock orders
// crypto/tls's writes (which may come from a Read, for an alert) with
// start and stop.
type gatherConn struct {
	net.Conn
	mu  sync.Mutex
	buf *[]byte // while gathering
	err error   // of a write out while gathering, returned by stop
}

var gatherBuffers = sync.Pool{New: func() any {
	b := make([]byte, 0, coalesceBytes)
	return &b
}}

func (c *gatherConn) start() {
	c.mu.Lock()
	c.buf = gatherBuffers.Get().(*[]byte)
	c.err = nil
	c.mu.Unlock()
}

// stop writes out what was gathered and writes straight out again.
func (c *gatherConn) stop() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	err := c.err
	if err == nil {
		err = c.flushLocked()
	}
	*c.buf = (*c.buf)[:0]
	gatherBuffers.Put(c.buf)
	c.buf = nil
	return err
}

func (c *gatherConn) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.buf == nil {
		return c.Conn.Write(p)
	}
	if c.err != nil {
		return 0, c.err
	}
	if len(*c.buf)+len(p) > cap(*c.buf) {
		if err := c.flushLocked(); err != nil {
			c.err = err
			return 0, err
		}
		if len(p) >= cap(*c.buf) {
			return c.Conn.Write(p)
		}
	}
	*c.buf = append(*c.buf, p...)
	return len(p), nil
}

func (c *gatherConn) flushLocked() error {
	if c.buf == nil || len(*c.buf) == 0 {
		return nil
	}
	_, err := c.Conn.Write(*c.buf)
	*c.buf = (*c.buf)[:0]
	return err
}
