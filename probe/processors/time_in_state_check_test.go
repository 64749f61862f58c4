package processors

import (
	"testing"
	"time"

	"github.com/probe-agent/probe-agent/probe"
)

func TestTimeInStateCheck(t *testing.T) {
	const s3 = 3 * time.Second
	a, b := "system_id=a,interface=e0", "system_id=b,interface=e0"
	anA, anB := "out:system_id=a,interface=e0", "out:system_id=b,interface=e0"
	none := []string{}
	tr, fa := state("a", "e0", "true"), state("a", "e0", "false")
	tests := []struct {
		name      string
		stageType string
		dialect   probe.Dialect
		props     string
		steps     []checkerStep
	}{
		{"4.x: true while the duration is inside the range", "dss", probe.Dialect4x, `{"time_window": 10, "state_range": {"'true'": [{"min": 5}]}, "raise_anomaly": true}`, []checkerStep{
			{name: "empty", want: map[string]any{}, anomalies: none, step: s3},
			{name: "t=3: first seen, 0s", feed: []feedItem{tr}, want: map[string]any{a: "false"}, anomalies: none, step: s3},
			{name: "t=6: 3s", feed: []feedItem{tr}, want: map[string]any{a: "false"}, anomalies: none, step: s3},
			{name: "t=9: 6s raises", feed: []feedItem{tr}, want: map[string]any{a: "true"}, anomalies: []string{anA}, step: s3},
			{name: "t=12: false now, 9s true in the window", feed: []feedItem{fa}, want: map[string]any{a: "true"}, anomalies: []string{anA}, step: s3},
			{name: "t=15: 7s of true left in [5, 15]", feed: []feedItem{fa}, want: map[string]any{a: "true"}, anomalies: []string{anA}, step: s3},
			{name: "t=18: 4s left, clears", feed: []feedItem{fa}, want: map[string]any{a: "false"}, anomalies: none, step: s3},
			{name: "t=21: 1s left", feed: []feedItem{fa}, want: map[string]any{a: "false"}, anomalies: none, step: s3},
		}},
		{"seed: true while the duration is outside the range", "dss", probe.DialectSeed, `{"time_window": 10, "state_range": {"true": [{"min": 5}]}, "raise_anomaly": true}`, []checkerStep{
			{name: "t=0: 0s raises", feed: []feedItem{tr}, want: map[string]any{a: "true"}, anomalies: []string{anA}, step: s3},
			{name: "t=3: 3s", feed: []feedItem{tr}, want: map[string]any{a: "true"}, anomalies: []string{anA}, step: s3},
			{name: "t=6: 6s clears", feed: []feedItem{tr}, want: map[string]any{a: "false"}, anomalies: none, step: s3},
			{name: "t=9: 9s", feed: []feedItem{fa}, want: map[string]any{a: "false"}, anomalies: none, step: s3},
			{name: "t=12: 7s", feed: []feedItem{fa}, want: map[string]any{a: "false"}, anomalies: none, step: s3},
			{name: "t=15: 4s raises", feed: []feedItem{fa}, want: map[string]any{a: "true"}, anomalies: []string{anA}, step: s3},
		}},
		{"items appear and disappear, no value", "dss", probe.Dialect4x, `{"time_window": "2 * 5", "state_range": {"\"true\"": [{"min": 5}]}, "raise_anomaly": true}`, []checkerStep{
			{name: "t=0", feed: []feedItem{tr}, want: map[string]any{a: "false"}, step: s3},
			{name: "t=3", feed: []feedItem{tr}, want: map[string]any{a: "false"}, step: s3},
			{name: "t=6: a at 6s; b new", feed: []feedItem{tr, state("b", "e0", "true")}, want: map[string]any{a: "true", b: "false"}, anomalies: []string{anA}, step: s3},
			{name: "t=9: a gone, b at 3s", feed: []feedItem{state("b", "e0", "true")}, want: map[string]any{b: "false"}, anomalies: none, step: s3},
			{name: "t=12: a back starts over; b 6s", feed: []feedItem{tr, state("b", "e0", "true")}, want: map[string]any{a: "false", b: "true"}, anomalies: []string{anB}, step: s3},
			{name: "t=15: b has no value", feed: []feedItem{tr, {Props: []string{"b", "e0"}, Missing: true}}, want: map[string]any{a: "false"}, step: s3},
			{name: "t=18: b back, 7s of true in [8, 18]", feed: []feedItem{tr, state("b", "e0", "true")}, want: map[string]any{a: "true", b: "true"}, step: s3},
		}},
		{"several states and ranges", "dss", probe.Dialect4x, `{"time_window": 10, "state_range": {"'down'": [{"min": 4}], "'flap'": [{"max": 0}, {"min": 1, "max": 2}]}}`, []checkerStep{
			{name: "t=0: up", feed: []feedItem{state("a", "e0", "up")}, want: map[string]any{a: "true"}, step: 2 * time.Second}, // flap 0s is in [-inf, 0]
			{name: "t=2: flap", feed: []feedItem{state("a", "e0", "flap")}, want: map[string]any{a: "true"}, step: time.Second},
			{name: "t=3: flap 1s", feed: []feedItem{state("a", "e0", "flap")}, want: map[string]any{a: "true"}, step: 2 * time.Second},
			{name: "t=5: flap 3s, down 0s", feed: []feedItem{state("a", "e0", "down")}, want: map[string]any{a: "false"}, step: 4 * time.Second},
			{name: "t=9: down 4s", feed: []feedItem{state("a", "e0", "down")}, want: map[string]any{a: "true"}, step: 4 * time.Second},
		}},
		{"time series: last value", "dssts", probe.Dialect4x, `{"time_window": 60, "state_range": {"'down'": [{"min": 2}]}, "raise_anomaly": true}`, []checkerStep{
			{name: "t=0", feed: []feedItem{state("a", "e0", "down")}, want: map[string]any{a: "false"}, step: s3},
			{name: "t=3", feed: []feedItem{state("a", "e0", "down")}, want: map[string]any{a: "true"}, anomalies: []string{anA}, step: s3},
		}},
		{"single item", "ds", probe.Dialect4x, `{"time_window": 60, "state_range": {"'down'": [{"max": 1}]}}`, []checkerStep{
			{name: "t=0", feed: []feedItem{{Str: "down"}}, want: map[string]any{"": "true"}, step: s3},
			{name: "t=3", feed: []feedItem{{Str: "down"}}, want: map[string]any{"": "false"}, step: s3},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			feed := "time_in_state/" + tt.name
			h := newHarness(t, probeDocIn(tt.dialect, "time_in_state", source(feed, tt.stageType, "system_id", "interface"), checkerProc(tt.dialect, "time_in_state_check", tt.props)))
			runCheckerSteps(t, h, feed, tt.steps)
		})
	}
}

