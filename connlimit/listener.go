package connlimit

import (
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"
)

// Listener is a net.Listener with at most Max connections being served at
// once. When all are taken and a new client arrives, Accept closes the
// connection that has been idle longest (an HTTP keep-alive connection
// between requests, as reported through ConnState), then waits for a
// connection to close; meanwhile further clients stay in the kernel's
// accept backlog.
type Listener struct {
	net.Listener
	max   int
	slots chan struct{}
	done  chan struct{}
	once  sync.Once

	mu   sync.Mutex
	idle map[net.Conn]time.Time // keep-alive connections between requests

	waits     atomic.Uint64
	reclaimed atomic.Uint64
	onWait    func() // tests: called when Accept starts waiting for a slot
}

// New wraps l so that at most max (at least 1) connections are open.
func New(l net.Listener, max int) *Listener {
	if max < 1 {
		max = 1
	}
	return &Listener{
		Listener: l, max: max,
		slots: make(chan struct{}, max),
		done:  make(chan struct{}),
		idle:  map[net.Conn]time.Time{},
	}
}

// Max is the number of connections the listener holds at most.
func (l *Listener) Max() int { return l.max }

// Open is the number of connections open now.
func (l *Listener) Open() int { return len(l.slots) }

// Waits counts the accepts that found every connection slot taken.
func (l *Listener) Waits() uint64 { return l.waits.Load() }

// Reclaimed counts the idle keep-alive connections closed to make room
// for a new client.
func (l *Listener) Reclaimed() uint64 { return l.reclaimed.Load() }

// Accept returns the next connection once a slot is free. When every
// slot is taken it takes the next client off the backlog first (so one
// connection beyond Max may wait here, never more: Accept is called from
// one loop), closes the longest-idle keep-alive connection for it if
// there is one, and waits for a slot; the clients behind it stay in the
// kernel's backlog.
func (l *Listener) Accept() (net.Conn, error) {
	select {
	case l.slots <- struct{}{}:
		c, err := l.Listener.Accept()
		if err != nil {
			<-l.slots
			return nil, err
		}
		return &conn{Conn: c, l: l}, nil
	default:
	}
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	l.waits.Add(1)
	l.reclaimIdle()
	if l.onWait != nil {
		l.onWait()
	}
	select {
	case l.slots <- struct{}{}:
		return &conn{Conn: c, l: l}, nil
	case <-l.done:
		_ = c.Close()
		return nil, net.ErrClosed
	}
}

// Close closes the listener and wakes an Accept waiting for a slot.
// Connections already accepted stay open.
func (l *Listener) Close() error {
	l.once.Do(func() { close(l.done) })
	return l.Listener.Close()
}

// ConnState is an http.Server ConnState hook: it tells the listener which
// connections are idle keep-alive connections it may close when full.
func (l *Listener) ConnState(c net.Conn, s http.ConnState) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if s == http.StateIdle {
		l.idle[c] = time.Now()
		return
	}
	delete(l.idle, c)
}

// reclaimIdle closes the connection idle for longest, if any. A client
// on a keep-alive connection must expect the server to close it between
// requests (RFC 9112 section 9.8); Go's and curl's clients retry.
func (l *Listener) reclaimIdle() {
	l.mu.Lock()
	var oldest net.Conn
	var since time.Time
	for c, t := range l.idle {
		if oldest == nil || t.Before(since) {
			oldest, since = c, t
		}
	}
	if oldest != nil {
		delete(l.idle, oldest)
	}
	l.mu.Unlock()
	if oldest != nil {
		l.reclaimed.Add(1)
		_ = oldest.Close()
	}
}

// conn gives its slot back when closed (once, however often Close is
// called).
type conn struct {
	net.Conn
	l    *Listener
	once sync.Once
}

func (c *conn) Close() error {
	err := c.Conn.Close()
	c.once.Do(func() { <-c.l.slots })
	return err
}
