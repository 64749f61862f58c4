package stream

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/probe-agent/probe-agent/proto/aos"
)

// The three Apstra streaming channels. Each is its own TCP connection.
const (
	ChannelPerfMon = "perfmon"
	ChannelAlerts  = "alerts"
	ChannelEvents  = "events"
)

// Defaults for the zero values of Config.
const (
	DefaultQueueSize    = 100_000
	DefaultQueueBytes   = 16 << 20
	DefaultBackoffMin   = 100 * time.Millisecond
	DefaultBackoffMax   = 30 * time.Second
	DefaultDialTimeout  = 5 * time.Second
	DefaultWriteTimeout = 30 * time.Second
)

const (
	// flushAt is how many encoded bytes the writer gathers before one write call;
	// it is also flushed whenever the queue runs empty, so latency stays low when
	// traffic is light.
	flushAt = 64 << 10
)

// Config describes one channel's connection to one receiver.
type Config struct {
	Name    string      // ChannelPerfMon, ChannelAlerts or ChannelEvents
	Address string      // receiver host:port
	TLS     *tls.Config // nil for plain TCP
	// Sequenced wraps every message in an AosSequencedMessage. It must match the
	// receiver's setting for the channel.
	Sequenced bool
	QueueSize int // messages; DefaultQueueSize when 0
	// QueueBytes bounds the memory of the queued frames; DefaultQueueBytes
	// when 0. The oldest are dropped at whichever bound is reached first.
	QueueBytes int

	BackoffMin   time.Duration // first reconnect delay; DefaultBackoffMin when 0
	BackoffMax   time.Duration // reconnect delay ceiling; DefaultBackoffMax when 0
	DialTimeout  time.Duration // TCP connect plus TLS handshake; DefaultDialTimeout when 0
	WriteTimeout time.Duration // one write call; a receiver that stops reading for this long is reconnected
	// InitialSeq is the first seq_num; 0 picks a random one, so a restarted agent
	// does not look like a continuation of its previous run.
	InitialSeq uint64
	Logger     *slog.Logger // slog.Default() when nil
}

// Stats is a point-in-time copy of a Sender's counters.
type Stats struct {
	Enqueued uint64 // messages accepted by Enqueue
	// Sent counts frames written to a connection: the kernel accepted
	// them. It is not delivery: frames written shortly before a connection
	// fails, or to a receiver that stops reading and closes, are lost
	// without the sender knowing (TCP acknowledges what the receiver's
	// kernel buffered, not what the application read). Only a sequenced
	// receiver's gaps prove what was delivered.
	Sent uint64
	// WrittenOnFailed counts the frames written on connections that later
	// failed (write error, or the receiver closed or reset it), as opposed
	// to connections the sender closed at a flush or reload: the upper
	// bound of what those failures can have lost (docs/metrics.md).
	WrittenOnFailed uint64

	Dropped uint64 // oldest messages discarded because the queue was full (either bound)
	// DroppedBytes is the part of Dropped due to the byte bound (QueueBytes),
	// the rest being due to the message bound (QueueSize).
	DroppedBytes uint64
	Oversize     uint64 // messages refused because their frame would exceed MaxFrameSize
	Invalid      uint64 // messages that could not be marshaled (e.g. a required field unset)
	Reconnects   uint64 // successful connections after the first
	// ConnectFailures counts failed connection attempts; LastError is the
	// latest one's reason ("" once connected).
	ConnectFailures uint64
	LastError       string
	Connected       bool
	QueueDepth      int
	QueueBytes      int // memory the queue holds (whole chunks)
}

// connectWarnEvery bounds how often a receiver that stays unreachable is
// logged at Warn again after the first failure.
const connectWarnEvery = time.Minute

// Sender streams AosMessages on one channel. Enqueue is safe for concurrent use.
type Sender struct {
	cfg Config
	log *slog.Logger
	q   *frameQueue

	encMu   sync.Mutex // guards scratch, Enqueue's encoding buffer
	scratch []byte

	wake    chan struct{} // holds one token when the writer may have work
	closing chan struct{} // closed by Close: drain the queue, then stop
	abort   chan struct{} // closed when Close's context expires: stop now
	done    chan struct{} // closed when the writer goroutine has returned

	closed    atomic.Bool
	closeOnce sync.Once
	abortOnce sync.Once

	connMu sync.Mutex
	conn   net.Conn // current connection, so an abort can unblock a write

	enqueued, sent, dropped, droppedBytes, oversize, invalid, reconnects, connectFailures atomic.Uint64
	// writtenOnFailed counts frames written on connections that then
	// failed (Stats.WrittenOnFailed).
	writtenOnFailed atomic.Uint64

	lastErr   atomic.Pointer[string]
	connected atomic.Bool
	leftover  atomic.Int64 // encoded but unwritten frames when the writer stopped

	lastDropLog  atomic.Int64 // unix nanoseconds
	droppedSince atomic.Uint64
}

