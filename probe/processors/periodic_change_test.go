package processors

import (
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/probe-agent/probe-agent/collectors"
	"github.com/probe-agent/probe-agent/probe"
)

// periodicStep is one tick of a periodic_change / periodic_rate scenario:
// the items the source emits, the time to the next tick, and the output
// after the tick.
type periodicStep struct {
	name  string
	items []feedItem
	next  time.Duration
	want  map[string]any
}

func missing(sys, intf string) feedItem { return feedItem{Props: []string{sys, intf}, Missing: true} }

// runPeriodic runs steps through a probe "src -> <typ> (properties) -> out".
func runPeriodic(t *testing.T, typ, props, stageType string, steps []periodicStep) {
	t.Helper()
	feed := t.Name()
	h := newHarness(t, probeDoc(typ, source(feed, stageType),
		fmt.Sprintf(`{"name": "p", "type": %q, "inputs": {"in": {"stage": "src", "column": "value"}}, "outputs": {"out": "out"}, "properties": %s}`, typ, props)))
	for i, s := range steps {
		setFeed(feed, s.items...)
		at := h.now.Sub(t0)
		h.tick(nil, s.next)
		assertValues(t, h, "out", s.want)
		if t.Failed() {
			t.Fatalf("step %d (%q, t=%v)", i, s.name, at)
		}
	}
}

const (
	pdE1 = "system_id=a,interface=e1"
	pdE2 = "system_id=a,interface=e2"
	pdE3 = "system_id=a,interface=e3"
)

