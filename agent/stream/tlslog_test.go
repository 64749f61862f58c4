package stream

import (
	"crypto/tls"
	"log/slog"
	"strings"
	"testing"
	"time"
)

// TestTLSFailuresAreWarned: a receiver whose certificate the agent cannot
// verify (wrong CA, wrong name) is a Warn naming the channel, the
// receiver and the reason at the first failure; the retries that follow
// are Debug (rate-limited), and Stats carry the reason.
func TestTLSFailuresAreWarned(t *testing.T) {
	serverCfg, goodClient := testTLSConfigs(t)
	_, otherCA := testTLSConfigs(t) // trusts a different certificate
	wrongName := goodClient.Clone()
	wrongName.ServerName = "receiver.example"
	for _, tc := range []struct {
		name   string
		client *tls.Config
		want   string
	}{
		{"wrong CA", otherCA, "certificate signed by unknown authority"},
		{"wrong SAN", wrongName, "wanted to match receiver.example"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ln := listen(t, "127.0.0.1:0")
			startReceiver(t, tls.NewListener(ln, serverCfg), ReceiverConfig{Handle: func(Received) {}})
			logs := &lockedBuffer{notify: make(chan struct{}, 1)}
			s := newTestSender(t, Config{Name: ChannelAlerts, Address: ln.Addr().String(), TLS: tc.client,
				BackoffMin: time.Millisecond, BackoffMax: 2 * time.Millisecond,
				Logger: slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))})
			s.Enqueue(probeAlert())
			logs.waitCount(t, "stream connect failed", 3) // the Debug retries after the first
			out := logs.String()
			warns := 0
			for _, line := range strings.Split(out, "\n") {
				if strings.Contains(line, "level=WARN") {
					warns++
					if !strings.Contains(line, "channel=alerts") || !strings.Contains(line, "receiver="+ln.Addr().String()) || !strings.Contains(line, tc.want) {
						t.Errorf("the Warn does not name channel, receiver and %q:\n%s", tc.want, line)
					}
				}
			}
			if warns != 1 {
				t.Errorf("%d Warn lines for one outage, want 1:\n%s", warns, out)
			}
			if st := s.Stats(); !strings.Contains(st.LastError, tc.want) {
				t.Errorf("Stats.LastError %q, want %q", st.LastError, tc.want)
			}
		})
	}
}

// TestRejectedAfterHandshakeIsRateLimited: a TLS 1.3 receiver that wants a
// client certificate completes the client's side of the handshake and
// then refuses it, so every connection "succeeds" and is lost at once.
// The first loss is a Warn with the receiver's reason; the repeats are not
// (Debug), nor are the reconnections (one Info "stream connected"), and
// the sender waits between attempts instead of redialling in a loop.
func TestRejectedAfterHandshakeIsRateLimited(t *testing.T) {
	serverCfg, clientCfg := testTLSConfigs(t)
	serverCfg.MinVersion = tls.VersionTLS13
	serverCfg.ClientAuth = tls.RequireAndVerifyClientCert
	ln := listen(t, "127.0.0.1:0")
	startReceiver(t, tls.NewListener(ln, serverCfg), ReceiverConfig{Handle: func(Received) {}})
	logs := &lockedBuffer{notify: make(chan struct{}, 1)}
	s := newTestSender(t, Config{Name: ChannelAlerts, Address: ln.Addr().String(), TLS: clientCfg,
		BackoffMin: time.Millisecond, BackoffMax: 2 * time.Millisecond,
		Logger: slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))})
	s.Enqueue(probeAlert())
	logs.waitCount(t, "level=DEBUG msg=\"stream connected\"", 4)
	out := logs.String()
	var warns []string
	for _, line := range strings.Split(out, "\n") {
		if strings.Contains(line, "level=WARN") {
			warns = append(warns, line)
		}
	}
	// The reason is the receiver's alert, unless the receiver's kernel
	// reset the connection first: it closes with the sender's first frame
	// unread, and the reset can overtake the alert in the sender's receive
	// queue. Either way there is exactly one Warn for the outage.
	if len(warns) != 1 || !(strings.Contains(warns[0], "certificate required") || strings.Contains(warns[0], "receiver closed the connection") || strings.Contains(warns[0], "connection reset")) {
		t.Errorf("want one Warn naming the receiver's reason (certificate required, or the connection closed), got %d:\n%s", len(warns), strings.Join(warns, "\n"))
	}
	if n := strings.Count(out, "level=INFO msg=\"stream connected\""); n != 1 {
		t.Errorf("%d Info lines for reconnections while flapping, want 1", n)
	}
	if st := s.Stats(); st.LastError != "" && !strings.Contains(st.LastError, "certificate required") && !strings.Contains(st.LastError, "closed the connection") && !strings.Contains(st.LastError, "connection reset") {
		t.Errorf("Stats.LastError %q", st.LastError)
	}
}