// NewSender validates cfg and starts the sender's writer goroutine, which connects
// in the background. Stop it with Close.
func NewSender(cfg Config) (*Sender, error) {
	switch cfg.Name {
	case ChannelPerfMon, ChannelAlerts, ChannelEvents:
	default:
		return nil, fmt.Errorf("stream: unknown channel %q (want %s, %s or %s)", cfg.Name, ChannelPerfMon, ChannelAlerts, ChannelEvents)
	}
	if _, _, err := net.SplitHostPort(cfg.Address); err != nil {
		return nil, fmt.Errorf("stream: channel %s: address %q: %w", cfg.Name, cfg.Address, err)
	}
	if cfg.QueueSize < 0 {
		return nil, fmt.Errorf("stream: channel %s: negative queue size %d", cfg.Name, cfg.QueueSize)
	}
	if cfg.QueueSize == 0 {
		cfg.QueueSize = DefaultQueueSize
	}
	if cfg.QueueBytes < 0 {
		return nil, fmt.Errorf("stream: channel %s: negative queue bytes %d", cfg.Name, cfg.QueueBytes)
	}
	if cfg.QueueBytes == 0 {
		cfg.QueueBytes = DefaultQueueBytes
	}
	if cfg.BackoffMin <= 0 {
		cfg.BackoffMin = DefaultBackoffMin
	}
	if cfg.BackoffMax <= 0 {
		cfg.BackoffMax = DefaultBackoffMax
	}
	cfg.BackoffMax = max(cfg.BackoffMax, cfg.BackoffMin)
	if cfg.DialTimeout <= 0 {
		cfg.DialTimeout = DefaultDialTimeout
	}
	if cfg.WriteTimeout <= 0 {
		cfg.WriteTimeout = DefaultWriteTimeout
	}
	if cfg.InitialSeq == 0 {
		cfg.InitialSeq = 1 + rand.Uint64N(1<<31-1)
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	s := &Sender{
		cfg:     cfg,
		log:     cfg.Logger.With("channel", cfg.Name, "receiver", cfg.Address),
		q:       newFrameQueue(cfg.QueueSize, cfg.QueueBytes, cfg.InitialSeq, cfg.Sequenced),
		wake:    make(chan struct{}, 1),
		closing: make(chan struct{}),
		abort:   make(chan struct{}),
		done:    make(chan struct{}),
	}
	go s.run()
	return s, nil
}

// Enqueue queues m for sending and returns at once. m is encoded before
// Enqueue returns, so the caller may reuse it. When the queue is full the
// oldest queued messages are dropped to make room. Enqueue returns false, and
// does nothing, after Close.
func (s *Sender) Enqueue(m *aos.AosMessage) bool {
	if s.closed.Load() {
		return false
	}
	s.encMu.Lock()
	defer s.encMu.Unlock()
	body, err := appendBody(s.scratch[:0], m)
	if err != nil {
		s.enqueued.Add(1)
		s.q.skipSeq()
		s.invalid.Add(1)
		s.log.Warn("stream message refused", "err", err)
		return true
	}
	s.scratch = body[:0]
	return s.EnqueueBody(body)
}

// EnqueueBody queues an encoded AosMessage (the bytes proto.Marshal gives)
// and returns at once; the body is copied, so the caller may reuse it. It
// is the path of probe data, which aosout encodes straight from the stages
// without building messages. Like Enqueue it drops the oldest messages when
// the queue is full and returns false after Close.
func (s *Sender) EnqueueBody(body []byte) bool {
	if s.closed.Load() {
		return false
	}
	s.enqueued.Add(1)
	dropped, why, err := s.q.push(body)
	if err != nil {
		s.oversize.Add(1)
		s.log.Warn("stream message refused", "err", err, "bytes", len(body))
		return true
	}
	if dropped > 0 {
		s.dropped.Add(uint64(dropped))
		if why == dropBytes {
			s.droppedBytes.Add(uint64(dropped))
		}
		s.noteDrop(dropped, why)
	}
	select {
	case s.wake <- struct{}{}:
	default:
	}
	return true
}

// noteDrop logs queue overflow at most once per second, with the count since the
// previous line and the bound that was reached, so a long outage does not flood
// the log.
func (s *Sender) noteDrop(n int, why dropReason) {
	s.droppedSince.Add(uint64(n))
	now := time.Now().UnixNano()
	last := s.lastDropLog.Load()
	if now-last < int64(time.Second) || !s.lastDropLog.CompareAndSwap(last, now) {
		return
	}
	bound := "queue.messages"
	if why == dropBytes {
		bound = "queue.bytes"
	}
	s.log.Warn("stream queue full, dropped oldest messages",
		"dropped", s.droppedSince.Swap(0), "bound", bound, "queue_size", s.cfg.QueueSize, "queue_bytes", s.cfg.QueueBytes)
}

// Stats returns the current counters.
func (s *Sender) Stats() Stats {
	return Stats{
		Enqueued: s.enqueued.Load(),
		Sent:     s.sent.Load(),

		WrittenOnFailed: s.writtenOnFailed.Load(),
		Dropped:         s.dropped.Load(),
		DroppedBytes:    s.droppedBytes.Load(),
		Oversize:        s.oversize.Load(),
		Invalid:         s.invalid.Load(),
		Reconnects:      s.reconnects.Load(),
		Connected:       s.connected.Load(),
		QueueDepth:      s.q.len(),
		QueueBytes:      s.q.bytes(),

		ConnectFailures: s.connectFailures.Load(),
		LastError:       s.lastError(),
	}
}

// NextSeq is the seq_num the next enqueued message will get. A sender
// that takes over from this one for the same receiver (a reload that
// changed its entry) starts there, so the receiver's sequence goes on
// without a gap or a reset.
func (s *Sender) NextSeq() uint64 {
	s.q.mu.Lock()
	defer s.q.mu.Unlock()
	return s.q.nextSeq
}

func (s *Sender) lastError() string {
	if p := s.lastErr.Load(); p != nil {
		return *p
	}
	return ""
}

// outage tracks one run of failed connection attempts for the log: the
// first failure is a Warn with the reason, repeats are Warns at most every
// connectWarnEvery (Debug otherwise), and the connection that ends it says
// how long it lasted.
type outage struct {
	failures uint64
	since    time.Time
	lastWarn time.Time
}

func (s *Sender) connectFailed(o *outage, err error, retryIn time.Duration) {
	now := time.Now()
	s.connectFailures.Add(1)
	msg := err.Error()
	s.lastErr.Store(&msg)
	o.failures++
	switch {
	case o.failures == 1:
		o.since, o.lastWarn = now, now
		s.log.Warn("stream receiver unreachable; messages queue until it is (retrying with backoff)", "err", err, "retry_in", retryIn, "queued", s.q.len())
	case now.Sub(o.lastWarn) >= connectWarnEvery:
		o.lastWarn = now
		s.log.Warn("stream receiver still unreachable", "err", err, "failures", o.failures, "for", now.Sub(o.since).Round(time.Second), "queued", s.q.len(), "dropped", s.dropped.Load())
	default:
		s.log.Debug("stream connect failed", "err", err, "retry_in", retryIn)
	}
}

func (s *Sender) connectedAfter(o *outage, ll *lossLog) {
	empty := ""
	s.lastErr.Store(&empty)
	if ll.flapping(time.Now()) {
		// Connected again after a recent loss: the loss line said it.
		s.log.Debug("stream connected", "after_failures", o.failures)
	} else if o.failures > 0 {
		s.log.Info("stream connected", "after_failures", o.failures, "unreachable_for", time.Since(o.since).Round(time.Millisecond))
	} else {
		s.log.Info("stream connected")
	}
	*o = outage{}
}

// Close stops accepting messages and keeps sending, reconnecting if it must, until
// the queue is empty or ctx is done. It returns how many messages were left
// unsent, and ctx's error if it expired first. Close is safe to call more than
// once.
func (s *Sender) Close(ctx context.Context) (unsent int, err error) {
	s.closeOnce.Do(func() {
		s.closed.Store(true)
		close(s.closing)
	})
	select {
	case <-s.done:
	case <-ctx.Done():
		s.abortOnce.Do(func() {
			close(s.abort)
			// Unblock a write stuck on a receiver that stopped reading.
			s.connMu.Lock()
			if s.conn != nil {
				s.conn.Close()
			}
			s.connMu.Unlock()
		})
		<-s.done
		err = ctx.Err()
	}
	return s.q.len() + int(s.leftover.Load()), err
}

// conn state owned by the writer goroutine.
type link struct {
	conn net.Conn
	tcp  *net.TCPConn  // the TCP connection under conn, for the liveness probe
	dead chan struct{} // closed when the receiver side closed or reset
	// written counts the frames written on this connection, for
	// Stats.WrittenOnFailed when it fails.
	written uint64
	// closedBy is the read error that ended the connection (io.EOF, a
	// reset, "remote error: tls: bad certificate" from a receiver refusing
	// the client certificate after a TLS 1.3 handshake); set before dead
	// is closed.
	closedBy error
}

// lossLog rate-limits the lines of lost connections: a receiver that
// accepts and at once closes (a TLS 1.3 receiver refusing the client
// certificate after the handshake, one that is full) would otherwise log
// an Info and a Warn at every reconnect. The first loss is a Warn, then at
// most one a connectWarnEvery saying how many went unlogged; the rest are
// Debug. Owned by the writer goroutine.
type lossLog struct {
	lastWarn   time.Time
	suppressed uint64
}

// flapping reports whether a connection was lost within connectWarnEvery.
func (ll *lossLog) flapping(now time.Time) bool {
	return !ll.lastWarn.IsZero() && now.Sub(ll.lastWarn) < connectWarnEvery
}

func (s *Sender) connLost(ll *lossLog, msg string, args ...any) {
	now := time.Now()
	if ll.flapping(now) {
		ll.suppressed++
		s.log.Debug(msg, args...)
		return
	}
	if ll.suppressed > 0 {
		args = append(args, "losses_not_logged", ll.suppressed)
	}
	s.log.Warn(msg, args...)
	ll.lastWarn, ll.suppressed = now, 0
}

// linkFailed counts the frames written on l as written on a failed
// connection; the caller then drops l.
func (s *Sender) linkFailed(l *link) { s.writtenOnFailed.Add(l.written) }

func (s *Sender) run() {
	defer close(s.done)

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		select {
		case <-s.abort:
			cancel()
		case <-ctx.Done():
		}
	}()

	var (
		l *link
		// Grown by the frames as needed (up to about 2*flushAt): a quiet
		// channel, such as alerts, keeps a small buffer.
		out       = make([]byte, 0, 4<<10)
		outFrames int // frames in out, all of which are unwritten
		attempt   int
		down      outage
		losses    lossLog
		// pause is the wait before redialling after a lost connection: a
		// receiver that accepts and at once closes must not be redialled
		// in a tight loop.
		pause    time.Duration
		ever     bool // connected at least once
		draining bool
		closing  = s.closing
	)
	defer func() {
		if l != nil {
			s.dropLink(l)
		}
		s.leftover.Store(int64(outFrames))
	}()

	// write sends out on l. On failure out is kept, so its frames go out again,
	// with the same seq_nums, on the next connection.
	write := func() bool {
		if outFrames == 0 {
			return true
		}
		if err := s.writeAll(l, out); err != nil {
			s.linkFailed(l)
			s.connLost(&losses, "stream connection lost", "err", err, "resending", outFrames, "written_on_connection", l.written)
			s.dropLink(l)
			l = nil
			pause = backoff(s.cfg.BackoffMin, s.cfg.BackoffMax, attempt)
			attempt++
			return false
		}
		s.sent.Add(uint64(outFrames))
		l.written += uint64(outFrames)
		out, outFrames = out[:0], 0
		// Back off afresh only once a connection has carried data, so a receiver
		// that accepts and at once hangs up is not redialled at the minimum delay.
		attempt = 0
		return true
	}

	// sleep waits d before the next dial; false means the sender aborted.
	sleep := func(d time.Duration) bool {
		t := time.NewTimer(d)
		defer t.Stop()
		select {
		case <-t.C:
		case <-closing:
			// Stop waiting at once if there is nothing left to send.
			draining, closing = true, nil
		case <-s.abort:
			return false
		}
		return true
	}

	for {
		select {
		case <-s.abort:
			return
		case <-closing:
			draining, closing = true, nil
		default:
		}
		if l == nil {
			if draining && outFrames == 0 && s.q.len() == 0 {
				return
			}
			if pause > 0 {
				d := pause
				pause = 0
				if !sleep(d) {
					return
				}
				continue
			}
			var err error
			l, err = s.dial(ctx)
			if err != nil {
				delay := backoff(s.cfg.BackoffMin, s.cfg.BackoffMax, attempt)
				attempt++
				s.connectFailed(&down, err, delay)
				if !sleep(delay) {
					return
				}
				continue
			}
			if ever {
				s.reconnects.Add(1)
			}
			ever = true
			s.connectedAfter(&down, &losses)
			if !write() {
				continue
			}
		}

		// The queue holds whole frames: they are copied into out as they are.
		var k int
		out, k = s.q.popInto(out, flushAt-min(len(out), flushAt))
		if k == 0 {
			if !write() {
				continue
			}
			if draining {
				return
			}
			select {
			case <-s.wake:
			case <-closing:
				draining, closing = true, nil
			case <-l.dead:
				s.linkFailed(l)
				reason := "closed"
				if l.closedBy != nil && !errors.Is(l.closedBy, io.EOF) {
					reason = l.closedBy.Error()
				}
				s.lastErr.Store(&reason)
				s.connLost(&losses, "stream receiver closed the connection", "reason", reason, "written_on_connection", l.written)
				s.dropLink(l)
				l = nil
				pause = backoff(s.cfg.BackoffMin, s.cfg.BackoffMax, attempt)
				attempt++
			case <-s.abort:
				return
			}
			continue
		}
		outFrames += k
		if len(out) >= flushAt {
			write()
		}
	}
}

