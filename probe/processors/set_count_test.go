package processors

import (
	"math"
	"testing"

	"github.com/probe-agent/probe-agent/probe"
)

func TestSetCount(t *testing.T) {
	l1e0, l1e1, l2e0 := item("leaf1", "eth0", 1), item("leaf1", "eth1", 2), item("leaf2", "eth0", 3)
	tests := []struct {
		name      string
		stageType string
		props     string
		steps     []checkerStep
	}{
		{"empty input, no group_by", "ns", `{}`, []checkerStep{
			{name: "empty", want: map[string]any{"": 0.0}},
			{name: "items", feed: []feedItem{l1e0, l1e1}, want: map[string]any{"": 2.0}},
			{name: "empty again", want: map[string]any{"": 0.0}},
		}},
		{"empty input, group_by", "ns", `{"group_by": ["system_id"]}`, []checkerStep{
			{name: "empty", want: map[string]any{}},
		}},
		{"items appear and disappear", "ns", `{"group_by": ["system_id"]}`, []checkerStep{
			{name: "two groups", feed: []feedItem{l1e0, l1e1, l2e0}, want: map[string]any{"system_id=leaf1": 2.0, "system_id=leaf2": 1.0}},
			{name: "leaf2 gone, leaf3 new", feed: []feedItem{l1e1, item("leaf3", "eth9", 0)}, want: map[string]any{"system_id=leaf1": 1.0, "system_id=leaf3": 1.0}},
			{name: "leaf1 grows", feed: []feedItem{l1e0, l1e1, item("leaf1", "eth2", 0), item("leaf3", "eth9", 0)}, want: map[string]any{"system_id=leaf1": 3.0, "system_id=leaf3": 1.0}},
		}},
		{"NaN and items without a value", "ns", `{"group_by": ["system_id"]}`, []checkerStep{
			{name: "NaN counts, missing does not", feed: []feedItem{item("leaf1", "eth0", math.NaN()), {Props: []string{"leaf1", "eth1"}, Missing: true}, {Props: []string{"leaf2", "eth0"}, Missing: true}},
				want: map[string]any{"system_id=leaf1": 1.0, "system_id=leaf2": 0.0}},
		}},
		{"states, whatever their values", "dss", `{"group_by": ["interface"]}`, []checkerStep{
			{name: "mixed", feed: []feedItem{state("leaf1", "eth0", "up"), state("leaf2", "eth0", "down"), state("leaf1", "eth1", "")}, want: map[string]any{"interface=eth0": 2.0, "interface=eth1": 1.0}},
		}},
		{"time series count items, not samples", "nsts", `{"group_by": []}`, []checkerStep{
			{name: "first samples", feed: []feedItem{l1e0, l2e0}, want: map[string]any{"": 2.0}},
			{name: "more samples", feed: []feedItem{item("leaf1", "eth0", 5), item("leaf2", "eth0", 6)}, want: map[string]any{"": 2.0}},
		}},
		{"single text item", "t", `{}`, []checkerStep{
			{name: "one", feed: []feedItem{{Str: "x"}}, want: map[string]any{"": 1.0}},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			feed := "set_count/" + tt.name
			h := newHarness(t, probeDoc("set_count", source(feed, tt.stageType), checkerProc(probe.DialectSeed, "set_count", tt.props)))
			if st := h.stage("out"); st.Type != probe.N && st.Type != probe.NS {
				t.Fatalf("output type %s", st.Type)
			}
			runCheckerSteps(t, h, feed, tt.steps)
		})
	}
}

func TestSetCountProblems(t *testing.T) {
	runCheckerProblems(t, []checkerProblem{
		{"unknown group_by key", probeDoc("x", source("f", "ns"), checkerProc(probe.DialectSeed, "set_count", `{"group_by": ["system_id", "role"]}`)), "properties.group_by[1]", `no property "role"`},
		{"group_by not a list", probeDoc("x", source("f", "ns"), checkerProc(probe.DialectSeed, "set_count", `{"group_by": "system_id"}`)), "properties.group_by", "expected array"},
		{"unknown property", probeDoc("x", source("f", "ns"), checkerProc(probe.DialectSeed, "set_count", `{"reference_state": "up"}`)), "properties.reference_state", "unknown property"},
	})
}

func BenchmarkSetCount(b *testing.B) {
	benchChecker(b, "dss", `, {"name": "p", "type": "set_count", "inputs": {"in": {"stage": "src", "column": "value"}}, "outputs": {"out": "out"}, "properties": {"group_by": ["system_id"]}}`)
}
