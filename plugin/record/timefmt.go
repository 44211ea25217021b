package record

import (
	"fmt"
	"strconv"
	"time"
)

// DefaultTimeFormat is time_key_format's default, the AWS plugins' too.
const DefaultTimeFormat = "%Y-%m-%dT%H:%M:%S"

// TimeFormat is a parsed strftime format. It is immutable and safe for
// concurrent use; Append allocates nothing.
type TimeFormat struct {
	ops []timeOp
}

// timeOp is one step of a format: literal text, or a directive (a strftime
// conversion byte, or 'N' with digits for a fraction of a second).
type timeOp struct {
	text   string
	verb   byte
	digits int
}

// composite directives and what they stand for.
var composite = map[byte]string{
	'c': "%a %b %e %H:%M:%S %Y",
	'D': "%m/%d/%y",
	'F': "%Y-%m-%d",
	'r': "%I:%M:%S %p",
	'R': "%H:%M",
	'T': "%H:%M:%S",
	'v': "%e-%b-%Y",
	'x': "%m/%d/%y",
	'X': "%H:%M:%S",
	'h': "%b",
	'n': "\n",
	't': "\t",
}

// simple directives, written by appendVerb.
const simpleVerbs = "aAbBCdeGgHIjklmMpsSuUVwWyYzZ"

// ParseTimeFormat parses a strftime format as the package comment describes.
// An unknown directive or a lone '%' at the end is an error.
func ParseTimeFormat(s string) (*TimeFormat, error) {
	f := &TimeFormat{}
	if err := f.parse(s, s); err != nil {
		return nil, err
	}
	return f, nil
}

func (f *TimeFormat) parse(s, whole string) error {
	lit := 0 // s[lit:i] is pending literal text
	for i := 0; i < len(s); {
		if s[i] != '%' {
			i++
			continue
		}
		f.literal(s[lit:i])
		if i+1 >= len(s) {
			return fmt.Errorf("time format %q ends with a lone '%%'", whole)
		}
		c := s[i+1]
		switch {
		case c == '%':
			f.literal("%")
		case c == 'L':
			f.ops = append(f.ops, timeOp{verb: 'N', digits: 3})
		case c == 'f':
			f.ops = append(f.ops, timeOp{verb: 'N', digits: 6})
		case (c == '3' || c == '6' || c == '9') && i+2 < len(s) && s[i+2] == 'N':
			f.ops = append(f.ops, timeOp{verb: 'N', digits: int(c - '0')})
			i++
		case composite[c] != "":
			if err := f.parse(composite[c], whole); err != nil {
				return err
			}
		case c < 0x80 && containsByte(simpleVerbs, c):
			f.ops = append(f.ops, timeOp{verb: c})
		default:
			return fmt.Errorf("time format %q: %%%c is not a supported directive", whole, c)
		}
		i += 2
		lit = i
	}
	f.literal(s[lit:])
	return nil
}

func containsByte(s string, c byte) bool {
	for i := 0; i < len(s); i++ {
		if s[i] == c {
			return true
		}
	}
	return false
}

// literal adds text, merging it with a literal just before.
func (f *TimeFormat) literal(text string) {
	if text == "" {
		return
	}
	if n := len(f.ops); n > 0 && f.ops[n-1].verb == 0 {
		f.ops[n-1].text += text
		return
	}
	f.ops = append(f.ops, timeOp{text: text})
}

var (
	shortDays   = [...]string{"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"}
	longDays    = [...]string{"Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday"}
	shortMonths = [...]string{"Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"}
	longMonths  = [...]string{"January", "February", "March", "April", "May", "June", "July", "August", "September", "October", "November", "December"}
)

// Append appends the time sec + nsec/1e9 seconds after the Unix epoch, in
// UTC, formatted, to dst.
func (f *TimeFormat) Append(dst []byte, sec, nsec int64) []byte {
	t := time.Unix(sec, nsec).UTC()
	for _, op := range f.ops {
		if op.verb == 0 {
			dst = append(dst, op.text...)
			continue
		}
		dst = appendVerb(dst, t, sec, op)
	}
	return dst
}

func appendVerb(dst []byte, t time.Time, sec int64, op timeOp) []byte {
	switch op.verb {
	case 'N':
		frac := t.Nanosecond()
		for d := op.digits; d < 9; d++ {
			frac /= 10
		}
		return appendPadded(dst, frac, op.digits, '0')
	case 'a':
		return append(dst, shortDays[t.Weekday()]...)
	case 'A':
		return append(dst, longDays[t.Weekday()]...)
	case 'b':
		return append(dst, shortMonths[t.Month()-1]...)
	case 'B':
		return append(dst, longMonths[t.Month()-1]...)
	case 'C':
		return appendPadded(dst, t.Year()/100, 2, '0')
	case 'd':
		return appendPadded(dst, t.Day(), 2, '0')
	case 'e':
		return appendPadded(dst, t.Day(), 2, ' ')
	case 'G':
		year, _ := t.ISOWeek()
		return strconv.AppendInt(dst, int64(year), 10)
	case 'g':
		year, _ := t.ISOWeek()
		return appendPadded(dst, year%100, 2, '0')
	case 'H':
		return appendPadded(dst, t.Hour(), 2, '0')
	case 'I':
		return appendPadded(dst, hour12(t), 2, '0')
	case 'j':
		return appendPadded(dst, t.YearDay(), 3, '0')
	case 'k':
		return appendPadded(dst, t.Hour(), 2, ' ')
	case 'l':
		return appendPadded(dst, hour12(t), 2, ' ')
	case 'm':
		return appendPadded(dst, int(t.Month()), 2, '0')
	case 'M':
		return appendPadded(dst, t.Minute(), 2, '0')
	case 'p':
		if t.Hour() < 12 {
			return append(dst, "AM"...)
		}
		return append(dst, "PM"...)
	case 's':
		return strconv.AppendInt(dst, sec, 10)
	case 'S':
		return appendPadded(dst, t.Second(), 2, '0')
	case 'u':
		return strconv.AppendInt(dst, int64((int(t.Weekday())+6)%7+1), 10)
	case 'U': // weeks starting on Sunday; days before the first Sunday are week 0
		return appendPadded(dst, (t.YearDay()-1+7-int(t.Weekday()))/7, 2, '0')
	case 'V':
		_, week := t.ISOWeek()
		return appendPadded(dst, week, 2, '0')
	case 'w':
		return strconv.AppendInt(dst, int64(t.Weekday()), 10)
	case 'W': // weeks starting on Monday
		return appendPadded(dst, (t.YearDay()-1+7-(int(t.Weekday())+6)%7)/7, 2, '0')
	case 'y':
		return appendPadded(dst, t.Year()%100, 2, '0')
	case 'Y':
		return strconv.AppendInt(dst, int64(t.Year()), 10)
	case 'z':
		return append(dst, "+0000"...)
	case 'Z':
		return append(dst, "UTC"...)
	}
	return dst
}

func hour12(t time.Time) int {
	if h := t.Hour() % 12; h != 0 {
		return h
	}
	return 12
}

// appendPadded appends v in decimal, padded on the left with pad to width.
func appendPadded(dst []byte, v, width int, pad byte) []byte {
	var digits [20]byte
	s := strconv.AppendInt(digits[:0], int64(v), 10)
	for n := len(s); n < width; n++ {
		dst = append(dst, pad)
	}
	return append(dst, s...)
}
