package conf

import (
	"errors"
	"os"
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestLoadDefaults(t *testing.T) {
	c, err := Load(MapGetter{"Stream": "logs"})
	if err != nil {
		t.Fatal(err)
	}
	want := Config{
		Stream:               "logs",
		FlushTimeout:         4 * time.Second,
		RecordTTL:            30 * time.Second,
		ShardRefreshInterval: time.Minute,
		RetryLedger:          true,
		ExitTimeout:          5 * time.Second,
	}
	if !reflect.DeepEqual(c, want) {
		t.Fatalf("got %+v\nwant %+v", c, want)
	}
}

func TestLoadAll(t *testing.T) {
	c, err := Load(MapGetter{
		"stream":                 "app-logs.v1",
		"region":                 "eu-west-1",
		"endpoint":               "http://127.0.0.1:4567",
		"partition_key":          "$kubernetes['pod_name']",
		"flush_timeout":          "2.5",
		"record_ttl":             "1m",
		"shard_refresh_interval": "0",
		"retry_ledger":           "Off",
		"exit_timeout":           "250ms",
	})
	if err != nil {
		t.Fatal(err)
	}
	want := Config{
		Stream:       "app-logs.v1",
		Region:       "eu-west-1",
		Endpoint:     "http://127.0.0.1:4567",
		Insecure:     true,
		PartitionKey: []string{"kubernetes", "pod_name"},
		FlushTimeout: 2500 * time.Millisecond,
		RecordTTL:    time.Minute,
		ExitTimeout:  250 * time.Millisecond,
	}
	if !reflect.DeepEqual(c, want) {
		t.Fatalf("got %+v\nwant %+v", c, want)
	}
}

func TestLoadRejects(t *testing.T) {
	cases := []struct {
		name string
		opts MapGetter
		want []string // every fragment must appear in the error
	}{
		{"missing stream", MapGetter{}, []string{"stream: is required"}},
		{"bad stream", MapGetter{"stream": "a b"}, []string{"stream: must be"}},
		{"long stream", MapGetter{"stream": strings.Repeat("a", 129)}, []string{"stream: must be"}},
		{"bad region", MapGetter{"stream": "s", "region": "EU_WEST"}, []string{"region:"}},
		{"endpoint not url", MapGetter{"stream": "s", "endpoint": "localhost"}, []string{"endpoint:"}},
		{"endpoint scheme", MapGetter{"stream": "s", "endpoint": "ftp://h:1"}, []string{"endpoint: scheme"}},
		{"duration suffix", MapGetter{"stream": "s", "flush_timeout": "30sa"}, []string{"flush_timeout:", "not a duration"}},
		{"duration negative", MapGetter{"stream": "s", "record_ttl": "-5s"}, []string{"record_ttl:"}},
		{"duration too small", MapGetter{"stream": "s", "flush_timeout": "1ms"}, []string{"flush_timeout: 1ms is outside"}},
		{"bool typo", MapGetter{"stream": "s", "retry_ledger": "onn"}, []string{"retry_ledger:", "not a boolean"}},
		{"accessor unterminated", MapGetter{"stream": "s", "partition_key": "$a['b"}, []string{"partition_key:"}},
		{"empty dotted key", MapGetter{"stream": "s", "partition_key": "a..b"}, []string{"partition_key:"}},
		{"every problem listed", MapGetter{"region": "x y", "flush_timeout": "soon"},
			[]string{"stream: is required", "region:", "flush_timeout:"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Load(tc.opts)
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("err = %v, want ErrInvalid", err)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not mention %q", err, w)
				}
			}
		})
	}
}

func TestParseFieldPath(t *testing.T) {
	cases := map[string][]string{
		"pk":                           {"pk"},
		"kubernetes.pod_name":          {"kubernetes", "pod_name"},
		"$pk":                          {"pk"},
		"$kubernetes['pod_name']":      {"kubernetes", "pod_name"},
		`$k["labels"]['app.k8s/name']`: {"k", "labels", "app.k8s/name"},
	}
	for in, want := range cases {
		got, err := ParseFieldPath(in)
		if err != nil || !reflect.DeepEqual(got, want) {
			t.Errorf("ParseFieldPath(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, in := range []string{"$", "$['a']", "$a[b]", "$a['']", "$a['b']x", ".a", "a.", "\xff"} {
		if _, err := ParseFieldPath(in); err == nil {
			t.Errorf("ParseFieldPath(%q) succeeded, want an error", in)
		}
	}
}

func TestParseBoolStrict(t *testing.T) {
	for in, want := range map[string]bool{"on": true, "TRUE": true, "yes": true, "1": true, "off": false, "False": false, "no": false, "0": false} {
		got, err := ParseBool(in)
		if err != nil || got != want {
			t.Errorf("ParseBool(%q) = %v, %v", in, got, err)
		}
	}
	for _, in := range []string{"", "y", "enable", "2"} {
		if _, err := ParseBool(in); err == nil {
			t.Errorf("ParseBool(%q) succeeded", in)
		}
	}
}

func TestOptionsTableCoversDurations(t *testing.T) {
	names := map[string]bool{}
	for _, o := range Options {
		names[o.Name] = true
	}
	for name := range durationLimits {
		if !names[name] {
			t.Errorf("duration limit for %q, which is not an option", name)
		}
	}
}

// The README's options table must list every option with its default.
func TestReadmeListsEveryOption(t *testing.T) {
	readme, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range Options {
		row := "| `" + o.Name + "` | "
		if o.Default != "" {
			row += "`" + o.Default + "` |"
		}
		if !strings.Contains(string(readme), row) {
			t.Errorf("README.md has no row starting %q", row)
		}
	}
}
