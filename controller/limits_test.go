package controller

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/probe-agent/probe-agent/limits"
	"github.com/probe-agent/probe-agent/probe"
	pb "github.com/probe-agent/probe-agent/proto/probeagent/v1"
)

// TestLimitsConfig: the limits: section reaches the engine's options and
// the ingest bounds, with the defaults for keys left out; budgets that
// cannot be used are refused naming the file, the line and the key.
func TestLimitsConfig(t *testing.T) {
	base := "topology: {file: lab.yml}\nagents: {defaults: {insecure: true}}\n"
	cfg, err := ParseConfig([]byte(base+"limits:\n  samples_per_series: 600\n  items_per_stage: 5000\n  processors_per_probe: 20\n  stage_memory: 1GiB\n  probes_per_fabric: 50\n  items_per_device: 400\n  edge_anomaly_memory: 4MiB\n"), "c.yaml")
	if err != nil {
		t.Fatal(err)
	}
	want := probe.Limits{SamplesPerSeries: 600, ItemsPerStage: 5000, ProcessorsPerProbe: 20, ProbesPerAgent: 50, StageMemory: 1 << 30}
	if got := cfg.ProbeOptions(nil).Limits; got != want {
		t.Errorf("engine limits %+v, want %+v", got, want)
	}
	if got := cfg.Limits.ingest(); got != (ingestLimits{itemsPerDevice: 400, itemsPerStage: 5000, samplesPerSeries: 600, edgeAnomalyMemory: 4 << 20}) {
		t.Errorf("ingest limits %+v", got)
	}
	cfg, err = ParseConfig([]byte(base), "c.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if got := cfg.Limits.WithDefaults(); got.Engine() != probe.DefaultLimits() || got.ItemsPerDevice != probe.DefaultItemsPerStage ||
		got.EdgeAnomalyMemory != DefaultEdgeAnomalyMemory || got.ProbesPerFabric != 1000 {
		t.Errorf("defaults %+v", got)
	}
	if got := (LimitsConfig{Config: limits.Config{ItemsPerStage: 300}}).WithDefaults().ItemsPerDevice; got != 300 {
		t.Errorf("items_per_device defaults to items_per_stage: got %d", got)
	}
	for _, tc := range []struct{ name, limits, want string }{
		{"samples", "  samples_per_series: 70000\n", "c.yaml:4: limits.samples_per_series: 70000 is not between 1 and 65536"},
		{"items", "  items_per_stage: -1\n", "c.yaml:4: limits.items_per_stage: -1 is negative"},
		{"processors", "  processors_per_probe: -5\n", "c.yaml:4: limits.processors_per_probe: -5 is negative"},
		{"probes", "  probes_per_fabric: -1\n", "c.yaml:4: limits.probes_per_fabric: -1 is negative"},
		{"items per device", "  items_per_device: -3\n", "c.yaml:4: limits.items_per_device: -3 is negative"},
		{"items per device over the stage", "  items_per_stage: 100\n  items_per_device: 101\n", "c.yaml:5: limits.items_per_device: 101 is over items_per_stage (100)"},
		{"items per device over the default stage", "  items_per_device: 70000\n", "c.yaml:4: limits.items_per_device: 70000 is over items_per_stage (65536)"},
		{"memory", "  stage_memory: lots\n", `c.yaml: line 4: want a size such as 128MiB, 1GiB or a number of bytes, got "lots"`},
		{"anomaly memory", "  edge_anomaly_memory: -1MiB\n", `c.yaml: line 4: want a size such as 128MiB, 1GiB or a number of bytes, got "-1MiB"`},
		{"the agent's key", "  probes_per_agent: 5\n", "c.yaml: line 4: field probes_per_agent not found"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseConfig([]byte(base+"limits:\n"+tc.limits), "c.yaml")
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %v, want %q", err, tc.want)
			}
		})
	}
}

