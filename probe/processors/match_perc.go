package processors

import "github.com/probe-agent/probe-agent/probe"

func init() {
	probe.Register(&probe.Spec{
		Name:  "match_perc",
		Label: "Match Percentage",
		Description: `Match Percentage Processor.

Groups the input items as described by group_by and outputs, for each group,
the percentage (0 to 100, not rounded) of its items whose value equals
reference_state: 100 x match_count / total_count. With an empty group_by the
whole input is one group and the output is N; otherwise the output is NS keyed
by the group_by properties. A group without items (an empty input with an
empty group_by) has no value. Input is DS, DSS, T or TS, or their time-series
forms, whose last value is tested. Items without a value yet are not counted.
reference_state is a literal string compared exactly; one level of matching
single or double quotes is removed.`,
		Inputs:  map[string]probe.Port{"in": {Required: true, Types: stringValueTypes}},
		Outputs: map[string]probe.Port{"out": {Required: true, Types: []probe.StageType{probe.N, probe.NS}}},
		Schema:  withRequired(probe.Merge(streamingProps(), graphQueryProps(), groupByProp(), referenceStateProp()), "reference_state"),
		New: func(b *probe.Build) (probe.Processor, error) {
			c, err := newMatchCounter(b)
			if c == nil || err != nil {
				return nil, err
			}
			return &matchPerc{c: c}, nil
		},
	})
}

type matchPerc struct {
	c *groupCounter
}

func (p *matchPerc) Eval(*probe.Tick) error {
	out := p.c.g.out
	for i, t := range p.c.count() {
		if t.total == 0 {
			out.Invalidate(i)
			continue
		}
		out.SetNum(i, 100*float64(t.matched)/float64(t.total))
	}
	return nil
}
