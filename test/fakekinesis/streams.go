package fakekinesis

import (
	"fmt"
	"math/big"
	"sort"
	"strings"
	"time"

	"github.com/kinesis-kpl/fluent-bit-kinesis-kpl/aggregation"
)

// MaxShards is the largest shard count CreateStream and Reshard accept.
const MaxShards = 10000

// Record size limits a stream may be created with (CreateStream's
// MaxRecordSizeInKiB), as Kinesis allows them.
const (
	minRecordSizeKiB = 1024
	maxRecordSizeKiB = 10240
)

// onDemandShards is how many shards an on-demand stream starts with.
const onDemandShards = 4

// shard is one shard, open or (after a reshard) closed.
type shard struct {
	id         string
	start, end aggregation.HashKey // HashKeyRange, inclusive
	startSeq   string
	bucket     tokenBucket // room under Faults.ShardLimit
}

// stream is one stream's shards and what it accepted. Guarded by Server.mu.
type stream struct {
	name           string
	created        time.Time
	maxRecordBytes int
	open           []*shard          // sorted by hash range, covering the key space
	byID           map[string]*shard // every shard the stream ever had
	nextShard      int               // index of the next shard id
	seq            uint64            // last sequence number handed out
	records        []Record
	// The first counted records hold userCount user records (a cache of
	// UserRecordCount, which only ever reads what is new); takes counts
	// TakeUserRecords calls, which reset it.
	counted, userCount int
	takes              int
}

// newStream returns a stream with n shards splitting the hash key space.
func newStream(name string, n, maxRecordBytes int, now time.Time) *stream {
	st := &stream{name: name, created: now, maxRecordBytes: maxRecordBytes, byID: map[string]*shard{}}
	st.openShards(n)
	return st
}

// openShards replaces the open shard set by n new shards with new ids; the
// old ones stay known by id so that stored records keep their hash ranges.
func (st *stream) openShards(n int) {
	ranges := splitHashKeySpace(n)
	st.open = make([]*shard, n)
	for i, r := range ranges {
		sh := &shard{
			id:       fmt.Sprintf("shardId-%012d", st.nextShard),
			start:    r[0],
			end:      r[1],
			startSeq: st.nextSequenceNumber(),
		}
		st.nextShard++
		st.open[i] = sh
		st.byID[sh.id] = sh
	}
}

// nextSequenceNumber returns a new sequence number, increasing within the
// stream both as a number and as a string: 56 digits, like the ones Kinesis
// hands out.
func (st *stream) nextSequenceNumber() string {
	st.seq++
	return sequenceNumber(st.seq)
}

// sequenceNumber is "49" and n in 54 digits, as fmt's "49%054d" writes it,
// for any n below 10^54; a Sprintf an entry took a tenth of a PutRecords
// answer's time (BenchmarkPutRecords).
func sequenceNumber(n uint64) string {
	var b [56]byte
	b[0], b[1] = '4', '9'
	for i := len(b) - 1; i >= 2; i-- {
		b[i] = byte('0' + n%10)
		n /= 10
	}
	return string(b[:])
}

// route returns the open shard whose hash range holds h.
func (st *stream) route(h aggregation.HashKey) *shard {
	i := sort.Search(len(st.open), func(i int) bool { return h.Cmp(st.open[i].end) <= 0 })
	return st.open[i] // the last shard ends at MaxHashKey, so i is in range
}

func (st *stream) arn() string { return streamARN(st.name) }

func streamARN(name string) string {
	return "arn:aws:kinesis:" + region + ":" + accountID + ":stream/" + name
}

