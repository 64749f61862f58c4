package processors

import (
	"math"
	"testing"
)

func ratioDoc(props string, srcs ...string) string {
	ins := map[string]string{"numerator": "n"}
	if len(srcs) > 1 {
		ins["denominator"] = "d"
	}
	return probeDoc("ratio", append(srcs, pairProc("ratio", "ratio", ins, map[string]string{"out": "out"}, props))...)
}

func TestRatioWithDenominatorInput(t *testing.T) {
	const k0, k1, k2 = "system_id=leaf1,interface=eth0", "system_id=leaf1,interface=eth1", "system_id=leaf1,interface=eth2"
	doc := ratioDoc("", feedSrc("n", "ratio.n", "ns"), feedSrc("d", "ratio.d", "ns"))
	runPairSteps(t, doc, []pairStep{
		{name: "empty inputs", feeds: map[string][]feedItem{"ratio.n": nil, "ratio.d": nil},
			want: map[string]map[string]any{"out": {}}},
		{name: "percentages, no integer truncation",
			feeds: map[string][]feedItem{
				"ratio.n": {item("leaf1", "eth0", 1), item("leaf1", "eth1", 3)},
				"ratio.d": {item("leaf1", "eth1", 4), item("leaf1", "eth0", 3)}},
			want: map[string]map[string]any{"out": {k0: 100.0 / 3, k1: 75.0}}},
		{name: "division by zero gives NaN, 0/0 too",
			feeds: map[string][]feedItem{
				"ratio.n": {item("leaf1", "eth0", 1), item("leaf1", "eth1", 0)},
				"ratio.d": {item("leaf1", "eth1", 0), item("leaf1", "eth0", 0)}},
			want: map[string]map[string]any{"out": {k0: "NaN", k1: "NaN"}}},
		{name: "eth1 goes, eth2 comes; NaN numerator propagates",
			feeds: map[string][]feedItem{
				"ratio.n": {item("leaf1", "eth0", math.NaN()), item("leaf1", "eth2", 5)},
				"ratio.d": {item("leaf1", "eth2", 10), item("leaf1", "eth0", 2)}},
			want: map[string]map[string]any{"out": {k0: "NaN", k2: 50.0}}},
		{name: "denominator without a value",
			feeds: map[string][]feedItem{"ratio.d": {{Props: []string{"leaf1", "eth2"}, Missing: true}, item("leaf1", "eth0", 2)}},
			want:  map[string]map[string]any{"out": {k0: "NaN"}}},
	})
}

func TestRatioConstantDenominator(t *testing.T) {
	doc := ratioDoc(`{"denominator": "10 * 2", "multiplier": 1}`, feedSrc("n", "ratio.c.n", "ns"))
	runPairSteps(t, doc, []pairStep{
		{name: "expression denominator",
			feeds: map[string][]feedItem{"ratio.c.n": {item("leaf1", "eth0", 5), item("leaf1", "eth1", 30)}},
			want:  map[string]map[string]any{"out": {"system_id=leaf1,interface=eth0": 0.25, "system_id=leaf1,interface=eth1": 1.5}}},
	})
	// The input wins over the property, with a warning.
	doc = ratioDoc(`{"denominator": 7}`, feedSrc("n", "ratio.w.n", "ns"), feedSrc("d", "ratio.w.d", "ns"))
	assertWarning(t, doc, "properties.denominator (7) is ignored")
	runPairSteps(t, doc, []pairStep{{name: "input used",
		feeds: map[string][]feedItem{"ratio.w.n": {item("leaf1", "eth0", 1)}, "ratio.w.d": {item("leaf1", "eth0", 4)}},
		want:  map[string]map[string]any{"out": {"system_id=leaf1,interface=eth0": 25.0}}}})
}

func TestRatioSignificantKeys(t *testing.T) {
	doc := ratioDoc(`{"significant_keys": ["system_id"]}`, feedSrc("n", "ratio.sk.n", "ns"), feedSrc("d", "ratio.sk.d", "n", ""))
	// A single-item denominator has no system_id: a validation error.
	runProblemCases(t, []problemCase{{"N denominator lacks the key", doc, "ratio", "properties.significant_keys[0]", `input stage "d" has no property "system_id"`}})

	doc = ratioDoc(`{"significant_keys": ["system_id"]}`, feedSrc("n", "ratio.sk.n", "ns", "system_id", "interface"), feedSrc("d", "ratio.sk.d", "ns", "system_id", "kind"))
	runPairSteps(t, doc, []pairStep{
		{name: "per system",
			feeds: map[string][]feedItem{
				"ratio.sk.n": {item("leaf1", "eth0", 5)},
				"ratio.sk.d": {item("leaf1", "capacity", 20), item("leaf2", "capacity", 1)}},
			want: map[string]map[string]any{"out": {"system_id=leaf1": 25.0}}},
		{name: "duplicate in the denominator",
			feeds: map[string][]feedItem{"ratio.sk.d": {item("leaf1", "capacity", 20), item("leaf1", "other", 1)}},
			err:   `of input "denominator" (stage "d") both have key {system_id="leaf1"}`},
		{name: "recovers",
			feeds: map[string][]feedItem{"ratio.sk.d": {item("leaf1", "other", 10)}},
			want:  map[string]map[string]any{"out": {"system_id=leaf1": 50.0}}},
	})
}

func TestRatioValidation(t *testing.T) {
	n := feedSrc("n", "f", "ns")
	runProblemCases(t, []problemCase{
		{"no denominator at all", ratioDoc("", n), "ratio", "properties.denominator", "needed when the denominator input is not connected"},
		{"zero denominator", ratioDoc(`{"denominator": 0}`, n), "ratio", "properties.denominator", "non-zero"},
		{"zero denominator expression", ratioDoc(`{"denominator": "5 - 5"}`, n), "ratio", "properties.denominator", "non-zero"},
		{"denominator expression not understood", ratioDoc(`{"denominator": "speed"}`, n), "ratio", "properties.denominator", `expression "speed"`},
		{"denominator of the wrong type", ratioDoc(`{"denominator": true}`, n), "ratio", "properties.denominator", "expected number or string or null"},
		{"zero multiplier", ratioDoc(`{"denominator": 1, "multiplier": 0}`, n), "ratio", "properties.multiplier", "positive"},
		{"negative multiplier", ratioDoc(`{"denominator": 1, "multiplier": "-1"}`, n), "ratio", "properties.multiplier", "positive"},
		{"time-series numerator rejected", ratioDoc(`{"denominator": 1}`, feedSrc("n", "f", "nsts")), "ratio", "inputs.numerator", "is of type nsts"},
		{"significant key missing", ratioDoc(`{"denominator": 1, "significant_keys": ["x"]}`, n), "ratio", "properties.significant_keys[0]", `no property "x"`},
	})
}

func BenchmarkRatio10k(b *testing.B) { benchTicks(b, pairingBenchDocs(10000)["ratio"]) }
