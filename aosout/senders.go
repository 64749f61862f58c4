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
	// Key identifies everything that configures the entry, TLS material
	// included (the *tls.Config cannot be compared): Reconfigure keeps
	// the running sender of an entry whose Key and queue size are
	// unchanged. Empty: the entry is always rebuilt on Reconfigure.
	Key string
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

	key        string // Entry.Key
	queueSize  int
	queueBytes int // Entry.QueueBytes
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
		st, err := startStream(e, queueSize, 0, log)
		if err != nil {
			_ = s.Close(context.Background())
			return nil, &EntryError{Index: i, Err: err}
		}
		s.add(st)
	}
	return s, nil
}

// startStream starts the sender of e; initialSeq 0 picks a random
// sequence start.
func startStream(e Entry, queueSize int, initialSeq uint64, log *slog.Logger) (Stream, error) {
	snd, err := stream.NewSender(stream.Config{
		Name: e.Type, Address: e.Address, TLS: e.TLS, Sequenced: e.Sequenced,
		QueueSize: queueSize, QueueBytes: e.QueueBytes, BackoffMax: e.ReconnectMax, Logger: log,
		InitialSeq: initialSeq,
	})
	if err != nil {
		return Stream{}, err
	}
	return Stream{Channel: e.Type, Receiver: e.Address, Sender: snd, key: e.Key, queueSize: queueSize, queueBytes: e.QueueBytes}, nil
}

func (s *Senders) add(st Stream) {
	s.byChannel[st.Channel] = append(s.byChannel[st.Channel], st.Sender)
	s.streams = append(s.streams, st)
}

// Reconfigure builds the senders of entries from the running ones, for a
// reload: a sender whose entry (Key) and queue size did not change is
// carried over as it is, with its connection, its queue and its
// sequence; a changed entry's new sender for the same channel and
// receiver continues the old one's sequence (its first seq_num is the old
// sender's next), so a sequenced receiver sees neither a gap nor a reset.
// retired holds the old senders not carried over: the caller flushes and
// closes them (Close) once next is in use. Enqueueing into s must stop
// before Reconfigure is called (the agent reconfigures between ticks), or
// a message could take a seq_num the new sender also hands out. On error
// s is untouched and nothing new is left running.
func (s *Senders) Reconfigure(entries []Entry, queueSize int, log *slog.Logger) (next, retired *Senders, err error) {
	next = &Senders{byChannel: map[string][]*stream.Sender{}}
	retired = &Senders{byChannel: map[string][]*stream.Sender{}}
	used := make([]bool, len(s.streams))
	var started []Stream
	// Unchanged entries first, so a changed entry for the same receiver
	// cannot take the unchanged one's sender.
	plan := make([]int, len(entries)) // index into s.streams, or -1
	for i, e := range entries {
		plan[i] = -1
		for j, old := range s.streams {
			if !used[j] && e.Key != "" && old.key == e.Key && old.queueSize == queueSize && old.queueBytes == e.QueueBytes && old.Channel == e.Type && old.Receiver == e.Address {
				plan[i], used[j] = j, true
				break
			}
		}
	}
	continues := map[int]bool{} // old streams whose sequence a new one continues
	for i, e := range entries {
		if plan[i] >= 0 {
			next.add(s.streams[plan[i]])
			continue
		}
		var seq uint64
		for j, old := range s.streams {
			if !used[j] && !continues[j] && old.Channel == e.Type && old.Receiver == e.Address {
				seq, continues[j] = old.Sender.NextSeq(), true
				break
			}
		}
		st, err := startStream(e, queueSize, seq, log)
		if err != nil {
			for _, n := range started {
				_, _ = n.Sender.Close(context.Background())
			}
			return nil, nil, &EntryError{Index: i, Err: err}
		}
		started = append(started, st)
		next.add(st)
	}
	for j, old := range s.streams {
		if !used[j] {
			retired.add(old)
		}
	}
	return next, retired, nil
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

// Without returns the streams of s whose sender is not one of other's:
// after Reconfigure, the senders it started (to close if the reload is
// abandoned after all).
func (s *Senders) Without(other *Senders) *Senders {
	in := map[*stream.Sender]bool{}
	if other != nil {
		for _, st := range other.streams {
			in[st.Sender] = true
		}
	}
	out := &Senders{byChannel: map[string][]*stream.Sender{}}
	for _, st := range s.streams {
		if !in[st.Sender] {
			out.add(st)
		}
	}
	return out
}
