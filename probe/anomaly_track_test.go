package probe

import (
	"fmt"
	"testing"
	"time"
)

// TestTrackerKeepsAnomalyOfItemWithoutValue drives the tracker directly on
// a checker stage whose items go anomalous, clear and lose their value
// (Invalidate): an item without a value keeps its anomaly, and every
// transition names the right item. The tracker walks its raised records
// along with the items, so a record dropped or kept out of turn would shift
// every later one.
func TestTrackerKeepsAnomalyOfItemWithoutValue(t *testing.T) {
	st := &Stage{Name: "bad", Type: DS, Keys: []string{"k"}, Columns: []Column{{Name: "value", Kind: DiscreteState}}, RaisesAnomalies: true}
	inst := &Instance{Plan: &Plan{ID: "p", Doc: &Document{}}}
	tr := &anomalyTracker{inst: inst, stages: []*trackedStage{{st: st, layout: ^uint64(0)}}}
	keys := []string{"a", "b", "c", "d", "e"}
	// Each item's state per tick: "t" anomalous, "f" not, "-" no value.
	steps := []struct {
		name   string
		states string
		want   []string // transitions: "+k" raised, "-k" cleared
		active []string
	}{
		{"a, b and d raise", "ttftf", []string{"+a", "+b", "+d"}, []string{"a", "b", "d"}},
		{"b has no value; a clears, c and e raise", "f-ttt", []string{"-a", "+c", "+e"}, []string{"b", "c", "d", "e"}},
		{"b, d without value; c clears", "f-f-t", []string{"-c"}, []string{"b", "d", "e"}},
		{"b back still bad; d clears; a raises", "ttfft", []string{"+a", "-d"}, []string{"a", "b", "e"}},
		{"all clear", "fffff", []string{"-a", "-b", "-e"}, nil},
	}
	for n, step := range steps {
		now := time.Unix(int64(100+n), 0)
		st.begin(uint64(n+1), now)
		if n == 0 {
			st.SetLayout(layoutOf(keys...))
		}
		tr.transitions = tr.transitions[:0]
		for i, s := range step.states {
			switch s {
			case 't':
				st.SetCheck(i, true, Evidence{State: fmt.Sprint("ev", n)})
			case 'f':
				st.SetCheck(i, false, Evidence{})
			case '-':
				st.Invalidate(i)
			}
		}
		tr.update(now)
		var got []string
		for _, a := range tr.transitions {
			sign := "-"
			if a.Raised {
				sign = "+"
			}
			got = append(got, sign+a.Props[0])
		}
		if fmt.Sprint(got) != fmt.Sprint(step.want) {
			t.Errorf("%s: transitions %v, want %v", step.name, got, step.want)
		}
		var active []string
		for _, r := range tr.stages[0].list {
			active = append(active, r.props[0])
		}
		if fmt.Sprint(active) != fmt.Sprint(step.active) || tr.count != len(step.active) {
			t.Errorf("%s: raised %v (count %d), want %v", step.name, active, tr.count, step.active)
		}
	}
}
