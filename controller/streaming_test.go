package controller

import (
	"encoding/json"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/probe-agent/probe-agent/agent/control/controltest"
	"github.com/probe-agent/probe-agent/agent/stream"
	"github.com/probe-agent/probe-agent/probe"
	"github.com/probe-agent/probe-agent/proto/aos"
	pb "github.com/probe-agent/probe-agent/proto/probeagent/v1"
)

// receiver is a real agent/stream receiver (the one `probectl receive`
// runs) on a loopback port, handing every message to a channel.
type receiver struct {
	addr string
	msgs chan *aos.AosMessage
}

func startReceiver(t *testing.T, sequenced bool) *receiver {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	r := &receiver{addr: l.Addr().String(), msgs: make(chan *aos.AosMessage, 1000)}
	rc := stream.NewReceiver(stream.ReceiverConfig{Sequenced: sequenced, Handle: func(m stream.Received) { r.msgs <- m.Clone().Message }})
	go func() { _ = rc.Serve(l) }()
	t.Cleanup(func() { rc.Close() })
	return r
}

// next returns the next message that match accepts, failing after 10 s.
func (r *receiver) next(t *testing.T, what string, match func(*aos.AosMessage) bool) *aos.AosMessage {
	t.Helper()
	timeout := time.After(10 * time.Second)
	for {
		select {
		case m := <-r.msgs:
			if match(m) {
				return m
			}
		case <-timeout:
			t.Fatalf("no %s arrived", what)
			return nil
		}
	}
}

