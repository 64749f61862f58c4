package processors

import (
	"math"
	"slices"
	"testing"

	"github.com/probe-agent/probe-agent/probe"
)

func comparisonDoc(props string, srcA, srcB string) string {
	return probeDoc("cmp", srcA, srcB,
		pairProc("cmp", "comparison", map[string]string{"A": "a", "B": "b"}, map[string]string{"out": "out"}, props))
}

func TestComparisonOperations(t *testing.T) {
	nan := math.NaN()
	tests := []struct {
		op   string
		a, b float64
		want bool
	}{
		{"lt", 1, 2, true}, {"lt", 2, 2, false},
		{"le", 2, 2, true}, {"le", 3, 2, false},
		{"eq", 2, 2, true}, {"eq", 1, 2, false},
		{"ne", 1, 2, true}, {"ne", 2, 2, false},
		{"ge", 2, 2, true}, {"ge", 1, 2, false},
		{"gt", 3, 2, true}, {"gt", 2, 2, false},
		{"lt", nan, 2, false}, {"le", 2, nan, false}, {"eq", nan, nan, false},
		{"ge", nan, 2, false}, {"gt", nan, 2, false}, {"ne", nan, 2, true},
	}
	for _, tt := range tests {
		if got := comparisonOps[tt.op].holds(tt.a, tt.b); got != tt.want {
			t.Errorf("%v %s %v = %v, want %v", tt.a, tt.op, tt.b, got, tt.want)
		}
	}
}

func TestComparisonPairsByKeys(t *testing.T) {
	const k0, k1, k2 = "system_id=leaf1,interface=eth0", "system_id=leaf1,interface=eth1", "system_id=leaf1,interface=eth2"
	doc := comparisonDoc(`{"operation": "ge"}`, feedSrc("a", "cmp.a", "ns"), feedSrc("b", "cmp.b", "ns"))
	runPairSteps(t, doc, []pairStep{
		{name: "empty inputs", feeds: map[string][]feedItem{"cmp.a": nil, "cmp.b": nil},
			want: map[string]map[string]any{"out": {}}},
		{name: "documented example: 34 ge 15, 58 ge 73",
			feeds: map[string][]feedItem{
				"cmp.a": {item("leaf1", "eth0", 34), item("leaf1", "eth1", 58)},
				"cmp.b": {item("leaf1", "eth0", 15), item("leaf1", "eth1", 73)}},
			want: map[string]map[string]any{"out": {k0: "true", k1: "false"}}},
		{name: "items without a partner are dropped",
			feeds: map[string][]feedItem{
				"cmp.a": {item("leaf1", "eth0", 34), item("leaf1", "eth1", 58), item("leaf1", "eth2", 1)},
				"cmp.b": {item("leaf1", "eth3", 1), item("leaf1", "eth1", 58), item("leaf1", "eth0", 15)}},
			want: map[string]map[string]any{"out": {k0: "true", k1: "true"}}},
		{name: "an item disappears, another appears in both",
			feeds: map[string][]feedItem{
				"cmp.a": {item("leaf1", "eth0", 1), item("leaf1", "eth2", 5)},
				"cmp.b": {item("leaf1", "eth2", 5), item("leaf1", "eth0", 15)}},
			want: map[string]map[string]any{"out": {k0: "false", k2: "true"}}},
		{name: "NaN compares false",
			feeds: map[string][]feedItem{
				"cmp.a": {item("leaf1", "eth0", math.NaN()), item("leaf1", "eth2", 5)},
				"cmp.b": {item("leaf1", "eth2", math.NaN()), item("leaf1", "eth0", 15)}},
			want: map[string]map[string]any{"out": {k0: "false", k2: "false"}}},
		{name: "an input item without a value gives no value",
			feeds: map[string][]feedItem{
				"cmp.a": {{Props: []string{"leaf1", "eth0"}, Missing: true}, item("leaf1", "eth2", 5)},
				"cmp.b": {item("leaf1", "eth2", 4), item("leaf1", "eth0", 15)}},
			want: map[string]map[string]any{"out": {k2: "true"}}},
		{name: "one input empties",
			feeds: map[string][]feedItem{"cmp.b": nil},
			want:  map[string]map[string]any{"out": {}}},
	})
}

func TestComparisonSignificantKeys(t *testing.T) {
	a := feedSrc("a", "cmp.sk.a", "ns", "system_id", "interface")
	b := feedSrc("b", "cmp.sk.b", "ns", "system_id", "peer")
	doc := comparisonDoc(`{"operation": "gt", "significant_keys": ["system_id"]}`, a, b)
	h := runPairSteps(t, doc, []pairStep{
		{name: "projected to system_id",
			feeds: map[string][]feedItem{
				"cmp.sk.a": {item("leaf1", "eth0", 5), item("leaf2", "eth0", 1)},
				"cmp.sk.b": {item("leaf2", "spine1", 4), item("leaf1", "spine1", 3), item("leaf3", "spine1", 0)}},
			want: map[string]map[string]any{"out": {"system_id=leaf1": "true", "system_id=leaf2": "false"}}},
		{name: "two A items with system_id leaf1: one-to-many",
			feeds: map[string][]feedItem{
				"cmp.sk.a": {item("leaf1", "eth0", 5), item("leaf2", "eth0", 1), item("leaf1", "eth1", 9)}},
			err: `both have key {system_id="leaf1"}`},
		{name: "still duplicated on the next tick",
			err: `input "A" (stage "a")`},
		{name: "the duplicate goes away: operational again",
			feeds: map[string][]feedItem{
				"cmp.sk.a": {item("leaf1", "eth1", 2), item("leaf2", "eth0", 7)}},
			want: map[string]map[string]any{"out": {"system_id=leaf1": "false", "system_id=leaf2": "true"}}},
	})
	if st := h.stage("out"); !slices.Equal(st.Keys, []string{"system_id"}) || st.Type != probe.DSS {
		t.Errorf("output keys %q type %s, want [system_id] dss", st.Keys, st.Type)
	}
}

