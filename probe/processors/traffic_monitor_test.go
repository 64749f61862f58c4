package processors

import (
	"fmt"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/probe-agent/probe-agent/collectors"
	"github.com/probe-agent/probe-agent/probe"
)

// tmIf is one interface of a traffic batch: cumulative tx and rx bytes and
// the speed the collector reports (0 = unknown). A negative counter is left
// unreported.
type tmIf struct {
	name   string
	tx, rx int64
	speed  uint64
}

func trafficBatch(layout, gen uint64, ifs ...tmIf) *collectors.Batch {
	b := &collectors.Batch{Layout: layout}
	for _, f := range ifs {
		ifc := collectors.Interface{SystemID: "leaf1", Name: f.name, SpeedBps: f.speed, Generation: gen}
		if f.tx >= 0 {
			ifc.Set(collectors.TxBytes, uint64(f.tx))
		}
		if f.rx >= 0 {
			ifc.Set(collectors.RxBytes, uint64(f.rx))
		}
		b.Interfaces = append(b.Interfaces, ifc)
	}
	return b
}

func trafficProbe(props string) string {
	return probeDoc("traffic", fmt.Sprintf(`{"name": "tm", "type": "traffic_monitor",
		"outputs": {"tx_bps": "tx", "rx_bps": "rx", "tx_utilization": "tx_util", "rx_utilization": "rx_util"},
		"properties": {%s}}`, props))
}

const e0, e1, e2 = "interface=eth0,system_id=leaf1", "interface=eth1,system_id=leaf1", "interface=eth2,system_id=leaf1"

func TestTrafficMonitor(t *testing.T) {
	type want struct{ tx, rx, txUtil, rxUtil map[string]any }
	steps := []struct {
		name  string
		batch *collectors.Batch
		want  want
	}{
		{"first sample has no value",
			trafficBatch(1, 1, tmIf{"eth0", 1000, 0, 80000}, tmIf{"eth1", 0, math.MaxUint32 - 99, 0}),
			want{map[string]any{}, map[string]any{}, map[string]any{}, map[string]any{}}},
		{"rates; unknown speed has no utilisation; 32-bit wrap",
			trafficBatch(1, 1, tmIf{"eth0", 2000, 500, 80000}, tmIf{"eth1", 100, 100, 0}),
			want{
				map[string]any{e0: 8000.0, e1: 800.0},
				map[string]any{e0: 4000.0, e1: 1600.0},
				map[string]any{e0: 10.0},
				map[string]any{e0: 5.0},
			}},
		{"reset keeps the last value, no spike",
			trafficBatch(1, 1, tmIf{"eth0", 10, 1500, 80000}, tmIf{"eth1", 200, 200, 0}),
			want{
				map[string]any{e0: 8000.0, e1: 800.0},
				map[string]any{e0: 8000.0, e1: 800.0},
				map[string]any{e0: 10.0},
				map[string]any{e0: 10.0},
			}},
		{"re-based after the reset; speed becomes known",
			trafficBatch(1, 1, tmIf{"eth0", 1010, 2500, 80000}, tmIf{"eth1", 300, 300, 1600}),
			want{
				map[string]any{e0: 8000.0, e1: 800.0},
				map[string]any{e0: 8000.0, e1: 800.0},
				map[string]any{e0: 10.0, e1: 50.0},
				map[string]any{e0: 10.0, e1: 50.0},
			}},
		{"speed lost again: utilisation disappears",
			trafficBatch(1, 1, tmIf{"eth0", 2010, 3500, 80000}, tmIf{"eth1", 400, 400, 0}),
			want{
				map[string]any{e0: 8000.0, e1: 800.0},
				map[string]any{e0: 8000.0, e1: 800.0},
				map[string]any{e0: 10.0},
				map[string]any{e0: 10.0},
			}},
		{"eth1 vanishes, eth2 appears without a value, eth0 keeps its state",
			trafficBatch(2, 1, tmIf{"eth0", 3010, 4500, 80000}, tmIf{"eth2", 5, 5, 1000}),
			want{
				map[string]any{e0: 8000.0},
				map[string]any{e0: 8000.0},
				map[string]any{e0: 10.0},
				map[string]any{e0: 10.0},
			}},
		{"eth2 gets a value; rx no longer reported on eth0",
			trafficBatch(2, 1, tmIf{"eth0", 5010, -1, 80000}, tmIf{"eth2", 105, 55, 1000}),
			want{
				map[string]any{e0: 16000.0, e2: 800.0},
				map[string]any{e0: 8000.0, e2: 400.0},
				map[string]any{e0: 20.0, e2: 80.0},
				map[string]any{e0: 10.0, e2: 40.0},
			}},
		{"re-created interfaces (new generation) re-base",
			trafficBatch(2, 2, tmIf{"eth0", 7, 7, 80000}, tmIf{"eth2", 1e9, 1e9, 1000}),
			want{
				map[string]any{e0: 16000.0, e2: 800.0},
				map[string]any{e0: 8000.0, e2: 400.0},
				map[string]any{e0: 20.0, e2: 80.0},
				map[string]any{e0: 10.0, e2: 40.0},
			}},
		{"after the re-base",
			trafficBatch(2, 2, tmIf{"eth0", 1007, 507, 80000}, tmIf{"eth2", 1e9 + 10, 1e9 + 20, 1000}),
			want{
				map[string]any{e0: 8000.0, e2: 80.0},
				map[string]any{e0: 4000.0, e2: 160.0},
				map[string]any{e0: 10.0, e2: 8.0},
				map[string]any{e0: 5.0, e2: 16.0},
			}},
	}
	h := newHarness(t, trafficProbe(""))
	for _, s := range steps {
		h.tick(s.batch, time.Second)
		assertValues(t, h, "tx", s.want.tx)
		assertValues(t, h, "rx", s.want.rx)
		assertValues(t, h, "tx_util", s.want.txUtil)
		assertValues(t, h, "rx_util", s.want.rxUtil)
		if t.Failed() {
			t.Fatalf("after step %q", s.name)
		}
	}
}