// splitHashKeySpace returns n inclusive ranges [i*2^128/n, (i+1)*2^128/n - 1]:
// the even split Kinesis gives a new stream.
func splitHashKeySpace(n int) [][2]aggregation.HashKey {
	space := new(big.Int).Lsh(big.NewInt(1), 128)
	bound := func(i int) *big.Int {
		b := new(big.Int).Mul(space, big.NewInt(int64(i)))
		return b.Quo(b, big.NewInt(int64(n)))
	}
	one := big.NewInt(1)
	out := make([][2]aggregation.HashKey, n)
	for i := range out {
		start, _ := aggregation.HashKeyFromBigInt(bound(i))
		end, _ := aggregation.HashKeyFromBigInt(new(big.Int).Sub(bound(i+1), one))
		out[i] = [2]aggregation.HashKey{start, end}
	}
	return out
}

// validStreamName reports whether name matches Kinesis' StreamName
// constraints: 1 to 128 characters of [a-zA-Z0-9_.-].
func validStreamName(name string) bool {
	if len(name) == 0 || len(name) > 128 {
		return false
	}
	return strings.IndexFunc(name, func(r rune) bool {
		return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '_' || r == '.' || r == '-')
	}) < 0
}

// streamNameFromARN returns the stream name of a Kinesis stream ARN
// ("arn:aws:kinesis:<region>:<account>:stream/<name>").
func streamNameFromARN(arn string) (string, bool) {
	parts := strings.SplitN(arn, ":", 6)
	if len(parts) != 6 || parts[0] != "arn" || parts[2] != "kinesis" {
		return "", false
	}
	name, ok := strings.CutPrefix(parts[5], "stream/")
	return name, ok && name != ""
}

// CreateStream creates an ACTIVE stream with shards shards splitting the
// hash key space evenly, and the server's record size limit. It returns
// ErrStreamExists, ErrInvalidStreamName or ErrInvalidShardCount.
func (s *Server) CreateStream(name string, shards int) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.createStreamLocked(name, shards, s.maxRecordBytes)
}

func (s *Server) createStreamLocked(name string, shards, maxRecordBytes int) error {
	switch {
	case !validStreamName(name):
		return ErrInvalidStreamName
	case shards < 1 || shards > MaxShards:
		return ErrInvalidShardCount
	case s.streams[name] != nil:
		return ErrStreamExists
	}
	s.streams[name] = newStream(name, shards, maxRecordBytes, s.now())
	return nil
}

// Reshard replaces the open shards of a stream with shards new shards
// (new ids, the hash key space split evenly again), as if every old shard
// had been split or merged away at once. ListShards then lists only the new
// shards; records already stored keep their old shard ids, whose hash
// ranges UserRecords still knows. It returns ErrStreamNotFound or
// ErrInvalidShardCount.
func (s *Server) Reshard(name string, shards int) error {
	if shards < 1 || shards > MaxShards {
		return ErrInvalidShardCount
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.streams[name]
	if st == nil {
		return ErrStreamNotFound
	}
	st.openShards(shards)
	return nil
}

// lookupStream resolves the stream a request names by StreamName or
// StreamARN. Called with s.mu held.
func (s *Server) lookupStreamLocked(ref streamRef) (*stream, *apiError) {
	name, err := ref.name()
	if err != nil {
		return nil, err
	}
	st := s.streams[name]
	if st == nil {
		return nil, streamNotFound(name)
	}
	return st, nil
}

// name returns the stream name a request gives, from StreamName or the ARN.
func (r streamRef) name() (string, *apiError) {
	switch {
	case r.StreamName != nil && r.StreamARN != nil:
		return "", invalidArgument("StreamName and StreamARN cannot both be specified.")
	case r.StreamName != nil:
		if !validStreamName(*r.StreamName) {
			return "", validationError("1 validation error detected: Value at 'streamName' failed to satisfy constraint: Member must satisfy regular expression pattern: [a-zA-Z0-9_.-]+ and have length between 1 and 128")
		}
		return *r.StreamName, nil
	case r.StreamARN != nil:
		name, ok := streamNameFromARN(*r.StreamARN)
		if !ok {
			return "", validationError("1 validation error detected: Value at 'streamARN' failed to satisfy constraint: Member must be a Kinesis stream ARN")
		}
		return name, nil
	}
	return "", invalidArgument("Either StreamName or StreamARN must be specified.")
}
