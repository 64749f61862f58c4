package probe_test

import (
	"fmt"
	"maps"
	"runtime"
	"testing"
	"time"

	"github.com/probe-agent/probe-agent/collectors"
	"github.com/probe-agent/probe-agent/probe"
)

func TestItemCacheSharesOneMappingPerLayout(t *testing.T) {
	b := &collectors.Batch{Layout: 7, Interfaces: []collectors.Interface{
		{SystemID: "s", Name: "a"}, {SystemID: "s", Name: "b"}, {SystemID: "s", Name: "a"},
	}}
	var c probe.ItemCache
	m := c.For(b)
	if got := m.Slot; len(got) != 3 || got[0] != 0 || got[1] != 1 || got[2] != -1 {
		t.Fatalf("slots %v, want [0 1 -1] (duplicate pair dropped)", got)
	}
	if c.For(b) != m {
		t.Error("same layout: mapping rebuilt")
	}
	b.Layout = 8
	if c.For(b) == m {
		t.Error("new layout: stale mapping returned")
	}
	b.Layout = 0
	if first, second := c.For(b), c.For(b); first == second {
		t.Error("unknown layout (0): mapping must be rebuilt every time")
	}
}

// TestCounterSourcesShareTheCache evaluates two probes on the same batches
// and cache: their counter stages keep their layout on steady ticks, and
// change it together when the interfaces change.
func TestCounterSourcesShareTheCache(t *testing.T) {
	var insts []*probe.Instance
	for _, counter := range []string{"tx_bytes", "rx_bytes"} {
		plan, probs := probe.CompileJSON([]byte(`{"label": "p-` + counter + `", "processors": [{"name": "c", "type": "if_counter", "outputs": {"out": "r"}, "properties": {"counter_type": "` + counter + `"}}]}`))
		if len(probs) > 0 {
			t.Fatal(probs)
		}
		inst, _ := probe.NewInstance(plan)
		insts = append(insts, inst)
	}
	var cache probe.ItemCache
	b := &collectors.Batch{Layout: 1, Interfaces: []collectors.Interface{{SystemID: "s", Name: "a"}}}
	tick := func(at int64) []uint64 {
		var layouts []uint64
		for _, inst := range insts {
			if err := inst.Tick(&probe.Tick{Time: time.Unix(at, 0), Counters: b, Items: &cache}); err != nil {
				t.Fatal(err)
			}
			st, _ := inst.Stage("r")
			layouts = append(layouts, st.Layout())
		}
		return layouts
	}
	first := tick(1)
	if again := tick(2); again[0] != first[0] || again[1] != first[1] {
		t.Errorf("steady tick relaid out the stages: %v -> %v", first, again)
	}
	b.Layout = 2
	b.Interfaces = append(b.Interfaces, collectors.Interface{SystemID: "s", Name: "b"})
	if changed := tick(3); changed[0] == first[0] || changed[1] == first[1] {
		t.Errorf("new interface did not relay out the stages: %v -> %v", first, changed)
	}
}

func rateProbe(t *testing.T, counter string) *probe.Instance {
	t.Helper()
	plan, probs := probe.CompileJSON([]byte(`{"label": "p-` + counter + `", "processors": [{"name": "c", "type": "if_counter", "outputs": {"out": "r"}, "properties": {"counter_type": "` + counter + `"}}]}`))
	if len(probs) > 0 {
		t.Fatal(probs)
	}
	inst, err := probe.NewInstance(plan)
	if err != nil {
		t.Fatal(err)
	}
	return inst
}

func rates(t *testing.T, inst *probe.Instance) map[string]float64 {
	t.Helper()
	st, _ := inst.Stage("r")
	out := map[string]float64{}
	for i := 0; i < st.Len(); i++ {
		if st.Valid(i) {
			out[st.Props(i)[0]] = st.Num(i, 0)
		}
	}
	return out
}

