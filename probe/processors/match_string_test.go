package processors

import (
	"strings"
	"testing"

	"github.com/probe-agent/probe-agent/probe"
)

func TestMatchString(t *testing.T) {
	a0, a1, b0 := "system_id=a,interface=e0", "system_id=a,interface=e1", "system_id=b,interface=e0"
	none := []string{}
	tests := []struct {
		name      string
		stageType string
		dialect   probe.Dialect
		props     string
		steps     []checkerStep
	}{
		{"4.x quoted pattern, search semantics", "ts", probe.Dialect4x, `{"regexp": "\"Loop-detected\"", "raise_anomaly": true}`, []checkerStep{
			{name: "empty", want: map[string]any{}, anomalies: none},
			{name: "match anywhere raises", feed: []feedItem{state("a", "e0", "ge-0/0/1: Loop-detected (vlan 10)"), state("a", "e1", "ok")}, want: map[string]any{a0: "true", a1: "false"}, anomalies: []string{"out:system_id=a,interface=e0"}},
			{name: "cleared, other raises", feed: []feedItem{state("a", "e0", "ok"), state("a", "e1", "Loop-detected")}, want: map[string]any{a0: "false", a1: "true"}, anomalies: []string{"out:system_id=a,interface=e1"}},
			{name: "raised item disappears, new appears", feed: []feedItem{state("a", "e0", "ok"), state("b", "e0", "no loop-detected")}, want: map[string]any{a0: "false", b0: "false"}, anomalies: none},
			{name: "unchanged values keep their results", feed: []feedItem{state("a", "e0", "ok"), state("b", "e0", "no loop-detected")}, want: map[string]any{a0: "false", b0: "false"}, anomalies: none},
			{name: "no value: no output", feed: []feedItem{{Props: []string{"a", "e0"}, Missing: true}, state("b", "e0", "Loop-detected")}, want: map[string]any{b0: "true"}, anomalies: []string{"out:system_id=b,interface=e0"}},
			{name: "value back", feed: []feedItem{state("a", "e0", "ok"), state("b", "e0", "Loop-detected")}, want: map[string]any{a0: "false", b0: "true"}},
		}},
		{"seed literal anchored pattern", "dss", probe.DialectSeed, `{"regexp": "^(Down|Init|Failing)$", "raise_anomaly": true}`, []checkerStep{
			{name: "states", feed: []feedItem{state("a", "e0", "Down"), state("a", "e1", "Downstream"), state("b", "e0", "Up")}, want: map[string]any{a0: "true", a1: "false", b0: "false"}, anomalies: []string{"out:system_id=a,interface=e0"}},
		}},
		{"4.x escapes in a quoted pattern", "ts", probe.Dialect4x, `{"regexp": "'^eth\\d+\\.\\d+$'"}`, []checkerStep{
			{name: "sub-interfaces", feed: []feedItem{state("a", "e0", "eth1.100"), state("a", "e1", "eth1x100")}, want: map[string]any{a0: "true", a1: "false"}},
		}},
		{"4.x raw string, case-insensitive flag", "ts", probe.Dialect4x, `{"regexp": "r'(?i)^err\\w*'"}`, []checkerStep{
			{name: "case", feed: []feedItem{state("a", "e0", "ERRORS"), state("a", "e1", "no errors")}, want: map[string]any{a0: "true", a1: "false"}},
		}},
		{"time series: last value", "tsts", probe.Dialect4x, `{"regexp": "'^Down$'", "raise_anomaly": true}`, []checkerStep{
			{name: "down", feed: []feedItem{state("a", "e0", "Down")}, want: map[string]any{a0: "true"}, anomalies: []string{"out:system_id=a,interface=e0"}},
			{name: "up", feed: []feedItem{state("a", "e0", "Up")}, want: map[string]any{a0: "false"}, anomalies: none},
		}},
		{"single text item", "t", probe.Dialect4x, `{"regexp": "'JUNOS 2[0-2]'"}`, []checkerStep{
			{name: "version", feed: []feedItem{{Str: "JUNOS 21.4R3"}}, want: map[string]any{"": "true"}},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			feed := "match_string/" + tt.name
			h := newHarness(t, probeDocIn(tt.dialect, "match_string", source(feed, tt.stageType, "system_id", "interface"), checkerProc(tt.dialect, "match_string", tt.props)))
			runCheckerSteps(t, h, feed, tt.steps)
		})
	}
}

