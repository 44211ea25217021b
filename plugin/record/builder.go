package record

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/kinesis-kpl/fluent-bit-kinesis-kpl/conf"
	"github.com/kinesis-kpl/fluent-bit-kinesis-kpl/plugin/chunk"
	"github.com/kinesis-kpl/fluent-bit-kinesis-kpl/producer"
)

// Options are the record transforms, as a user configures them. The zero
// value sends each event's body as JSON under a random partition key.
type Options struct {
	// PartitionKey is the partition key: a field (a template of one field
	// part) or a template, as conf parses them. Nil: a random key per
	// record.
	PartitionKey conf.Template
	// Stream, when not nil, is each record's stream (Record.Stream). Nil:
	// Record.Stream is nil, the instance's stream.
	Stream conf.Template
	// DataKeys are the top-level keys to keep. Nil keeps every key.
	DataKeys []string
	// LogKey is the key path of the one field whose value is the whole
	// record. Nil: the record is the event's body.
	LogKey []string
	// AppendNewline adds "\n" after each record, before compression.
	AppendNewline bool
	// ReplaceDots, when not empty, replaces '.' in key names at every depth.
	ReplaceDots string
	// TimeKey, when not empty, adds the event's time under this key.
	TimeKey string
	// TimeKeyFormat formats TimeKey's value; empty means DefaultTimeFormat.
	// Setting it without TimeKey is an error.
	TimeKeyFormat string
	// RecordIDKey, when not empty, adds a deterministic record id under
	// this key (Source.Chunk and Source.Index).
	RecordIDKey string
	// Compression compresses each record; CompressionLevel 0 is the
	// codec's default.
	Compression      Compression
	CompressionLevel int
	// MaxRecordSize, when not 0, is the largest record (data and partition
	// key, as Kinesis counts) that Build returns; Oversize says what
	// happens to a larger one.
	MaxRecordSize int
	Oversize      Oversize
}

// Oversize is what Build does with a record over Options.MaxRecordSize.
type Oversize uint8

const (
	// OversizeDrop rejects the record with ErrTooLarge.
	OversizeDrop Oversize = iota
	// OversizeTruncate cuts the record's data to fit, at a character
	// boundary, keeping append_newline's "\n" at the end; with
	// compression the uncompressed data is cut and compressed again, and a
	// record still too large is rejected with ErrTooLarge. Record.Truncated
	// tells.
	OversizeTruncate
)

// ParseOversize reads drop or truncate, in any case; empty is drop.
func ParseOversize(s string) (Oversize, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "", "drop":
		return OversizeDrop, nil
	case "truncate":
		return OversizeTruncate, nil
	}
	return 0, fmt.Errorf("%q is not drop or truncate", s)
}

// Errors of Build, for an event that cannot become a record. They wrap no
// record content.
var (
	// ErrNoLogKey: the event has no log_key field.
	ErrNoLogKey = errors.New("the event has no log_key field")
	// ErrEmptyLogValue: the event's log_key field is an empty string, which
	// would make an empty record (the AWS plugins drop these too).
	ErrEmptyLogValue = errors.New("the event's log_key field is an empty string")
	// ErrNoStream: the stream template has no value for the event, or its
	// value is not a stream name (1-128 of a-z A-Z 0-9 _ . -).
	ErrNoStream = errors.New("the stream template gives no valid stream name for the event")
	// ErrTooLarge: the record is over Options.MaxRecordSize and could not
	// be truncated to fit (Oversize drop, or compressed data that does not
	// shrink enough).
	ErrTooLarge = errors.New("the record is larger than max_record_size")
)

// maxPartitionKey is Kinesis' limit, in Unicode characters.
const maxPartitionKey = 256

// Builder makes records from events. It is immutable after New and safe for
// concurrent use; each goroutine brings its own Record.
type Builder struct {
	pkTemplate conf.Template
	stream     conf.Template
	dataKeys   [][]byte
	logKey     []string
	newline    bool
	dots       string
	timeKey    string
	timeFormat *TimeFormat
	idKey      string
	compress   compressor
	maxSize    int
	oversize   Oversize

	keepTime bool   // data_keys keeps the time key
	timeName []byte // `"time_key":` as JSON, dots replaced
	idName   []byte // `"record_id_key":` as JSON, dots replaced
	members  chunk.JSONOptions
	plain    bool // the body goes out as AppendJSON writes it
}

