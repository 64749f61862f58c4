package processors

import (
	"testing"

	"github.com/probe-agent/probe-agent/probe"
)

func TestMatchPerc(t *testing.T) {
	up, down := "up", "down"
	tests := []struct {
		name      string
		stageType string
		dialect   probe.Dialect
		props     string
		steps     []checkerStep
	}{
		{"empty input has no value", "dss", probe.Dialect4x, `{"reference_state": "up"}`, []checkerStep{
			{name: "empty", want: map[string]any{}},
			{name: "one of three", feed: []feedItem{state("a", "e0", up), state("a", "e1", down), state("b", "e0", down)}, want: map[string]any{"": 100.0 / 3}},
			{name: "empty again", want: map[string]any{}},
		}},
		{"items appear and disappear", "dss", probe.DialectSeed, `{"reference_state": "up", "group_by": ["system_id"]}`, []checkerStep{
			{name: "two groups", feed: []feedItem{state("a", "e0", up), state("a", "e1", down), state("b", "e0", down)}, want: map[string]any{"system_id=a": 50.0, "system_id=b": 0.0}},
			{name: "b gone, c new", feed: []feedItem{state("a", "e0", up), state("c", "e0", up)}, want: map[string]any{"system_id=a": 100.0, "system_id=c": 100.0}},
		}},
		{"items without a value are left out", "dss", probe.Dialect4x, `{"reference_state": "up", "group_by": ["system_id"]}`, []checkerStep{
			{name: "missing", feed: []feedItem{state("a", "e0", up), {Props: []string{"a", "e1"}, Missing: true}, {Props: []string{"b", "e0"}, Missing: true}}, want: map[string]any{"system_id=a": 100.0}},
		}},
		{"time series: last value", "tsts", probe.Dialect4x, `{"reference_state": "\"Full\"", "group_by": []}`, []checkerStep{
			{name: "first", feed: []feedItem{state("a", "e0", "Full"), state("b", "e0", "Init"), state("c", "e0", "Init"), state("d", "e0", "Init")}, want: map[string]any{"": 25.0}},
			{name: "changes", feed: []feedItem{state("a", "e0", "Full"), state("b", "e0", "Full"), state("c", "e0", "Full"), state("d", "e0", "Init")}, want: map[string]any{"": 75.0}},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			feed := "match_perc/" + tt.name
			h := newHarness(t, probeDocIn(tt.dialect, "match_perc", source(feed, tt.stageType), checkerProc(tt.dialect, "match_perc", tt.props)))
			runCheckerSteps(t, h, feed, tt.steps)
		})
	}
}

func TestMatchPercProblems(t *testing.T) {
	runCheckerProblems(t, []checkerProblem{
		{"reference_state missing", probeDoc("x", source("f", "dss"), checkerProc(probe.DialectSeed, "match_perc", `{"group_by": []}`)), "properties.reference_state", "required"},
		{"unknown group_by key", probeDoc("x", source("f", "dss"), checkerProc(probe.DialectSeed, "match_perc", `{"reference_state": "up", "group_by": ["system_id", "x"]}`)), "properties.group_by[1]", `no property "x"`},
		{"unknown property", probeDoc("x", source("f", "dss"), checkerProc(probe.DialectSeed, "match_perc", `{"reference_state": "up", "state": "up"}`)), "properties.state", "unknown property"},
	})
}

func BenchmarkMatchPerc(b *testing.B) {
	benchChecker(b, "dss", `, {"name": "p", "type": "match_perc", "inputs": {"in": {"stage": "src", "column": "value"}}, "outputs": {"out": "out"}, "properties": {"reference_state": "up", "group_by": ["system_id"]}}`)
}
