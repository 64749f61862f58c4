package restapi

import (
	"bytes"
	"log/slog"
	"strings"
	"testing"
	"time"
)

// TestErrorLogRateLimitsConnectionErrors: a flood of TLS handshake
// errors is one Warn per minute (the next one saying how many were left
// out) and Debug otherwise; other server errors are always a Warn.
func TestErrorLogRateLimitsConnectionErrors(t *testing.T) {
	var buf bytes.Buffer
	clock := time.Unix(1700000000, 0)
	w := &errorLogWriter{log: slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug})), now: func() time.Time { return clock }}
	l := ErrorLog(nil)
	l.SetOutput(w)
	for i := range 100 {
		l.Printf("http: TLS handshake error from 127.0.0.1:%d: read tcp: i/o timeout", 40000+i)
	}
	l.Printf("http: Accept error: accept tcp: too many open files; retrying in 5ms")
	clock = clock.Add(time.Minute)
	l.Printf("http: TLS handshake error from 127.0.0.1:1: EOF")
	out := buf.String()
	if n := strings.Count(out, "level=WARN msg=\"http connection failed"); n != 2 {
		t.Errorf("%d Warn lines for 101 handshake errors over a minute, want 2:\n%s", n, out)
	}
	if n := strings.Count(out, "level=DEBUG"); n != 99 {
		t.Errorf("%d Debug lines, want 99", n)
	}
	if !strings.Contains(out, "not_logged_since_last=99") {
		t.Errorf("the second Warn does not count the lines left out:\n%s", out)
	}
	if !strings.Contains(out, "level=WARN msg=\"http server\" err=\"http: Accept error") {
		t.Errorf("an accept error was not a Warn:\n%s", out)
	}
}
