package natsbus

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/probe-agent/probe-agent/bus"
)

// streamConfig is the stream every member and publisher agrees on.
func streamConfig(c Config) jetstream.StreamConfig {
	return jetstream.StreamConfig{
		Name:              c.Stream,
		Description:       "probe-agent fan-in: each device's exports of each probe (bus.Record)",
		Subjects:          []string{bus.StreamFilter(c.Prefix)},
		Retention:         jetstream.LimitsPolicy,
		Storage:           jetstream.FileStorage,
		Replicas:          c.Replicas,
		MaxAge:            c.MaxAge,
		MaxMsgsPerSubject: c.MaxPerSubject,
		Duplicates:        c.Duplicates,
		Discard:           jetstream.DiscardOld,
	}
}

// EnsureStream creates the stream, or updates it to the configuration when
// it exists. A publisher without the right to manage streams gets on with
// an existing one.
func EnsureStream(ctx context.Context, js jetstream.JetStream, c Config) (jetstream.Stream, error) {
	c = c.withDefaults()
	s, err := js.CreateOrUpdateStream(ctx, streamConfig(c))
	if err == nil {
		return s, nil
	}
	if s, gerr := js.Stream(ctx, c.Stream); gerr == nil {
		c.Log.Warn("nats: stream exists but could not be created or updated; using it as it is", "stream", c.Stream, "err", err)
		return s, nil
	}
	return nil, fmt.Errorf("stream %s: %w", c.Stream, err)
}

// Sink publishes records to JetStream (bus.Sink): each on its subject with
// the record's headers and Nats-Msg-Id = Record.ID, so that the stream
// stores a record sent again (a retry after a lost acknowledgement or a
// reconnect) once; Send returns when the stream acknowledged every record.
type Sink struct {
	nc  *nats.Conn
	js  jetstream.JetStream
	cfg Config
	own bool // the connection is the sink's to close
	// ensured is set once the stream is known to exist.
	ensured bool
}

func (s *Sink) ensure(ctx context.Context) error {
	if s.ensured {
		return nil
	}
	if _, err := EnsureStream(ctx, s.js, s.cfg); err != nil {
		return err
	}
	s.ensured = true
	return nil
}

// NewSink connects and makes sure the stream exists.
func NewSink(ctx context.Context, c Config) (*Sink, error) {
	c = c.withDefaults()
	nc, err := Connect(c)
	if err != nil {
		return nil, err
	}
	s, err := newSink(ctx, nc, c)
	if err != nil {
		nc.Close()
		return nil, err
	}
	s.own = true
	return s, nil
}

// NewSinkConn is NewSink on an open connection (not closed by Close).
func NewSinkConn(ctx context.Context, nc *nats.Conn, c Config) (*Sink, error) {
	return newSink(ctx, nc, c.withDefaults())
}

func newSink(ctx context.Context, nc *nats.Conn, c Config) (*Sink, error) {
	js, err := jetstream.New(nc, jetstream.WithPublishAsyncMaxPending(4096))
	if err != nil {
		return nil, err
	}
	s := &Sink{nc: nc, js: js, cfg: c}
	if nc.IsConnected() {
		// Otherwise the first Send does it, once the server is reached.
		if err := s.ensure(ctx); err != nil {
			return nil, err
		}
	}
	return s, nil
}

// Send implements bus.Sink.
func (s *Sink) Send(ctx context.Context, recs []bus.Encoded) error {
	ctx, cancel := context.WithTimeout(ctx, s.cfg.PublishTimeout)
	defer cancel()
	if err := s.ensure(ctx); err != nil {
		return err
	}
	futures := make([]jetstream.PubAckFuture, 0, len(recs))
	for _, e := range recs {
		r := e.Rec
		m := nats.NewMsg(bus.Subject(s.cfg.Prefix, r.Blueprint, r.Probe, r.Device()))
		for _, h := range r.Headers() {
			m.Header.Set(h[0], h[1])
		}
		m.Data = e.Body
		f, err := s.js.PublishMsgAsync(m, jetstream.WithMsgID(r.ID()), jetstream.WithExpectStream(s.cfg.Stream))
		if err != nil {
			return fmt.Errorf("publish %s: %w", m.Subject, err)
		}
		futures = append(futures, f)
	}
	var errs []error
	for _, f := range futures {
		select {
		case <-f.Ok():
		case err := <-f.Err():
			errs = append(errs, err)
		case <-ctx.Done():
			return fmt.Errorf("waiting for %d acknowledgements: %w", len(futures), ctx.Err())
		}
	}
	return errors.Join(errs...)
}

// Close closes the connection if the sink opened it (after flushing).
func (s *Sink) Close() error {
	if !s.own {
		return nil
	}
	err := s.nc.FlushTimeout(time.Second)
	s.nc.Close()
	if errors.Is(err, nats.ErrConnectionClosed) {
		err = nil
	}
	return err
}

// NewPublisher is an agent's fan-in output: a bus.Publisher on a Sink.
func NewPublisher(ctx context.Context, c Config, q bus.QueueOptions) (*bus.Publisher, error) {
	s, err := NewSink(ctx, c)
	if err != nil {
		return nil, err
	}
	return bus.NewPublisher(s, q, c.withDefaults().Log), nil
}