// writeAll writes b on l, failing fast if the receiver is already known to be gone:
// bytes written into a socket whose peer has closed are accepted by the kernel and
// silently lost, which would turn into a gap at the receiver.
func (s *Sender) writeAll(l *link, b []byte) error {
	select {
	case <-l.dead:
		return errors.New("receiver closed the connection")
	default:
	}
	if err := peerClosed(l.tcp); err != nil {
		return err
	}
	if err := l.conn.SetWriteDeadline(time.Now().Add(s.cfg.WriteTimeout)); err != nil {
		return err
	}
	_, err := l.conn.Write(b)
	return err
}

func (s *Sender) dial(ctx context.Context) (*link, error) {
	ctx, cancel := context.WithTimeout(ctx, s.cfg.DialTimeout)
	defer cancel()
	d := net.Dialer{}
	c, err := d.DialContext(ctx, "tcp", s.cfg.Address)
	if err != nil {
		return nil, err
	}
	tcp, _ := c.(*net.TCPConn)
	if s.cfg.TLS != nil {
		tc := tls.Client(c, s.tlsConfig())
		if err := tc.HandshakeContext(ctx); err != nil {
			c.Close()
			return nil, fmt.Errorf("tls handshake: %w", err)
		}
		c = tc
	}
	l := &link{conn: c, tcp: tcp, dead: make(chan struct{})}
	go watchPeer(c, l)
	s.connMu.Lock()
	s.conn = c
	s.connMu.Unlock()
	s.connected.Store(true)
	return l, nil
}

