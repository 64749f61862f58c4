package agent

import (
	"context"
	"io"
	"log/slog"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/probe-agent/probe-agent/proto/aos"
	"google.golang.org/protobuf/proto"
)

// TestUnsentMessagesNameTheirChannel: at shutdown with a receiver away,
// the "unsent" error says which channel and receiver, and why.
func TestUnsentMessagesNameTheirChannel(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	cfg := testConfig()
	cfg.Streaming = []StreamingEntry{{Type: "alerts", Address: addr}}
	out, err := newOutput(cfg, io.Discard, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	out.send(chanAlerts, &aos.AosMessage{Timestamp: proto.Uint64(1), OriginName: proto.String("bp")})
	// Close gives up when its context ends; by then the sender has failed
	// to connect at least once (a refused local connection is immediate,
	// the first retry waits 100ms).
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	err = out.close(ctx)
	if err == nil || !strings.Contains(err.Error(), "streaming alerts to "+addr+": 1 messages unsent") || !strings.Contains(err.Error(), "connection refused") {
		t.Errorf("close: %v, want the channel, receiver, count and reason", err)
	}
}

// TestSummaryLine: the periodic summary is one Info line with the probe
// count, interfaces, anomalies and each channel's sent and dropped counts.
func TestSummaryLine(t *testing.T) {
	var logs strings.Builder
	cfg := testConfig()
	cfg.Streaming = []StreamingEntry{{Type: "perfmon", Address: "127.0.0.1:9"}}
	cfg.ShutdownTimeout = Duration(10 * time.Millisecond)
	ta := startAgent(t, cfg, nil)
	ta.steps(5)
	ta.agent.log = slog.New(slog.NewTextHandler(&logs, nil))
	ta.agent.logSummary() // the loop waits for the next tick meanwhile
	if err := ta.stop(); err != nil && !strings.Contains(err.Error(), "unsent") {
		t.Fatal(err)
	}
	line := strings.TrimSpace(logs.String())
	for _, want := range []string{"level=INFO msg=summary", "probes=1", "interfaces=4", "ticks=5", "anomalies_active=1", "anomalies_raised=1", `perfmon="127.0.0.1:9 sent=0 dropped=0 queued=`, "unreachable"} {
		if !strings.Contains(line, want) {
			t.Errorf("summary %q lacks %q", line, want)
		}
	}
	if strings.Count(line, "\n") != 0 {
		t.Errorf("summary is more than one line: %q", line)
	}
}
