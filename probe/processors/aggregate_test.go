package processors

import (
	"math"
	"testing"
	"time"

	"github.com/probe-agent/probe-agent/probe"
)

// TestAggregates runs sum, average, min, max and std_dev over the same
// items, grouped and ungrouped, through ticks where items appear, vanish,
// lose their value and turn NaN.
func TestAggregates(t *testing.T) {
	grouped := `"group_by": ["system_id"]`
	all := `"group_by": []`
	doc := probeDoc("agg", source("agg", "ns"),
		`{"name": "sum", "type": "sum", "inputs": {"in": "src"}, "outputs": {"out": "sum"}, "properties": {`+grouped+`}}`,
		`{"name": "avg", "type": "average", "inputs": {"in": "src"}, "outputs": {"out": "avg"}, "properties": {`+grouped+`}}`,
		`{"name": "min", "type": "min", "inputs": {"in": "src"}, "outputs": {"out": "min"}, "properties": {`+grouped+`}}`,
		`{"name": "max", "type": "max", "inputs": {"in": "src"}, "outputs": {"out": "max"}, "properties": {`+grouped+`}}`,
		`{"name": "sd", "type": "std_dev", "inputs": {"in": "src"}, "outputs": {"out": "sd"}, "properties": {`+grouped+`}}`,
		`{"name": "sd1", "type": "std_dev", "inputs": {"in": "src"}, "outputs": {"out": "sd1"}, "properties": {"ddof": 1, `+all+`}}`,
		`{"name": "total", "type": "sum", "inputs": {"in": "src"}, "outputs": {"out": "total"}}`)
	h := newHarness(t, doc)
	if st := h.stage("total"); st.Type != probe.N {
		t.Fatalf("sum with default group_by [] is %s, want n", st.Type)
	}
	if st := h.stage("sum"); st.Type != probe.NS || st.Keys[0] != "system_id" {
		t.Fatalf("grouped sum is %s keyed %v", st.Type, st.Keys)
	}
	steps := []struct {
		name  string
		items []feedItem
		want  map[string]map[string]any
	}{
		{"empty input", nil, map[string]map[string]any{
			"sum": {}, "avg": {}, "min": {}, "max": {}, "sd": {}, "sd1": {}, "total": {},
		}},
		{"two systems", []feedItem{item("a", "e1", 2), item("a", "e2", 4), item("b", "e1", 10)}, map[string]map[string]any{
			"sum":   {"system_id=a": 6.0, "system_id=b": 10.0},
			"avg":   {"system_id=a": 3.0, "system_id=b": 10.0},
			"min":   {"system_id=a": 2.0, "system_id=b": 10.0},
			"max":   {"system_id=a": 4.0, "system_id=b": 10.0},
			"sd":    {"system_id=a": 1.0, "system_id=b": 0.0},
			"sd1":   {"": 4.163331998932266}, // sqrt(52/3)
			"total": {"": 16.0},
		}},
		{"system b vanishes, a item without value", []feedItem{item("a", "e1", 2), {Props: []string{"a", "e2"}, Missing: true}, item("a", "e3", 8)}, map[string]map[string]any{
			"sum":   {"system_id=a": 10.0},
			"avg":   {"system_id=a": 5.0},
			"min":   {"system_id=a": 2.0},
			"max":   {"system_id=a": 8.0},
			"sd":    {"system_id=a": 3.0},
			"sd1":   {"": math.Sqrt(18)},
			"total": {"": 10.0},
		}},
		{"single item: sample std_dev is NaN", []feedItem{item("c", "e1", 5)}, map[string]map[string]any{
			"sum": {"system_id=c": 5.0}, "sd": {"system_id=c": 0.0}, "sd1": {"": "NaN"}, "total": {"": 5.0},
		}},
		{"NaN propagates", []feedItem{item("c", "e1", 5), item("c", "e2", math.NaN())}, map[string]map[string]any{
			"sum": {"system_id=c": "NaN"}, "avg": {"system_id=c": "NaN"}, "sd": {"system_id=c": "NaN"},
		}},
	}
	for _, s := range steps {
		setFeed("agg", s.items...)
		h.tick(nil, time.Second)
		for stage, want := range s.want {
			assertValues(t, h, stage, want)
		}
		if t.Failed() {
			t.Fatalf("after step %q", s.name)
		}
	}
}

func TestStdDevOfTimeSeriesUsesEverySample(t *testing.T) {
	doc := probeDoc("sdts", source("sdts", "nsts"),
		`{"name": "sd", "type": "std_dev", "inputs": {"in": "src"}, "outputs": {"out": "sd"}, "properties": {"group_by": []}}`)
	h := newHarness(t, doc)
	for _, v := range []float64{2, 4, 4, 4, 5, 5, 7, 9} {
		setFeed("sdts", item("a", "e1", v))
		h.tick(nil, time.Second)
	}
	assertValues(t, h, "sd", map[string]any{"": 2.0})
}

func TestMomentsMergeEqualsWhole(t *testing.T) {
	xs := []float64{3, 1, 4, 1, 5, 9, 2, 6, 5, 3, 5}
	var whole, left, right Moments
	for i, x := range xs {
		whole.Add(x)
		if i < 4 {
			left.Add(x)
		} else {
			right.Add(x)
		}
	}
	left.Merge(right)
	for _, c := range []struct {
		name       string
		got, wantV float64
	}{
		{"n", left.N, whole.N}, {"sum", left.Sum, whole.Sum}, {"min", left.Min, whole.Min}, {"max", left.Max, whole.Max},
		{"std", left.StdDev(0), whole.StdDev(0)}, {"mean", left.Mean, whole.Mean},
	} {
		if math.Abs(c.got-c.wantV) > 1e-9 {
			t.Errorf("%s: merged %v, whole %v", c.name, c.got, c.wantV)
		}
	}
}
