package bench

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"sync"
	"time"
)

// Certificate is a self-signed server certificate for 127.0.0.1, made at
// run time. CAFile holds it in PEM: give it to a client as its only trust
// anchor (Fluent Bit's tls.ca_file, Go's SSL_CERT_FILE).
type Certificate struct {
	CAFile string
	TLS    tls.Certificate
}

// NewCertificate writes a fresh self-signed certificate valid for the IP
// 127.0.0.1 (and the name localhost) into dir as ca.pem.
func NewCertificate(dir string) (*Certificate, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 62))
	if err != nil {
		return nil, err
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: "127.0.0.1"},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(24 * time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true, // its own trust anchor
		IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1)},
		// OpenSSL clients given a host name of "127.0.0.1" may match it
		// against DNS names rather than IP addresses.
		DNSNames: []string{"localhost", "127.0.0.1"},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, err
	}
	caFile := filepath.Join(dir, "ca.pem")
	if err := os.WriteFile(caFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644); err != nil {
		return nil, err
	}
	return &Certificate{CAFile: caFile, TLS: tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}}, nil
}

// Front terminates TLS on a listener and splices each connection's
// plaintext to a backend (the fake's plain HTTP address), so the fake
// serves HTTPS without knowing it.
type Front struct {
	ln      net.Listener
	backend string
	wg      sync.WaitGroup
	mu      sync.Mutex
	conns   map[net.Conn]struct{}
	closed  bool
}

// NewFront listens on addr ("127.0.0.1:0", or "127.0.0.1:443" for clients
// that dial only 443) with cert, forwarding to backend ("127.0.0.1:port").
func NewFront(addr, backend string, cert tls.Certificate) (*Front, error) {
	ln, err := tls.Listen("tcp", addr, &tls.Config{Certificates: []tls.Certificate{cert}, NextProtos: []string{"http/1.1"}})
	if err != nil {
		return nil, fmt.Errorf("TLS front: listen on %s: %w", addr, err)
	}
	f := &Front{ln: ln, backend: backend, conns: map[net.Conn]struct{}{}}
	f.wg.Add(1)
	go f.serve()
	return f, nil
}

// Addr is the address the front listens on.
func (f *Front) Addr() *net.TCPAddr { return f.ln.Addr().(*net.TCPAddr) }

func (f *Front) serve() {
	defer f.wg.Done()
	for {
		c, err := f.ln.Accept()
		if err != nil {
			return // closed
		}
		if !f.track(c) {
			c.Close()
			return
		}
		f.wg.Add(1)
		go func() {
			defer f.wg.Done()
			defer f.untrack(c)
			f.splice(c)
		}()
	}
}

func (f *Front) track(c net.Conn) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.closed {
		return false
	}
	f.conns[c] = struct{}{}
	return true
}

func (f *Front) untrack(c net.Conn) {
	f.mu.Lock()
	delete(f.conns, c)
	f.mu.Unlock()
	c.Close()
}

// splice copies both ways until either side closes.
func (f *Front) splice(c net.Conn) {
	b, err := net.Dial("tcp", f.backend)
	if err != nil {
		return
	}
	f.mu.Lock()
	if f.closed {
		f.mu.Unlock()
		b.Close()
		return
	}
	f.conns[b] = struct{}{}
	f.mu.Unlock()
	defer f.untrack(b)
	done := make(chan struct{}, 2)
	pipe := func(dst, src net.Conn) {
		_, _ = io.Copy(dst, src)
		// Whichever side stops first ends the pair.
		dst.Close()
		src.Close()
		done <- struct{}{}
	}
	go pipe(b, c)
	pipe(c, b)
	<-done
}

// Close stops listening, closes every connection and waits for the
// splicing goroutines.
func (f *Front) Close() error {
	f.mu.Lock()
	f.closed = true
	err := f.ln.Close()
	for c := range f.conns {
		c.Close()
	}
	f.mu.Unlock()
	f.wg.Wait()
	if errors.Is(err, net.ErrClosed) {
		err = nil
	}
	return err
}
