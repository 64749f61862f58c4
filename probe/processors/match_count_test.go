package processors

import (
	"testing"

	"github.com/probe-agent/probe-agent/probe"
)

func TestMatchCount(t *testing.T) {
	type step struct {
		name  string
		feed  []feedItem
		value map[string]any
		total map[string]any
	}
	up, down := "up", "down"
	tests := []struct {
		name      string
		stageType string
		dialect   probe.Dialect
		props     string
		steps     []step
	}{
		{"empty input, no group_by", "dss", probe.Dialect4x, `{"reference_state": "up"}`, []step{
			{"empty", nil, map[string]any{"": 0.0}, map[string]any{"": 0.0}},
			{"two of three up", []feedItem{state("a", "e0", up), state("a", "e1", down), state("b", "e0", up)}, map[string]any{"": 2.0}, map[string]any{"": 3.0}},
			{"empty again", nil, map[string]any{"": 0.0}, map[string]any{"": 0.0}},
		}},
		{"items appear and disappear", "dss", probe.DialectSeed, `{"reference_state": "up", "group_by": ["system_id"]}`, []step{
			{"two groups", []feedItem{state("a", "e0", up), state("a", "e1", down), state("b", "e0", down)},
				map[string]any{"system_id=a": 1.0, "system_id=b": 0.0}, map[string]any{"system_id=a": 2.0, "system_id=b": 1.0}},
			{"b gone, c new, a changes", []feedItem{state("a", "e0", up), state("a", "e1", up), state("c", "e0", up)},
				map[string]any{"system_id=a": 2.0, "system_id=c": 1.0}, map[string]any{"system_id=a": 2.0, "system_id=c": 1.0}},
		}},
		{"items without a value are not counted", "dss", probe.Dialect4x, `{"reference_state": "up", "group_by": ["system_id"]}`, []step{
			{"missing", []feedItem{state("a", "e0", up), {Props: []string{"a", "e1"}, Missing: true}, {Props: []string{"b", "e0"}, Missing: true}},
				map[string]any{"system_id=a": 1.0, "system_id=b": 0.0}, map[string]any{"system_id=a": 1.0, "system_id=b": 0.0}},
		}},
		{"quoted reference state", "ts", probe.Dialect4x, `{"reference_state": "'Full'", "group_by": ["system_id"]}`, []step{
			{"text", []feedItem{state("a", "e0", "Full"), state("a", "e1", "'Full'"), state("a", "e2", "full")},
				map[string]any{"system_id=a": 1.0}, map[string]any{"system_id=a": 3.0}},
		}},
		{"time series: last value", "dssts", probe.Dialect4x, `{"reference_state": "up", "group_by": ["interface"]}`, []step{
			{"first", []feedItem{state("a", "e0", up), state("b", "e0", down)}, map[string]any{"interface=e0": 1.0}, map[string]any{"interface=e0": 2.0}},
			{"flip", []feedItem{state("a", "e0", down), state("b", "e0", up)}, map[string]any{"interface=e0": 1.0}, map[string]any{"interface=e0": 2.0}},
			{"both up", []feedItem{state("a", "e0", up), state("b", "e0", up)}, map[string]any{"interface=e0": 2.0}, map[string]any{"interface=e0": 2.0}},
		}},
		{"single item", "ds", probe.Dialect4x, `{"reference_state": "true"}`, []step{
			{"true", []feedItem{{Str: "true"}}, map[string]any{"": 1.0}, map[string]any{"": 1.0}},
			{"false", []feedItem{{Str: "false"}}, map[string]any{"": 0.0}, map[string]any{"": 1.0}},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			feed := "match_count/" + tt.name
			h := newHarness(t, probeDocIn(tt.dialect, "match_count", source(feed, tt.stageType), checkerProc(tt.dialect, "match_count", tt.props)))
			if cols := h.stage("out").Columns; len(cols) != 2 || cols[1] != (probe.Column{Name: "total_count", Kind: probe.Number}) {
				t.Fatalf("columns %v", cols)
			}
			for _, s := range tt.steps {
				setFeed(feed, s.feed...)
				h.tick(nil, 1e9)
				assertValues(t, h, "out", s.value)
				if got, want := checkerColumnValues(h, "out", "total_count"), s.total; !equalJSON(got, want) {
					t.Errorf("total_count: got %v, want %v", got, want)
				}
				if t.Failed() {
					t.Fatalf("after step %q", s.name)
				}
			}
		})
	}
}

// A downstream processor reads total_count as a column in the 4.x dialect.
func TestMatchCountTotalColumnFeedsRangeCheck(t *testing.T) {
	doc := `{"label": "ospf", "processors": [` + source("match_count/column", "dss") + `,
		{"name": "p", "type": "match_count", "inputs": {"in": {"stage": "src", "column": "value"}}, "outputs": {"out": "count"}, "properties": {"reference_state": "Full", "group_by": ["system_id"]}},
		{"name": "few", "type": "range_check", "inputs": {"in": {"stage": "count", "column": "total_count"}}, "outputs": {"out": "out"}, "properties": {"range": {"max": 1}, "raise_anomaly": true}}]}`
	h := newHarness(t, doc)
	setFeed("match_count/column", state("a", "e0", "Full"), state("a", "e1", "Init"), state("b", "e0", "Full"))
	h.tick(nil, 1e9)
	assertValues(t, h, "out", map[string]any{"system_id=a": "false", "system_id=b": "true"})
	if got := h.anomalyKeys(); len(got) != 1 || got[0] != "out:system_id=b" {
		t.Errorf("anomalies %v", got)
	}
}

func TestMatchCountProblems(t *testing.T) {
	runCheckerProblems(t, []checkerProblem{
		{"reference_state missing", probeDoc("x", source("f", "dss"), checkerProc(probe.Dialect4x, "match_count", `{}`)), "properties.reference_state", "required"},
		{"reference_state not a string", probeDoc("x", source("f", "dss"), checkerProc(probe.Dialect4x, "match_count", `{"reference_state": 1}`)), "properties.reference_state", "expected string"},
		{"unknown group_by key", probeDoc("x", source("f", "dss"), checkerProc(probe.Dialect4x, "match_count", `{"reference_state": "up", "group_by": ["role"]}`)), "properties.group_by[0]", `no property "role"`},
		{"number input", probeDoc("x", source("f", "ns"), checkerProc(probe.Dialect4x, "match_count", `{"reference_state": "up"}`)), "inputs.in", "accepts"},
	})
}

func BenchmarkMatchCount(b *testing.B) {
	benchChecker(b, "dss", `, {"name": "p", "type": "match_count", "inputs": {"in": {"stage": "src", "column": "value"}}, "outputs": {"out": "out"}, "properties": {"reference_state": "up", "group_by": ["system_id"]}}`)
}
