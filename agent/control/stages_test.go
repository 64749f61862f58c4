package control

import (
	"encoding/json"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/probe-agent/probe-agent/agent"
	"github.com/probe-agent/probe-agent/collectors"
	"github.com/probe-agent/probe-agent/probe"
	pb "github.com/probe-agent/probe-agent/proto/probeagent/v1"
)

// TestStreamStages applies the edge part of the seed probe the way a
// controller does (with "export" naming its partial stage), evaluates it as
// the agent's tick does, and reads the batches a controller receives: the
// partial std_dev state per device, decodable and merged by the central
// part into the whole probe's value.
func TestStreamStages(t *testing.T) {
	seed := []byte(`{"id": "seed", "label": "server_tx_bytes", "processors": [
		{"name": "server_tx_bytes", "type": "if_counter", "outputs": {"out": "server_tx_bytes_output"}, "properties": {"counter_type": "tx_bytes"}},
		{"name": "std", "type": "std_dev", "inputs": {"in": "server_tx_bytes_output"}, "outputs": {"out": "std_dev_output"}, "properties": {"ddof": 0, "group_by": []}},
		{"name": "server_imbalance", "type": "range_check", "inputs": {"in": "std_dev_output"}, "outputs": {"out": "std_dev_output_in_range"}, "properties": {"range": {"max": 100}}},
		{"name": "server_imbalance_anomaly", "type": "anomaly", "inputs": {"in": "std_dev_output_in_range"}, "outputs": {"out": "server_traffic_imbalanced"}}]}`)
	plan, probs := probe.CompileJSON(seed)
	if len(probs) > 0 {
		t.Fatal(probs)
	}
	split, err := probe.Partition(plan, nil)
	if err != nil {
		t.Fatal(err)
	}
	var export []string
	for _, c := range split.Crossings {
		export = append(export, c.Stage)
	}
	var edge map[string]any
	if err := json.Unmarshal(split.EdgeDoc, &edge); err != nil {
		t.Fatal(err)
	}
	edge["export"] = export
	edgeDoc, _ := json.Marshal(edge)

	m := agent.NewManager(slog.New(slog.NewTextHandler(io.Discard, nil)), nil, nil)
	ts := start(t, m, agent.ControlConfig{})
	ctx := ctxT(t)
	c := ts.trusted(t)
	if _, err := c.ApplyProbes(ctx, &pb.ApplyProbesRequest{Generation: 3, Probes: []string{string(edgeDoc)}}); err != nil {
		t.Fatal(err)
	}
	stream, err := c.StreamStages(ctx, &pb.StreamStagesRequest{})
	if err != nil {
		t.Fatal(err)
	}
	// The subscription exists once the server handler runs; wait for it
	// rather than sleeping.
	for deadline := time.Now().Add(5 * time.Second); m.Exports().Subscribers() == 0; {
		if time.Now().After(deadline) {
			t.Fatal("StreamStages did not subscribe")
		}
		time.Sleep(time.Millisecond)
	}
	var items probe.ItemCache
	tick := func(at time.Time, tx ...uint64) {
		b := &collectors.Batch{Time: at, Layout: 1}
		for i, v := range tx {
			ifc := collectors.Interface{SystemID: "leaf1", Name: []string{"eth1", "eth2"}[i]}
			ifc.Set(collectors.TxBytes, v)
			b.Interfaces = append(b.Interfaces, ifc)
		}
		gen, ex := m.Generation(), m.Exports()
		m.Each(func(inst *probe.Instance) {
			if err := inst.Tick(&probe.Tick{Time: at, Counters: b, Items: &items}); err != nil {
				t.Errorf("tick: %v", err)
			}
			ex.Add(inst, "leaf1", gen)
		})
		items.Advance(b, at)
		ex.Flush(at)
	}
	t0 := time.Unix(1700000000, 0)
	tick(t0, 0, 0)
	tick(t0.Add(time.Second), 100, 300) // rates 100 and 300: mean 200, M2 20000
	var last *pb.StageBatch
	for i := 0; i < 2; i++ {
		if last, err = stream.Recv(); err != nil {
			t.Fatal(err)
		}
	}
	if last.Device != "leaf1" || last.Generation != 3 || last.Seq != 2 || last.Session != m.Exports().Session() || len(last.Updates) != len(export) {
		t.Fatalf("batch device %q generation %d seq %d session %q updates %d", last.Device, last.Generation, last.Seq, last.Session, len(last.Updates))
	}
	u, err := probe.DecodeStageUpdate(last.Updates[0])
	if err != nil {
		t.Fatal(err)
	}
	if u.Device != "leaf1" || u.Probe != "seed" || u.Stage != export[0] || u.Generation != 3 {
		t.Errorf("update device %q probe %q stage %q generation %d", u.Device, u.Probe, u.Stage, u.Generation)
	}
	central, err := probe.NewInstance(split.Central)
	if err != nil {
		t.Fatal(err)
	}
	if err := central.Feed(u); err != nil {
		t.Fatal(err)
	}
	if err := central.Tick(&probe.Tick{Time: t0.Add(time.Second)}); err != nil {
		t.Fatal(err)
	}
	st, _ := central.Stage("std_dev_output")
	if st.Len() != 1 || st.Num(0, 0) != 100 {
		t.Errorf("central std_dev %v, want 100", st.Item(0))
	}
}
