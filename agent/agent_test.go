package agent

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/probe-agent/probe-agent/agent/stream"
	"github.com/probe-agent/probe-agent/collectors"
	"github.com/probe-agent/probe-agent/collectors/replay"
	"github.com/probe-agent/probe-agent/probe"
	"github.com/probe-agent/probe-agent/proto/aos"

	_ "github.com/probe-agent/probe-agent/probe/processors"
)

// testAgent runs an agent over the seed imbalance recording with ticks
// driven by the test.
type testAgent struct {
	t       *testing.T
	agent   *Agent
	ticks   chan time.Time
	ticked  chan struct{}
	cancel  context.CancelFunc
	done    chan error
	started bool
}

func startAgent(t *testing.T, cfg Config, stdout *bytes.Buffer) *testAgent {
	t.Helper()
	return startAgentOn(t, cfg, stdout, seedRecording(t))
}

// seedRecording is the replay collector over the seed imbalance recording.
func seedRecording(t *testing.T) collectors.Collector {
	t.Helper()
	batches, err := replay.ReadFile("../cmd/probectl/testdata/imbalance.jsonl")
	if err != nil {
		t.Fatal(err)
	}
	col, err := replay.NewCollector(batches, nil)
	if err != nil {
		t.Fatal(err)
	}
	return col
}

// startAgentOn runs the seed streaming probe over col.
func startAgentOn(t *testing.T, cfg Config, stdout *bytes.Buffer, col collectors.Collector) *testAgent {
	t.Helper()
	dir := t.TempDir()
	probeDoc, err := os.ReadFile("testdata/seed_streaming.json")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "seed.json"), probeDoc, 0o644); err != nil {
		t.Fatal(err)
	}
	cfg.ProbesDir = dir
	if cfg.StateDir == "/var/lib/probe-agent" {
		cfg.StateDir = t.TempDir()
	}
	ta := &testAgent{t: t, ticks: make(chan time.Time), ticked: make(chan struct{}, 100), done: make(chan error, 1)}
	var out *bytes.Buffer = stdout
	if out == nil {
		out = &bytes.Buffer{}
	}
	ta.agent, err = New(cfg, Options{
		Logger:    slog.New(slog.NewTextHandler(testWriter{t}, nil)),
		Stdout:    out,
		Collector: col,
		Ticks:     ta.ticks,
		OnTick:    func() { ta.ticked <- struct{}{} },
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	ta.cancel = cancel
	go func() { ta.done <- ta.agent.Run(ctx) }()
	return ta
}

// steps drives n evaluations; the agent's first one happens without a
// tick, at start.
func (ta *testAgent) steps(n int) {
	ta.t.Helper()
	for i := 0; i < n; i++ {
		if ta.started {
			ta.ticks <- time.Now()
		}
		ta.started = true
		select {
		case <-ta.ticked:
		case <-time.After(10 * time.Second):
			ta.t.Fatalf("tick %d did not complete", i)
		}
	}
}

func (ta *testAgent) stop() error {
	ta.cancel()
	return <-ta.done
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimSpace(string(p)))
	return len(p), nil
}

func testConfig() Config {
	cfg := Defaults()
	cfg.SystemID, cfg.Hostname, cfg.Role = "leaf1", "leaf1", "leaf"
	cfg.BlueprintID, cfg.BlueprintLabel = "dc1", "DC 1"
	cfg.ShutdownTimeout = Duration(5 * time.Second)
	return cfg
}

// TestRunPrintsWhatItWouldSend: with no receivers, the messages are printed
// as JSON lines: the seed probe's std_dev changes, the anomaly stage, and
// the alert raised and cleared.
func TestRunPrintsWhatItWouldSend(t *testing.T) {
	var out bytes.Buffer
	ta := startAgent(t, testConfig(), &out)
	ta.steps(7)
	if err := ta.stop(); err != nil {
		t.Fatal(err)
	}
	var stdValues []any
	var alerts []bool
	for _, line := range strings.Split(strings.TrimSpace(out.String()), "\n") {
		var m struct {
			Channel string         `json:"channel"`
			Message map[string]any `json:"message"`
		}
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatalf("not a JSON line: %s", line)
		}
		if m.Message["origin_name"] != "dc1" || m.Message["origin_hostname"] != "leaf1" || m.Message["blueprint_label"] != "DC 1" {
			t.Errorf("header: %s", line)
		}
		switch m.Channel {
		case "perfmon":
			pm := m.Message["perf_mon"].(map[string]any)["probe_message"].(map[string]any)
			if pm["stage_name"] == "std_dev_output" {
				stdValues = append(stdValues, pm["float_value"])
			}
		case "alerts":
			alerts = append(alerts, m.Message["alert"].(map[string]any)["raised"].(bool))
		}
	}
	// std_dev is a float stage: float_value even for whole values.
	if got, _ := json.Marshal(stdValues); string(got) != `[0,100,150,0]` {
		t.Errorf("std_dev messages = %s, want one per change: 0, 100, 150, 0", got)
	}
	if got, _ := json.Marshal(alerts); string(got) != `[true,false]` {
		t.Errorf("alerts = %s, want raised then cleared", got)
	}
}