// limitsController builds a controller on the leaf-spine lab with the
// seed probe in probes_dir and the limits given (YAML lines under
// limits:); it is not run: the tests drive ingest and ticks themselves.
func limitsController(t testing.TB, limitLines string) (*Controller, Config) {
	t.Helper()
	dir := t.TempDir()
	probes := filepath.Join(dir, "probes")
	if err := os.MkdirAll(probes, 0o755); err != nil {
		t.Fatal(err)
	}
	seed, err := os.ReadFile("testdata/seed_probe.json")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(probes, "seed.json"), seed, 0o644); err != nil {
		t.Fatal(err)
	}
	return controllerIn(t, dir, limitLines)
}

// controllerIn builds the controller of limitsController in dir; extra
// are more top-level YAML lines.
func controllerIn(t testing.TB, dir, limitLines string, extra ...string) (*Controller, Config) {
	t.Helper()
	lab, _ := filepath.Abs(labFile)
	// Addresses nothing listens on: the controller is not run.
	yml := fmt.Sprintf("blueprint_id: dc1\ntopology: {file: %q}\nagents:\n  defaults: {insecure: true}\n  systems: {leaf1: {address: \"127.0.0.1:1\"}, leaf2: {address: \"127.0.0.1:1\"}, leaf3: {address: \"127.0.0.1:1\"}, leaf4: {address: \"127.0.0.1:1\"}}\nstate_dir: %q\nprobes_dir: %q\nlimits:\n%s",
		lab, filepath.Join(dir, "state"), filepath.Join(dir, "probes"), limitLines)
	if limitLines == "" {
		yml += "  {}\n"
	}
	yml += strings.Join(extra, "")
	cfg, err := ParseConfig([]byte(yml), "controller.yaml")
	if err != nil {
		t.Fatal(err)
	}
	c, err := New(cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return c, cfg
}

// seedPartial is an update of the seed probe's partial stage (what a
// leaf's edge part sends the centre) from dev with n items.
func seedPartial(t testing.TB, c *Controller, dev string, seq uint64, at time.Time, n int) []byte {
	t.Helper()
	var u probe.StageUpdate
	if !c.Central("server-imbalance", func(inst *probe.Instance, _ CentralStatus) {
		for _, st := range inst.Stages() {
			if inst.Fed(st.Name) {
				probe.UpdateOf(&u, st)
				return
			}
		}
		t.Fatal("the central part has no fed stage")
	}) {
		t.Fatal("no central part for the seed probe")
	}
	u.Device, u.Probe, u.Generation, u.Seq, u.Time = dev, "server-imbalance", 1, seq, at
	u.Items = nil
	for i := range n {
		it := probe.UpdateItem{Valid: true}
		for k := range u.Keys {
			it.Props = append(it.Props, fmt.Sprintf("%s-%d-%d", dev, k, i))
		}
		for range u.Columns {
			it.Values = append(it.Values, probe.Value{Num: 1000})
		}
		u.Items = append(u.Items, it)
	}
	return u.AppendBinary(nil)
}

// metricValue reads a metric of the controller's registry (0 when the
// series does not exist).
func metricValue(t *testing.T, reg *prometheus.Registry, name string, labels ...string) float64 {
	t.Helper()
	fams, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range fams {
		if f.GetName() != name {
			continue
		}
	next:
		for _, m := range f.GetMetric() {
			for i := 0; i+1 < len(labels); i += 2 {
				found := false
				for _, l := range m.GetLabel() {
					found = found || (l.GetName() == labels[i] && l.GetValue() == labels[i+1])
				}
				if !found {
					continue next
				}
			}
			return metricOf(m)
		}
	}
	return 0
}

func metricOf(m *dto.Metric) float64 {
	switch {
	case m.Counter != nil:
		return m.Counter.GetValue()
	case m.Gauge != nil:
		return m.Gauge.GetValue()
	}
	return 0
}

func fedItems(c *Controller, dev string) int {
	n := -1
	c.Central("server-imbalance", func(inst *probe.Instance, _ CentralStatus) {
		for _, st := range inst.Stages() {
			for _, d := range inst.FedDevices(st.Name) {
				if d.Device == dev {
					n = d.Items
				}
			}
		}
	})
	return n
}

// TestItemsPerDeviceRefused: a device's update with more items than
// limits.items_per_device is refused before it is stored (counted, and
// the device's previous data stays); one within the budget is taken.
func TestItemsPerDeviceRefused(t *testing.T) {
	c, _ := limitsController(t, "  items_per_device: 10\n")
	now := time.Unix(1_700_000_000, 0)
	ok := &pb.StageBatch{Session: "s", Seq: 1, Updates: [][]byte{seedPartial(t, c, "leaf1", 1, now, 1)}}
	if rej := c.ingestBatch("leaf1", ok, false, now); rej != 0 || fedItems(c, "leaf1") != 1 {
		t.Fatalf("an update within the budget: %d refused, %d items stored", rej, fedItems(c, "leaf1"))
	}
	big := &pb.StageBatch{Session: "s", Seq: 2, Updates: [][]byte{seedPartial(t, c, "leaf1", 2, now, 11), seedPartial(t, c, "leaf1", 3, now, 10)}}
	if rej := c.ingestBatch("leaf1", big, false, now); rej != 1 {
		t.Errorf("%d updates refused, want the one with 11 items", rej)
	}
	if got := fedItems(c, "leaf1"); got != 10 {
		t.Errorf("leaf1 holds %d items, want the 10 of the update within the budget", got)
	}
	if got := metricValue(t, c.Registry(), "probe_controller_ingest_refused_total", "budget", "limits.items_per_device"); got != 1 {
		t.Errorf("probe_controller_ingest_refused_total{budget=limits.items_per_device} = %v, want 1", got)
	}
}

// TestFedStageItemsBounded: the devices' latest updates of one central
// stage hold at most limits.items_per_stage items together: an update
// that would make them hold more is refused before it is stored (counted;
// the device is missing from the result instead of the central part
// stopping), and what a device no longer holds (a smaller update, a
// device gone stale) makes room.
func TestFedStageItemsBounded(t *testing.T) {
	c, _ := limitsController(t, "  items_per_stage: 10\n")
	now := time.Unix(1_700_000_000, 0)
	seq := map[string]uint64{}
	send := func(dev string, n int) int {
		seq[dev]++
		return c.ingestBatch(dev, &pb.StageBatch{Session: "s", Seq: seq[dev], Updates: [][]byte{seedPartial(t, c, dev, seq[dev], now, n)}}, false, now)
	}
	for i, step := range []struct {
		dev      string
		items    int
		refused  int
		leaf3Has int
	}{
		{"leaf1", 4, 0, -1},
		{"leaf2", 4, 0, -1},
		{"leaf3", 4, 1, -1}, // 12 items
		{"leaf1", 2, 0, -1},
		{"leaf3", 4, 0, 4}, // 10 items
	} {
		if got := send(step.dev, step.items); got != step.refused {
			t.Errorf("step %d: %s with %d items: %d refused, want %d", i, step.dev, step.items, got, step.refused)
		}
		if got := fedItems(c, "leaf3"); got != step.leaf3Has {
			t.Errorf("step %d: leaf3 holds %d items, want %d", i, got, step.leaf3Has)
		}
	}
	if got := metricValue(t, c.Registry(), "probe_controller_ingest_refused_total", "budget", "limits.items_per_stage"); got != 1 {
		t.Errorf("probe_controller_ingest_refused_total{budget=limits.items_per_stage} = %v, want 1", got)
	}
	now = now.Add(time.Hour) // every device stale: dropped at the tick
	c.EvaluateCentral(now)
	if got := send("leaf4", 10); got != 0 {
		t.Errorf("after the stale devices were dropped, 10 items from leaf4: %d refused", got)
	}
}

// TestCentralStageMemoryBudget: the central parts share
// limits.stage_memory; a central layout that needs more is refused (the
// central part is in error, counted, the budget never exceeded), and the
// part starts again, empty, at the next reload, then evaluates normally.
func TestCentralStageMemoryBudget(t *testing.T) {
	c, cfg := limitsController(t, "  stage_memory: 16KiB\n")
	if got := metricValue(t, c.Registry(), "probe_controller_stage_memory_limit_bytes"); got != 16<<10 {
		t.Fatalf("stage memory limit %v", got)
	}
	now := time.Unix(1_700_000_000, 0)
	feed := func(seq uint64, n int) {
		for _, dev := range []string{"leaf1", "leaf2", "leaf3", "leaf4"} {
			b := &pb.StageBatch{Session: "s", Seq: seq, Updates: [][]byte{seedPartial(t, c, dev, seq, now, n)}}
			if rej := c.ingestBatch(dev, b, false, now); rej != 0 {
				t.Fatalf("%s: %d updates refused", dev, rej)
			}
		}
	}
	status := func() CentralStatus {
		var st CentralStatus
		c.Central("server-imbalance", func(_ *probe.Instance, s CentralStatus) { st = s })
		return st
	}
	feed(1, 1)
	c.EvaluateCentral(now)
	if st := status(); st.LastError != "" || st.Ticks != 1 {
		t.Fatalf("a small central stage: %+v", st)
	}
	feed(2, 500) // 2,000 items: more than 16 KiB of columns
	now = now.Add(time.Second)
	c.EvaluateCentral(now)
	st := status()
	if !strings.Contains(st.LastError, "limits.stage_memory") {
		t.Fatalf("want the layout refused by limits.stage_memory, got %q", st.LastError)
	}
	if used := c.memory.Used(); used > 16<<10 {
		t.Errorf("the central parts hold %d bytes, over the budget", used)
	}
	if got := metricValue(t, c.Registry(), "probe_controller_stage_layouts_refused_total", "probe", "server-imbalance"); got < 1 {
		t.Errorf("probe_controller_stage_layouts_refused_total = %v", got)
	}
	if got := metricValue(t, c.Registry(), "probe_controller_stage_memory_refused_total"); got < 1 {
		t.Errorf("probe_controller_stage_memory_refused_total = %v", got)
	}
	if err := c.Reload(cfg); err != nil {
		t.Fatal(err)
	}
	feed(3, 1)
	now = now.Add(time.Second)
	c.EvaluateCentral(now)
	if st := status(); st.LastError != "" || st.Ticks != 1 {
		t.Errorf("after the reload the central part evaluates again from scratch: %+v", st)
	}
}

// TestEdgeAnomalyMemory: the devices' anomalies the controller keeps are
// bounded by limits.edge_anomaly_memory (a raise past it is counted, not
// kept); a raise for a probe not in the set is not kept; clears give the
// memory back.
func TestEdgeAnomalyMemory(t *testing.T) {
	c, _ := limitsController(t, "  edge_anomaly_memory: 2KiB\n")
	js := `{"type": "probe", "expected": {"value": {"min": 0}}, "actual": {"value": -1}}`
	var raise, clear []*pb.AnomalyEvent
	for i := range 20 {
		item := fmt.Sprintf(`{"interface":"eth%d","system_id":"leaf1"}`, i)
		raise = append(raise, &pb.AnomalyEvent{ProbeId: "server-imbalance", Stage: "server_traffic_imbalanced", ItemId: item, Raised: true, Json: js})
		clear = append(clear, &pb.AnomalyEvent{ProbeId: "server-imbalance", Stage: "server_traffic_imbalanced", ItemId: item, Raised: false, Json: js})
	}
	raise = append(raise, &pb.AnomalyEvent{ProbeId: "no-such-probe", Stage: "s", ItemId: "x", Raised: true, Json: js})
	now := time.Unix(1_700_000_000, 0)
	c.ingestBatch("leaf1", &pb.StageBatch{Session: "s", Seq: 1, Anomalies: raise}, false, now)
	kept := 0
	for _, a := range c.Anomalies() {
		if a.Origin == "edge" {
			kept++
			if a.Probe != "server-imbalance" {
				t.Errorf("kept an anomaly of a probe not in the set: %+v", a)
			}
		}
	}
	if kept == 0 || kept >= 20 {
		t.Fatalf("%d of 20 anomalies kept within 2KiB", kept)
	}
	if st := c.Status().Limits; st.EdgeAnomalies > 2<<10 || st.EdgeAnomalies == 0 || st.EdgeAnomalyLimit != 2<<10 {
		t.Errorf("edge anomaly memory %+v", st)
	}
	if got := metricValue(t, c.Registry(), "probe_controller_ingest_refused_total", "budget", "limits.edge_anomaly_memory"); got != float64(20-kept) {
		t.Errorf("refused %v, want %d", got, 20-kept)
	}
	c.ingestBatch("leaf1", &pb.StageBatch{Session: "s", Seq: 2, Anomalies: clear}, false, now)
	if n := len(c.Anomalies()); n != 0 || c.Status().Limits.EdgeAnomalies != 0 {
		t.Errorf("after the clears: %d anomalies, %d bytes", n, c.Status().Limits.EdgeAnomalies)
	}
	if got := metricValue(t, c.Registry(), "probe_controller_edge_anomaly_memory_bytes"); got != 0 {
		t.Errorf("probe_controller_edge_anomaly_memory_bytes = %v after the clears", got)
	}
}

// otherProbe is a second fabric probe: the seed's processors under
// another id and label.
func otherProbe(t *testing.T, id, label string) []byte {
	t.Helper()
	data, err := os.ReadFile("testdata/seed_probe.json")
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(data, &m); err != nil {
		t.Fatal(err)
	}
	m["id"], m["label"] = id, label
	out, _ := json.Marshal(m)
	return out
}

// TestFabricProbeBudgets: fabric probes are validated against the
// budgets (the problem names the probe, the processor and the key), and
// the set is bounded by limits.probes_per_fabric (the first probe past it
// is named; nothing changes).
func TestFabricProbeBudgets(t *testing.T) {
	c, _ := limitsController(t, "  probes_per_fabric: 1\n  samples_per_series: 100\n  processors_per_probe: 3\n")
	gen := c.Generation()
	for _, tc := range []struct {
		name string
		doc  []byte
		want []string
	}{
		{"samples", []byte(`{"id": "h", "label": "history", "processors": [
			{"name": "c", "type": "if_counter", "outputs": {"out": "rate"}, "properties": {"counter_type": "tx_bytes"}},
			{"name": "hist", "type": "accumulate", "inputs": {"in": "rate"}, "outputs": {"out": "hist"}, "properties": {"max_samples": 500}}]}`),
			[]string{`"history"`, `processor "hist"`, "max_samples 500 is over the budget of 100 samples per series (limits.samples_per_series)"}},
		{"processors", otherProbe(t, "server-imbalance", "more processors"),
			[]string{`processor "server_imbalance_anomaly"`, "the probe has 4 processors; the budget is 3 processors per probe (limits.processors_per_probe)"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := c.AddProbe(tc.doc)
			for _, w := range tc.want {
				if err == nil || !strings.Contains(err.Error(), w) {
					t.Errorf("error %v\nwant %q", err, w)
				}
			}
		})
	}
	// The seed has 4 processors: with processors_per_probe 3 it is
	// refused from probes_dir too, so the set is empty here. A controller
	// with the default processor budget shows probes_per_fabric.
	if got := len(c.Probes()); got != 0 || c.Generation() != gen {
		t.Fatalf("%d probes at generation %d (was %d)", got, c.Generation(), gen)
	}
	c, _ = limitsController(t, "  probes_per_fabric: 1\n")
	gen = c.Generation()
	if _, _, err := c.AddProbe(otherProbe(t, "second", "second probe")); err == nil ||
		!strings.Contains(err.Error(), `probe "second probe" refused`) || !strings.Contains(err.Error(), "the fabric would have 2 probes; the budget is 1 probes per fabric (limits.probes_per_fabric)") {
		t.Errorf("a second probe: %v", err)
	}
	if _, err := c.SetProbes([][]byte{otherProbe(t, "server-imbalance", "a"), otherProbe(t, "third", "third probe")}); err == nil ||
		!strings.Contains(err.Error(), `probe "third probe" refused`) || !strings.Contains(err.Error(), "limits.probes_per_fabric") {
		t.Errorf("a set of two: %v", err)
	}
	if got := len(c.Probes()); got != 1 || c.Generation() != gen {
		t.Fatalf("%d probes at generation %d after the refusals, want 1 at %d", got, c.Generation(), gen)
	}
	if _, _, err := c.AddProbe(otherProbe(t, "server-imbalance", "relabelled")); err != nil {
		t.Errorf("replacing the one probe: %v", err)
	}
}

// TestExampleLimitsAreTheDefaults: the example shows every budget with
// its default, as it says ("keys left out take the values shown").
func TestExampleLimitsAreTheDefaults(t *testing.T) {
	cfg, err := ParseConfig(ExampleConfig, "example.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if got, want := cfg.Limits, (LimitsConfig{}).WithDefaults(); got != want {
		t.Errorf("example limits %+v, defaults %+v", got, want)
	}
}

// TestSeriesCutToSamplesPerSeries: the samples an update's items carry are
// cut to their newest limits.samples_per_series before the update is
// stored, and counted; the update itself is taken.
func TestSeriesCutToSamplesPerSeries(t *testing.T) {
	c, _ := limitsController(t, "  samples_per_series: 100\n")
	now := time.Unix(1_700_000_000, 0)
	raw := seedPartial(t, c, "leaf1", 1, now, 2)
	u, err := probe.DecodeStageUpdate(raw)
	if err != nil {
		t.Fatal(err)
	}
	// The seed's partial stage is not a time series; the update says it
	// is, as a hostile or broken agent's could: it is still bounded.
	u.Type.TimeSeries = true
	for i := range u.Items {
		for k := range 250 {
			u.Items[i].Samples = append(u.Items[i].Samples, probe.Sample{Time: now.Add(time.Duration(k-250) * time.Second), Value: probe.Value{Num: float64(k)}})
		}
	}
	if rej := c.ingestBatch("leaf1", &pb.StageBatch{Session: "s", Seq: 1, Updates: [][]byte{u.AppendBinary(nil)}}, false, now); rej != 0 {
		t.Fatalf("%d updates refused", rej)
	}
	if got := metricValue(t, c.Registry(), "probe_controller_ingest_samples_cut_total"); got != 2*150 {
		t.Errorf("probe_controller_ingest_samples_cut_total = %v, want 300", got)
	}
	if got := fedItems(c, "leaf1"); got != 2 {
		t.Errorf("leaf1 holds %d items", got)
	}
}

// TestReloadChangesLimits: a reload with other budgets applies them: the
// stage-memory budget changes, the central parts are built again with the
// new budgets, and the ingest bounds are the new ones.
func TestReloadChangesLimits(t *testing.T) {
	c, cfg := limitsController(t, "")
	now := time.Unix(1_700_000_000, 0)
	if rej := c.ingestBatch("leaf1", &pb.StageBatch{Session: "s", Seq: 1, Updates: [][]byte{seedPartial(t, c, "leaf1", 1, now, 6)}}, false, now); rej != 0 {
		t.Fatalf("6 items with the default budgets: %d refused", rej)
	}
	cfg.Limits.StageMemory, cfg.Limits.ItemsPerDevice = 1<<20, 5
	if err := c.Reload(cfg); err != nil {
		t.Fatal(err)
	}
	if got := metricValue(t, c.Registry(), "probe_controller_stage_memory_limit_bytes"); got != 1<<20 {
		t.Errorf("stage memory limit %v after the reload, want 1MiB", got)
	}
	var lim probe.Limits
	c.Central("server-imbalance", func(inst *probe.Instance, _ CentralStatus) { lim = inst.Limits() })
	if lim.StageMemory != 1<<20 {
		t.Errorf("the central part runs with %+v", lim)
	}
	if rej := c.ingestBatch("leaf1", &pb.StageBatch{Session: "s", Seq: 2, Updates: [][]byte{seedPartial(t, c, "leaf1", 2, now, 6)}}, false, now); rej != 1 {
		t.Errorf("6 items with items_per_device 5: %d refused, want 1", rej)
	}
}

// TestProbesPerFabricOverREST: a POST past limits.probes_per_fabric is
// refused with 422, the problem naming the budget, and nothing changes.
func TestProbesPerFabricOverREST(t *testing.T) {
	dir := t.TempDir()
	_ = os.MkdirAll(filepath.Join(dir, "probes"), 0o755)
	token := filepath.Join(dir, "token")
	if err := os.WriteFile(token, []byte("s3cret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	c, _ := controllerIn(t, dir, "  probes_per_fabric: 1\n", fmt.Sprintf("api: {listen: \"127.0.0.1:0\", token_file: %q}\n", token))
	srv := httptest.NewServer(c.APIHandler())
	defer srv.Close()
	post := func(doc []byte) (int, string) {
		req, _ := http.NewRequest("POST", srv.URL+"/api/blueprints/dc1/probes", bytes.NewReader(doc))
		req.Header.Set("Authorization", "Bearer s3cret")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(body)
	}
	if code, body := post(otherProbe(t, "first", "first probe")); code != http.StatusCreated {
		t.Fatalf("the first probe: %d %s", code, body)
	}
	code, body := post(otherProbe(t, "second", "second probe"))
	if code != http.StatusUnprocessableEntity || !strings.Contains(body, "the budget is 1 probes per fabric (limits.probes_per_fabric)") || !strings.Contains(body, "second probe") {
		t.Errorf("the second probe: %d %s", code, body)
	}
	if ps := c.Probes(); len(ps) != 1 || ps[0].ID != "first" {
		t.Errorf("probes after the refusal: %+v", ps)
	}
}

// TestStoredSetOverALoweredProbeBudget: a reload that lowers
// limits.probes_per_fabric under the stored set keeps every probe but
// runs only the first ones (in id order); the others say why.
func TestStoredSetOverALoweredProbeBudget(t *testing.T) {
	c, cfg := limitsController(t, "")
	if _, _, err := c.AddProbe(otherProbe(t, "another", "another probe")); err != nil {
		t.Fatal(err)
	}
	cfg.Limits.ProbesPerFabric = 1
	if err := c.Reload(cfg); err != nil {
		t.Fatal(err)
	}
	ps := c.Probes()
	if len(ps) != 2 || ps[0].ID != "another" || ps[0].Error != "" || ps[1].ID != "server-imbalance" ||
		!strings.Contains(ps[1].Error, "the fabric would have 2 probes; the budget is 1 probes per fabric (limits.probes_per_fabric)") {
		t.Fatalf("probes after the budget was lowered: %+v", ps)
	}
	if _, docs := c.partFor("leaf1"); len(docs) != 1 {
		t.Errorf("leaf1 is pushed %d probes, want the one within the budget", len(docs))
	}
	if c.Central("server-imbalance", func(*probe.Instance, CentralStatus) {}) {
		t.Error("the probe past the budget is evaluated centrally")
	}
}
