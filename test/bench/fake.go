package bench

import (
	"errors"
	"net/url"
	"strconv"

	"github.com/kinesis-kpl/fluent-bit-kinesis-kpl/test/fakekinesis"
)

// Fake is the project's fake Kinesis behind a TLS front.
type Fake struct {
	*fakekinesis.Server
	front *Front
}

// StartFake starts a fake with one stream of shards shards, served over
// TLS with cert on addr.
func StartFake(addr string, cert *Certificate, stream string, shards int, opts ...fakekinesis.Option) (*Fake, error) {
	srv, err := fakekinesis.New(opts...)
	if err != nil {
		return nil, err
	}
	if err := srv.CreateStream(stream, shards); err != nil {
		srv.Close()
		return nil, err
	}
	u, err := url.Parse(srv.URL())
	if err != nil {
		srv.Close()
		return nil, err
	}
	front, err := NewFront(addr, u.Host, cert.TLS)
	if err != nil {
		srv.Close()
		return nil, err
	}
	return &Fake{Server: srv, front: front}, nil
}

// URL is the fake's https endpoint.
func (f *Fake) URL() string { return "https://127.0.0.1:" + strconv.Itoa(f.Port()) }

// Port is the TLS port.
func (f *Fake) Port() int { return f.front.Addr().Port }

// Close stops the front, then the fake.
func (f *Fake) Close() error {
	return errors.Join(f.front.Close(), f.Server.Close())
}
