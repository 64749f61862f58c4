package probe_test

import (
	"strings"
	"testing"
	"time"

	"github.com/probe-agent/probe-agent/probe"
)

type panicking struct{ out *probe.Stage }

func (p *panicking) Eval(t *probe.Tick) error {
	if t.Seq == 2 {
		panic("processor bug: index out of range") // as a real bug would
	}
	p.out.SetSingle()
	p.out.SetNum(0, 1)
	return nil
}

func init() {
	probe.Register(&probe.Spec{
		Name:    "test_panics_on_second_tick",
		Outputs: map[string]probe.Port{"out": {Required: true, Types: []probe.StageType{probe.N}}},
		Schema:  probe.Object(map[string]*probe.Schema{}),
		New: func(b *probe.Build) (probe.Processor, error) {
			return &panicking{out: b.Output("out", probe.N, nil)}, nil
		},
	})
}

// TestProcessorPanicIsAnError: a processor that panics puts its probe in
// the error state with the processor named; the caller (the agent) goes on.
func TestProcessorPanicIsAnError(t *testing.T) {
	plan, probs := probe.CompileJSON([]byte(`{"label": "p", "processors": [{"name": "boom", "type": "test_panics_on_second_tick", "outputs": {"out": "o"}}]}`))
	if len(probs) > 0 {
		t.Fatal(probs)
	}
	inst, err := probe.NewInstance(plan)
	if err != nil {
		t.Fatal(err)
	}
	if err := inst.Tick(&probe.Tick{Time: time.Unix(1, 0)}); err != nil {
		t.Fatal(err)
	}
	err = inst.Tick(&probe.Tick{Time: time.Unix(2, 0)})
	if err == nil || !strings.Contains(err.Error(), `processor "boom": internal error`) {
		t.Fatalf("tick error %v, want the processor named and an internal error", err)
	}
	if state, msg := inst.State(); state != probe.StateError || !strings.Contains(msg, "index out of range") {
		t.Errorf("state %v %q, want error with the cause", state, msg)
	}
	if err := inst.Tick(&probe.Tick{Time: time.Unix(3, 0)}); err != nil {
		t.Errorf("the probe does not recover on the next tick: %v", err)
	}
}
