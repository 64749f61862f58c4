package stream

import (
	"bufio"
	"errors"
	"io"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"

	"google.golang.org/protobuf/proto"

	"github.com/probe-agent/probe-agent/proto/aos"
)

// DedupWindow is how far below the last seen seq_num a frame may be and still be
// taken as a resend of something already delivered. A sender resends at most one
// batch of unwritten frames after a reconnect, far fewer than this; a seq_num that
// falls further back means the sender restarted and began a new sequence.
const DedupWindow = 1 << 20

// Received is one decoded message handed to a ReceiverConfig.Handle callback.
type Received struct {
	Seq       uint64 // seq_num on a sequenced channel, 0 otherwise
	Sequenced bool
	Remote    net.Addr
	// Message is valid only until the callback returns: the Receiver decodes
	// the connection's next message into the same storage. A callback that
	// keeps the message, or hands it to another goroutine, keeps a Clone.
	// Strings read out of it (GetItemId() and the like) stay valid.
	Message *aos.AosMessage
}

// Clone returns a copy of r whose Message is the caller's to keep.
func (r Received) Clone() Received {
	if r.Message != nil {
		r.Message = proto.CloneOf(r.Message)
	}
	return r
}

// Gap is a break in a sender's sequence: the messages from Expected up to but not
// including Got never arrived.
type Gap struct {
	Sender   string // the sending host (IP address), which identifies the sequence
	Expected uint64
	Got      uint64
}

// Lost is the number of messages the gap stands for.
func (g Gap) Lost() uint64 { return g.Got - g.Expected }

// ReceiverConfig configures a Receiver for one channel.
type ReceiverConfig struct {
	// Sequenced must match the senders' setting for the channel.
	Sequenced bool
	// Handle is called once per message, in order within a connection. Calls for
	// different connections may run concurrently. The message is valid only
	// during the call (see Received.Message).
	Handle func(Received)
	// OnGap, if set, is called for every sequence gap, before the message that
	// revealed it is handled.
	OnGap  func(Gap)
	Logger *slog.Logger // slog.Default() when nil
}

// ReceiverStats is a point-in-time copy of a Receiver's counters.
type ReceiverStats struct {
	Connections  uint64 // accepted so far
	Messages     uint64 // handed to Handle
	Duplicates   uint64 // resent frames already delivered, skipped
	Gaps         uint64 // sequence gaps seen
	Lost         uint64 // messages missing across all gaps
	Resets       uint64 // senders that started a new sequence (restarted)
	DecodeErrors uint64 // frames that did not decode; the connection goes on
	// Mismatched counts the frames among DecodeErrors that decode in the
	// other framing: the sender's sequenced setting differs from ours.
	Mismatched uint64
}

// Receiver accepts streaming connections and decodes their frames. The sequence of
// a sender is tracked by its IP address rather than by connection, because a
// sender's seq_num carries on across reconnects; that assumes one agent per
// address on a channel, which is how agents are deployed.
type Receiver struct {
	cfg ReceiverConfig
	log *slog.Logger

	mu        sync.Mutex
	closed    bool
	listeners map[net.Listener]struct{}
	conns     map[net.Conn]struct{}
	seqs      map[string]*seqState
	wg        sync.WaitGroup

	connections, messages, duplicates, gaps, lost, resets, decodeErrors, mismatched atomic.Uint64
}

type seqState struct {
	last uint64
}

// NewReceiver returns a Receiver; start it with Serve.
func NewReceiver(cfg ReceiverConfig) *Receiver {
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Handle == nil {
		cfg.Handle = func(Received) {}
	}
	return &Receiver{
		cfg:       cfg,
		log:       cfg.Logger,
		listeners: map[net.Listener]struct{}{},
		conns:     map[net.Conn]struct{}{},
		seqs:      map[string]*seqState{},
	}
}

// Serve accepts connections on l until Close is called or l fails. It returns nil
// after Close. Pass a listener from tls.NewListener to receive over TLS.
func (r *Receiver) Serve(l net.Listener) error {
	r.mu.Lock()
	if r.closed {
		r.mu.Unlock()
		l.Close()
		return nil
	}
	r.listeners[l] = struct{}{}
	r.mu.Unlock()
	defer func() {
		r.mu.Lock()
		delete(r.listeners, l)
		r.mu.Unlock()
	}()
	for {
		c, err := l.Accept()
		if err != nil {
			r.mu.Lock()
			closed := r.closed
			r.mu.Unlock()
			if closed {
				return nil
			}
			return err
		}
		r.mu.Lock()
		if r.closed {
			r.mu.Unlock()
			c.Close()
			return nil
		}
		r.conns[c] = struct{}{}
		r.wg.Add(1)
		r.mu.Unlock()
		r.connections.Add(1)
		go r.serveConn(c)
	}
}

// Close stops every Serve, closes open connections and waits until no Handle call
// is running.
func (r *Receiver) Close() error {
	r.mu.Lock()
	r.closed = true
	for l := range r.listeners {
		l.Close()
	}
	for c := range r.conns {
		c.Close()
	}
	r.mu.Unlock()
	r.wg.Wait()
	return nil
}

