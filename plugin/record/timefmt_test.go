package record

import (
	"strconv"
	"strings"
	"testing"
	"time"
)

func TestTimeFormatDirectives(t *testing.T) {
	sec, nsec := eventTime.Unix(), int64(eventTime.Nanosecond())
	tests := map[string]string{
		"%a": "Thu", "%A": "Thursday", "%b": "Mar", "%B": "March", "%c": "Thu Mar  5 07:08:09 2026",
		"%C": "20", "%d": "05", "%D": "03/05/26", "%e": " 5", "%F": "2026-03-05", "%G": "2026", "%g": "26",
		"%h": "Mar", "%H": "07", "%I": "07", "%j": "064", "%k": " 7", "%l": " 7", "%m": "03", "%M": "08",
		"%n": "\n", "%p": "AM", "%r": "07:08:09 AM", "%R": "07:08", "%s": strconv.FormatInt(sec, 10),
		"%S": "09", "%t": "\t", "%T": "07:08:09", "%u": "4", "%U": "09", "%V": "10", "%v": " 5-Mar-2026",
		"%w": "4", "%W": "09", "%x": "03/05/26", "%X": "07:08:09", "%y": "26", "%Y": "2026", "%z": "+0000",
		"%Z": "UTC", "%%": "%", "%L": "123", "%f": "123456", "%3N": "123", "%6N": "123456", "%9N": "123456789",
		"":                             "",
		"plain":                        "plain",
		DefaultTimeFormat:              "2026-03-05T07:08:09",
		"%Y-%m-%dT%H:%M:%S.%LZ":        "2026-03-05T07:08:09.123Z",
		"%Y-%m-%dT%H:%M:%S.%9N%z":      "2026-03-05T07:08:09.123456789+0000",
		"100%% at %3N, %6N and %9N ms": "100% at 123, 123456 and 123456789 ms",
		"%N %4N %5":                    "",
	}
	for format, want := range tests {
		f, err := ParseTimeFormat(format)
		if want == "" && format != "" {
			if err == nil {
				t.Errorf("ParseTimeFormat(%q) succeeded, want an error", format)
			}
			continue
		}
		if err != nil {
			t.Errorf("ParseTimeFormat(%q): %v", format, err)
			continue
		}
		if got := string(f.Append([]byte("x"), sec, nsec)); got != "x"+want {
			t.Errorf("%q gives %q, want %q", format, got[1:], want)
		}
	}
}

// Hours, week numbers and padding at the edges of their ranges.
func TestTimeFormatEdges(t *testing.T) {
	f, err := ParseTimeFormat("%I %l %p|%U %W %V %G|%e %j|%L %9N")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		t    time.Time
		want string
	}{
		{time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC), "12 12 AM|00 00 01 2026| 1 001|000 000000000"},
		{time.Date(2026, 1, 4, 12, 0, 0, 999_999_999, time.UTC), "12 12 PM|01 00 01 2026| 4 004|999 999999999"},
		{time.Date(2026, 1, 5, 13, 0, 0, 1, time.UTC), "01  1 PM|01 01 02 2026| 5 005|000 000000001"},
		{time.Date(2027, 1, 1, 23, 0, 0, 0, time.UTC), "11 11 PM|00 00 53 2026| 1 001|000 000000000"},
		{time.Date(2024, 12, 31, 9, 0, 0, 0, time.UTC), "09  9 AM|52 53 01 2025|31 366|000 000000000"},
		{time.Unix(0, 0).UTC(), "12 12 AM|00 00 01 1970| 1 001|000 000000000"},
	}
	for _, tt := range tests {
		if got := string(f.Append(nil, tt.t.Unix(), int64(tt.t.Nanosecond()))); got != tt.want {
			t.Errorf("%s: got %q, want %q", tt.t, got, tt.want)
		}
	}
}

func TestTimeFormatErrors(t *testing.T) {
	for _, s := range []string{"%", "abc%", "%Q", "%E", "%1N", "%3", "%é"} {
		if _, err := ParseTimeFormat(s); err == nil {
			t.Errorf("ParseTimeFormat(%q) succeeded, want an error", s)
		}
	}
}

func TestTimeFormatAllocatesNothing(t *testing.T) {
	f, err := ParseTimeFormat("%c %j %U %V %9N %s")
	if err != nil {
		t.Fatal(err)
	}
	dst := make([]byte, 0, 128)
	if n := testing.AllocsPerRun(100, func() { dst = f.Append(dst[:0], eventTime.Unix(), 5) }); n != 0 {
		t.Errorf("Append allocated %v times, want 0", n)
	}
}

func FuzzParseTimeFormat(f *testing.F) {
	for _, s := range []string{DefaultTimeFormat, "%L %f %3N %6N %9N", "%c%%", "%", "%3", "%9Nx"} {
		f.Add(s, int64(1772694489), int64(123456789))
	}
	f.Fuzz(func(t *testing.T, s string, sec, nsec int64) {
		tf, err := ParseTimeFormat(s)
		if err != nil {
			return
		}
		sec &= 1<<40 - 1 // event times: non-negative, far from overflow
		nsec = (nsec & (1<<62 - 1)) % 1e9
		got := string(tf.Append(nil, sec, nsec))
		if !strings.Contains(s, "%") && got != s {
			t.Fatalf("format %q without directives gives %q", s, got)
		}
	})
}
