package aosout

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/probe-agent/probe-agent/agent/stream"
	"github.com/probe-agent/probe-agent/proto/aos"
)

// The streaming channels, as `streaming:` entries name them.
const (
	ChannelPerfMon = stream.ChannelPerfMon
	ChannelAlerts  = stream.ChannelAlerts
	ChannelEvents  = stream.ChannelEvents
)

// Entry is one receiver of one channel, as both daemons' `streaming:`
// entries describe it once parsed.
type Entry struct {
	// Type is the channel: perfmon, alerts or events.
	Type    string
	Address string
	// Sequenced frames messages with sequence numbers (the receiver must
	// be configured the same way).
	Sequenced bool
	// TLS, when set, wraps the connection.
	TLS *tls.Config
	// ReconnectMax caps the reconnect backoff; 0 is the default.
	ReconnectMax time.Duration
	// QueueBytes bounds the memory of the entry's queue (queue.bytes); 0
	// is stream.DefaultQueueBytes.
	QueueBytes int
}

// EntryError is an entry NewSenders could not start, by its index.
type EntryError struct {
	Index int
	Err   error
}

func (e *EntryError) Error() string { return fmt.Sprintf("streaming[%d]: %v", e.Index, e.Err) }

func (e *EntryError) Unwrap() error { return e.Err }

// Stream is one configured sender.
type Stream struct {
	Channel, Receiver string
	Sender            *stream.Sender
}

// Senders fans messages out to every receiver of their channel. Enqueueing
// never blocks: each sender has its own bounded queue that drops the
// oldest messages while its receiver is unreachable.
type Senders struct {
	byChannel map[string][]*stream.Sender
	streams   []Stream
}

// NewSenders starts one sender per entry, each with a queue of queueSize
// messages. On error the senders started so far are closed; the error
// is an *EntryError naming the
// entry.
func NewSenders(entries []Entry, queueSize int, log *slog.Logger) (*Senders, error) {
	s := &Senders{byChannel: map[string][]*stream.Sender{}}
	for i, e := range entries {
		snd, err := stream.NewSender(stream.Config{
			Name: e.Type, Address: e.Address, TLS: e.TLS, Sequenced: e.Sequenced,
			QueueSize: queueSize, QueueBytes: e.QueueBytes, BackoffMax: e.ReconnectMax, Logger: log,
		})
		if err != nil {
			_ = s.Close(context.Background())
			return nil, &EntryError{Index: i, Err: err}
		}
		s.byChannel[e.Type] = append(s.byChannel[e.Type], snd)
		s.streams = append(s.streams, Stream{Channel: e.Type, Receiver: e.Address, Sender: snd})
	}
	return s, nil
}

// Send queues m to every receiver of channel.
func (s *Senders) Send(channel string, m *aos.AosMessage) {
	for _, snd := range s.byChannel[channel] {
		snd.Enqueue(m)
	}
}

// SendBody queues an encoded AosMessage (Encoder.ProbeBodies) to every
// receiver of channel; each copies it, so body may be reused at once.
func (s *Senders) SendBody(channel string, body []byte) {
	for _, snd := range s.byChannel[channel] {
		snd.EnqueueBody(body)
	}
}

// Has reports whether any receiver takes channel, so callers can skip
// encoding what nobody receives.
func (s *Senders) Has(channel string) bool { return len(s.byChannel[channel]) > 0 }

// Close flushes every sender until ctx ends; the error lists the receivers
// left with unsent messages and why.
func (s *Senders) Close(ctx context.Context) error {
	var errs []error
	for _, st := range s.streams {
		if unsent, err := st.Sender.Close(ctx); err != nil || unsent > 0 {
			e := fmt.Sprintf("streaming %s to %s: %d messages unsent", st.Channel, st.Receiver, unsent)
			if err != nil {
				e += ": " + err.Error()
			}
			if last := st.Sender.Stats().LastError; last != "" {
				e += " (receiver unreachable: " + last + ")"
			}
			errs = append(errs, errors.New(e))
		}
	}
	return errors.Join(errs...)
}

// Describe lists the receivers as channel->address.
func (s *Senders) Describe() string {
	names := make([]string, len(s.streams))
	for i, st := range s.streams {
		names[i] = st.Channel + "->" + st.Receiver
	}
	return strings.Join(names, ", ")
}

// Streams returns the configured senders in configuration order.
func (s *Senders) Streams() []Stream { return s.streams }