// Stats returns the current counters.
func (r *Receiver) Stats() ReceiverStats {
	return ReceiverStats{
		Connections:  r.connections.Load(),
		Messages:     r.messages.Load(),
		Duplicates:   r.duplicates.Load(),
		Gaps:         r.gaps.Load(),
		Lost:         r.lost.Load(),
		Resets:       r.resets.Load(),
		DecodeErrors: r.decodeErrors.Load(),
		Mismatched:   r.mismatched.Load(),
	}
}

func (r *Receiver) serveConn(c net.Conn) {
	defer r.wg.Done()
	defer func() {
		c.Close()
		r.mu.Lock()
		delete(r.conns, c)
		r.mu.Unlock()
	}()
	remote := c.RemoteAddr()
	sender := remote.String()
	if host, _, err := net.SplitHostPort(sender); err == nil {
		sender = host
	}
	log := r.log.With("remote", remote.String())
	log.Debug("stream connection accepted")

	cr := &connReader{r: r, br: newFrameReader(c), remote: remote, sender: sender, log: log}
	for {
		if err := cr.next(); err != nil {
			if !errors.Is(err, io.EOF) && !errors.Is(err, net.ErrClosed) {
				log.Warn("stream connection ended", "err", err)
			}
			return
		}
	}
}

// connReader is the receiving state of one connection. Its buffers and its
// decoder's message are reused from frame to frame, so a steady stream of probe
// data costs one allocation per message (the copy of its strings).
type connReader struct {
	r            *Receiver
	br           *bufio.Reader
	remote       net.Addr
	sender       string // the sequence's key: the remote host
	log          *slog.Logger
	seq          *seqState // the sender's sequence, once looked up
	dec          frameDecoder
	mismatchSaid bool
}

// next reads one frame and hands its message to the Handle callback, unless
// it does not decode or is a duplicate. It returns only read errors; a frame
// that does not decode is counted and skipped.
func (cr *connReader) next() error {
	r, log := cr.r, cr.log
	frame, err := peekFrame(cr.br)
	if err != nil {
		return err
	}
	seq, m, err := cr.dec.decode(frame, r.cfg.Sequenced)
	if err != nil {
		r.decodeErrors.Add(1)
		if _, _, otherErr := DecodeFrame(frame, !r.cfg.Sequenced); otherErr == nil {
			// Said once per connection: every frame would repeat it.
			r.mismatched.Add(1)
			if !cr.mismatchSaid {
				cr.mismatchSaid = true
				log.Error(mismatchAdvice(r.cfg.Sequenced), "frames_skipped_so_far", r.mismatched.Load())
			} else {
				log.Debug("stream frame skipped: sequenced setting differs from the sender's", "bytes", len(frame))
			}
			return nil
		}
		log.Warn("stream frame skipped", "err", err, "bytes", len(frame))
		return nil
	}
	if r.cfg.Sequenced && !r.accept(cr, seq) {
		return nil
	}
	r.messages.Add(1)
	r.cfg.Handle(Received{Seq: seq, Sequenced: r.cfg.Sequenced, Remote: cr.remote, Message: m})
	return nil
}

// mismatchAdvice says which side to change when the sender's framing is
// the other one: both ends must agree on sequenced.
func mismatchAdvice(weAreSequenced bool) string {
	if weAreSequenced {
		return "the sender is unsequenced but this receiver expects sequenced frames: set sequenced: true on the agent's streaming entry for this channel, or run the receiver without --sequenced; frames are skipped until then"
	}
	return "the sender is sequenced but this receiver expects unsequenced frames: run the receiver with --sequenced, or set sequenced: false on the agent's streaming entry for this channel; frames are skipped until then"
}

// accept checks seq against the sequence of cr's sender and reports whether the
// message is new.
func (r *Receiver) accept(cr *connReader, seq uint64) bool {
	sender, log := cr.sender, cr.log
	r.mu.Lock()
	st := cr.seq
	if st == nil {
		// Looked up once per connection: entries are never replaced.
		var ok bool
		if st, ok = r.seqs[sender]; !ok {
			r.seqs[sender] = &seqState{last: seq}
			r.mu.Unlock()
			return true
		}
		cr.seq = st
	}
	last := st.last
	switch {
	case seq == last+1:
		st.last = seq
		r.mu.Unlock()
		return true
	case seq > last+1:
		st.last = seq
		r.mu.Unlock()
		g := Gap{Sender: sender, Expected: last + 1, Got: seq}
		r.gaps.Add(1)
		r.lost.Add(g.Lost())
		log.Warn("stream sequence gap", "expected", g.Expected, "got", g.Got, "lost", g.Lost())
		if r.cfg.OnGap != nil {
			r.cfg.OnGap(g)
		}
		return true
	case last-seq < DedupWindow:
		r.mu.Unlock()
		r.duplicates.Add(1)
		return false
	default:
		st.last = seq
		r.mu.Unlock()
		r.resets.Add(1)
		log.Info("stream sequence restarted", "previous", last, "now", seq)
		return true
	}
}
