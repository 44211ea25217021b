package instance

import (
	"context"
	"errors"
	"sync"

	"github.com/kinesis-kpl/fluent-bit-kinesis-kpl/producer"
)

// ProducerFactory makes and starts the producer of one stream. Open's
// factory sends to Kinesis; tests hand in producers over a fake client.
type ProducerFactory func(ctx context.Context, stream string) (*producer.Producer, error)

// ErrTooManyStreams is the reason a record is rejected when its stream
// template names a stream beyond max_streams. The record is dropped for
// good rather than retried: producers live until exit, so a retry could
// never find room.
var ErrTooManyStreams = errors.New("the stream template names more streams than max_streams")

// errStopped: a flush raced with exit; the chunk is retried.
var errStopped = errors.New("the instance is stopping")

// streams is an instance's producers, one per stream, created on first use
// and bounded in number. A static stream has exactly one, made at start.
type streams struct {
	newProducer ProducerFactory
	max         int

	creating sync.Mutex // held while a producer is made
	mu       sync.Mutex
	byName   map[string]*producer.Producer
	stopped  bool
}

func newStreams(newProducer ProducerFactory, max int) *streams {
	return &streams{newProducer: newProducer, max: max, byName: make(map[string]*producer.Producer)}
}

// get returns the producer of stream, making it on first use. created is
// true when this call made it. Making one (which may call Kinesis) holds
// only the creation lock, so flushes to streams already known never wait
// for it, and two flushes never make the same stream twice.
func (s *streams) get(ctx context.Context, stream []byte) (p *producer.Producer, created bool, err error) {
	if p, err := s.lookup(stream); p != nil || err != nil {
		return p, false, err
	}
	s.creating.Lock()
	defer s.creating.Unlock()
	if p, err := s.lookup(stream); p != nil || err != nil {
		return p, false, err
	}
	name := string(stream)
	if p, err = s.newProducer(ctx, name); err != nil {
		return nil, false, err
	}
	s.mu.Lock()
	stopped := s.stopped
	if !stopped {
		s.byName[name] = p
	}
	s.mu.Unlock()
	if stopped { // exit began while it was made: it holds nothing yet
		_ = p.Stop(ctx)
		return nil, false, errStopped
	}
	return p, true, nil
}

// lookup returns the producer of stream, or nil; or why none can be made.
func (s *streams) lookup(stream []byte) (*producer.Producer, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if p, ok := s.byName[string(stream)]; ok {
		return p, nil
	}
	switch {
	case s.stopped:
		return nil, errStopped
	case len(s.byName) >= s.max:
		return nil, ErrTooManyStreams
	}
	return nil, nil
}

// len is the number of producers made.
func (s *streams) len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.byName)
}

// stop stops every producer at once, each sending what it holds within
// ctx; no producer is made afterwards.
func (s *streams) stop(ctx context.Context) error {
	s.mu.Lock()
	s.stopped = true
	all := make([]*producer.Producer, 0, len(s.byName))
	for _, p := range s.byName {
		all = append(all, p)
	}
	s.mu.Unlock()
	errs := make([]error, len(all))
	var wg sync.WaitGroup
	for i, p := range all {
		wg.Go(func() { errs[i] = p.Stop(ctx) })
	}
	wg.Wait()
	return errors.Join(errs...)
}

// stats sums the producers' counts.
func (s *streams) stats() producer.Stats {
	s.mu.Lock()
	defer s.mu.Unlock()
	var sum producer.Stats
	for _, p := range s.byName {
		st := p.Stats()
		sum.RecordsReputWrongShard += st.RecordsReputWrongShard
		sum.PanicsRecovered += st.PanicsRecovered
		sum.BufferedBytes += st.BufferedBytes
	}
	return sum
}