func TestPeriodicChange(t *testing.T) {
	sec := time.Second
	tests := []struct {
		name   string
		props  string
		typ    string
		steps  []periodicStep
		reason string
	}{
		{name: "empty input", props: `{"period": 10}`, typ: "ns", steps: []periodicStep{
			{"no items", nil, 10 * sec, map[string]any{}},
			{"boundary with no items", nil, 10 * sec, map[string]any{}},
			{"still none", nil, 10 * sec, map[string]any{}},
		}},
		{name: "irregular ticks, items appearing and disappearing, reset", props: `{"period": 60}`, typ: "ns", steps: []periodicStep{
			{"t=0 first samples", []feedItem{item("a", "e1", 100), item("a", "e2", 5)}, 25 * sec, map[string]any{}},
			{"t=25", []feedItem{item("a", "e1", 110), item("a", "e2", 5)}, 25 * sec, map[string]any{}},
			{"t=50 e2 missing", []feedItem{item("a", "e1", 130), missing("a", "e2")}, 25 * sec, map[string]any{}},
			{"t=75 closes [0,60): change up to and including this tick", []feedItem{item("a", "e1", 131), item("a", "e2", 9)}, 25 * sec,
				map[string]any{pdE1: 31.0, pdE2: 4.0}},
			{"t=100 e2 vanishes, e3 appears; outputs hold", []feedItem{item("a", "e1", 150), item("a", "e3", 7)}, 25 * sec,
				map[string]any{pdE1: 31.0}},
			{"t=125 closes [60,120): e1 reset re-based, e3 counted from first sight", []feedItem{item("a", "e1", 2), item("a", "e3", 10)}, 25 * sec,
				map[string]any{pdE1: 19.0, pdE3: 3.0}},
			{"t=150 e2 returns and starts afresh", []feedItem{item("a", "e1", 5), item("a", "e2", 100)}, 35 * sec,
				map[string]any{pdE1: 19.0}},
			{"t=185 closes [120,180): periods stay aligned to the first tick", []feedItem{item("a", "e1", 6), item("a", "e2", 100)}, 5 * sec,
				map[string]any{pdE1: 4.0, pdE2: 0.0}},
			{"t=190", []feedItem{item("a", "e1", 6), item("a", "e2", 101)}, 50 * sec, map[string]any{pdE1: 4.0, pdE2: 0.0}},
			{"t=240 closes [180,240) exactly at the boundary", []feedItem{item("a", "e1", 16), item("a", "e2", 101)}, 200 * sec,
				map[string]any{pdE1: 10.0, pdE2: 1.0}},
			{"t=440 a long gap closes one period covering it", []feedItem{item("a", "e1", 26), item("a", "e2", 101)}, sec,
				map[string]any{pdE1: 10.0, pdE2: 0.0}},
		}},
		{name: "item missing for a whole period", props: `{"period": 10}`, typ: "ns", steps: []periodicStep{
			{"t=0", []feedItem{item("a", "e1", 1)}, 5 * sec, map[string]any{}},
			{"t=5", []feedItem{item("a", "e1", 2)}, 5 * sec, map[string]any{}},
			{"t=10 boundary", []feedItem{item("a", "e1", 4)}, 5 * sec, map[string]any{pdE1: 3.0}},
			{"t=15 missing", []feedItem{missing("a", "e1")}, 5 * sec, map[string]any{pdE1: 3.0}},
			{"t=20 boundary without samples: no value", []feedItem{missing("a", "e1")}, 5 * sec, map[string]any{}},
			{"t=25 back, re-based", []feedItem{item("a", "e1", 100)}, 5 * sec, map[string]any{}},
			{"t=30 boundary: change since its return only", []feedItem{item("a", "e1", 101)}, 5 * sec, map[string]any{pdE1: 1.0}},
		}},
		{name: "missing only at the boundary tick", props: `{"period": 10}`, typ: "ns", steps: []periodicStep{
			{"t=0", []feedItem{item("a", "e1", 1)}, 5 * sec, map[string]any{}},
			{"t=5", []feedItem{item("a", "e1", 3)}, 5 * sec, map[string]any{}},
			{"t=10 boundary, item missing: change up to its last sample", []feedItem{missing("a", "e1")}, 5 * sec, map[string]any{pdE1: 2.0}},
			{"t=15", []feedItem{item("a", "e1", 4)}, 5 * sec, map[string]any{pdE1: 2.0}},
			{"t=20", []feedItem{item("a", "e1", 4)}, 5 * sec, map[string]any{pdE1: 1.0}},
		}},
		{name: "NaN and infinite values are skipped", props: `{"period": 10}`, typ: "ns", steps: []periodicStep{
			{"t=0", []feedItem{item("a", "e1", 1), item("a", "e2", math.NaN())}, 5 * sec, map[string]any{}},
			{"t=5", []feedItem{item("a", "e1", math.NaN()), item("a", "e2", 2)}, 5 * sec, map[string]any{}},
			{"t=10", []feedItem{item("a", "e1", 3), item("a", "e2", math.Inf(1))}, 5 * sec, map[string]any{pdE1: 2.0}},
			{"t=15", []feedItem{item("a", "e1", math.NaN()), item("a", "e2", 5)}, 5 * sec, map[string]any{pdE1: 2.0}},
			{"t=20 e1 had only NaN", []feedItem{item("a", "e1", math.NaN()), item("a", "e2", 6)}, 5 * sec, map[string]any{pdE2: 4.0}},
			{"t=25 e1 re-based", []feedItem{item("a", "e1", 50), item("a", "e2", 6)}, 5 * sec, map[string]any{pdE2: 4.0}},
			{"t=30", []feedItem{item("a", "e1", 52), item("a", "e2", 6)}, 5 * sec, map[string]any{pdE1: 2.0, pdE2: 0.0}},
		}},
		{name: "single item (N), period expression, reset to zero", props: `{"period": "2 * 5"}`, typ: "n", steps: []periodicStep{
			{"t=0", []feedItem{{Num: 7}}, 10 * sec, map[string]any{}},
			{"t=10", []feedItem{{Num: 9}}, 10 * sec, map[string]any{"": 2.0}},
			{"t=20 reset", []feedItem{{Num: 0}}, 10 * sec, map[string]any{"": 0.0}},
			{"t=30", []feedItem{{Num: 5}}, 10 * sec, map[string]any{"": 5.0}},
		}},
		{name: "default period is 60 seconds", props: `{}`, typ: "ns", steps: []periodicStep{
			{"t=0", []feedItem{item("a", "e1", 0)}, 59 * sec, map[string]any{}},
			{"t=59", []feedItem{item("a", "e1", 5)}, sec, map[string]any{}},
			{"t=60", []feedItem{item("a", "e1", 6)}, sec, map[string]any{pdE1: 6.0}},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			runPeriodic(t, "periodic_change", tt.props, tt.typ, tt.steps)
		})
	}
}

