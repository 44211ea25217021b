package producer

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

// writeLog records the sizes of the writes made to the connections a
// transport dials, and whether they were closed.
type writeLog struct {
	mu     sync.Mutex
	sizes  []int
	closed int
}

func (l *writeLog) dial(ctx context.Context, network, addr string) (net.Conn, error) {
	c, err := (&net.Dialer{}).DialContext(ctx, network, addr)
	if err != nil {
		return nil, err
	}
	return &loggedConn{Conn: c, log: l}, nil
}

// since returns the sizes written after the first n writes.
func (l *writeLog) since(n int) []int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]int(nil), l.sizes[n:]...)
}

func (l *writeLog) count() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.sizes)
}

type loggedConn struct {
	net.Conn
	log *writeLog
}

func (c *loggedConn) Write(p []byte) (int, error) {
	c.log.mu.Lock()
	c.log.sizes = append(c.log.sizes, len(p))
	c.log.mu.Unlock()
	return c.Conn.Write(p)
}

func (c *loggedConn) Close() error {
	c.log.mu.Lock()
	c.log.closed++
	c.log.mu.Unlock()
	return c.Conn.Close()
}

// hashServer answers a POST with the hex SHA-256 of its body, over TLS,
// offering HTTP/2 only when h2 is set.
func hashServer(t *testing.T, h2 bool) (*httptest.Server, *x509.CertPool) {
	t.Helper()
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := sha256.New()
		if _, err := io.Copy(h, r.Body); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		io.WriteString(w, hex.EncodeToString(h.Sum(nil)))
	}))
	srv.EnableHTTP2 = h2
	srv.StartTLS()
	t.Cleanup(srv.Close)
	roots := x509.NewCertPool()
	roots.AddCert(srv.Certificate())
	return srv, roots
}

func postHash(t *testing.T, client *http.Client, url string, body []byte) *http.Response {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatalf("POST: %v", err)
	}
	got, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(body)
	if want := hex.EncodeToString(sum[:]); string(got) != want {
		t.Fatalf("the server read a body of SHA-256 %.16s, want %.16s", got, want)
	}
	return resp
}

func TestCoalesceTLSWritesSendsBodiesInLargeWrites(t *testing.T) {
	srv, roots := hashServer(t, false)
	body := make([]byte, 1<<20)
	rand.Read(body)
	for _, coalesce := range []bool{false, true} {
		log := &writeLog{}
		tr := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: roots}, DialContext: log.dial, ForceAttemptHTTP2: true}
		if coalesce {
			CoalesceTLSWrites(tr)
		}
		client := &http.Client{Transport: tr}
		postHash(t, client, srv.URL, []byte("small")) // dials; the handshake's writes are not counted
		for i := range 3 {                            // on one kept-alive connection
			n := log.count()
			resp := postHash(t, client, srv.URL, body)
			if resp.ProtoMajor != 1 {
				t.Fatalf("protocol %s, want HTTP/1.1", resp.Proto)
			}
			sizes := log.since(n)
			if !coalesce {
				// Without: a write per TLS record, of at most 16 KiB.
				if len(sizes) < 64 {
					t.Fatalf("plain TLS sent 1 MiB in %d writes; the test needs it to take one per record", len(sizes))
				}
				continue
			}
			// The request's head and the body's first bytes in one write,
			// then writes of up to 128 KiB, the last one shorter.
			if len(sizes) > 12 {
				t.Errorf("request %d: 1 MiB sent in %d writes (%v), want at most 12", i, len(sizes), sizes)
			}
			for j, s := range sizes {
				if s > coalesceBytes {
					t.Errorf("request %d: write %d of %d bytes, over %d", i, j, s, coalesceBytes)
				}
			}
		}
		tr.CloseIdleConnections()
		if log.closed != 1 {
			t.Errorf("coalesce %v: %d connections closed, want the one dialed", coalesce, log.closed)
		}
	}
}

func TestCoalesceTLSWritesSpeaksHTTP1(t *testing.T) {
	srv, roots := hashServer(t, true)
	tr := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: roots}, ForceAttemptHTTP2: true}
	CoalesceTLSWrites(tr)
	defer tr.CloseIdleConnections()
	body := make([]byte, 300<<10)
	rand.Read(body)
	if resp := postHash(t, &http.Client{Transport: tr}, srv.URL, body); resp.ProtoMajor != 1 {
		t.Fatalf("protocol %s with a server that offers HTTP/2, want HTTP/1.1", resp.Proto)
	}
}

func TestCoalesceTLSWritesRefusesAnUntrustedServer(t *testing.T) {
	srv, _ := hashServer(t, false)
	log := &writeLog{}
	tr := &http.Transport{DialContext: log.dial, TLSHandshakeTimeout: 10 * time.Second}
	CoalesceTLSWrites(tr)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, srv.URL, strings.NewReader("x"))
	_, err := (&http.Client{Transport: tr}).Do(req)
	var unknown x509.UnknownAuthorityError
	if !errors.As(err, &unknown) {
		t.Fatalf("POST to a server of an unknown CA: %v, want x509.UnknownAuthorityError", err)
	}
	if log.closed != 1 {
		t.Errorf("%d connections closed after the failed handshake, want 1", log.closed)
	}
}

// failingBody gives n bytes, then an error.
type failingBody struct{ n int }

var errBodyBroke = errors.New("body broke")

func (b *failingBody) Read(p []byte) (int, error) {
	if b.n == 0 {
		return 0, errBodyBroke
	}
	k := min(len(p), b.n)
	clear(p[:k])
	b.n -= k
	return k, nil
}

func TestCoalesceTLSWritesAfterABodyFails(t *testing.T) {
	srv, roots := hashServer(t, false)
	tr := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: roots}}
	CoalesceTLSWrites(tr)
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, srv.URL, &failingBody{n: 200 << 10})
	req.ContentLength = 1 << 20
	if _, err := client.Do(req); !errors.Is(err, errBodyBroke) {
		t.Fatalf("POST of a body that fails: %v, want its error", err)
	}
	body := make([]byte, 500<<10)
	rand.Read(body)
	postHash(t, client, srv.URL, body)
}