// New checks o and returns a Builder. The error lists every problem, one per
// line, each naming its option.
func New(o Options) (*Builder, error) {
	b := &Builder{newline: o.AppendNewline, dots: o.ReplaceDots, timeKey: o.TimeKey, idKey: o.RecordIDKey,
		maxSize: o.MaxRecordSize, oversize: o.Oversize}
	var problems []string
	bad := func(option string, err error) { problems = append(problems, option+": "+err.Error()) }

	b.pkTemplate, b.stream = o.PartitionKey, o.Stream
	for _, k := range o.DataKeys {
		if k == "" {
			bad("data_keys", errors.New("has an empty key"))
			break
		}
		b.dataKeys = append(b.dataKeys, []byte(k))
	}
	if o.LogKey != nil {
		b.logKey = o.LogKey
		switch {
		case slices.Contains(o.LogKey, ""):
			bad("log_key", errors.New("has an empty key"))
		case b.dataKeys != nil && !b.keeps([]byte(b.logKey[0])) && b.logKey[0] != o.TimeKey:
			bad("log_key", fmt.Errorf("names %q, which data_keys drops", b.logKey[0]))
		}
	}
	switch {
	case o.TimeKey != "":
		format := o.TimeKeyFormat
		if format == "" {
			format = DefaultTimeFormat
		}
		var err error
		if b.timeFormat, err = ParseTimeFormat(format); err != nil {
			bad("time_key_format", err)
		}
	case o.TimeKeyFormat != "":
		bad("time_key_format", errors.New("is set but time_key is not"))
	}
	if o.RecordIDKey != "" {
		switch {
		case o.RecordIDKey == o.TimeKey:
			bad("record_id_key", errors.New("is the same key as time_key"))
		case b.logKey != nil:
			bad("record_id_key", errors.New("cannot be added to a record made by log_key"))
		}
	}
	var err error
	if b.compress, err = newCompressor(o.Compression, o.CompressionLevel); err != nil {
		bad("compression", err)
	}
	switch {
	case o.MaxRecordSize < 0:
		bad("max_record_size", fmt.Errorf("%d is negative", o.MaxRecordSize))
	case o.MaxRecordSize > 0 && o.MaxRecordSize <= maxPartitionKey*utf8.UTFMax:
		bad("max_record_size", fmt.Errorf("%d leaves no room for data beside a partition key of up to %d bytes", o.MaxRecordSize, maxPartitionKey*utf8.UTFMax))
	}
	if o.Oversize > OversizeTruncate {
		bad("oversize", fmt.Errorf("unknown value %d", o.Oversize))
	}
	for _, s := range []struct{ option, value string }{
		{"time_key", o.TimeKey}, {"record_id_key", o.RecordIDKey}, {"replace_dots", o.ReplaceDots},
	} {
		if !utf8.ValidString(s.value) {
			bad(s.option, errors.New("is not valid UTF-8"))
		}
	}
	if len(problems) > 0 {
		return nil, errors.New(strings.Join(problems, "\n"))
	}

	b.keepTime = o.TimeKey != "" && (b.dataKeys == nil || b.keeps([]byte(o.TimeKey)))
	b.timeName = b.memberName(o.TimeKey)
	b.idName = b.memberName(o.RecordIDKey)
	b.members = chunk.JSONOptions{ReplaceDots: o.ReplaceDots}
	if b.dataKeys != nil || o.TimeKey != "" || o.RecordIDKey != "" {
		b.members.Keep = b.keepMember
	}
	b.plain = b.members.Keep == nil && o.ReplaceDots == ""
	return b, nil
}

