package stream

import (
	"log/slog"
	"strings"
	"testing"
	"time"
)

// TestWrittenOnFailedConnection: a receiver that reads one frame's worth
// and closes makes the frames the kernel accepted on that connection
// count as written on a failed connection: Sent says they were written,
// WrittenOnFailed that nothing confirms they were read (the 578,000
// "sent" with 598,370 lost and 0 dropped).
func TestWrittenOnFailedConnection(t *testing.T) {
	ln := listen(t, "127.0.0.1:0")
	defer ln.Close()
	go func() {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		_, _ = c.Read(make([]byte, 64)) // one frame, then gone
		_ = c.Close()
		// Later connections are refused by closing the listener, so the
		// sender does not deliver anything after the failure.
		_ = ln.Close()
	}()
	logs := &lockedBuffer{notify: make(chan struct{}, 1)}
	s := newTestSender(t, Config{Address: ln.Addr().String(), Sequenced: true, BackoffMin: time.Hour, BackoffMax: time.Hour,
		Logger: slog.New(slog.NewTextHandler(logs, nil))})
	for i := range 200 {
		s.Enqueue(numbered(i))
	}
	deadline := time.NewTimer(30 * time.Second)
	defer deadline.Stop()
	for !strings.Contains(logs.String(), "stream receiver closed the connection") && !strings.Contains(logs.String(), "stream connection lost") {
		select {
		case <-logs.notify:
		case <-deadline.C:
			t.Fatalf("the connection's failure was not noticed:\n%s", logs.String())
		}
	}
	st := s.Stats()
	if st.Sent == 0 || st.WrittenOnFailed != st.Sent {
		t.Fatalf("Sent %d, WrittenOnFailed %d: every frame written went to the connection that failed", st.Sent, st.WrittenOnFailed)
	}
}
