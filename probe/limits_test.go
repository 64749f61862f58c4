package probe_test

import (
	"encoding/json"
	"fmt"
	"math"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/probe-agent/probe-agent/collectors"
	"github.com/probe-agent/probe-agent/probe"
)

// fanOutProbe is the probe of issue 19 (12.7 KB): one if_counter feeding n
// accumulate processors with max_samples 0, which grew an agent from 16 MB
// to 2.7 GB in 80 s at 1,000 interfaces.
func fanOutProbe(n int, maxSamples int) []byte {
	procs := []map[string]any{{
		"name": "rate", "type": "if_counter", "outputs": map[string]string{"out": "rate"},
		"properties": map[string]any{"counter_type": "tx_bytes"},
	}}
	for i := range n {
		procs = append(procs, map[string]any{
			"name": fmt.Sprintf("history %d", i), "type": "accumulate",
			"inputs":     map[string]string{"in": "rate"},
			"outputs":    map[string]string{"out": fmt.Sprintf("history_%d", i)},
			"properties": map[string]any{"max_samples": maxSamples},
		})
	}
	doc, _ := json.Marshal(map[string]any{"label": "fan-out", "processors": procs})
	return doc
}

// TestValidationRefusesOverBudget: each budget a document can exceed is
// refused with a problem naming the probe, the processor, the field and
// the budget's configuration key.
func TestValidationRefusesOverBudget(t *testing.T) {
	accumulate := func(maxSamples string) string {
		return `{"label": "p", "processors": [
			{"name": "rate", "type": "if_counter", "outputs": {"out": "rate"}, "properties": {"counter_type": "tx_bytes"}},
			{"name": "hist", "type": "accumulate", "inputs": {"in": "rate"}, "outputs": {"out": "h"}, "properties": {"max_samples": ` + maxSamples + `}}]}`
	}
	tests := []struct {
		name   string
		doc    string
		limits probe.Limits
		want   string // the whole problem; "" when the document passes
	}{
		{"max_samples 0", accumulate("0"), probe.Limits{},
			`probe "p": processor "hist": properties.max_samples: max_samples 0 means unbounded (65536, the most a series holds); the budget is 4096 samples per series (limits.samples_per_series)`},
		{"max_samples 0 with the budget at the most a series holds", accumulate("0"), probe.Limits{SamplesPerSeries: probe.HardMaxSamples}, ""},
		{"max_samples over the budget", accumulate("5000"), probe.Limits{},
			`probe "p": processor "hist": properties.max_samples: max_samples 5000 is over the budget of 4096 samples per series (limits.samples_per_series)`},
		{"max_samples from an expression, over a relaxed budget", accumulate(`"2*600"`), probe.Limits{SamplesPerSeries: 1000},
			`probe "p": processor "hist": properties.max_samples: max_samples 1200 is over the budget of 1000 samples per series (limits.samples_per_series)`},
		{"max_samples at the budget", accumulate("4096"), probe.Limits{}, ""},
		{"series over the memory budget for one item", accumulate("4096"), probe.Limits{StageMemory: 32 << 10},
			`probe "p": processor "hist": properties.max_samples: the time series up to stage "h" can hold 64KiB per item, 64KiB for 1 items; the budget is 32KiB of stage data (limits.stage_memory)`},
		{"processors over the budget", string(fanOutProbe(3, 10)), probe.Limits{ProcessorsPerProbe: 2},
			`probe "fan-out": processor "history 1": processors: the probe has 4 processors; the budget is 2 processors per probe (limits.processors_per_probe)`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, probs := probe.CompileJSONWith([]byte(tt.doc), probe.Options{Limits: tt.limits})
			if tt.want == "" {
				if len(probs) > 0 {
					t.Fatalf("refused: %v", probs)
				}
				return
			}
			if len(probs) != 1 || probs[0].Error() != tt.want {
				t.Fatalf("problems:\n%v\nwant:\n%s", probs, tt.want)
			}
		})
	}
}

// counterBatch is n interfaces of one leaf, every tx counter moving.
func counterBatch(n int) *collectors.Batch {
	b := &collectors.Batch{Layout: 1, Interfaces: make([]collectors.Interface, n)}
	for i := range b.Interfaces {
		b.Interfaces[i].SystemID = "leaf1"
		b.Interfaces[i].Name = fmt.Sprintf("Ethernet%d", i)
		b.Interfaces[i].Set(collectors.TxBytes, uint64(i))
	}
	return b
}

