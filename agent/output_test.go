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

// TestAppendTextIsReadable: local time, the channel, plain decimals.
func TestAppendTextIsReadable(t *testing.T) {
	const ts = 1700000000123456
	clock := time.UnixMicro(ts).Local().Format("15:04:05.000")
	pm := func(set func(*aos.ProbeMessage)) *aos.AosMessage {
		p := &aos.ProbeMessage{ProbeLabel: proto.String("demo"), StageName: proto.String("tx_bps"),
			Property: []*aos.ProbeProperty{{Name: proto.String("interface"), Value: proto.String("eth0")}}}
		set(p)
		return &aos.AosMessage{Timestamp: proto.Uint64(ts), Data: &aos.AosMessage_PerfMon{PerfMon: &aos.PerfMon{Data: &aos.PerfMon_ProbeMessage{ProbeMessage: p}}}}
	}
	float := func(v float32) func(*aos.ProbeMessage) {
		return func(p *aos.ProbeMessage) { p.Value = &aos.ProbeMessage_FloatValue{FloatValue: v} }
	}
	alert := &aos.AosMessage{Timestamp: proto.Uint64(ts), Data: &aos.AosMessage_Alert{Alert: &aos.Alert{Raised: proto.Bool(true),
		Data: &aos.Alert_ProbeAlert{ProbeAlert: &aos.ProbeAlert{ProbeLabel: proto.String("demo"), StageName: proto.String("errs"), ActualFloat: proto.Float64(1.5e12)}}}}}
	for _, tt := range []struct {
		m    *aos.AosMessage
		want string
	}{
		{pm(float(1e10)), clock + " perfmon demo / tx_bps interface=eth0 value=10000000000\n"},
		{pm(float(0.25)), clock + " perfmon demo / tx_bps interface=eth0 value=0.25\n"},
		{pm(func(p *aos.ProbeMessage) { p.Value = &aos.ProbeMessage_Int64Value{Int64Value: 3} }), clock + " perfmon demo / tx_bps interface=eth0 value=3\n"},
		{alert, clock + " alerts  RAISED  demo / errs actual=1500000000000\n"},
	} {
		if got := string(AppendText(nil, ChannelOf(tt.m), tt.m)); got != tt.want {
			t.Errorf("AppendText:\n got %q\nwant %q", got, tt.want)
		}
	}
}
