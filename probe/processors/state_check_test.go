package processors

import (
	"strings"
	"testing"

	"github.com/probe-agent/probe-agent/probe"
)

func TestStateCheck(t *testing.T) {
	a0, a1, b0 := "system_id=a,interface=e0", "system_id=a,interface=e1", "system_id=b,interface=e0"
	none := []string{}
	tests := []struct {
		name      string
		stageType string
		dialect   probe.Dialect
		props     string
		steps     []checkerStep
	}{
		{"4.x: true when equal to the state", "dss", probe.Dialect4x, `{"state": "'up'", "raise_anomaly": true}`, []checkerStep{
			{name: "empty", want: map[string]any{}, anomalies: none},
			{name: "up raises", feed: []feedItem{state("a", "e0", "up"), state("a", "e1", "down")}, want: map[string]any{a0: "true", a1: "false"}, anomalies: []string{"out:system_id=a,interface=e0"}},
			{name: "down clears, other raises", feed: []feedItem{state("a", "e0", "down"), state("a", "e1", "up")}, want: map[string]any{a0: "false", a1: "true"}, anomalies: []string{"out:system_id=a,interface=e1"}},
			{name: "raised item disappears, new one appears", feed: []feedItem{state("a", "e0", "down"), state("b", "e0", "up")}, want: map[string]any{a0: "false", b0: "true"}, anomalies: []string{"out:system_id=b,interface=e0"}},
			// The engine's anomaly tracker keeps the anomaly of an item that
			// lost its value (unknown is not "false").
			{name: "no value: no output", feed: []feedItem{state("a", "e0", "down"), {Props: []string{"b", "e0"}, Missing: true}}, want: map[string]any{a0: "false"}, anomalies: []string{"out:system_id=b,interface=e0"}},
			{name: "raised item gone: anomaly cleared", feed: []feedItem{state("a", "e0", "down")}, want: map[string]any{a0: "false"}, anomalies: none},
		}},
		{"seed: true when not equal to the state", "dss", probe.DialectSeed, `{"state": "up", "raise_anomaly": true}`, []checkerStep{
			{name: "down raises", feed: []feedItem{state("a", "e0", "up"), state("a", "e1", "down")}, want: map[string]any{a0: "false", a1: "true"}, anomalies: []string{"out:system_id=a,interface=e1"}},
			{name: "up clears", feed: []feedItem{state("a", "e0", "up"), state("a", "e1", "up")}, want: map[string]any{a0: "false", a1: "false"}, anomalies: none},
			{name: "seed literal keeps quotes", feed: []feedItem{state("a", "e0", "'up'")}, want: map[string]any{a0: "true"}, anomalies: []string{"out:system_id=a,interface=e0"}},
		}},
		{"4.x: list of states", "dss", probe.Dialect4x, `{"state": ["'down'", "\"testing\""]}`, []checkerStep{
			{name: "mixed", feed: []feedItem{state("a", "e0", "up"), state("a", "e1", "testing"), state("b", "e0", "down")}, want: map[string]any{a0: "false", a1: "true", b0: "true"}, anomalies: none},
		}},
		{"seed: list of expected states", "dss", probe.DialectSeed, `{"state": ["up", "testing"]}`, []checkerStep{
			{name: "mixed", feed: []feedItem{state("a", "e0", "up"), state("a", "e1", "testing"), state("b", "e0", "down")}, want: map[string]any{a0: "false", a1: "false", b0: "true"}},
		}},
		{"time series: last value", "dssts", probe.Dialect4x, `{"state": "'false'", "raise_anomaly": true}`, []checkerStep{
			{name: "false", feed: []feedItem{state("a", "e0", "false")}, want: map[string]any{a0: "true"}, anomalies: []string{"out:system_id=a,interface=e0"}},
			{name: "true", feed: []feedItem{state("a", "e0", "true")}, want: map[string]any{a0: "false"}, anomalies: none},
		}},
		{"single item via the in_state alias", "ds", probe.Dialect4x, `{"state": "'up'"}`, []checkerStep{
			{name: "up", feed: []feedItem{{Str: "up"}}, want: map[string]any{"": "true"}},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			feed := "state_check/" + tt.name
			typ := "state_check"
			if strings.Contains(tt.name, "in_state") {
				typ = "in_state"
			}
			h := newHarness(t, probeDocIn(tt.dialect, "state_check", source(feed, tt.stageType, "system_id", "interface"), checkerProc(tt.dialect, typ, tt.props)))
			if got := h.inst.Plan.Doc.Dialect; got != tt.dialect {
				t.Fatalf("dialect %s, want %s", got, tt.dialect)
			}
			runCheckerSteps(t, h, feed, tt.steps)
		})
	}
}

