package e2e

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

// Fluent Bit keeps an [OUTPUT] section's log_level to itself, so the plugin
// reads its own level from plugin_log_level, or else FLB_LOG_LEVEL.
func TestPluginLogLevel(t *testing.T) {
	e := setup(t)
	srv := fakeKinesis(t, "logs", 1)
	cases := []struct {
		name    string
		env     []string
		section string
		want    []string // log fragments that must appear
		absent  []string // and must not
	}{
		{"plugin_log_level debug", nil, "plugin_log_level debug",
			[]string{"[debug] [output:kinesis_kpl:kinesis_kpl.0] configured", "credentials=\"default chain\""}, nil},
		{"plugin_log_level error beats Fluent Bit's log_level debug", nil, "plugin_log_level error\n    log_level debug",
			nil, []string{"[output:kinesis_kpl:kinesis_kpl.0] started", "] configured"}},
		{"FLB_LOG_LEVEL", []string{"FLB_LOG_LEVEL=debug"}, "",
			[]string{"[debug] [output:kinesis_kpl:kinesis_kpl.0] configured"}, nil},
		{"default info", nil, "",
			[]string{"[ info] [output:kinesis_kpl:kinesis_kpl.0] started"}, []string{"] configured"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			port := freePort(t)
			var extra []string
			if tc.section != "" {
				extra = append(extra, tc.section)
			}
			service := fmt.Sprintf(pipelineConfig, port)
			if len(tc.env) > 0 {
				// Fluent Bit 2.x and later read FLB_LOG_LEVEL themselves and
				// then refuse a Log_Level line in [SERVICE] (5.1.1 aborts
				// with "could not configure service property 'log_level'").
				service = strings.Replace(service, "    Log_Level       info\n", "", 1)
			}
			config := service + output("*", "logs", srv.URL(), extra...)
			fb := fluentBit(t, e, config, tc.env...)
			waitHTTP(t, fb, port)
			// One record through the output, so that every start-up line is out.
			before := len(fakeRecords(t, srv, "logs"))
			post(t, port, "app", makeRecords(1, 1, tc.name))
			pollUntil(t, fb, 30*time.Second, func() bool { return len(fakeRecords(t, srv, "logs")) > before })
			fb.shutdown(t)
			out := fb.output()
			for _, w := range tc.want {
				if !strings.Contains(out, w) {
					t.Errorf("the log lacks %q:\n%s", w, out)
				}
			}
			for _, a := range tc.absent {
				if strings.Contains(out, a) {
					t.Errorf("the log holds %q:\n%s", a, out)
				}
			}
		})
	}
}
