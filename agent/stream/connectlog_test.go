package stream

import (
	"bytes"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"
)

// lockedBuffer collects log output written from the sender's goroutine
// and signals each write.
type lockedBuffer struct {
	mu     sync.Mutex
	buf    bytes.Buffer
	notify chan struct{}
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	select {
	case b.notify <- struct{}{}:
	default:
	}
	return b.buf.Write(p)
}

// waitCount waits until s occurs n times in the log.
func (b *lockedBuffer) waitCount(t *testing.T, s string, n int) {
	t.Helper()
	deadline := time.NewTimer(20 * time.Second)
	defer deadline.Stop()
	for strings.Count(b.String(), s) < n {
		select {
		case <-b.notify:
		case <-deadline.C:
			t.Fatalf("timed out waiting for %d %q in the log:\n%s", n, s, b.String())
		}
	}
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// TestUnreachableReceiverIsLogged: the first failed connection is a Warn
// naming the channel, the receiver and the reason; the retries that follow
// within a minute are not (Debug); Stats carry the count and the reason;
// the connection that ends the outage says so and clears the reason.
func TestUnreachableReceiverIsLogged(t *testing.T) {
	logs := &lockedBuffer{notify: make(chan struct{}, 1)}
	addr := unusedAddr(t)
	s := newTestSender(t, Config{Name: ChannelPerfMon, Address: addr, BackoffMin: time.Millisecond, BackoffMax: 2 * time.Millisecond,
		Logger: slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))})
	s.Enqueue(numbered(1))
	logs.waitCount(t, "stream connect failed", 4) // the retries after the first
	st := s.Stats()
	if !strings.Contains(st.LastError, "connection refused") || st.ConnectFailures < 5 {
		t.Errorf("stats: LastError %q, ConnectFailures %d", st.LastError, st.ConnectFailures)
	}
	out := logs.String()
	if n := strings.Count(out, "stream receiver unreachable"); n != 1 {
		t.Errorf("%d Warn lines for one outage, want 1:\n%s", n, out)
	}
	if !strings.Contains(out, "level=WARN") || !strings.Contains(out, "channel=perfmon") || !strings.Contains(out, "receiver="+addr) || !strings.Contains(out, "connection refused") {
		t.Errorf("the Warn does not name the channel, receiver and reason:\n%s", out)
	}

	got := newSink()
	startReceiver(t, listen(t, addr), ReceiverConfig{Handle: got.handle})
	got.waitFor(t, "the queued message", atLeast(1))
	if got := s.Stats().LastError; got != "" {
		t.Errorf("LastError after connecting: %q", got)
	}
	if !strings.Contains(logs.String(), "msg=\"stream connected\" channel=perfmon receiver="+addr+" after_failures=") {
		t.Errorf("the reconnection does not say it ends an outage:\n%s", logs.String())
	}
}
