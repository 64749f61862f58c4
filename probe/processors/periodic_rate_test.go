package processors

import (
	"math"
	"testing"
	"time"
)

func TestPeriodicRate(t *testing.T) {
	sec := time.Second
	tests := []struct {
		name  string
		props string
		typ   string
		steps []periodicStep
	}{
		{name: "empty input", props: `{"period": 10}`, typ: "ns", steps: []periodicStep{
			{"no items", nil, 10 * sec, map[string]any{}},
			{"boundary with no items", nil, 10 * sec, map[string]any{}},
		}},
		{name: "irregular ticks divide by the seconds between the samples", props: `{"period": 60}`, typ: "ns", steps: []periodicStep{
			{"t=0", []feedItem{item("a", "e1", 0), item("a", "e2", 50)}, 30 * sec, map[string]any{}},
			{"t=30", []feedItem{item("a", "e1", 300), item("a", "e2", 80)}, 40 * sec, map[string]any{}},
			{"t=70 closes [0,60): 700 over 70 s", []feedItem{item("a", "e1", 700), missing("a", "e2")}, 30 * sec,
				map[string]any{pdE1: 10.0, pdE2: 1.0}}, // pdE2: 30 over the 30 s between its samples
			{"t=100 e2 vanishes, e3 appears", []feedItem{item("a", "e1", 1000), item("a", "e3", 0)}, 30 * sec, map[string]any{pdE1: 10.0}},
			{"t=130 closes [60,120): 600 over 60 s", []feedItem{item("a", "e1", 1300), item("a", "e3", 90)}, 30 * sec,
				map[string]any{pdE1: 10.0, pdE3: 3.0}},
			{"t=160 reset", []feedItem{item("a", "e1", 100), item("a", "e3", 90)}, 30 * sec, map[string]any{pdE1: 10.0, pdE3: 3.0}},
			{"t=190 closes [120,180): the reset step adds nothing", []feedItem{item("a", "e1", 400), item("a", "e3", 90)}, 30 * sec,
				map[string]any{pdE1: 5.0, pdE3: 0.0}},
		}},
		{name: "NaN skipped; no value without a new sample", props: `{"period": 10}`, typ: "ns", steps: []periodicStep{
			{"t=0", []feedItem{item("a", "e1", 10)}, 4 * sec, map[string]any{}},
			{"t=4", []feedItem{item("a", "e1", math.NaN())}, 6 * sec, map[string]any{}},
			{"t=10 boundary", []feedItem{item("a", "e1", 30)}, 10 * sec, map[string]any{pdE1: 2.0}},
			{"t=20 NaN at the boundary", []feedItem{item("a", "e1", math.NaN())}, 10 * sec, map[string]any{}},
			{"t=30 re-based", []feedItem{item("a", "e1", 500)}, 5 * sec, map[string]any{}},
			{"t=35", []feedItem{item("a", "e1", 550)}, 5 * sec, map[string]any{}},
			{"t=40", []feedItem{item("a", "e1", 600)}, 10 * sec, map[string]any{pdE1: 10.0}},
		}},
		{name: "samples at one instant give no rate", props: `{"period": 10}`, typ: "ns", steps: []periodicStep{
			{"t=0", []feedItem{item("a", "e1", 0)}, 5 * sec, map[string]any{}},
			{"t=5 e2 first seen", []feedItem{item("a", "e1", 5), item("a", "e2", 1)}, 0, map[string]any{}},
			{"t=5 again", []feedItem{item("a", "e1", 5), item("a", "e2", 3)}, 5 * sec, map[string]any{}},
			{"t=10 boundary, e2 missing", []feedItem{item("a", "e1", 10), missing("a", "e2")}, 10 * sec, map[string]any{pdE1: 1.0}},
			{"t=20 pdE2: 30 over the 15 s since its last sample", []feedItem{item("a", "e1", 10), item("a", "e2", 33)}, 10 * sec, map[string]any{pdE1: 0.0, pdE2: 2.0}},
		}},
		{name: "single item (N)", props: `{"period": "30"}`, typ: "n", steps: []periodicStep{
			{"t=0", []feedItem{{Num: 0}}, 30 * sec, map[string]any{}},
			{"t=30", []feedItem{{Num: 3000}}, 30 * sec, map[string]any{"": 100.0}},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			runPeriodic(t, "periodic_rate", tt.props, tt.typ, tt.steps)
		})
	}
}

func BenchmarkPeriodicRate10k(b *testing.B) { benchPeriodic(b, "periodic_rate", 10000) }
