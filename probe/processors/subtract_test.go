package processors

import (
	"math"
	"testing"

	"github.com/probe-agent/probe-agent/probe"
)

func subtractDoc(props, srcM, srcS string) string {
	return probeDoc("sub", srcM, srcS,
		pairProc("sub", "subtract", map[string]string{"minuend": "m", "subtrahend": "s"}, map[string]string{"out": "out"}, props))
}

func TestSubtract(t *testing.T) {
	const k0, k1, k2 = "system_id=leaf1,interface=eth0", "system_id=leaf1,interface=eth1", "system_id=leaf1,interface=eth2"
	doc := subtractDoc("", feedSrc("m", "sub.m", "ns"), feedSrc("s", "sub.s", "ns"))
	runPairSteps(t, doc, []pairStep{
		{name: "empty inputs", feeds: map[string][]feedItem{"sub.m": nil, "sub.s": nil},
			want: map[string]map[string]any{"out": {}}},
		{name: "pairs subtract",
			feeds: map[string][]feedItem{
				"sub.m": {item("leaf1", "eth0", 10), item("leaf1", "eth1", 3)},
				"sub.s": {item("leaf1", "eth1", 5), item("leaf1", "eth0", 4), item("leaf1", "eth9", 1)}},
			want: map[string]map[string]any{"out": {k0: 6.0, k1: -2.0}}},
		{name: "eth1 disappears, eth2 appears",
			feeds: map[string][]feedItem{
				"sub.m": {item("leaf1", "eth0", 10), item("leaf1", "eth2", 3)},
				"sub.s": {item("leaf1", "eth2", 1), item("leaf1", "eth0", 4)}},
			want: map[string]map[string]any{"out": {k0: 6.0, k2: 2.0}}},
		{name: "NaN propagates, a missing value gives none",
			feeds: map[string][]feedItem{
				"sub.m": {item("leaf1", "eth0", math.NaN()), item("leaf1", "eth2", 3)},
				"sub.s": {{Props: []string{"leaf1", "eth2"}, Missing: true}, item("leaf1", "eth0", 4)}},
			want: map[string]map[string]any{"out": {k0: "NaN"}}},
	})
}

func TestSubtractSignificantKeys(t *testing.T) {
	doc := subtractDoc(`{"significant_keys": ["system_id"]}`, feedSrc("m", "sub.sk.m", "ns", "system_id", "interface"), feedSrc("s", "sub.sk.s", "ns", "system_id"))
	runPairSteps(t, doc, []pairStep{
		{name: "per-system baseline",
			feeds: map[string][]feedItem{
				"sub.sk.m": {item("leaf1", "eth0", 10), item("leaf2", "eth0", 7)},
				"sub.sk.s": {{Props: []string{"leaf1"}, Num: 1}, {Props: []string{"leaf2"}, Num: 2}}},
			want: map[string]map[string]any{"out": {"system_id=leaf1": 9.0, "system_id=leaf2": 5.0}}},
		{name: "leaf2 gets a second interface: one-to-many",
			feeds: map[string][]feedItem{"sub.sk.m": {item("leaf1", "eth0", 10), item("leaf2", "eth0", 7), item("leaf2", "eth1", 8)}},
			err:   `items {system_id="leaf2", interface="eth0"} and {system_id="leaf2", interface="eth1"} of input "minuend"`},
		{name: "recovers",
			feeds: map[string][]feedItem{"sub.sk.m": {item("leaf2", "eth1", 8)}},
			want:  map[string]map[string]any{"out": {"system_id=leaf2": 6.0}}},
	})
	doc = subtractDoc("", feedSrc("m", "sub.w.m", "ns"), feedSrc("s", "sub.w.s", "ns", "system_id"))
	assertWarning(t, doc, "no items pair")
}

func TestSubtractSingleItems(t *testing.T) {
	h := runPairSteps(t, subtractDoc("", feedSrc("m", "sub.n.m", "n"), feedSrc("s", "sub.n.s", "n")), []pairStep{
		{name: "N - N", feeds: map[string][]feedItem{"sub.n.m": {{Num: 1}}, "sub.n.s": {{Num: 2.5}}},
			want: map[string]map[string]any{"out": {"": -1.5}}},
	})
	if typ := h.stage("out").Type; typ != probe.N {
		t.Errorf("output type %s, want n", typ)
	}
}

func TestSubtractValidation(t *testing.T) {
	m, s := feedSrc("m", "f", "ns"), feedSrc("s", "f", "ns")
	runProblemCases(t, []problemCase{
		{"significant key missing from the minuend", subtractDoc(`{"significant_keys": ["role"]}`, m, s),
			"sub", "properties.significant_keys[0]", `input stage "m" has no property "role"`},
		{"time-series subtrahend rejected", subtractDoc("", m, feedSrc("s", "f", "nsts")),
			"sub", "inputs.subtrahend", "is of type nsts"},
		{"text minuend rejected", subtractDoc("", feedSrc("m", "f", "ts"), s),
			"sub", "inputs.minuend", "is of type ts"},
		{"wrong port name", probeDoc("sub", m, s, pairProc("sub", "subtract", map[string]string{"minuend": "m", "in": "s"}, map[string]string{"out": "out"}, "")),
			"sub", "inputs.in", `subtract has no input "in"`},
		{"significant_keys not a list", subtractDoc(`{"significant_keys": "system_id"}`, m, s),
			"sub", "properties.significant_keys", "expected array"},
	})
}

func BenchmarkSubtract10k(b *testing.B) { benchTicks(b, pairingBenchDocs(10000)["subtract"]) }
