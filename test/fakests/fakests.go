// Package fakests is a fake AWS STS for tests, on 127.0.0.1: it answers
// AssumeRole and AssumeRoleWithWebIdentity with credentials of its own,
// records what each call carried, and fails the calls a test names. It
// checks no signature.
package fakests

import (
	"encoding/xml"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sync"
	"time"

	"github.com/kinesis-kpl/fluent-bit-kinesis-kpl/test/fakekinesis"
)

// Server is a running fake STS. Set its fields before the first call.
type Server struct {
	*httptest.Server

	// KeyID is the access key id of the credentials it hands out; with
	// KeyPerCall, call n (from 1) hands out KeyID followed by n.
	KeyID        string
	KeyPerCall   bool
	Secret       string
	SessionToken string
	// Lifetime is how long the credentials handed out are valid.
	Lifetime time.Duration
	// Fail names calls (from 1) answered with HTTP 500 instead.
	Fail map[int]bool

	mu    sync.Mutex
	calls []url.Values
}

// New starts a fake STS handing out one-hour credentials; Close it.
func New() *Server {
	s := &Server{KeyID: "ASIAFROMFAKESTS", Secret: "secret-from-fake-sts", SessionToken: "session-token-from-fake-sts", Lifetime: time.Hour}
	s.Server = httptest.NewServer(http.HandlerFunc(s.serve))
	return s
}

// Calls returns the form of each call so far, with "auth-key" added: the
// access key id the call was signed with.
func (s *Server) Calls() []url.Values {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]url.Values(nil), s.calls...)
}

// KeyFor is the access key id call n hands out.
func (s *Server) KeyFor(n int) string {
	if s.KeyPerCall {
		return fmt.Sprint(s.KeyID, n)
	}
	return s.KeyID
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	form := r.PostForm
	form.Set("auth-key", fakekinesis.AccessKeyID(r.Header.Get("Authorization")))
	s.mu.Lock()
	s.calls = append(s.calls, form)
	n := len(s.calls)
	s.mu.Unlock()
	action := form.Get("Action")
	if action != "AssumeRole" && action != "AssumeRoleWithWebIdentity" {
		http.Error(w, "unknown action", http.StatusBadRequest)
		return
	}
	if s.Fail[n] {
		w.Header().Set("Content-Type", "text/xml")
		w.WriteHeader(http.StatusInternalServerError)
		fmt.Fprint(w, `<ErrorResponse><Error><Type>Receiver</Type><Code>InternalFailure</Code><Message>injected</Message></Error></ErrorResponse>`)
		return
	}
	type creds struct {
		AccessKeyID     string `xml:"AccessKeyId"`
		SecretAccessKey string
		SessionToken    string
		Expiration      string
	}
	out := struct {
		XMLName xml.Name
		Xmlns   string `xml:"xmlns,attr"`
		Result  struct {
			XMLName     xml.Name
			Credentials creds
		}
	}{XMLName: xml.Name{Local: action + "Response"}, Xmlns: "https://sts.amazonaws.com/doc/2011-06-15/"}
	out.Result.XMLName = xml.Name{Local: action + "Result"}
	out.Result.Credentials = creds{s.KeyFor(n), s.Secret, s.SessionToken, time.Now().Add(s.Lifetime).UTC().Format(time.RFC3339)}
	b, _ := xml.Marshal(out)
	w.Header().Set("Content-Type", "text/xml")
	_, _ = w.Write(b)
}
