package processors

import (
	"errors"
	"fmt"
	"strings"

	"github.com/probe-agent/probe-agent/probe"
)

func init() {
	probe.Register(&probe.Spec{
		Name:    "state_check",
		Label:   "State",
		Aliases: []string{"in_state"},
		Description: `State Check Processor.

Compares each input item's value with state, a state or (5.1+) a list of
states. The output is "true" for an anomalous item, and its meaning follows
the probe's dialect. In the 4.x dialect ({"stage", "column"} inputs) state is
an expression (evaluated by probe/expr) naming the anomalous state(s): write
"'up'" for the string up (a bare word would name a graph query variable and is
rejected; an expression reading context is not supported); the output is
"true" when the value equals one of the states. In the seed dialect
(stage-name inputs) state is a literal naming the expected state(s), and the
output is "true" when the value equals none of them. A 4.x state that reads
query_result needs the graph: it is accepted, and evaluation reports an error
until the controller resolves it. Input is DS or DSS, or their time-series
forms, whose last value is tested; output is DS for a single item and DSS for
a set. Items without a value have none in the output. With raise_anomaly every
"true" item raises an anomaly carrying the value and the state.`,
		Inputs:  map[string]probe.Port{"in": {Required: true, Types: stateTypes}},
		Outputs: map[string]probe.Port{"out": {Required: true, Types: []probe.StageType{probe.DS, probe.DSS}}},
		Schema: withRequired(probe.Merge(streamingProps(), graphQueryProps(), anomalyProps(), map[string]*probe.Schema{
			"state": probe.Prop("string", "array").Of(probe.Prop("string")).
				Desc("The state, or a list of states: anomalous in the 4.x dialect (an expression, e.g. \"'up'\"), expected in the seed dialect (a literal)."),
		}), "state"),
		New: newStateCheck,
	})
}

type stateCheck struct {
	in     *probe.Input
	out    *probe.Stage
	states []string
	// matchBad is true when a value equal to a state is anomalous (4.x).
	matchBad bool
	ev       probe.Evidence
	graphErr error
}

func newStateCheck(b *probe.Build) (probe.Processor, error) {
	var raw []string
	switch v := b.Props["state"].(type) {
	case string:
		raw = []string{v}
	case []any:
		for _, s := range v {
			if str, ok := s.(string); ok {
				raw = append(raw, str)
			}
		}
		if len(raw) == 0 {
			b.Errorf("properties.state", "needs at least one state")
		}
	default:
		return nil, nil // schema validation has reported it
	}
	p := &stateCheck{in: b.Input("in"), matchBad: b.Dialect.AnomalousRanges()}
	for i, r := range raw {
		field := "properties.state"
		if _, list := b.Props["state"].([]any); list {
			field = fmt.Sprintf("properties.state[%d]", i)
		}
		s, ok := resolveStringExpr(b, field, r)
		if !ok {
			continue
		}
		if s.GraphDependent {
			p.graphErr = errors.New("state depends on graph query results; resolved by the controller")
		}
		p.states = append(p.states, s.Value)
	}
	var cfg struct {
		Raise bool `json:"raise_anomaly"`
	}
	if err := b.Decode(&cfg); err != nil {
		return nil, err
	}
	if b.Failed() {
		return nil, nil
	}
	p.ev = probe.Evidence{Kind: probe.DiscreteState, State: strings.Join(p.states, "|"), Anomalous: p.matchBad}
	p.out = b.Output("out", checkerType(p.in.Type), p.in.Stage.Keys)
	p.out.RaisesAnomalies = cfg.Raise
	return p, nil
}

func (p *stateCheck) Eval(*probe.Tick) error {
	if p.graphErr != nil {
		return p.graphErr
	}
	st := p.in.Stage
	p.out.Mirror(st)
	for i := 0; i < st.Len(); i++ {
		if !st.Valid(i) {
			p.out.Invalidate(i)
			continue
		}
		v := p.in.Str(i)
		ev := p.ev
		ev.Actual.Str = v
		matched := false
		for _, s := range p.states {
			if v == s {
				matched, ev.State = true, s
				break
			}
		}
		p.out.SetCheck(i, matched == p.matchBad, ev)
	}
	return nil
}
