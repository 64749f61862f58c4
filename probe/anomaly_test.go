package probe_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/probe-agent/probe-agent/collectors"
	"github.com/probe-agent/probe-agent/probe"
)

// errorsPlan is a probe that raises an anomaly on every interface with
// receive errors (range_check with raise_anomaly over if_counter).
func errorsPlan(tb testing.TB) *probe.Plan {
	tb.Helper()
	plan, probs := probe.CompileJSON([]byte(`{"label": "errors", "processors": [
		{"name": "c", "type": "if_counter", "outputs": {"out": "err"}, "properties": {"counter_type": "rx_error_packets"}},
		{"name": "r", "type": "range_check", "inputs": {"in": "err"}, "outputs": {"out": "bad"}, "properties": {"range": {"min": 1}, "raise_anomaly": true}}]}`))
	if len(probs) > 0 {
		tb.Fatal(probs)
	}
	return plan
}

// TestAnomalyLifecycle drives raises, evidence updates, clears and layout
// changes through a probe and checks the transitions of each tick: an
// anomaly whose interface disappears is cleared, not forgotten; one whose
// interface moves keeps its id; clears come out in item order.
func TestAnomalyLifecycle(t *testing.T) {
	inst, err := probe.NewInstance(errorsPlan(t))
	if err != nil {
		t.Fatal(err)
	}
	// errs per tick: the cumulative rx_error_packets of each interface,
	// listed in batch order; a name missing is an interface gone.
	steps := []struct {
		name   string
		errs   []string // "name=count"
		want   []string // transitions: "+name" raised, "-name" cleared
		active []string
	}{
		{"first sample", []string{"a=0", "b=0", "c=0", "d=0"}, nil, nil},
		{"b, c and d raise", []string{"a=0", "b=5", "c=5", "d=1"}, []string{"+b", "+c", "+d"}, []string{"b", "c", "d"}},
		{"still bad, new actual values", []string{"a=0", "b=9", "c=6", "d=2"}, nil, []string{"b", "c", "d"}},
		{"d clears, b and c stay", []string{"a=0", "b=10", "c=7", "d=2"}, []string{"-d"}, []string{"b", "c"}},
		{"c disappears, b moves", []string{"b=11", "a=0", "d=2"}, []string{"-c"}, []string{"b"}},
		{"b clears", []string{"b=11", "a=0", "d=2"}, []string{"-b"}, nil},
	}
	ids := map[string]string{}
	for n, step := range steps {
		b := &collectors.Batch{Time: time.Unix(int64(100+n), 0), Layout: uint64(len(step.errs))}
		if step.name == "c disappears, b moves" {
			b.Layout = 99
		}
		for _, e := range step.errs {
			name, v, _ := strings.Cut(e, "=")
			ifc := collectors.Interface{SystemID: "s", Name: name}
			var count uint64
			fmt.Sscan(v, &count)
			ifc.Set(collectors.RxErrorPackets, count)
			b.Interfaces = append(b.Interfaces, ifc)
		}
		if err := inst.Tick(&probe.Tick{Time: b.Time, Counters: b}); err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, a := range inst.Transitions() {
			sign := "-"
			if a.Raised {
				sign = "+"
				ids[a.Props[0]] = a.ID
			} else if ids[a.Props[0]] != a.ID {
				t.Errorf("%s: %s cleared with id %s, raised as %s", step.name, a.Props[0], a.ID, ids[a.Props[0]])
			}
			got = append(got, sign+a.Props[0])
		}
		if fmt.Sprint(got) != fmt.Sprint(step.want) {
			t.Errorf("%s: transitions %v, want %v", step.name, got, step.want)
		}
		var active []string
		for _, a := range inst.Anomalies() {
			active = append(active, a.Props[0])
		}
		if fmt.Sprint(active) != fmt.Sprint(step.active) {
			t.Errorf("%s: active %v, want %v", step.name, active, step.active)
		}
		if step.name == "still bad, new actual values" {
			for _, a := range inst.Anomalies() {
				if a.Props[0] == "b" && a.Evidence.Actual.Num != 4 {
					t.Errorf("b's evidence not updated: actual %v, want 4", a.Evidence.Actual.Num)
				}
			}
		}
	}
}
