package processors

import (
	"math"
	"slices"
	"testing"

	"github.com/probe-agent/probe-agent/probe"
)

func unionDoc(props string, ports map[string]string, srcs ...string) string {
	return probeDoc("union", append(srcs, pairProc("u", "union", ports, map[string]string{"out": "out"}, props))...)
}

func TestUnionProjectsAndMerges(t *testing.T) {
	// The documented example: temperatures of three sources projected to
	// system_id.
	doc := unionDoc(`{"significant_keys": ["system_id"]}`, map[string]string{"in_1": "t1", "in_2": "t2", "in_3": "t3"},
		feedSrc("t1", "un.1", "ns", "system_id", "sensor"), feedSrc("t2", "un.2", "ns", "system_id", "sensor"), feedSrc("t3", "un.3", "ns", "system_id"))
	h := runPairSteps(t, doc, []pairStep{
		{name: "empty inputs", feeds: map[string][]feedItem{"un.1": nil, "un.2": nil, "un.3": nil},
			want: map[string]map[string]any{"out": {}}},
		{name: "merged",
			feeds: map[string][]feedItem{
				"un.1": {item("leaf1", "cpu", 40)},
				"un.2": {item("leaf2", "psu", 35), item("leaf3", "psu", 30)},
				"un.3": {{Props: []string{"spine1"}, Num: 50}}},
			want: map[string]map[string]any{"out": {"system_id=leaf1": 40.0, "system_id=leaf2": 35.0, "system_id=leaf3": 30.0, "system_id=spine1": 50.0}}},
		{name: "leaf3 moves from in_2 to in_1, spine1 disappears, NaN and a missing value are carried",
			feeds: map[string][]feedItem{
				"un.1": {item("leaf1", "cpu", 41), item("leaf3", "cpu", math.NaN())},
				"un.2": {{Props: []string{"leaf2", "psu"}, Missing: true}},
				"un.3": nil},
			want: map[string]map[string]any{"out": {"system_id=leaf1": 41.0, "system_id=leaf3": "NaN"}}},
		{name: "leaf1 in two inputs: one-to-many",
			feeds: map[string][]feedItem{"un.3": {{Props: []string{"leaf1"}, Num: 1}}},
			err:   `item {system_id="leaf1", sensor="cpu"} of input "in_1" (stage "t1") and item {system_id="leaf1"} of input "in_3" (stage "t3") both have key {system_id="leaf1"}`},
		{name: "leaf1 twice within one input",
			feeds: map[string][]feedItem{"un.3": nil, "un.1": {item("leaf1", "cpu", 41), item("leaf1", "mem", 1)}},
			err:   `of input "in_1" (stage "t1") both have key {system_id="leaf1"}`},
		{name: "recovers",
			feeds: map[string][]feedItem{"un.1": {item("leaf1", "mem", 3)}},
			want:  map[string]map[string]any{"out": {"system_id=leaf1": 3.0}}},
	})
	if st := h.stage("out"); !slices.Equal(st.Keys, []string{"system_id"}) || st.Type != probe.NS {
		t.Errorf("output keys %q type %s, want [system_id] ns", st.Keys, st.Type)
	}
}

func TestUnionWithoutSignificantKeys(t *testing.T) {
	ports := map[string]string{"a": "s1", "b": "s2"}
	doc := unionDoc("", ports, feedSrc("s1", "un.k.1", "dss"), feedSrc("s2", "un.k.2", "dss"))
	runPairSteps(t, doc, []pairStep{
		{name: "same keys merge",
			feeds: map[string][]feedItem{"un.k.1": {state("leaf1", "eth0", "up")}, "un.k.2": {state("leaf2", "eth0", "down")}},
			want:  map[string]map[string]any{"out": {"system_id=leaf1,interface=eth0": "up", "system_id=leaf2,interface=eth0": "down"}}},
		{name: "same item in both",
			feeds: map[string][]feedItem{"un.k.2": {state("leaf1", "eth0", "down")}},
			err:   `both have key {system_id="leaf1", interface="eth0"}`},
	})
	doc = unionDoc("", ports, feedSrc("s1", "un.w.1", "ts"), feedSrc("s2", "un.w.2", "ts", "system_id"))
	assertWarning(t, doc, "inputs have different keys (a: [system_id, interface]; b: [system_id])")
	runPairSteps(t, doc, []pairStep{{name: "different keys: empty",
		feeds: map[string][]feedItem{"un.w.1": {state("leaf1", "eth0", "x")}, "un.w.2": {{Props: []string{"leaf2"}, Str: "y"}}},
		want:  map[string]map[string]any{"out": {}}}})
}

func TestUnionValidation(t *testing.T) {
	ns, ns2 := feedSrc("s1", "f", "ns"), feedSrc("s2", "f", "ns")
	runProblemCases(t, []problemCase{
		{"kinds differ", unionDoc("", map[string]string{"a": "s1", "b": "s2"}, ns, feedSrc("s2", "f", "dss")),
			"u", "inputs.b", `stage "s2" holds discrete state values but input "a" (stage "s1") holds number`},
		{"time series rejected", unionDoc("", map[string]string{"a": "s1", "b": "s2"}, ns, feedSrc("s2", "f", "nsts")),
			"u", "inputs.b", "is of type nsts"},
		{"single items rejected", unionDoc("", map[string]string{"a": "s1", "b": "s2"}, ns, feedSrc("s2", "f", "n")),
			"u", "inputs.b", "is of type n,"},
		{"no inputs", unionDoc("", map[string]string{}), "u", "inputs", "needs at least one input"},
		{"significant key missing", unionDoc(`{"significant_keys": ["interface"]}`, map[string]string{"a": "s1", "b": "s2"}, ns, feedSrc("s2", "f", "ns", "system_id")),
			"u", "properties.significant_keys[0]", `input stage "s2" has no property "interface"`},
		{"unknown property", unionDoc(`{"group_by": []}`, map[string]string{"a": "s1", "b": "s2"}, ns, ns2),
			"u", "properties.group_by", "unknown property"},
	})
}

func BenchmarkUnion10k(b *testing.B) { benchTicks(b, pairingBenchDocs(10000)["union"]) }