func TestTrafficMonitorPeriodAndSpeed(t *testing.T) {
	tests := []struct {
		name  string
		props string
		// per tick (one second apart): tx counter, then the expected tx
		// rate and utilisation after it (nil = no value yet)
		tx   []int64
		rate []any
		util []any
	}{
		{"period 0: each interval", `"period": 0`,
			[]int64{0, 100, 300, 600}, []any{nil, 800.0, 1600.0, 2400.0}, []any{nil, 10.0, 20.0, 30.0}},
		{"period 2: mean over two seconds", `"period": 2`,
			[]int64{0, 100, 300, 600, 1000}, []any{nil, nil, 1200.0, 1200.0, 2800.0}, []any{nil, nil, 15.0, 15.0, 35.0}},
		{"period as an expression", `"period": "1 * 2"`,
			[]int64{0, 100, 300}, []any{nil, nil, 1200.0}, []any{nil, nil, 15.0}},
		{"fixed port_speed overrides the collector", `"port_speed": 1600`,
			[]int64{0, 100}, []any{nil, 800.0}, []any{nil, 50.0}},
		{"constant expression port_speed", `"port_speed": "16 * 100"`,
			[]int64{0, 100}, []any{nil, 800.0}, []any{nil, 50.0}},
		{"graph expression port_speed falls back to the collector", `"port_speed": "functions.speed_to_bits(link.speed)"`,
			[]int64{0, 100}, []any{nil, 800.0}, []any{nil, 10.0}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t, trafficProbe(tt.props))
			for i, tx := range tt.tx {
				h.tick(trafficBatch(1, 1, tmIf{"eth0", tx, -1, 8000}), time.Second)
				for _, c := range []struct {
					stage string
					want  any
				}{{"tx", tt.rate[i]}, {"tx_util", tt.util[i]}} {
					want := map[string]any{}
					if c.want != nil {
						want[e0] = c.want
					}
					assertValues(t, h, c.stage, want)
				}
				if t.Failed() {
					t.Fatalf("after tick %d", i)
				}
			}
		})
	}
}

func TestTrafficMonitorSingleOutput(t *testing.T) {
	h := newHarness(t, probeDoc("one", `{"name": "tm", "type": "traffic_monitor", "outputs": {"rx_utilization": "u"}, "properties": {}}`))
	h.tick(trafficBatch(1, 1, tmIf{"eth0", 0, 0, 1000}), time.Second)
	h.tick(trafficBatch(1, 1, tmIf{"eth0", 0, 25, 1000}), time.Second)
	assertValues(t, h, "u", map[string]any{e0: 20.0})
	if names := h.inst.StageNames(); len(names) != 1 {
		t.Errorf("stages %v, want only u", names)
	}
	h.tick(nil, time.Second) // a tick without counters changes nothing
	assertValues(t, h, "u", map[string]any{e0: 20.0})
}

