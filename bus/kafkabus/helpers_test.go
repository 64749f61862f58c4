package kafkabus_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
)

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

// cutter is a dialer whose connections a test can cut (the broker link
// lost: the client reconnects) or kill for good (the process died: no
// heartbeat, no leave, nothing).
type cutter struct {
	mu    sync.Mutex
	conns []net.Conn
	dead  bool
	cuts  int
}

var errDead = errors.New("test: this client's process is dead")

func (c *cutter) dial(ctx context.Context, network, host string) (net.Conn, error) {
	c.mu.Lock()
	dead := c.dead
	c.mu.Unlock()
	if dead {
		return nil, errDead
	}
	var d net.Dialer
	conn, err := d.DialContext(ctx, network, host)
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.dead {
		conn.Close()
		return nil, errDead
	}
	c.conns = append(c.conns, conn)
	return conn, nil
}

// cut closes every open connection; new ones may be dialled.
func (c *cutter) cut() {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, conn := range c.conns {
		conn.Close()
	}
	c.conns = nil
	c.cuts++
}

// kill closes every connection and refuses new ones.
func (c *cutter) kill() {
	c.mu.Lock()
	c.dead = true
	c.mu.Unlock()
	c.cut()
}

// newCluster starts an in-process Kafka-protocol cluster on loopback
// with a short minimum session timeout (members' failure is detected in
// test time).
func newCluster(t testing.TB, opts ...kfake.Opt) *kfake.Cluster {
	t.Helper()
	opts = append([]kfake.Opt{kfake.NumBrokers(1), kfake.GroupMinSessionTimeout(100 * time.Millisecond)}, opts...)
	c, err := kfake.NewCluster(opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c
}

// waitFor waits for cond, re-checked whenever ch signals; it fails the
// test after a minute (a hang, not a timing assertion).
func waitFor(t testing.TB, ch <-chan struct{}, what string, cond func() bool) {
	t.Helper()
	deadline := time.NewTimer(time.Minute)
	defer deadline.Stop()
	for !cond() {
		select {
		case <-ch:
		case <-deadline.C:
			t.Fatalf("gave up waiting for %s", what)
		}
	}
}

// signal is a broadcast a test's callbacks poke and waitFor listens to.
type signal struct{ ch chan struct{} }

func newSignal() *signal { return &signal{ch: make(chan struct{}, 1)} }
func (s *signal) poke() {
	select {
	case s.ch <- struct{}{}:
	default:
	}
}
