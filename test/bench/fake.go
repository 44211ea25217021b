package bench

import (
	"net/url"
	"strconv"

	"github.com/kinesis-kpl/fluent-bit-kinesis-kpl/test/fakekinesis"
)

// Fake is the project's fake Kinesis, serving HTTPS.
type Fake struct {
	*fakekinesis.Server
	port int
}

// StartFake starts a fake with one stream of shards shards, served over
// TLS with cert on addr.
func StartFake(addr string, cert *Certificate, stream string, shards int, opts ...fakekinesis.Option) (*Fake, error) {
	srv, err := fakekinesis.New(append(opts, fakekinesis.WithTLS(addr, cert.TLS))...)
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
	port, err := strconv.Atoi(u.Port())
	if err != nil {
		srv.Close()
		return nil, err
	}
	return &Fake{Server: srv, port: port}, nil
}

// Port is the TLS port.
func (f *Fake) Port() int { return f.port }