// TestFanOutProbeStaysWithinStageMemory is issue 19's reproducer: refused
// at validation with the default budgets; with the budgets relaxed until
// it validates, at 1,000 interfaces its stage data stays within the
// memory budget (as charged, and as the heap measures it) while the probe
// keeps evaluating, counts the samples it had to drop and says so.
func TestFanOutProbeStaysWithinStageMemory(t *testing.T) {
	doc := fanOutProbe(100, 0)
	if len(doc) < 12000 || len(doc) > 14000 {
		t.Fatalf("probe is %d bytes, the reproducer's is 12.7 KB", len(doc))
	}
	_, probs := probe.CompileJSON(doc)
	var fields []string
	for _, p := range probs {
		fields = append(fields, p.Field)
	}
	if len(probs) != 101 || !strings.Contains(probs[0].Error(), "limits.processors_per_probe") || !strings.Contains(probs[1].Error(), "limits.samples_per_series") {
		t.Fatalf("with the default budgets: %d problems (fields %v), want the processor budget and max_samples of each of the 100 accumulates:\n%v", len(probs), fields, probs)
	}

	// Relaxed as far as validation needs: every series may hold 65536
	// samples, so the time series of one item could hold 100 MiB.
	const budget = 100 << 20
	limits := probe.Limits{SamplesPerSeries: probe.HardMaxSamples, ProcessorsPerProbe: 101, StageMemory: budget}
	mem := probe.NewMemoryBudget(limits.StageMemory)
	plan, probs := probe.CompileJSONWith(doc, probe.Options{Limits: limits, Memory: mem})
	if len(probs) > 0 {
		t.Fatal(probs)
	}
	inst, err := probe.NewInstance(plan)
	if err != nil {
		t.Fatal(err)
	}
	batch := counterBatch(1000)
	tick := &probe.Tick{Time: time.Unix(1700000000, 0), Counters: batch}
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	// 100 series of 1,000 items take 1.6 MB a tick: the budget is reached
	// after about 65 ticks, 200 make the probe live at it.
	for k := range 200 {
		for i := range batch.Interfaces {
			batch.Interfaces[i].Counters[collectors.TxBytes] += uint64(1000 + (i+k)%7)
		}
		tick.Time = tick.Time.Add(time.Second)
		if err := inst.Tick(tick); err != nil {
			t.Fatalf("tick %d: %v", k, err)
		}
		if used := mem.Used(); used > budget {
			t.Fatalf("tick %d: stage data holds %d bytes, over the budget of %d", k, used, budget)
		}
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	grown := int64(after.HeapAlloc) - int64(before.HeapAlloc)
	t.Logf("heap grew %.1f MiB; charged %.1f MiB; %d samples dropped", float64(grown)/(1<<20), float64(mem.Used())/(1<<20), inst.Usage().SamplesDropped)
	if grown > budget+budget/20 {
		t.Errorf("the heap grew %d bytes, over the budget of %d (+5%%)", grown, budget)
	}
	use := inst.Usage()
	if use.SamplesDropped == 0 || use.StageBytes != mem.Used() || mem.Used() < budget-budget/10 {
		t.Errorf("usage %+v with %d charged, want samples dropped and the budget nearly used", use, mem.Used())
	}
	state, msg := inst.State()
	if state != probe.StateOperational || !strings.Contains(msg, "limits.stage_memory") {
		t.Errorf("state %s %q, want operational with a note naming limits.stage_memory", state, msg)
	}
	st, _ := inst.Stage("history_99")
	if n := st.Item(999).SampleCount(); n == 0 || n >= 200 {
		t.Errorf("last series holds %d samples, want some, fewer than the 200 appended", n)
	}
	inst.Release()
	if mem.Used() != 0 {
		t.Errorf("released instance still holds %d bytes of the budget", mem.Used())
	}
	runtime.KeepAlive(inst)
}

// TestItemsPerStageRefusedAtRunTime: counters with more interfaces than
// the budget are refused before anything is evaluated or allocated; the
// probe is in the error state with a message naming the budget, and
// evaluates again once the interfaces are within it.
func TestItemsPerStageRefusedAtRunTime(t *testing.T) {
	plan, probs := probe.CompileJSONWith(readFile(t, "testdata/seed_probe.json"), probe.Options{Limits: probe.Limits{ItemsPerStage: 100}})
	if len(probs) > 0 {
		t.Fatal(probs)
	}
	inst, err := probe.NewInstance(plan)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Unix(1700000000, 0)
	for _, tt := range []struct {
		interfaces int
		wantErr    string
	}{
		{100, ""},
		{101, `the counters have 101 interfaces; the budget is 100 items per stage (limits.items_per_stage)`},
		{80, ""},
	} {
		now = now.Add(time.Second)
		err := inst.Tick(&probe.Tick{Time: now, Counters: counterBatch(tt.interfaces)})
		state, msg := inst.State()
		if tt.wantErr == "" {
			if err != nil || state != probe.StateOperational {
				t.Fatalf("%d interfaces: %v, state %s", tt.interfaces, err, state)
			}
			continue
		}
		if err == nil || state != probe.StateError {
			t.Fatalf("%d interfaces: error %v, state %s %q", tt.interfaces, err, state, msg)
		}
		if msg != tt.wantErr {
			t.Errorf("message %q, want %q", msg, tt.wantErr)
		}
	}
	if inst.Usage().LayoutsRefused != 1 {
		t.Errorf("usage %+v, want one layout refused", inst.Usage())
	}
}

func TestFormatBytes(t *testing.T) {
	for _, c := range []struct {
		n    int64
		want string
	}{
		{0, "0B"},
		{512, "512B"},
		{1 << 10, "1KiB"},
		{1536, "1536B"}, // KiB only when whole
		{128 << 20, "128MiB"},
		{1 << 30, "1GiB"},
		{3 << 29, "1.5GiB"},
		{(1 << 30) + 1, "1024.0MiB"},
		{(1 << 20) + 1, "1.0MiB"},
		{math.MaxInt64, "8796093022208.0MiB"}, // no overflow in the tenths check
	} {
		if got := probe.FormatBytes(c.n); got != c.want {
			t.Errorf("FormatBytes(%d) = %q, want %q", c.n, got, c.want)
		}
	}
}