func TestTrafficMonitorValidation(t *testing.T) {
	tests := []struct {
		name, outputs, props string
		field, msg           string
	}{
		{"no output", `{}`, ``, "outputs", "at least one output"},
		{"unknown output", `{"tx_bits": "x"}`, ``, "outputs.tx_bits", "has no output"},
		{"negative port speed", `{"tx_bps": "x"}`, `"port_speed": -5`, "properties.port_speed", "must be positive"},
		{"zero port speed", `{"tx_bps": "x"}`, `"port_speed": "0"`, "properties.port_speed", "must be positive"},
		{"malformed constant port speed", `{"tx_bps": "x"}`, `"port_speed": "10 +"`, "properties.port_speed", `"10 +"`},
		{"port speed of a wrong type", `{"tx_bps": "x"}`, `"port_speed": true`, "properties.port_speed", "expected number or string or null"},
		{"negative period", `{"tx_bps": "x"}`, `"period": -1`, "properties.period", "must not be negative"},
		{"period expression with a name", `{"tx_bps": "x"}`, `"period": "ps.period"`, "properties.period", "ps.period"},
		{"bad interface expression", `{"tx_bps": "x"}`, `"interface": "intf.if_name("`, "properties.interface", "intf.if_name("},
		{"disallowed additional property", `{"tx_bps": "x"}`, `"role": "__import__('os')"`, "properties.role", "__import__"},
		{"additional property not a string", `{"tx_bps": "x"}`, `"role": 3`, "properties.role", "expected string"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			doc := probeDoc("bad", fmt.Sprintf(`{"name": "tm", "type": "traffic_monitor", "outputs": %s, "properties": {%s}}`, tt.outputs, tt.props))
			_, probs := probe.CompileJSON([]byte(doc))
			assertProblem(t, probs, "tm", tt.field, tt.msg)
		})
	}
}

func TestTrafficMonitorWarnings(t *testing.T) {
	plan, probs := probe.CompileJSON([]byte(trafficProbe(`"port_speed": "functions.speed_to_bits(link.speed)", "role": "link.role"`)))
	if len(probs) > 0 {
		t.Fatal(probs)
	}
	all := strings.Join(plan.Warnings, "\n")
	for _, want := range []string{"port_speed", "speed reported by the collector", `property "role"`} {
		if !strings.Contains(all, want) {
			t.Errorf("warnings %q do not mention %q", plan.Warnings, want)
		}
	}
}

// assertProblem checks that probs holds exactly one problem, on processor
// proc and field, whose message contains msg.
func assertProblem(t *testing.T, probs probe.Problems, proc, field, msg string) {
	t.Helper()
	if len(probs) != 1 {
		t.Fatalf("got %d problems, want 1:\n%v", len(probs), probs)
	}
	p := probs[0]
	if p.Processor != proc || p.Field != field || !strings.Contains(p.Message, msg) {
		t.Errorf("got processor %q field %q message %q; want %q, %q, containing %q", p.Processor, p.Field, p.Message, proc, field, msg)
	}
}

func BenchmarkTrafficMonitor10k(b *testing.B) {
	const n = 10000
	h := newHarness(b, trafficProbe(`"period": 0`))
	batch := &collectors.Batch{Layout: 1, Interfaces: make([]collectors.Interface, n)}
	for i := range batch.Interfaces {
		ifc := &batch.Interfaces[i]
		ifc.SystemID, ifc.Name, ifc.SpeedBps, ifc.Generation = "leaf1", fmt.Sprintf("eth%d", i), 1e10, 1
		ifc.Set(collectors.TxBytes, 0)
		ifc.Set(collectors.RxBytes, 0)
	}
	tick := &probe.Tick{Time: t0, Counters: batch}
	step := func(k uint64) {
		for i := range batch.Interfaces {
			batch.Interfaces[i].Counters[collectors.TxBytes] += 1000 + k%7 + uint64(i)
			batch.Interfaces[i].Counters[collectors.RxBytes] += 500 + k%5
		}
		tick.Time = tick.Time.Add(time.Second)
		if err := h.inst.Tick(tick); err != nil {
			b.Fatal(err)
		}
	}
	step(0)
	step(1) // warm up: layout, per-item state, first values
	b.ReportAllocs()
	b.ResetTimer()
	k := uint64(2)
	for b.Loop() {
		step(k)
		k++
	}
	b.StopTimer()
	if got := h.values("tx_util"); len(got) != n {
		b.Fatalf("%d utilisation items, want %d", len(got), n)
	}
}