// TestSharedCounterHistory: rates come from the previous tick's counters
// kept once in the shared cache. A probe added later has rates at its first
// tick; an interface that appears, moves or is re-created is matched by
// name and generation, not by position.
func TestSharedCounterHistory(t *testing.T) {
	ifc := func(name string, tx, gen uint64) collectors.Interface {
		i := collectors.Interface{SystemID: "s", Name: name, Generation: gen}
		i.Set(collectors.TxBytes, tx)
		return i
	}
	var cache probe.ItemCache
	first := rateProbe(t, "tx_bytes")
	steps := []struct {
		name   string
		layout uint64
		ifaces []collectors.Interface
		want   map[string]float64 // rates of a probe added at this step
		old    map[string]float64 // rates of the first probe
	}{
		{"first sample", 1, []collectors.Interface{ifc("a", 100, 1), ifc("b", 1000, 1)}, map[string]float64{}, map[string]float64{}},
		{"steady", 1, []collectors.Interface{ifc("a", 200, 1), ifc("b", 1500, 1)},
			map[string]float64{"a": 100, "b": 500}, map[string]float64{"a": 100, "b": 500}},
		{"reordered, c new, b re-created", 2, []collectors.Interface{ifc("c", 5, 1), ifc("b", 10, 2), ifc("a", 500, 1)},
			map[string]float64{"a": 300}, map[string]float64{"a": 300, "b": 500}},
		{"steady again", 2, []collectors.Interface{ifc("c", 25, 1), ifc("b", 20, 2), ifc("a", 600, 1)},
			map[string]float64{"a": 100, "b": 10, "c": 20}, map[string]float64{"a": 100, "b": 10, "c": 20}},
	}
	for n, step := range steps {
		at := time.Unix(int64(100+n), 0)
		b := &collectors.Batch{Time: at, Layout: step.layout, Interfaces: step.ifaces}
		late := rateProbe(t, "tx_bytes")
		for _, inst := range []*probe.Instance{first, late} {
			if err := inst.Tick(&probe.Tick{Time: at, Counters: b, Items: &cache}); err != nil {
				t.Fatal(err)
			}
		}
		cache.Advance(b, at)
		if got := rates(t, late); !maps.Equal(got, step.want) {
			t.Errorf("%s: probe added now has rates %v, want %v", step.name, got, step.want)
		}
		if got := rates(t, first); !maps.Equal(got, step.old) {
			t.Errorf("%s: first probe has rates %v, want %v", step.name, got, step.old)
		}
	}
}

// TestCounterSourcesKeepNoPerInterfaceState: each rate probe on 4,000
// interfaces retains its output column (a value and a change mark per item)
// and little else; the previous counters are kept once, by the shared cache.
// A per-probe copy of the last sample (32 bytes per interface) fails this.
func TestCounterSourcesKeepNoPerInterfaceState(t *testing.T) {
	const n = 4000
	retained := func(probes int) uint64 {
		b := &collectors.Batch{Layout: 1}
		for i := 0; i < n; i++ {
			b.Interfaces = append(b.Interfaces, collectors.Interface{SystemID: "s", Name: fmt.Sprint("Ethernet", i)})
			b.Interfaces[i].Set(collectors.RxBytes, uint64(i))
		}
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		var cache probe.ItemCache
		var insts []*probe.Instance
		for k := 0; k < probes; k++ {
			insts = append(insts, rateProbe(t, "rx_bytes"))
		}
		for at := int64(1); at <= 3; at++ {
			b.Time = time.Unix(at, 0)
			for _, inst := range insts {
				if err := inst.Tick(&probe.Tick{Time: b.Time, Counters: b, Items: &cache}); err != nil {
					t.Fatal(err)
				}
			}
			cache.Advance(b, b.Time)
		}
		runtime.GC()
		runtime.ReadMemStats(&after)
		runtime.KeepAlive(insts)
		runtime.KeepAlive(b)
		return after.HeapAlloc - before.HeapAlloc
	}
	one, eleven := retained(1), retained(11)
	perItem := float64(eleven-one) / (10 * n)
	t.Logf("each rate probe retains %.1f bytes per interface", perItem)
	if perItem > 16 {
		t.Errorf("each rate probe retains %.1f bytes per interface, want at most 16 (an 8-byte value and a 4-byte change mark)", perItem)
	}
}

func TestInterfaceItemsDropLaterDuplicates(t *testing.T) {
	var b collectors.Batch
	for _, p := range [][2]string{{"a", "s1"}, {"b", "s1"}, {"a", "s1"}, {"a", "s2"}, {"b", "s1"}, {"c", "s1"}} {
		b.Interfaces = append(b.Interfaces, collectors.Interface{Name: p[0], SystemID: p[1]})
	}
	m := probe.NewInterfaceItems(&b)
	if got, want := fmt.Sprint(m.Slot), "[0 1 -1 2 -1 3]"; got != want {
		t.Errorf("slots %s, want %s (first of each pair kept, in batch order)", got, want)
	}
}