// TestControllerStreamsFabricResults: with perfmon and alerts receivers
// under streaming:, the seed probe on four real agents (std_dev with
// enable_streaming, evaluated centrally) streams the central std_dev as
// ProbeMessages, the central imbalance anomaly as a raised and then a
// cleared Alert, and an anomaly a device reports in its StageBatch as an
// Alert stamped with the device, all in the agent's Apstra encoding.
func TestControllerStreamsFabricResults(t *testing.T) {
	pki := controltest.New(t)
	dir := t.TempDir()
	probesDir := filepath.Join(dir, "probes")
	if err := os.MkdirAll(probesDir, 0o755); err != nil {
		t.Fatal(err)
	}
	raw, err := os.ReadFile("testdata/seed_probe.json")
	if err != nil {
		t.Fatal(err)
	}
	var doc map[string]any
	if err := json.Unmarshal(raw, &doc); err != nil {
		t.Fatal(err)
	}
	for _, p := range doc["processors"].([]any) {
		if p := p.(map[string]any); p["name"] == "std" {
			p["properties"].(map[string]any)["enable_streaming"] = true
		}
	}
	seed, _ := json.Marshal(doc)
	if err := os.WriteFile(filepath.Join(probesDir, "seed.json"), seed, 0o644); err != nil {
		t.Fatal(err)
	}
	perfmon, alerts := startReceiver(t, false), startReceiver(t, true)

	h := &harness{t: t, pki: pki, agents: map[string]*fakeAgent{}, clock: &fakeClock{now: time.Unix(1_800_000_000, 0)},
		cnt: counters{total: map[string]uint64{}}}
	leaves := []string{"leaf1", "leaf2", "leaf3", "leaf4"}
	for _, dev := range leaves {
		h.agents[dev] = startAgent(t, pki, dev, "")
	}
	cfg := writeConfig(t, dir, pki, h.agents, probesDir, pki.ClientCert, pki.ClientKey)
	cfg.Streaming = []StreamingConfig{
		{Type: "perfmon", Address: perfmon.addr},
		{Type: "alerts", Address: alerts.addr, Sequenced: true},
	}
	h.startController(cfg)
	h.waitApplied(leaves...)

	t0 := time.Unix(1_700_000_000, 0)
	at := func(i int) time.Time { return t0.Add(time.Duration(i) * time.Second) }
	b0 := h.tickAll(at(0), balanced, leaves...)
	h.clock.Add(time.Second)
	b1 := h.tickAll(at(1), balanced, leaves...)
	h.central()
	h.clock.Add(time.Second)
	b2 := h.tickAll(at(2), leaf4Heavy, leaves...)
	v, _, _, _ := h.central()
	if want := wholeStdDev(t, b1, b2); v != want || want <= 100 {
		t.Fatalf("central std_dev %v, whole probe %v", v, want)
	}
	_ = b0

	// The central std_dev, as the agent would stream a stage: one
	// ProbeMessage per changed item, float_value (std_dev is not a count),
	// with the blueprint as origin and the controller's role.
	isStdDev := func(m *aos.AosMessage) bool {
		pm := m.GetPerfMon().GetProbeMessage()
		return pm.GetStageName() == "std_dev_output" && pm.GetFloatValue() == float32(v)
	}
	m := perfmon.next(t, "std_dev_output ProbeMessage of the imbalanced tick", isStdDev)
	pm := m.GetPerfMon().GetProbeMessage()
	if pm.GetProbeId() != "server-imbalance" || pm.GetBlueprintId() != "dc1" || m.GetOriginName() != "dc1" || m.GetOriginRole() != "controller" ||
		pm.GetItemId() == "" || pm.GetProbeLabel() == "" || m.GetTimestamp() != uint64(h.clock.Now().UnixMicro()) {
		t.Errorf("ProbeMessage %v, header %v", pm, m)
	}

	raised := alerts.next(t, "raised central imbalance alert", func(m *aos.AosMessage) bool {
		return m.GetAlert().GetRaised() && m.GetAlert().GetProbeAlert().GetStageName() == "server_traffic_imbalanced"
	})
	pa := raised.GetAlert().GetProbeAlert()
	if pa.GetProbeId() != "server-imbalance" || raised.GetAlert().GetSeverity() != aos.AlertSeverity_CRITICAL || raised.GetAlert().GetId() == "" ||
		(pa.ActualFloat == nil && pa.ActualInt == nil) || raised.GetOriginName() != "dc1" {
		t.Errorf("raised alert %v", raised)
	}
	if got := pa.GetActualFloat(); pa.ActualFloat != nil && got != v {
		t.Errorf("alert actual %v, want the central std_dev %v", got, v)
	}

	// Balanced again: the centre clears it, and the receiver hears so.
	h.clock.Add(time.Second)
	h.tickAll(at(3), balanced, leaves...)
	h.central()
	cleared := alerts.next(t, "cleared central imbalance alert", func(m *aos.AosMessage) bool {
		return !m.GetAlert().GetRaised() && m.GetAlert().GetProbeAlert().GetStageName() == "server_traffic_imbalanced"
	})
	if cleared.GetAlert().GetId() != raised.GetAlert().GetId() {
		t.Errorf("cleared alert id %s, raised %s", cleared.GetAlert().GetId(), raised.GetAlert().GetId())
	}

	// An edge anomaly, as a device reports it in its StageBatch.
	edge := probe.Anomaly{ID: "edge-1", ItemID: "item-1", ProbeID: "server-imbalance", ProbeLabel: "errors", Stage: "errors_anomaly",
		Keys: []string{"interface", "system_id"}, Props: []string{"eth3", "leaf2"}, Raised: true,
		FirstSeen: at(4), LastModified: at(4), Dialect: probe.Dialect4x,
		Evidence: probe.Evidence{Kind: probe.Number, Actual: probe.Value{Num: 7}, HasMin: true, Min: 1}}
	js, _ := edge.MarshalJSON()
	h.ctl.ingestBatch("leaf2", &pb.StageBatch{Device: "leaf2", Session: "s", Anomalies: []*pb.AnomalyEvent{
		{ProbeId: edge.ProbeID, Stage: edge.Stage, ItemId: edge.ItemID, Raised: true, Json: string(js)},
	}}, false, h.clock.Now())
	got := alerts.next(t, "edge anomaly alert", func(m *aos.AosMessage) bool { return m.GetAlert().GetId() == "edge-1" })
	gpa := got.GetAlert().GetProbeAlert()
	if got.GetOriginHostname() != "leaf2" || !got.GetAlert().GetRaised() || gpa.GetActualInt() != 7 || gpa.GetExpectedInt() != 1 ||
		gpa.GetStageName() != "errors_anomaly" || gpa.GetItemId() != "item-1" || len(gpa.GetKeyValuePairs()) != 2 ||
		gpa.GetKeyValuePairs()[1].GetValue() != "leaf2" || got.GetAlert().GetFirstSeen() != uint64(at(4).UnixMicro()) {
		t.Errorf("edge alert %v", got)
	}

	// leaf2 restarts (a new session): its raised edge anomaly is cleared at
	// the receivers rather than left raised forever; if it is still
	// anomalous, its first evaluation raises it again.
	h.ctl.ingestBatch("leaf2", &pb.StageBatch{Device: "leaf2", Session: "s2"}, true, h.clock.Now())
	clear := alerts.next(t, "edge anomaly cleared on agent restart", func(m *aos.AosMessage) bool { return m.GetAlert().GetId() == "edge-1" })
	if clear.GetAlert().GetRaised() || clear.GetOriginHostname() != "leaf2" {
		t.Errorf("restart sent %v, want the edge anomaly cleared", clear)
	}
	for _, a := range h.ctl.Anomalies() {
		if a.Origin == "edge" && a.Device == "leaf2" {
			t.Errorf("edge anomaly %v still listed after leaf2 restarted", a)
		}
	}
}
