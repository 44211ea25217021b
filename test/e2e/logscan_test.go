package e2e

import (
	"fmt"
	"regexp"
	"strings"
	"testing"
)

// Credentials every Fluent Bit of these tests gets. Endpoints here never
// check signatures; the values are distinctive so that a log that shows
// them is caught.
const (
	testAccessKeyID     = "AKIAE2EFAKEKEY7Q3XZP"
	testSecretAccessKey = "e2eFakeSecret/neverLogged+Q29uZmlkZW50aWFs"
)

// testCredentials is the environment that gives every process a test
// starts these credentials, whatever else its caller sets.
var testCredentials = []string{"AWS_ACCESS_KEY_ID=" + testAccessKeyID, "AWS_SECRET_ACCESS_KEY=" + testSecretAccessKey}

// leaks are what a Fluent Bit log must never show: credentials, and the
// partition keys and data of the records the tests make (makeRecords).
// Record data is recognised by its field names, its text and its
// sequence values, in JSON or escaped form.
var leaks = []struct {
	what string
	re   *regexp.Regexp
}{
	{"the access key id", regexp.MustCompile(regexp.QuoteMeta(testAccessKeyID))},
	{"the secret access key", regexp.MustCompile(regexp.QuoteMeta(testSecretAccessKey[:16]))},
	{"assumed-role credentials", regexp.MustCompile(`ASIAFROMFAKESTS|secret-from-fake-sts|session-token-from-fake-sts`)},
	{"a partition key", regexp.MustCompile(`\bkey-\d{2,}\b`)},
	{"record data", regexp.MustCompile(`"(seq|pk|msg|nest)"\s*:|\bhandled in \d+ms|café|caf\\u00e9|caf\\xc3\\xa9`)},
	{"a record's sequence value", regexp.MustCompile(`\b[a-z]+-\d{6}\b`)},
}

// scanLog returns where log shows any of leaks, one line per finding,
// naming the line and the kind of leak but not the text.
func scanLog(log string) []string {
	var found []string
	for i, line := range strings.Split(log, "\n") {
		for _, l := range leaks {
			if l.re.MatchString(line) {
				found = append(found, fmt.Sprintf("line %d shows %s", i+1, l.what))
			}
		}
	}
	return found
}

// checkLogClean fails the test if the process's log shows record data,
// partition keys or credentials.
func checkLogClean(t *testing.T, p *proc) {
	t.Helper()
	log := p.output()
	if found := scanLog(log); len(found) > 0 {
		const shown = 20
		more := ""
		if len(found) > shown {
			found, more = found[:shown], fmt.Sprintf("\n... and %d more", len(found)-shown)
		}
		t.Errorf("the log of %s (%d bytes) leaks:\n%s%s", p.name, len(log), strings.Join(found, "\n"), more)
	}
}

func TestScanLog(t *testing.T) {
	record := string(makeRecords(1, 1, "leak")[0])
	tests := []struct {
		name string
		line string
		want string // the kind found, "" for none
	}{
		{"a plugin line", "[2026/12/03 10:56:49] [ warn] [output:kinesis_kpl:kinesis_kpl.0] 12 records throttled (ProvisionedThroughputExceededException); the chunk will be retried", ""},
		{"an engine line", "[2026/12/03 10:56:49] [ info] [engine] started (pid=4242)", ""},
		{"a chunk name", "[2026/12/03 10:56:49] [debug] [input chunk] update output instances with new chunk size diff=4096 4242-1764758209.123456789.flb", ""},
		{"the access key", "signing with " + testAccessKeyID, "the access key id"},
		{"the secret", "secret=" + testSecretAccessKey, "the secret access key"},
		{"a partition key", "partition key key-07 is too long", "a partition key"},
		{"a whole record", "bad record " + record, "record data"},
		{"an escaped record", fmt.Sprintf("bad record %q", record), "record data"},
		{"a sequence value", "dropped leak-000000", "a record's sequence value"},
		{"the message alone", "message: request 12 handled in 12ms", "record data"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			found := scanLog("first line\n" + tt.line + "\nlast line")
			switch {
			case tt.want == "" && len(found) > 0:
				t.Errorf("found %v in a clean line", found)
			case tt.want != "" && !strings.Contains(strings.Join(found, "\n"), "line 2 shows "+tt.want):
				t.Errorf("found %v, want line 2 showing %s", found, tt.want)
			}
		})
	}
}
