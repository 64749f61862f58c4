package probe_test

import (
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
