package processors

import (
	"math"
	"testing"

	"github.com/probe-agent/probe-agent/probe"
)

var setComparisonOutputs = map[string]string{"A - B": "a_only", "B - A": "b_only", "A & B": "both"}

func setComparisonDoc(props string, outputs map[string]string, srcA, srcB string) string {
	return probeDoc("sets", srcA, srcB, pairProc("sc", "set_comparison", map[string]string{"A": "a", "B": "b"}, outputs, props))
}

func TestSetComparison(t *testing.T) {
	const k0, k1, k2, k3 = "system_id=leaf1,interface=eth0", "system_id=leaf1,interface=eth1", "system_id=leaf1,interface=eth2", "system_id=leaf1,interface=eth3"
	doc := setComparisonDoc("", setComparisonOutputs, feedSrc("a", "sc.a", "ns"), feedSrc("b", "sc.b", "dss"))
	h := runPairSteps(t, doc, []pairStep{
		{name: "empty inputs", feeds: map[string][]feedItem{"sc.a": nil, "sc.b": nil},
			want: map[string]map[string]any{"a_only": {}, "b_only": {}, "both": {}}},
		{name: "only A",
			feeds: map[string][]feedItem{"sc.a": {item("leaf1", "eth0", 1)}},
			want:  map[string]map[string]any{"a_only": {k0: 1.0}, "b_only": {}, "both": {}}},
		{name: "keys compared, values carried (A's for A & B)",
			feeds: map[string][]feedItem{
				"sc.a": {item("leaf1", "eth0", 1), item("leaf1", "eth1", 2)},
				"sc.b": {state("leaf1", "eth1", "up"), state("leaf1", "eth2", "down")}},
			want: map[string]map[string]any{"a_only": {k0: 1.0}, "b_only": {k2: "down"}, "both": {k1: 2.0}}},
		{name: "items move between sets; NaN and missing values carried",
			feeds: map[string][]feedItem{
				"sc.a": {item("leaf1", "eth1", math.NaN()), item("leaf1", "eth2", 5), item("leaf1", "eth3", 6)},
				"sc.b": {{Props: []string{"leaf1", "eth0"}, Missing: true}, state("leaf1", "eth2", "down")}},
			want: map[string]map[string]any{"a_only": {k1: "NaN", k3: 6.0}, "b_only": {}, "both": {k2: 5.0}}},
	})
	for stage, typ := range map[string]probe.StageType{"a_only": probe.NS, "b_only": probe.DSS, "both": probe.NS} {
		if got := h.stage(stage).Type; got != typ {
			t.Errorf("stage %q is %s, want %s", stage, got, typ)
		}
	}
}

func TestSetComparisonSignificantKeys(t *testing.T) {
	doc := setComparisonDoc(`{"significant_keys": ["system_id"]}`, map[string]string{"A - B": "a_only", "A & B": "both"},
		feedSrc("a", "sc.sk.a", "dss", "system_id", "interface"), feedSrc("b", "sc.sk.b", "dss", "system_id", "peer"))
	runPairSteps(t, doc, []pairStep{
		{name: "projected",
			feeds: map[string][]feedItem{
				"sc.sk.a": {state("leaf1", "eth0", "up"), state("leaf2", "eth0", "down")},
				"sc.sk.b": {state("leaf2", "spine1", "x"), state("leaf3", "spine1", "y")}},
			want: map[string]map[string]any{"a_only": {"system_id=leaf1": "up"}, "both": {"system_id=leaf2": "down"}}},
		{name: "duplicate in B",
			feeds: map[string][]feedItem{"sc.sk.b": {state("leaf2", "spine1", "x"), state("leaf2", "spine2", "x")}},
			err:   `items {system_id="leaf2", peer="spine1"} and {system_id="leaf2", peer="spine2"} of input "B" (stage "b") both have key {system_id="leaf2"}`},
		{name: "recovers",
			feeds: map[string][]feedItem{"sc.sk.b": {state("leaf1", "spine2", "x")}},
			want:  map[string]map[string]any{"a_only": {"system_id=leaf2": "down"}, "both": {"system_id=leaf1": "up"}}},
	})
	doc = setComparisonDoc("", setComparisonOutputs, feedSrc("a", "sc.w.a", "ns"), feedSrc("b", "sc.w.b", "ns", "system_id"))
	assertWarning(t, doc, "no items pair")
	runPairSteps(t, doc, []pairStep{{name: "different keys: all empty",
		feeds: map[string][]feedItem{"sc.w.a": {item("leaf1", "eth0", 1)}, "sc.w.b": {{Props: []string{"leaf1"}, Num: 1}}},
		want:  map[string]map[string]any{"a_only": {}, "b_only": {}, "both": {}}}})
}

func TestSetComparisonValidation(t *testing.T) {
	a, b := feedSrc("a", "f", "ns"), feedSrc("b", "f", "ns", "system_id")
	runProblemCases(t, []problemCase{
		{"significant key missing from B", setComparisonDoc(`{"significant_keys": ["interface"]}`, setComparisonOutputs, a, b),
			"sc", "properties.significant_keys[0]", `input stage "b" has no property "interface"`},
		{"significant key missing from A", setComparisonDoc(`{"significant_keys": ["peer"]}`, setComparisonOutputs, a, feedSrc("b", "f", "ns", "peer")),
			"sc", "properties.significant_keys[0]", `input stage "a" has no property "peer"`},
		{"no output connected", setComparisonDoc("", map[string]string{}, a, feedSrc("b", "f", "ns")),
			"sc", "outputs", `connect at least one of "A - B", "B - A" and "A & B"`},
		{"output port without spaces", setComparisonDoc("", map[string]string{"A-B": "x"}, a, feedSrc("b", "f", "ns")),
			"sc", "outputs.A-B", `set_comparison has no output "A-B"`},
		{"text rejected", setComparisonDoc("", setComparisonOutputs, feedSrc("a", "f", "ts"), feedSrc("b", "f", "ns")),
			"sc", "inputs.A", "is of type ts"},
		{"time series rejected", setComparisonDoc("", setComparisonOutputs, a, feedSrc("b", "f", "dssts")),
			"sc", "inputs.B", "is of type dssts"},
	})
}

func BenchmarkSetComparison10k(b *testing.B) {
	benchTicks(b, pairingBenchDocs(10000)["set_comparison"])
}
