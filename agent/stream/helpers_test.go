package stream

import (
	"encoding/hex"
	"log/slog"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/probe-agent/probe-agent/proto/aos"
)

// probeMessage is the perfmon message described, byte by byte, in
// testdata/probe_message_sequenced.golden.
func probeMessage() *aos.AosMessage {
	return &aos.AosMessage{
		Timestamp:      proto.Uint64(1700000000000000),
		OriginName:     proto.String("bp1"),
		OriginHostname: proto.String("leaf1"),
		Data: &aos.AosMessage_PerfMon{PerfMon: &aos.PerfMon{
			Data: &aos.PerfMon_ProbeMessage{ProbeMessage: &aos.ProbeMessage{
				Property: []*aos.ProbeProperty{
					{Name: proto.String("interface"), Value: proto.String("eth0")},
					{Name: proto.String("system_id"), Value: proto.String("525400AB")},
				},
				Value:       &aos.ProbeMessage_Int64Value{Int64Value: 42},
				ProbeId:     proto.String("p1"),
				StageName:   proto.String("s1"),
				BlueprintId: proto.String("bp1"),
				ItemId:      proto.String("i1"),
				ProbeLabel:  proto.String("lbl"),
			}},
		}},
	}
}

// probeAlert is the alert described in testdata/probe_alert_unsequenced.golden.
func probeAlert() *aos.AosMessage {
	return &aos.AosMessage{
		Timestamp:  proto.Uint64(1700000000000000),
		OriginName: proto.String("bp1"),
		Data: &aos.AosMessage_Alert{Alert: &aos.Alert{
			Severity:  aos.AlertSeverity_HIGH.Enum(),
			FirstSeen: proto.Uint64(1699999990000000),
			Id:        proto.String("5b6f2a1e-8c3d-4f7a-9b2e-1d4c6a8f0e3b"),
			Raised:    proto.Bool(true),
			Data: &aos.Alert_ProbeAlert{ProbeAlert: &aos.ProbeAlert{
				ExpectedInt: proto.Int64(10),
				ActualInt:   proto.Int64(42),
				ProbeId:     proto.String("p1"),
				StageName:   proto.String("s1"),
				KeyValuePairs: []*aos.KeyValuePair{
					{Key: proto.String("interface"), Value: proto.String("eth0")},
				},
				ItemId:         proto.String("i1"),
				ExpectedIntMax: proto.Int64(20),
			}},
		}},
	}
}

// numbered returns a small perfmon message whose item_id carries i, so a test can
// tell which enqueued message arrived.
func numbered(i int) *aos.AosMessage {
	m := probeMessage()
	m.GetPerfMon().GetProbeMessage().ItemId = proto.String("item-" + strconv.Itoa(i))
	return m
}

func itemIndex(t *testing.T, m *aos.AosMessage) int {
	t.Helper()
	s, ok := strings.CutPrefix(m.GetPerfMon().GetProbeMessage().GetItemId(), "item-")
	if !ok {
		t.Fatalf("unexpected item_id %q", m.GetPerfMon().GetProbeMessage().GetItemId())
	}
	i, err := strconv.Atoi(s)
	if err != nil {
		t.Fatal(err)
	}
	return i
}

// readGolden parses a golden file: hex byte tokens and "ASCII" strings, with #
// comments.
func readGolden(t testing.TB, name string) []byte {
	t.Helper()
	text, err := os.ReadFile("testdata/" + name)
	if err != nil {
		t.Fatal(err)
	}
	var out []byte
	for _, line := range strings.Split(string(text), "\n") {
		if i := strings.IndexByte(line, '#'); i >= 0 {
			line = line[:i]
		}
		for _, tok := range strings.Fields(line) {
			if s, ok := strings.CutPrefix(tok, `"`); ok {
				out = append(out, strings.TrimSuffix(s, `"`)...)
				continue
			}
			b, err := hex.DecodeString(tok)
			if err != nil || len(b) != 1 {
				t.Fatalf("%s: bad token %q", name, tok)
			}
			out = append(out, b...)
		}
	}
	return out
}

// sink collects what a Receiver hands over and lets a test wait for a count.
type sink struct {
	mu     sync.Mutex
	got    []Received
	notify chan struct{}
}

func newSink() *sink { return &sink{notify: make(chan struct{}, 1)} }

func (k *sink) handle(r Received) {
	k.mu.Lock()
	k.got = append(k.got, r.Clone()) // r.Message is reused after the call
	k.mu.Unlock()
	select {
	case k.notify <- struct{}{}:
	default:
	}
}

func (k *sink) snapshot() []Received {
	k.mu.Lock()
	defer k.mu.Unlock()
	return append([]Received(nil), k.got...)
}

// waitFor returns once cond holds, re-checking it each time the sink receives
// something; it fails the test after a generous deadline.
func (k *sink) waitFor(t *testing.T, what string, cond func([]Received) bool) []Received {
	t.Helper()
	deadline := time.NewTimer(20 * time.Second)
	defer deadline.Stop()
	for {
		if got := k.snapshot(); cond(got) {
			return got
		}
		select {
		case <-k.notify:
		case <-deadline.C:
			t.Fatalf("timed out waiting for %s; have %d messages", what, len(k.snapshot()))
		}
	}
}

func atLeast(n int) func([]Received) bool {
	return func(got []Received) bool { return len(got) >= n }
}

// startReceiver serves a Receiver on ln until the test ends.
func startReceiver(t *testing.T, ln net.Listener, cfg ReceiverConfig) *Receiver {
	t.Helper()
	if cfg.Logger == nil {
		cfg.Logger = testLogger(t)
	}
	r := NewReceiver(cfg)
	errc := make(chan error, 1)
	go func() { errc <- r.Serve(ln) }()
	t.Cleanup(func() {
		r.Close()
		if err := <-errc; err != nil {
			t.Errorf("Serve: %v", err)
		}
	})
	return r
}

func listen(t *testing.T, addr string) net.Listener {
	t.Helper()
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	return ln
}

// unusedAddr returns a loopback address nothing listens on (yet).
func unusedAddr(t *testing.T) string {
	t.Helper()
	ln := listen(t, "127.0.0.1:0")
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

func newTestSender(t *testing.T, cfg Config) *Sender {
	t.Helper()
	if cfg.Name == "" {
		cfg.Name = ChannelPerfMon
	}
	if cfg.Logger == nil {
		cfg.Logger = testLogger(t)
	}
	if cfg.BackoffMin == 0 {
		cfg.BackoffMin = 2 * time.Millisecond
		cfg.BackoffMax = 20 * time.Millisecond
	}
	s, err := NewSender(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := contextWithTimeout(time.Second)
		defer cancel()
		s.Close(ctx)
	})
	return s
}

// testLogger shows log lines only for failed or verbose tests.
func testLogger(t testing.TB) *slog.Logger {
	return slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelDebug}))
}