func (s *Sender) tlsConfig() *tls.Config {
	if s.cfg.TLS.ServerName != "" {
		return s.cfg.TLS
	}
	c := s.cfg.TLS.Clone()
	c.ServerName, _, _ = net.SplitHostPort(s.cfg.Address)
	return c
}

func (s *Sender) dropLink(l *link) {
	l.conn.Close()
	s.connMu.Lock()
	if s.conn == l.conn {
		s.conn = nil
	}
	s.connMu.Unlock()
	s.connected.Store(false)
}

// watchPeer reads from c until it fails. Receivers never send anything, so a read
// returning means the receiver closed or reset the connection (or we closed it);
// either way the writer learns it without waiting for its next write to fail.
func watchPeer(c net.Conn, l *link) {
	defer close(l.dead)
	var b [256]byte
	for {
		if _, err := c.Read(b[:]); err != nil {
			l.closedBy = err // read by the writer after <-l.dead
			return
		}
	}
}

// backoff returns the delay before reconnect attempt n (from 0): exponential from
// lo up to hi, then jittered down by up to half so that many agents restarted
// together do not reconnect in lockstep.
func backoff(lo, hi time.Duration, n int) time.Duration {
	d := hi
	if n < 32 && lo<<n < hi && lo<<n > 0 {
		d = lo << n
	}
	return d/2 + rand.N(d/2+1)
}
