package bus

import (
	"context"
	"errors"
	"log/slog"
	"math/rand/v2"
	"sync"
	"time"
)

// Sink is a broker's writing side: Send writes the records and returns
// once the broker acknowledged every one of them (JetStream publish acks,
// Kafka acks=all), or with an error, after which the Publisher sends the
// same records again. A broker that de-duplicates by Record.ID (JetStream's
// Nats-Msg-Id, Kafka's idempotent producer) then stores each once: a
// retry after a lost acknowledgement leaves neither a gap nor a duplicate.
type Sink interface {
	Send(ctx context.Context, recs []Encoded) error
	Close() error
}

// Encoded is a record with its body, encoded once when it is queued.
type Encoded struct {
	Rec  *Record
	Body []byte
}

// QueueOptions bound a Publisher's queue: at most Messages records and
// Bytes bytes of bodies wait for the broker; past either the oldest are
// dropped, counted (a partial state is the device's latest state, so the
// next record supersedes a lost one). Batch is how many records one Send
// carries at most.
type QueueOptions struct {
	Messages int
	Bytes    int
	Batch    int
	// RetryMax caps the wait between attempts after a failed Send
	// (exponential from 100ms, with jitter).
	RetryMax time.Duration
}

// DefaultQueue is what a zero QueueOptions field means.
var DefaultQueue = QueueOptions{Messages: 10000, Bytes: 64 << 20, Batch: 256, RetryMax: 10 * time.Second}

func (o QueueOptions) withDefaults() QueueOptions {
	if o.Messages <= 0 {
		o.Messages = DefaultQueue.Messages
	}
	if o.Bytes <= 0 {
		o.Bytes = DefaultQueue.Bytes
	}
	if o.Batch <= 0 {
		o.Batch = DefaultQueue.Batch
	}
	if o.RetryMax <= 0 {
		o.RetryMax = DefaultQueue.RetryMax
	}
	return o
}

// PublisherStats are a Publisher's counters since it started.
type PublisherStats struct {
	// Queued is what waits now; Sent the records the broker acknowledged;
	// Dropped those lost to a full queue (or unsent at Close); Failures
	// the failed Send attempts; Bytes the bodies acknowledged.
	Queued, Sent, Dropped, Failures, Bytes uint64
	LastError                              string
}

// Publisher is the agent's (or a lower-level controller's) side of a
// broker: Publish queues a record without blocking, one goroutine sends
// the queue to the Sink in order, retrying a failed Send with the same
// records; Close flushes what is queued within its context.
type Publisher struct {
	sink Sink
	opt  QueueOptions
	log  *slog.Logger

	mu     sync.Mutex
	queue  []Encoded
	bytes  int
	stats  PublisherStats
	closed bool
	wake   chan struct{}
	// sending is the head of the queue handed to Send and not yet
	// acknowledged: it is not dropped while in flight.
	sending int

	stop   context.CancelFunc
	ctx    context.Context
	done   chan struct{}
	closeC chan struct{} // closed by Close: drain, then stop
}

// NewPublisher starts a publisher on sink.
func NewPublisher(sink Sink, opt QueueOptions, log *slog.Logger) *Publisher {
	if log == nil {
		log = slog.Default()
	}
	ctx, cancel := context.WithCancel(context.Background())
	p := &Publisher{sink: sink, opt: opt.withDefaults(), log: log, wake: make(chan struct{}, 1),
		ctx: ctx, stop: cancel, done: make(chan struct{}), closeC: make(chan struct{})}
	go p.run()
	return p
}

// ErrClosed is Publish's error after Close.
var ErrClosed = errors.New("publisher closed")

// Publish encodes rec and queues it. It never blocks on the broker: a full
// queue drops its oldest records (not those being sent), counted in
// Stats().Dropped, which is also written into every later record's
// Batch.Dropped so that the consumer sees the loss.
func (p *Publisher) Publish(rec *Record) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return ErrClosed
	}
	rec.Batch.Dropped = p.stats.Dropped
	body, err := rec.Encode()
	if err != nil {
		return err
	}
	p.queue = append(p.queue, Encoded{Rec: rec, Body: body})
	p.bytes += len(body)
	for (len(p.queue) > p.opt.Messages || p.bytes > p.opt.Bytes) && len(p.queue) > p.sending+1 {
		// Drop the oldest record not in flight.
		p.bytes -= len(p.queue[p.sending].Body)
		p.queue = append(p.queue[:p.sending], p.queue[p.sending+1:]...)
		p.stats.Dropped++
	}
	select {
	case p.wake <- struct{}{}:
	default:
	}
	return nil
}

// Stats returns the counters.
func (p *Publisher) Stats() PublisherStats {
	p.mu.Lock()
	defer p.mu.Unlock()
	s := p.stats
	s.Queued = uint64(len(p.queue))
	return s
}

func (p *Publisher) run() {
	defer close(p.done)
	wait := 100 * time.Millisecond
	for {
		p.mu.Lock()
		n := min(len(p.queue), p.opt.Batch)
		batch := append([]Encoded(nil), p.queue[:n]...)
		p.sending = n
		draining := p.closed
		p.mu.Unlock()
		if n == 0 {
			if draining {
				return
			}
			select {
			case <-p.wake:
			case <-p.closeC:
			case <-p.ctx.Done():
				return
			}
			continue
		}
		err := p.sink.Send(p.ctx, batch)
		p.mu.Lock()
		if err == nil {
			for _, e := range batch {
				p.bytes -= len(e.Body)
				p.stats.Bytes += uint64(len(e.Body))
			}
			p.queue = append(p.queue[:0], p.queue[n:]...)
			p.stats.Sent += uint64(n)
			p.sending = 0
			p.mu.Unlock()
			wait = 100 * time.Millisecond
			continue
		}
		p.stats.Failures++
		first := p.stats.LastError == ""
		p.stats.LastError = err.Error()
		p.sending = 0
		p.mu.Unlock()
		if p.ctx.Err() != nil {
			return
		}
		if first {
			p.log.Warn("fan-in publish failed; retrying the same records", "err", err)
		}
		select {
		case <-time.After(wait/2 + rand.N(wait/2+1)):
		case <-p.ctx.Done():
			return
		}
		wait = min(wait*2, p.opt.RetryMax)
	}
}

// Close sends what is queued until ctx ends, then stops: records still
// queued are counted as dropped. It closes the sink.
func (p *Publisher) Close(ctx context.Context) error {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return nil
	}
	p.closed = true
	close(p.closeC)
	p.mu.Unlock()
	var err error
	select {
	case <-p.done:
	case <-ctx.Done():
		p.stop()
		<-p.done
		err = ctx.Err()
	}
	p.stop()
	p.mu.Lock()
	if left := len(p.queue); left > 0 {
		p.stats.Dropped += uint64(left)
		p.queue, p.bytes = nil, 0
		p.log.Warn("fan-in publisher closed with records unsent", "dropped", left)
	}
	p.mu.Unlock()
	if cerr := p.sink.Close(); err == nil {
		err = cerr
	}
	return err
}