func TestTimeInStateEvidence(t *testing.T) {
	h := newHarness(t, probeDoc("ev", source("time_in_state/ev", "dss"), checkerProc(probe.Dialect4x, "time_in_state", `{"time_window": "60 * 15", "state_range": {"'true'": [{"min": 120}]}, "raise_anomaly": true}`)))
	setFeed("time_in_state/ev", state("a", "e0", "true"))
	for range 3 {
		h.tick(nil, time.Minute)
	}
	want := probe.Evidence{Actual: probe.Value{Num: 120}, Kind: probe.Number, Min: 120, HasMin: true, State: "true", Anomalous: true}
	if ev := checkerEvidence(h, "out", "a", "e0"); ev != want {
		t.Errorf("evidence %+v, want %+v", ev, want)
	}
	if an := h.inst.Anomalies(); len(an) != 1 || an[0].Evidence != want {
		t.Errorf("anomalies %+v", an)
	}
	// A minute without a value counts for no state.
	setFeed("time_in_state/ev", feedItem{Props: []string{"a", "e0"}, Missing: true})
	h.tick(nil, time.Minute)
	setFeed("time_in_state/ev", state("a", "e0", "true"))
	h.tick(nil, time.Minute)
	if got := checkerEvidence(h, "out", "a", "e0").Actual.Num; got != 180 {
		t.Errorf("after a minute without a value: %vs in state, want 180", got)
	}
}