func TestMatchStringEvidence(t *testing.T) {
	h := newHarness(t, probeDoc("ev", source("match_string/ev", "ts"), checkerProc(probe.Dialect4x, "match_string", `{"regexp": "'^(Down|Init)$'", "raise_anomaly": true}`)))
	setFeed("match_string/ev", state("a", "e0", "Init"))
	h.tick(nil, 1e9)
	want := probe.Evidence{Actual: probe.Value{Str: "Init"}, Kind: probe.Text, State: "^(Down|Init)$", Anomalous: true}
	if ev := checkerEvidence(h, "out", "a", "e0"); ev != want {
		t.Errorf("evidence %+v, want %+v", ev, want)
	}
	if an := h.inst.Anomalies(); len(an) != 1 || an[0].Evidence != want {
		t.Errorf("anomalies %+v", an)
	}
}

// The regexp of os-version-compliance.json (Apstra 4.2.1) comes from a
// property set through query_result: accepted with a warning, and evaluation
// reports that the controller must resolve it.
func TestMatchStringGraphDependent(t *testing.T) {
	props := `{"graph_query": ["node('property_set', label='Compliance_Check_for_IBA', name=\"ps\")"], "regexp": "query_result[0]['ps'].values['os_version']['regexp_valid_range']"}`
	doc := probeDoc("graph", source("match_string/graph", "ts"), checkerProc(probe.Dialect4x, "match_string", props))
	plan, probs := probe.CompileJSON([]byte(doc))
	if len(probs) > 0 {
		t.Fatal(probs)
	}
	if len(plan.Warnings) != 1 || !strings.Contains(plan.Warnings[0], "properties.regexp") {
		t.Errorf("warnings %q", plan.Warnings)
	}
	h := newHarness(t, doc)
	err := h.tickErr(1e9)
	if err == nil || !strings.Contains(err.Error(), "regexp depends on graph query results; resolved by the controller") {
		t.Errorf("tick error %v", err)
	}
}

func TestMatchStringProblems(t *testing.T) {
	p := func(d probe.Dialect, props string) string {
		return probeDocIn(d, "x", source("f", "ts"), checkerProc(d, "match_string", props))
	}
	runCheckerProblems(t, []checkerProblem{
		{"bad regexp", p(probe.DialectSeed, `{"regexp": "^(Down"}`), "properties.regexp", "missing closing )"},
		{"PCRE lookahead", p(probe.Dialect4x, `{"regexp": "'^(?!Up)'"}`), "properties.regexp", "RE2"},
		{"PCRE backreference", p(probe.DialectSeed, `{"regexp": "(a)\\1"}`), "properties.regexp", "invalid escape"},
		{"4.x bare word", p(probe.Dialect4x, `{"regexp": "Down"}`), "properties.regexp", "quote it"},
		{"4.x unquoted pattern", p(probe.Dialect4x, `{"regexp": "^(Down|Init)$"}`), "properties.regexp", "expression"},
		{"missing", p(probe.Dialect4x, `{}`), "properties.regexp", "required"},
		{"number input", probeDoc("x", source("f", "ns"), checkerProc(probe.Dialect4x, "match_string", `{"regexp": "'x'"}`)), "inputs.in", "accepts"},
	})
}

func BenchmarkMatchString(b *testing.B) {
	benchChecker(b, "dss", `, {"name": "p", "type": "match_string", "inputs": {"in": {"stage": "src", "column": "value"}}, "outputs": {"out": "out"}, "properties": {"regexp": "'^(Down|down|Init)$'"}}`)
}
