package controller

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http/httptest"
	"path/filepath"
	"testing"
	"time"

	"github.com/probe-agent/probe-agent/bus"
	"github.com/probe-agent/probe-agent/probe"
	pb "github.com/probe-agent/probe-agent/proto/probeagent/v1"
)

// TestFanInRESTEdgeAnomalies: a fan-in controller's REST API lists the
// anomalies the devices of a probe its member owns raised, which reach
// it only inside their records, with origin edge and the device; the
// probe's anomaly_count counts them; a later record clearing one removes
// it; the member's ticks set the per-probe metrics (stale devices,
// partial, skipped ticks), removed once the probe is another member's.
// The member is fed directly (no broker: that is bus/natsbus's and
// bus/kafkabus's to test); the API is served on loopback TCP.
func TestFanInRESTEdgeAnomalies(t *testing.T) {
	lab, err := filepath.Abs("../containerlab/fanin-nats")
	if err != nil {
		t.Fatal(err)
	}
	const id = "seed-server-imbalance"
	yml := fmt.Sprintf("blueprint_id: dc1\ntopology: {file: %q, interface_names: node}\nagents: {defaults: {insecure: true}}\nstate_dir: %q\nprobes_dir: %q\napi: {listen: '127.0.0.1:0'}\nfanin:\n  push_config: false\n  nats: {urls: ['nats://127.0.0.1:1'], lease_ttl: 1s}\n",
		filepath.Join(lab, "fanin-nats.clab.yml"), t.TempDir(), filepath.Join(lab, "probes.d"))
	cfg, err := ParseConfig([]byte(yml), "c.yaml")
	if err != nil {
		t.Fatal(err)
	}
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	c, err := New(cfg, quiet)
	if err != nil {
		t.Fatal(err)
	}
	m := bus.NewMember(parts{c: c}, &bus.MemCheckpoint{}, bus.MemberOptions{StaleAfter: time.Hour, Blueprint: "dc1", Log: quiet, OnTick: c.fanInTick})
	c.cmu.Lock()
	c.fanin = &fanIn{member: m, close: func() {}}
	c.cmu.Unlock()
	ctx := context.Background()
	now := time.Unix(1_700_000_000, 0)
	if err := m.Assign(ctx, id, now); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(c.APIHandler())
	defer srv.Close()
	rest := &restClient{t: t, base: srv.URL}

	edge := func(item string, raised bool) *pb.AnomalyEvent {
		a := probe.Anomaly{ID: "a-" + item, ItemID: item, ProbeID: id, ProbeLabel: "server_tx_bytes", Stage: "errors_anomaly",
			Keys: []string{"interface", "system_id"}, Props: []string{item, "leaf2"}, Raised: raised, FirstSeen: now, LastModified: now,
			Dialect: probe.Dialect4x, Evidence: probe.Evidence{Kind: probe.Number, Actual: probe.Value{Num: 7}, HasMax: true, Max: 1}}
		js, _ := a.MarshalJSON()
		return &pb.AnomalyEvent{ProbeId: id, Stage: a.Stage, ItemId: item, Raised: raised, Json: string(js)}
	}
	seq := uint64(0)
	offer := func(dev string, evs ...*pb.AnomalyEvent) {
		seq++
		m.Offer(&bus.Record{Blueprint: "dc1", Probe: id, Batch: &pb.StageBatch{Device: dev, Session: "s", Seq: seq, Anomalies: evs}}, now, nil)
	}
	type listed struct{ origin, device, item, stage string }
	list := func() []listed {
		var out []listed
		for _, it := range rest.expect("GET", bp+"/anomalies", "", 200)["items"].([]any) {
			a := it.(map[string]any)
			dev, _ := a["device"].(string)
			idn, _ := a["identity"].(map[string]any)
			out = append(out, listed{a["origin"].(string), dev, fmt.Sprint(idn["item_id"]), fmt.Sprint(idn["stage_name"])})
		}
		return out
	}
	count := func() float64 { return rest.expect("GET", bp+"/probes/"+id, "", 200)["anomaly_count"].(float64) }

	for _, step := range []struct {
		name  string
		feed  func()
		want  []listed
		count float64
	}{
		{"nothing yet", func() {}, nil, 0},
		{"leaf2 raises two", func() { offer("leaf2", edge("eth1", true), edge("eth2", true)) },
			[]listed{{"edge", "leaf2", "eth1", "errors_anomaly"}, {"edge", "leaf2", "eth2", "errors_anomaly"}}, 2},
		{"leaf2 clears one", func() { offer("leaf2", edge("eth1", false)) },
			[]listed{{"edge", "leaf2", "eth2", "errors_anomaly"}}, 1},
		{"leaf2 clears the other", func() { offer("leaf2", edge("eth2", false)) }, nil, 0},
	} {
		step.feed()
		now = now.Add(time.Second)
		if err := m.Tick(ctx, now); err != nil {
			t.Fatal(err)
		}
		if got := list(); fmt.Sprint(got) != fmt.Sprint(step.want) {
			t.Errorf("%s: /anomalies lists %v, want %v", step.name, got, step.want)
		}
		if got := count(); got != step.count {
			t.Errorf("%s: anomaly_count %v, want %v", step.name, got, step.count)
		}
	}

	// The member's ticks set the per-probe metrics as the evaluator's do:
	// no device sent a partial, so all four leaves are missing and every
	// tick was skipped, warming (not counted) until the staleness bound
	// has passed since the probe was taken, then for want of devices
	// (counted). Once the probe is another member's, its gauges go.
	now = now.Add(2 * time.Hour)
	if err := m.Tick(ctx, now); err != nil {
		t.Fatal(err)
	}
	gauge := func(name string) (float64, bool) {
		mfs, err := c.Registry().Gather()
		if err != nil {
			t.Fatal(err)
		}
		for _, mf := range mfs {
			if mf.GetName() != name {
				continue
			}
			for _, mt := range mf.GetMetric() {
				for _, lp := range mt.GetLabel() {
					if lp.GetName() == "probe" && lp.GetValue() == id {
						if mt.GetCounter() != nil {
							return mt.GetCounter().GetValue(), true
						}
						return mt.GetGauge().GetValue(), true
					}
				}
			}
		}
		return 0, false
	}
	for _, w := range []struct {
		name string
		want float64
	}{{"probe_controller_stale_devices", 4}, {"probe_controller_central_partial", 1}, {"probe_controller_central_ticks_skipped_total", 1}} {
		if v, ok := gauge(w.name); !ok || v != w.want {
			t.Errorf("%s = %v (%v), want %v", w.name, v, ok, w.want)
		}
	}
	m.Revoke(id)
	c.evaluate(now.Add(time.Second))
	for _, name := range []string{"probe_controller_stale_devices", "probe_controller_central_partial"} {
		if v, ok := gauge(name); ok {
			t.Errorf("%s = %v after the probe went, want none", name, v)
		}
	}
}