// collector gathers what a Receiver hands over.
type collected struct {
	mu   sync.Mutex
	msgs []stream.Received
	gaps []stream.Gap
	got  chan struct{}
}

func (c *collected) handle(r stream.Received) {
	c.mu.Lock()
	c.msgs = append(c.msgs, r.Clone()) // r.Message is reused after the call
	c.mu.Unlock()
	select {
	case c.got <- struct{}{}:
	default:
	}
}

func (c *collected) waitFor(t *testing.T, n int) []stream.Received {
	t.Helper()
	deadline := time.After(15 * time.Second)
	for {
		c.mu.Lock()
		if len(c.msgs) >= n {
			out := append([]stream.Received(nil), c.msgs...)
			c.mu.Unlock()
			return out
		}
		have := len(c.msgs)
		c.mu.Unlock()
		select {
		case <-c.got:
		case <-deadline:
			t.Fatalf("received %d messages, want %d", have, n)
		}
	}
}

// waitForRemotes waits until messages from n distinct client addresses
// (n connections of the sender) have arrived.
func (c *collected) waitForRemotes(t *testing.T, n int) {
	t.Helper()
	deadline := time.After(15 * time.Second)
	for {
		c.mu.Lock()
		seen := map[string]bool{}
		for _, m := range c.msgs {
			if m.Remote != nil {
				seen[m.Remote.String()] = true
			}
		}
		c.mu.Unlock()
		if len(seen) >= n {
			return
		}
		select {
		case <-c.got:
		case <-deadline:
			t.Fatalf("messages from %d client addresses, want %d", len(seen), n)
		}
	}
}

func listen(t *testing.T, addr string, c *collected) (*stream.Receiver, string) {
	t.Helper()
	l, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	r := stream.NewReceiver(stream.ReceiverConfig{
		Sequenced: true,
		Handle:    c.handle,
		OnGap: func(g stream.Gap) {
			c.mu.Lock()
			c.gaps = append(c.gaps, g)
			c.mu.Unlock()
		},
	})
	go func() { _ = r.Serve(l) }()
	t.Cleanup(func() { r.Close() })
	return r, l.Addr().String()
}

// TestStreamsToReceivers sends perfmon and alerts over real TCP to
// receivers, sequenced, and then restarts the alerts receiver while the
// agent keeps producing: nothing is lost and seq_num stays contiguous.
func TestStreamsToReceivers(t *testing.T) {
	perf := &collected{got: make(chan struct{}, 1)}
	alerts := &collected{got: make(chan struct{}, 1)}
	_, perfAddr := listen(t, "127.0.0.1:0", perf)
	alertRecv, alertAddr := listen(t, "127.0.0.1:0", alerts)

	cfg := testConfig()
	cfg.Streaming = []StreamingEntry{
		{Type: "perfmon", Address: perfAddr, Sequenced: true},
		{Type: "alerts", Address: alertAddr, Sequenced: true},
	}
	ta := startAgent(t, cfg, nil)
	ta.steps(5) // up to the raise
	got := alerts.waitFor(t, 1)
	a := got[0].Message.GetAlert()
	pa := a.GetProbeAlert()
	if !a.GetRaised() || pa.GetActualInt() != 150 || pa.GetExpectedIntMax() != 100 || pa.GetStageName() != "server_traffic_imbalanced" || pa.GetProbeId() != "seed-streaming" {
		t.Errorf("raised alert: %v", got[0].Message)
	}
	if a.GetSeverity() != aos.AlertSeverity_CRITICAL || a.GetId() == "" || pa.GetItemId() == "" {
		t.Errorf("alert identity: %v", a)
	}

	// Alerts receiver goes away; the clear happens while it is down.
	alertRecv.Close()
	ta.steps(3) // ticks 6..8: the clear at 7, then the recording loops
	alerts2 := alerts
	listen(t, alertAddr, alerts2)
	got = alerts2.waitFor(t, 2)
	if got[1].Message.GetAlert().GetRaised() || got[1].Message.GetAlert().GetId() != a.GetId() {
		t.Errorf("clear after reconnect: %v", got[1].Message)
	}
	if got[1].Seq != got[0].Seq+1 {
		t.Errorf("alerts seq %d then %d: not contiguous across the reconnect", got[0].Seq, got[1].Seq)
	}
	perfMsgs := perf.waitFor(t, 7)
	for i := 1; i < len(perfMsgs); i++ {
		if perfMsgs[i].Seq != perfMsgs[i-1].Seq+1 {
			t.Errorf("perfmon seq gap between %d and %d", perfMsgs[i-1].Seq, perfMsgs[i].Seq)
		}
	}
	for _, m := range perfMsgs {
		pm := m.Message.GetPerfMon().GetProbeMessage()
		if pm.GetBlueprintId() != "dc1" || pm.GetItemId() == "" || m.Message.GetOriginName() != "dc1" {
			t.Errorf("probe message: %v", m.Message)
		}
	}
	if len(perf.gaps)+len(alerts.gaps) != 0 {
		t.Errorf("gaps: %v %v", perf.gaps, alerts.gaps)
	}
	if err := ta.stop(); err != nil {
		t.Fatal(err)
	}
}