func TestComparisonKeyOrderAndMismatch(t *testing.T) {
	// Same key set in another order pairs; output keys follow A.
	doc := comparisonDoc(`{"operation": "eq"}`, feedSrc("a", "cmp.o.a", "ns"), feedSrc("b", "cmp.o.b", "ns", "interface", "system_id"))
	runPairSteps(t, doc, []pairStep{{name: "reordered keys",
		feeds: map[string][]feedItem{
			"cmp.o.a": {item("leaf1", "eth0", 1)},
			"cmp.o.b": {{Props: []string{"eth0", "leaf1"}, Num: 1}}},
		want: map[string]map[string]any{"out": {"system_id=leaf1,interface=eth0": "true"}}}})

	// Different key sets without significant_keys: empty output and a warning.
	doc = comparisonDoc(`{"operation": "eq", "significant_keys": []}`, feedSrc("a", "cmp.m.a", "ns"), feedSrc("b", "cmp.m.b", "ns", "system_id"))
	assertWarning(t, doc, "inputs have different keys (A: [system_id, interface]; B: [system_id])")
	runPairSteps(t, doc, []pairStep{{name: "different keys",
		feeds: map[string][]feedItem{
			"cmp.m.a": {item("leaf1", "eth0", 1)},
			"cmp.m.b": {{Props: []string{"leaf1"}, Num: 1}}},
		want: map[string]map[string]any{"out": {}}}})
}

func TestComparisonSingleItems(t *testing.T) {
	doc := comparisonDoc(`{"operation": "lt"}`, feedSrc("a", "cmp.n.a", "n"), feedSrc("b", "cmp.n.b", "n"))
	h := runPairSteps(t, doc, []pairStep{
		{name: "N vs N", feeds: map[string][]feedItem{"cmp.n.a": {{Num: 1}}, "cmp.n.b": {{Num: 2}}},
			want: map[string]map[string]any{"out": {"": "true"}}},
		{name: "flips", feeds: map[string][]feedItem{"cmp.n.a": {{Num: 3}}},
			want: map[string]map[string]any{"out": {"": "false"}}},
	})
	if typ := h.stage("out").Type; typ != probe.DS {
		t.Errorf("output type %s, want ds", typ)
	}
}

func TestComparisonRaisesAnomalies(t *testing.T) {
	doc := comparisonDoc(`{"operation": "gt", "raise_anomaly": true}`, feedSrc("a", "cmp.r.a", "ns"), feedSrc("b", "cmp.r.b", "ns"))
	h := runPairSteps(t, doc, []pairStep{{name: "eth0 above",
		feeds: map[string][]feedItem{
			"cmp.r.a": {item("leaf1", "eth0", 9), item("leaf1", "eth1", 1)},
			"cmp.r.b": {item("leaf1", "eth0", 5), item("leaf1", "eth1", 5)}}}})
	if got, want := h.anomalyKeys(), []string{"out:system_id=leaf1,interface=eth0"}; !slices.Equal(got, want) {
		t.Fatalf("anomalies %q, want %q", got, want)
	}
	if a := h.inst.Anomalies()[0]; a.Evidence.Actual.Num != 9 {
		t.Errorf("anomaly actual %v, want A's value 9", a.Evidence.Actual.Num)
	}
	setFeed("cmp.r.a", item("leaf1", "eth0", 1), item("leaf1", "eth1", 1))
	h.tick(nil, 0)
	if got := h.anomalyKeys(); len(got) != 0 {
		t.Errorf("anomalies %q after the value dropped, want none", got)
	}
}

func TestComparisonValidation(t *testing.T) {
	ns, nsSys := feedSrc("a", "f", "ns"), feedSrc("b", "f", "ns", "system_id")
	runProblemCases(t, []problemCase{
		{"significant key missing from B", comparisonDoc(`{"operation": "ge", "significant_keys": ["system_id", "interface"]}`, ns, nsSys),
			"cmp", "properties.significant_keys[1]", `input stage "b" has no property "interface"`},
		{"significant key listed twice", comparisonDoc(`{"operation": "ge", "significant_keys": ["system_id", "system_id"]}`, ns, nsSys),
			"cmp", "properties.significant_keys[1]", "listed twice"},
		{"unknown operation", comparisonDoc(`{"operation": "gte"}`, ns, feedSrc("b", "f", "ns")),
			"cmp", "properties.operation", `"gte" is not one of`},
		{"missing operation", comparisonDoc(`{}`, ns, feedSrc("b", "f", "ns")),
			"cmp", "properties.operation", "required"},
		{"unknown property", comparisonDoc(`{"operation": "ge", "threshold": 1}`, ns, feedSrc("b", "f", "ns")),
			"cmp", "properties.threshold", "unknown property"},
		{"time-series A rejected", comparisonDoc(`{"operation": "ge"}`, feedSrc("a", "f", "nsts"), feedSrc("b", "f", "ns")),
			"cmp", "inputs.A", "is of type nsts"},
		{"discrete-state B rejected", comparisonDoc(`{"operation": "ge"}`, ns, feedSrc("b", "f", "dss")),
			"cmp", "inputs.B", "is of type dss"},
		{"B missing", probeDoc("cmp", ns, pairProc("cmp", "comparison", map[string]string{"A": "a"}, map[string]string{"out": "out"}, `{"operation": "ge"}`)),
			"cmp", "inputs.B", "required input missing"},
	})
}

func BenchmarkComparison10k(b *testing.B) { benchTicks(b, pairingBenchDocs(10000)["comparison"]) }