// A long window with a state change every tick grows each item's history
// beyond its initial storage and trims it as the window slides.
func TestTimeInStateLongHistory(t *testing.T) {
	h := newHarness(t, probeDoc("long", source("time_in_state/long", "dss"), checkerProc(probe.Dialect4x, "time_in_state_check", `{"time_window": 100, "state_range": {"'up'": [{"min": 50}]}}`)))
	for i := range 400 {
		v := "up"
		if i%2 == 1 {
			v = "down"
		}
		setFeed("time_in_state/long", state("a", "e0", v))
		h.tick(nil, time.Second)
		// Up for every other second: 50s of the last 100 from t=99 on
		// (up during [0,1], [2,3], ..., [98,99]).
		want := "false"
		if i >= 99 {
			want = "true"
		}
		if got := h.values("out")["system_id=a,interface=e0"]; got != want {
			t.Fatalf("tick %d: got %v, want %s (evidence %+v)", i, got, want, checkerEvidence(h, "out", "a", "e0"))
		}
	}
}

func TestTimeInStateProblems(t *testing.T) {
	p := func(d probe.Dialect, props string) string {
		return probeDocIn(d, "x", source("f", "dss"), checkerProc(d, "time_in_state_check", props))
	}
	runCheckerProblems(t, []checkerProblem{
		{"time_window zero", p(probe.Dialect4x, `{"time_window": 0, "state_range": {"'true'": [{"min": 1}]}}`), "properties.time_window", "must be positive"},
		{"time_window bad expression", p(probe.Dialect4x, `{"time_window": "sixty", "state_range": {"'true'": [{"min": 1}]}}`), "properties.time_window", "only a constant expression"},
		{"time_window missing", p(probe.Dialect4x, `{"state_range": {"'true'": [{"min": 1}]}}`), "properties.time_window", "required"},
		{"state_range missing", p(probe.Dialect4x, `{"time_window": 60}`), "properties.state_range", "required"},
		{"state_range empty", p(probe.Dialect4x, `{"time_window": 60, "state_range": {}}`), "properties.state_range", "at least one state"},
		{"no ranges", p(probe.Dialect4x, `{"time_window": 60, "state_range": {"'true'": []}}`), "properties.state_range.'true'", "at least one range"},
		{"empty range", p(probe.Dialect4x, `{"time_window": 60, "state_range": {"'true'": [{}]}}`), "properties.state_range.'true'[0]", "needs min, max or both"},
		{"min above max", p(probe.DialectSeed, `{"time_window": 60, "state_range": {"true": [{"min": 1}, {"min": 9, "max": 3}]}}`), "properties.state_range.true[1]", "greater than max"},
		{"unknown bound", p(probe.Dialect4x, `{"time_window": 60, "state_range": {"'true'": [{"mn": 1}]}}`), "properties.state_range.'true'[0].mn", "unknown property"},
		{"range not a list", p(probe.Dialect4x, `{"time_window": 60, "state_range": {"'true'": {"min": 1}}}`), "properties.state_range.'true'", "expected array"},
		{"4.x bare state", p(probe.Dialect4x, `{"time_window": 60, "state_range": {"true": [{"min": 1}]}}`), "properties.state_range.true", "quote it"},
		{"number input", probeDoc("x", source("f", "ns"), checkerProc(probe.Dialect4x, "time_in_state_check", `{"time_window": 60, "state_range": {"'true'": [{"min": 1}]}}`)), "inputs.in", "accepts"},
	})
}

func BenchmarkTimeInStateCheck(b *testing.B) {
	benchChecker(b, "dss", `, {"name": "p", "type": "time_in_state_check", "inputs": {"in": {"stage": "src", "column": "value"}}, "outputs": {"out": "out"}, "properties": {"time_window": 300, "state_range": {"'down'": [{"min": 60}]}}}`)
}