func TestStateCheckEvidence(t *testing.T) {
	for _, tt := range []struct {
		dialect   probe.Dialect
		props     string
		wantState string
	}{
		{probe.Dialect4x, `{"state": ["'down'", "'testing'"], "raise_anomaly": true}`, "down"},
		{probe.DialectSeed, `{"state": ["up", "testing"], "raise_anomaly": true}`, "up|testing"},
	} {
		t.Run(string(tt.dialect), func(t *testing.T) {
			h := newHarness(t, probeDocIn(tt.dialect, "ev", source("state_check/ev", "dss"), checkerProc(tt.dialect, "state_check", tt.props)))
			setFeed("state_check/ev", state("a", "e0", "down"))
			h.tick(nil, 1e9)
			ev := checkerEvidence(h, "out", "a", "e0")
			want := probe.Evidence{Actual: probe.Value{Str: "down"}, Kind: probe.DiscreteState, State: tt.wantState, Anomalous: tt.dialect == probe.Dialect4x}
			if ev != want {
				t.Errorf("evidence %+v, want %+v", ev, want)
			}
			an := h.inst.Anomalies()
			if len(an) != 1 || an[0].Evidence != want {
				t.Fatalf("anomalies %+v", an)
			}
		})
	}
}

func TestStateCheckGraphDependent(t *testing.T) {
	doc := probeDoc("graph", source("state_check/graph", "dss"), checkerProc(probe.Dialect4x, "state_check", `{"state": "query_result[0]['ps'].values['state']"}`))
	plan, probs := probe.CompileJSON([]byte(doc))
	if len(probs) > 0 {
		t.Fatal(probs)
	}
	if len(plan.Warnings) != 1 || !strings.Contains(plan.Warnings[0], "query_result") {
		t.Errorf("warnings %q", plan.Warnings)
	}
	h := newHarness(t, doc)
	if err := h.tickErr(1e9); err == nil || !strings.Contains(err.Error(), "resolved by the controller") {
		t.Errorf("tick error %v", err)
	}
}

func TestStateCheckProblems(t *testing.T) {
	p4 := func(props string) string {
		return probeDoc("x", source("f", "dss"), checkerProc(probe.Dialect4x, "state_check", props))
	}
	runCheckerProblems(t, []checkerProblem{
		{"4.x bare word", p4(`{"state": "up"}`), "properties.state", `quote it: "'up'"`},
		{"4.x bare word in a list", p4(`{"state": ["'up'", "down"]}`), "properties.state[1]", "quote it"},
		{"4.x not a string", p4(`{"state": "1 + 1"}`), "properties.state", "not a string"},
		{"4.x unsupported expression", p4(`{"state": "lambda x: x"}`), "properties.state", "expression"},
		{"4.x per-item expression", p4(`{"state": "context.role"}`), "properties.state", "context"},
		{"empty list", p4(`{"state": []}`), "properties.state", "at least one"},
		{"missing", p4(`{"raise_anomaly": true}`), "properties.state", "required"},
		{"number", p4(`{"state": 1}`), "properties.state", "expected string or array"},
		{"number input", probeDoc("x", source("f", "ns"), checkerProc(probe.Dialect4x, "state_check", `{"state": "'up'"}`)), "inputs.in", "accepts"},
		{"raise_anomaly not a boolean", p4(`{"state": "'up'", "raise_anomaly": "yes"}`), "properties.raise_anomaly", "expected boolean"},
	})
}

func BenchmarkStateCheck(b *testing.B) {
	benchChecker(b, "dss", `, {"name": "p", "type": "state_check", "inputs": {"in": {"stage": "src", "column": "value"}}, "outputs": {"out": "out"}, "properties": {"state": ["'down'", "'testing'"]}}`)
}
