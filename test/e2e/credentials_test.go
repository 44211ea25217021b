package e2e

import (
	"strings"
	"testing"
	"time"

	"github.com/kinesis-kpl/fluent-bit-kinesis-kpl/test/fakests"
)

// Credentials that fail to refresh once: the plugin assumes a role through
// STS, the credentials lapse every few seconds, and one refresh fails. The
// records of that moment are retried, and the next refresh recovers
// without a restart: every record arrives once, and Kinesis sees requests
// signed with the credentials of the refreshes before and after the
// failure.
func TestCredentialsThatFailToRefreshOnceRecover(t *testing.T) {
	e := setup(t)
	srv := fakeKinesis(t, "logs", 4)
	sts := fakests.New()
	t.Cleanup(sts.Close)
	sts.KeyPerCall = true
	// The plugin refreshes 5 minutes before expiry: these credentials are
	// due for a refresh 3 s after they are handed out.
	sts.Lifetime = 5*time.Minute + 3*time.Second
	sts.Fail = map[int]bool{2: true}

	records := makeRecords(scaled(t, 12000), 50, "creds")
	f := run{
		outputs: faultOutput(srv.URL(), "role_arn arn:aws:iam::123456789012:role/shipper",
			"sts_endpoint "+sts.URL, "workers 1"),
		records: records,
		pace:    12 * time.Second,
		keyed:   true,
		within:  time.Minute,
	}.do(t, e, srv)
	f.exactlyOnce(t, false)

	calls := sts.Calls()
	signed := srv.Stats().SignedBy
	t.Logf("STS calls %d (call 2 failed); Kinesis requests by key: %v", len(calls), signed)
	if len(calls) < 3 {
		t.Fatalf("STS was called %d times; the failed refresh was never retried", len(calls))
	}
	if signed[sts.KeyFor(1)] == 0 || signed[sts.KeyFor(3)] == 0 {
		t.Errorf("Kinesis requests were not signed with the credentials from before (%s) and after (%s) the failed refresh: %v",
			sts.KeyFor(1), sts.KeyFor(3), signed)
	}
	for key := range signed {
		if key != "" && !strings.HasPrefix(key, sts.KeyID) {
			t.Errorf("a Kinesis request was signed with %q, not with assumed-role credentials", key)
		}
	}
}