func TestPeriodicDeltaValidation(t *testing.T) {
	tests := []struct {
		name, typ, props, field, message string
		input                            string
	}{
		{"context expression", "periodic_change", `{"period": "context.interval"}`, "properties.period",
			"depends on context (the current item's keys, resolved per item)", "ns"},
		{"graph query expression", "periodic_rate", `{"period": "int(query_result[0]['ps'].values['period'])"}`, "properties.period",
			"depends on query_result (graph query results, resolved by the controller)", "ns"},
		{"call not allowed", "periodic_change", `{"period": "__import__('os')"}`, "properties.period", "__import__ is not allowed", "ns"},
		{"string, not a number", "periodic_rate", `{"period": "'60'"}`, "properties.period", "is the str '60', not a number", "ns"},
		{"zero", "periodic_change", `{"period": 0}`, "properties.period", "must be at least 1 second, got 0", "ns"},
		{"negative expression", "periodic_rate", `{"period": "-60"}`, "properties.period", "must be at least 1 second", "ns"},
		{"power operator", "periodic_change", `{"period": "10 ** 10"}`, "properties.period", "operator ** is not allowed", "ns"},
		{"too large", "periodic_change", `{"period": "1000000 * 1000000"}`, "properties.period", "must be at most", "ns"},
		{"float", "periodic_change", `{"period": 1.5}`, "properties.period", "expected integer or string", "ns"},
		{"unknown property", "periodic_rate", `{"window": 60}`, "properties.window", "unknown property", "ns"},
		{"state input", "periodic_change", `{}`, "inputs.in", "dss", "dss"},
		{"time-series input", "periodic_rate", `{}`, "inputs.in", "nsts", "nsts"},
	}
	for _, tt := range tests {
		t.Run(tt.typ+"/"+tt.name, func(t *testing.T) {
			doc := probeDoc("v", source("validation", tt.input),
				fmt.Sprintf(`{"name": "p", "type": %q, "inputs": {"in": {"stage": "src", "column": "value"}}, "outputs": {"out": "out"}, "properties": %s}`, tt.typ, tt.props))
			_, probs := probe.CompileJSON([]byte(doc))
			for _, p := range probs {
				if p.Processor == "p" && p.Field == tt.field && strings.Contains(p.Message, tt.message) {
					return
				}
			}
			t.Fatalf("no problem on processor p, field %s, containing %q; got:\n%v", tt.field, tt.message, probs)
		})
	}
}

// The two 4.x corpus probes using periodic_change (period 60) must raise no
// problem on it.
func TestPeriodicChangeCorpusProbes(t *testing.T) {
	dir := "../../../shared/corpus/apstra-4.2.1-probes"
	for _, f := range []string{"interface-flap.json", "ddos-protection-protocols.json"} {
		t.Run(f, func(t *testing.T) {
			data, err := os.ReadFile(filepath.Join(dir, f))
			if err != nil {
				t.Skipf("corpus not present: %v", err)
			}
			doc, _ := probe.ParseDocument(data)
			var name string
			for _, p := range doc.Processors {
				if p.Type == "periodic_change" {
					name = p.Name
				}
			}
			if name == "" {
				t.Fatal("no periodic_change processor in the probe")
			}
			_, probs := probe.CompileJSON(data)
			for _, p := range probs {
				if p.Processor == name {
					t.Errorf("problem on %s: %v", name, p)
				}
			}
		})
	}
}

// benchPeriodic runs if_counter over n interfaces into typ, one tick per
// second, period 60: the steady state (no layout change) must not allocate.
func benchPeriodic(b *testing.B, typ string, n int) {
	doc := fmt.Sprintf(`{"label": "bench", "processors": [
		{"name": "c", "type": "if_counter", "outputs": {"out": "rate"}, "properties": {"counter_type": "tx_bytes"}},
		{"name": "p", "type": %q, "inputs": {"in": {"stage": "rate", "column": "value"}}, "outputs": {"out": "out"}, "properties": {"period": 60}}]}`, typ)
	h := newHarness(b, doc)
	batch := &collectors.Batch{Layout: 1}
	for i := range n {
		ifc := collectors.Interface{SystemID: "leaf1", Name: fmt.Sprintf("et-%d", i)}
		ifc.Set(collectors.TxBytes, 0)
		batch.Interfaces = append(batch.Interfaces, ifc)
	}
	tick := &probe.Tick{Time: t0, Counters: batch}
	step := func(k int) {
		for i := range batch.Interfaces {
			batch.Interfaces[i].Counters[collectors.TxBytes] += uint64(1000 + i + k%7)
		}
		tick.Time = tick.Time.Add(time.Second)
		if err := h.inst.Tick(tick); err != nil {
			b.Fatal(err)
		}
	}
	for k := range 130 { // past two period boundaries: every item has a value
		step(k)
	}
	if st := h.stage("out"); st.Len() != n || !st.Item(n-1).Valid {
		b.Fatalf("output has %d items, last valid %v", st.Len(), st.Item(n-1).Valid)
	}
	b.ReportAllocs()
	b.ResetTimer()
	k := 0
	for b.Loop() {
		step(k)
		k++
	}
}

func BenchmarkPeriodicChange10k(b *testing.B) { benchPeriodic(b, "periodic_change", 10000) }
