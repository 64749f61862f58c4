package processors

import (
	"errors"
	"testing"

	"github.com/probe-agent/probe-agent/probe"
)

// TestStageInput feeds a stage_input from two devices: items are laid out
// by device name whatever the arrival order, extra columns and declared
// states are kept, a device's repeated update is refused, and one that
// sends fewer items relays the stage out.
func TestStageInput(t *testing.T) {
	h := newHarness(t, probeDoc("in", `{"name": "x", "type": "stage_input", "outputs": {"out": "x"}, "properties": {
		"stage_type": "dss", "keys": ["system_id", "interface"], "columns": [{"name": "note", "kind": "text"}],
		"possible_values": ["up", "down"], "state_codes": {"up": 1, "down": 0}}}`))
	st := h.stage("x")
	if st.Type != probe.DSS || len(st.Columns) != 2 || st.Columns[1].Kind != probe.Text {
		t.Fatalf("stage %s %v", st.Type, st.Columns)
	}
	if len(st.PossibleValues) != 2 || st.PossibleValues[0] != "up" || st.StateCodes["up"] != 1 {
		t.Fatalf("states %v %v", st.PossibleValues, st.StateCodes)
	}
	update := func(dev string, seq uint64, states ...string) *probe.StageUpdate {
		u := &probe.StageUpdate{Device: dev, Stage: "x", Seq: seq, Type: probe.DSS, Keys: st.Keys, Columns: st.Columns}
		for i, s := range states {
			u.Items = append(u.Items, probe.UpdateItem{Props: []string{dev, "eth" + string(rune('1'+i))}, Valid: true,
				Values: []probe.Value{{Str: s}, {Str: dev + " note"}}})
		}
		return u
	}
	for _, u := range []*probe.StageUpdate{update("leaf2", 1, "up"), update("leaf1", 1, "down", "up")} {
		if err := h.inst.Feed(u); err != nil {
			t.Fatal(err)
		}
	}
	if err := h.inst.Feed(update("leaf1", 1, "up", "up")); !errors.Is(err, probe.ErrDuplicateUpdate) {
		t.Fatalf("repeated update: %v", err)
	}
	if err := h.inst.Tick(&probe.Tick{Time: t0}); err != nil {
		t.Fatal(err)
	}
	var got []string
	for i := range st.Len() {
		got = append(got, st.ItemKey(i)+"="+st.Str(i, 0)+"/"+st.Str(i, 1))
	}
	want := []string{"leaf1\x1feth1=down/leaf1 note", "leaf1\x1feth2=up/leaf1 note", "leaf2\x1feth1=up/leaf2 note"}
	if len(got) != 3 || got[0] != want[0] || got[1] != want[1] || got[2] != want[2] {
		t.Fatalf("items %q, want %q", got, want)
	}
	if err := h.inst.Feed(update("leaf1", 2, "up")); err != nil {
		t.Fatal(err)
	}
	if err := h.inst.Tick(&probe.Tick{Time: t0.Add(1)}); err != nil {
		t.Fatal(err)
	}
	if st.Len() != 2 || st.Str(0, 0) != "up" || st.Str(1, 0) != "up" {
		t.Errorf("after leaf1 sent one item: %d items", st.Len())
	}
	if err := h.inst.Feed(&probe.StageUpdate{Stage: "nope"}); err == nil {
		t.Error("update for a stage that takes none accepted")
	}
}
