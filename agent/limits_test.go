package agent

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/probe-agent/probe-agent/collectors"
	"github.com/probe-agent/probe-agent/probe"
)

// TestLimitsConfig: the limits: section reaches the engine's options;
// sizes take binary units; budgets that cannot be used are refused naming
// the key and its line.
func TestLimitsConfig(t *testing.T) {
	cfg, err := Parse([]byte("limits:\n  samples_per_series: 600\n  items_per_stage: 5000\n  processors_per_probe: 20\n  probes_per_agent: 50\n  stage_memory: 1.5GiB\n"))
	if err != nil {
		t.Fatal(err)
	}
	want := probe.Limits{SamplesPerSeries: 600, ItemsPerStage: 5000, ProcessorsPerProbe: 20, ProbesPerAgent: 50, StageMemory: 3 << 29}
	if got := cfg.ProbeOptions().Limits; got != want {
		t.Errorf("limits %+v, want %+v", got, want)
	}
	cfg, err = Parse(nil)
	if err != nil || cfg.ProbeOptions().Limits.WithDefaults() != probe.DefaultLimits() {
		t.Errorf("no limits section: %v, %+v, want the defaults", err, cfg.ProbeOptions().Limits)
	}
	for _, tt := range []struct{ yaml, want string }{
		{"limits:\n  samples_per_series: 70000\n", "line 2: limits.samples_per_series: 70000 is not between 1 and 65536"},
		{"limits:\n  probes_per_agent: -1\n", "line 2: limits.probes_per_agent: -1 is negative"},
		{"limits:\n  stage_memory: lots\n", `line 2: want a size such as 128MiB, 1GiB or a number of bytes, got "lots"`},
	} {
		_, err := Parse([]byte(tt.yaml))
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%q: error %v, want %q", tt.yaml, err, tt.want)
		}
	}
}

// TestProbesPerAgentBudget: an apply or a create that would make the
// agent run more probes than limits.probes_per_agent (counting probes
// from every origin) is refused whole, naming the first probe past the
// budget; nothing changes.
func TestProbesPerAgentBudget(t *testing.T) {
	m := NewManager(quietLog(), nil, nil)
	m.SetProbeOptions(probe.Options{Limits: probe.Limits{ProbesPerAgent: 3}})
	plan, raw, probs := m.compile(tinyProbe("local"), "")
	if len(probs) > 0 {
		t.Fatal(probs)
	}
	m.SetLocal(OriginFile, []LocalDoc{{Source: "a.json", Raw: raw, Plan: plan}})
	if _, err := m.Apply(1, tinyProbes("p", 2)); err != nil {
		t.Fatal(err)
	}
	_, err := m.Apply(2, tinyProbes("p", 3))
	var verr *ValidationError
	if !errors.As(err, &verr) || len(verr.Docs) != 1 || verr.Docs[0].Index != 2 || verr.Docs[0].ID != "p2" ||
		verr.Docs[0].Problems[0].Message != "the agent would run 4 probes (1 already, 3 here); the budget is 3 probes per agent (limits.probes_per_agent)" {
		t.Fatalf("apply over the budget: %v", err)
	}
	if _, err := m.Create(tinyProbe("r")); !errors.As(err, &verr) || !strings.Contains(err.Error(), "limits.probes_per_agent") {
		t.Fatalf("create over the budget: %v", err)
	}
	if got := len(m.List()); got != 3 || m.Generation() != 1 {
		t.Errorf("%d probes at generation %d after the refusals, want 3 at 1", got, m.Generation())
	}
	if _, err := m.Apply(3, tinyProbes("q", 2)); err != nil {
		t.Errorf("a set within the budget: %v", err)
	}
}

// TestRetiredProbesGiveBackStageMemory: the probes of a manager share one
// stage-memory budget (limits.stage_memory); a probe taken out of service
// gives its share back at once.
func TestRetiredProbesGiveBackStageMemory(t *testing.T) {
	m := NewManager(quietLog(), nil, nil)
	m.SetProbeOptions(probe.Options{Limits: probe.Limits{StageMemory: 64 << 20}})
	doc := []byte(`{"id": "h", "label": "history", "processors": [
		{"name": "c", "type": "if_counter", "outputs": {"out": "rate"}, "properties": {"counter_type": "tx_bytes"}},
		{"name": "a", "type": "accumulate", "inputs": {"in": "rate"}, "outputs": {"out": "hist"}, "properties": {"max_samples": 100}}]}`)
	if _, err := m.Apply(1, [][]byte{doc, tinyProbe("t")}); err != nil {
		t.Fatal(err)
	}
	batch := &collectors.Batch{Layout: 1}
	for i := range 50 {
		ifc := collectors.Interface{SystemID: "leaf1", Name: "Ethernet" + string(rune('a'+i%26)) + string(rune('a'+i/26))}
		ifc.Set(collectors.TxBytes, uint64(i))
		batch.Interfaces = append(batch.Interfaces, ifc)
	}
	now := time.Unix(1700000000, 0)
	for k := range 10 {
		for i := range batch.Interfaces {
			batch.Interfaces[i].Counters[collectors.TxBytes] += uint64(100 + k)
		}
		now = now.Add(time.Second)
		m.Each(func(inst *probe.Instance) { _ = inst.Tick(&probe.Tick{Time: now, Counters: batch}) })
	}
	var held int64
	m.Each(func(inst *probe.Instance) { held += inst.Usage().StageBytes })
	if used := m.memory.Used(); used == 0 || used != held {
		t.Fatalf("budget used %d, the probes hold %d", used, held)
	}
	if _, err := m.Apply(2, [][]byte{tinyProbe("t")}); err != nil {
		t.Fatal(err)
	}
	held = 0
	m.Each(func(inst *probe.Instance) { held += inst.Usage().StageBytes })
	if used := m.memory.Used(); used != held {
		t.Errorf("after the history probe was deleted the budget holds %d, the remaining probe %d", used, held)
	}
}