// memberName returns key as the start of a JSON object member, `"key":`,
// with dots replaced, or nil for no key.
func (b *Builder) memberName(key string) []byte {
	if key == "" {
		return nil
	}
	if b.dots != "" {
		key = strings.ReplaceAll(key, ".", b.dots)
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(key) // a string always encodes
	return append(bytes.TrimSuffix(buf.Bytes(), []byte("\n")), ':')
}

// keeps reports whether data_keys lists name.
func (b *Builder) keeps(name []byte) bool {
	return slices.ContainsFunc(b.dataKeys, func(k []byte) bool { return bytes.Equal(k, name) })
}

// keepMember decides which of an event's top-level keys are written: not
// those that time_key and record_id_key replace, and only those data_keys
// lists.
func (b *Builder) keepMember(name []byte) bool {
	if b.timeKey != "" && string(name) == b.timeKey || b.idKey != "" && string(name) == b.idKey {
		return false
	}
	return b.dataKeys == nil || b.keeps(name)
}

// Source says where an event comes from.
type Source struct {
	// Tag is the chunk's tag.
	Tag string
	// Chunk and Index make the record id: the chunk's id and the event's
	// index among the events the reader returned. Only needed with
	// RecordIDKey.
	Chunk ChunkID
	Index int
}

// NeedsChunkID reports whether Build reads Source.Chunk, so that callers
// hash the chunk only when a record id is wanted.
func (b *Builder) NeedsChunkID() bool { return b.idKey != "" }

// Record is one built record. Its slices are reused by the next Build into
// the same Record: copy what must outlive it. The zero value is ready.
type Record struct {
	// Data is the record's data.
	Data []byte
	// PartitionKey is the record's partition key, at most 256 characters;
	// empty when RandomKey is true.
	PartitionKey []byte
	// RandomKey is true when the record has no key of its own (no
	// partition_key configured, or its field or template had no value for
	// the event): any key will do, and the producer picks a random one
	// when it sends the record.
	RandomKey bool
	// Stream is the stream the record goes to, or nil for the instance's.
	Stream []byte
	// Truncated is true when the data was cut to fit MaxRecordSize.
	Truncated bool

	raw, out, text, tmp []byte
}

// Build makes the record for one event (a log record: ev.Err is nil). On
// error, the event cannot become a record; the error names why without its
// content.
//
// An event from chunk.Reader.NextLazy is walked once, by the transcoding
// of its body where there is one. If its body turns out malformed, the
// error is the Reader's Err: the chunk ends there, at this event.
func (b *Builder) Build(r *Record, ev chunk.Event, src Source) error {
	if ev.Err != nil {
		return ev.Err
	}
	if b.logKey != nil || b.stream != nil {
		// These read the body before any transcoding, or instead of it,
		// and take a malformed body for a missing field: find its end and
		// check it first.
		if err := ev.Walk(); err != nil {
			return err
		}
	}
	r.PartitionKey, r.RandomKey = b.partitionKey(r.PartitionKey[:0], src.Tag, ev.Body)
	r.Stream, r.Truncated = nil, false
	if b.stream != nil {
		var ok bool
		if r.text, ok = appendTemplate(r.text[:0], b.stream, src.Tag, ev.Body); !ok || !validStreamName(r.text) {
			return ErrNoStream
		}
		r.Stream = r.text
	}
	data, err := b.body(r, &ev, src)
	if err != nil {
		return err
	}
	if b.newline {
		data = append(data, '\n')
	}
	r.raw = data
	if r.Data, err = b.compressed(r, data); err != nil {
		return err
	}
	keyLen := len(r.PartitionKey)
	if r.RandomKey {
		keyLen = producer.RandomKeyLen // the key the producer will pick
	}
	if limit := b.maxSize - keyLen; b.maxSize > 0 && len(r.Data) > limit {
		return b.fit(r, limit)
	}
	return nil
}

// compressed returns data compressed into r.out, or data itself without
// compression.
func (b *Builder) compressed(r *Record, data []byte) ([]byte, error) {
	if b.compress == nil {
		return data, nil
	}
	var err error
	r.out, err = b.compress(r.out[:0], data)
	return r.out, err
}

// fit applies Oversize to a record whose data is over limit bytes.
func (b *Builder) fit(r *Record, limit int) error {
	if b.oversize != OversizeTruncate {
		return ErrTooLarge
	}
	data := r.raw
	if b.newline {
		data = append(cutUTF8(data[:len(data)-1], limit-1), '\n')
	} else {
		data = cutUTF8(data, limit)
	}
	var err error
	if r.Data, err = b.compressed(r, data); err != nil {
		return err
	}
	if len(r.Data) > limit {
		return ErrTooLarge
	}
	r.Truncated = true
	return nil
}

// cutUTF8 cuts b to at most n bytes without splitting a UTF-8 sequence.
func cutUTF8(b []byte, n int) []byte {
	if len(b) <= n {
		return b
	}
	cut := n
	// Step back over continuation bytes to the start of the character that
	// would be split; at most UTFMax-1 of them.
	for i := 0; i < utf8.UTFMax-1 && cut > 0 && !utf8.RuneStart(b[cut]); i++ {
		cut--
	}
	if !utf8.RuneStart(b[cut]) { // not UTF-8 here: a byte cut is all there is
		cut = n
	}
	return b[:cut]
}

// body writes the record's data before append_newline and compression into
// r.raw's buffer and returns it.
func (b *Builder) body(r *Record, ev *chunk.Event, src Source) ([]byte, error) {
	data := r.raw[:0]
	switch {
	case b.logKey != nil:
		return b.logValue(data, r, ev)
	case b.plain:
		return ev.AppendJSON(data)
	}
	data = append(data, '{')
	data, n, err := ev.AppendJSONMembers(data, b.members)
	if err != nil {
		return r.raw[:0], err
	}
	if b.keepTime {
		if n > 0 {
			data = append(data, ',')
		}
		data = append(data, b.timeName...)
		r.tmp = b.timeFormat.Append(r.tmp[:0], ev.Sec, ev.Nsec)
		data = chunk.AppendJSONString(data, r.tmp)
		n++
	}
	if b.idKey != "" {
		if n > 0 {
			data = append(data, ',')
		}
		data = append(data, b.idName...)
		r.tmp = src.Chunk.AppendRecordID(r.tmp[:0], src.Index)
		data = chunk.AppendJSONString(data, r.tmp)
	}
	return append(data, '}'), nil
}

// logValue writes the log_key field's value: a string raw, anything else as
// JSON.
func (b *Builder) logValue(data []byte, r *Record, ev *chunk.Event) ([]byte, error) {
	if len(b.logKey) == 1 && b.logKey[0] == b.timeKey {
		return b.timeFormat.Append(data, ev.Sec, ev.Nsec), nil
	}
	v, found, err := chunk.Lookup(ev.Body, b.logKey)
	if err != nil {
		return data, err
	}
	if !found {
		return data, ErrNoLogKey
	}
	if s, ok := chunk.StringValue(v); ok {
		if len(s) == 0 {
			return data, ErrEmptyLogValue
		}
		return append(data, s...), nil
	}
	return chunk.AppendJSONWith(data, v, b.members)
}

// partitionKey appends the record's partition key to dst; random is true,
// and the key empty, when the record has none of its own.
func (b *Builder) partitionKey(dst []byte, tag string, body []byte) (key []byte, random bool) {
	if b.pkTemplate == nil {
		return dst[:0], true
	}
	dst, ok := appendTemplate(dst, b.pkTemplate, tag, body)
	if !ok {
		return dst[:0], true
	}
	return truncateRunes(dst, maxPartitionKey), false
}

// truncateRunes cuts b to at most n characters.
func truncateRunes(b []byte, n int) []byte {
	if len(b) <= n { // fewer bytes than the limit means fewer characters too
		return b
	}
	count := 0
	for i := range string(b) {
		if count == n {
			return b[:i]
		}
		count++
	}
	return b
}

func validStreamName(s []byte) bool {
	if len(s) == 0 || len(s) > 128 {
		return false
	}
	for _, c := range s {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '.' || c == '-') {
			return false
		}
	}
	return true
}