// TestReconfigure applies a reloaded configuration between ticks: a bad one
// changes nothing; a good one switches printing to a receiver and renames
// the blueprint, without losing the probes' state.
func TestReconfigure(t *testing.T) {
	var out bytes.Buffer
	cfg := testConfig()
	ta := startAgent(t, cfg, &out)
	ta.steps(4) // std_dev reached 100: printed

	next := ta.agent.cfg
	next.Streaming = []StreamingEntry{{Type: "alerts", Address: "127.0.0.1:1", TLS: &TLSConfig{CA: "/nonexistent/ca.pem"}}}
	if err := ta.agent.Reconfigure(context.Background(), next); err == nil || !strings.Contains(err.Error(), "streaming[0].tls") {
		t.Fatalf("bad TLS file accepted: %v", err)
	}

	alerts := &collected{got: make(chan struct{}, 1)}
	_, addr := listen(t, "127.0.0.1:0", alerts)
	next = ta.agent.cfg
	next.BlueprintID = "dc2"
	next.Streaming = []StreamingEntry{{Type: "alerts", Address: addr, Sequenced: true}}
	if err := ta.agent.Reconfigure(context.Background(), next); err != nil {
		t.Fatal(err)
	}
	ta.steps(1) // tick 5: std_dev 150, the anomaly is raised
	got := alerts.waitFor(t, 1)
	if !got[0].Message.GetAlert().GetRaised() || got[0].Message.GetOriginName() != "dc2" {
		t.Errorf("alert after reload: %v", got[0].Message)
	}
	if err := ta.stop(); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(out.String(), `"alerts"`) {
		t.Errorf("the alert was also printed after switching to a receiver")
	}
	if n := strings.Count(out.String(), "std_dev_output"); n != 2 {
		t.Errorf("printed %d std_dev messages before the reload, want 2 (0 and 100); a reload must not be a tick", n)
	}
}

// TestSystemUtilizationReadsProc: with a live collector type the agent
// reads the device's /proc each tick, so system_utilization has data.
func TestSystemUtilizationReadsProc(t *testing.T) {
	cfg := testConfig()
	cfg.StateDir = ""
	doc := `{"id": "sys", "label": "device load", "processors": [{"name": "u", "type": "system_utilization", "outputs": {"cpu": "cpu", "memory": "mem"}}]}`
	ta := startAgent(t, cfg, nil)
	if err := os.WriteFile(filepath.Join(ta.agent.cfg.ProbesDir, "sys.json"), []byte(doc), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := ta.agent.Reload(context.Background()); err != nil {
		t.Fatal(err)
	}
	ta.steps(2)
	var mem float64 = -1
	if err := ta.agent.Manager().View("sys", func(_ ProbeInfo, inst *probe.Instance) error {
		st, _ := inst.Stage("mem")
		if st.Len() == 1 && st.Item(0).Valid {
			mem = st.Item(0).Value.Num
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if mem <= 0 || mem > 100 {
		t.Errorf("memory utilisation %v, want a percentage read from /proc", mem)
	}
	if err := ta.stop(); err != nil {
		t.Fatal(err)
	}
}

// TestAlertAndMessagesShareItemID: a stage item streams and alerts under
// one item_id, so receivers can join them.
func TestAlertAndMessagesShareItemID(t *testing.T) {
	perf := &collected{got: make(chan struct{}, 1)}
	alerts := &collected{got: make(chan struct{}, 1)}
	_, perfAddr := listen(t, "127.0.0.1:0", perf)
	_, alertAddr := listen(t, "127.0.0.1:0", alerts)
	cfg := testConfig()
	cfg.Streaming = []StreamingEntry{
		{Type: "perfmon", Address: perfAddr, Sequenced: true},
		{Type: "alerts", Address: alertAddr, Sequenced: true},
	}
	ta := startAgent(t, cfg, nil)
	ta.steps(5)
	alert := alerts.waitFor(t, 1)[0].Message.GetAlert().GetProbeAlert()
	found := false
	for _, m := range perf.waitFor(t, 4) {
		pm := m.Message.GetPerfMon().GetProbeMessage()
		if pm.GetStageName() == alert.GetStageName() {
			found = true
			if pm.GetItemId() != alert.GetItemId() {
				t.Errorf("stage %s: probe message item_id %s, alert item_id %s", pm.GetStageName(), pm.GetItemId(), alert.GetItemId())
			}
		}
	}
	if !found {
		t.Fatalf("no probe message for the alert's stage %s", alert.GetStageName())
	}
	if err := ta.stop(); err != nil {
		t.Fatal(err)
	}
}
