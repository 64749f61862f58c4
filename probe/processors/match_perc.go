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
single or double quotes is removed. Its partial state, for a probe split
between devices and the centre, is tallies(total, matched).`,
		Inputs:  map[string]probe.Port{"in": {Required: true, Types: stringValueTypes}},
		Outputs: map[string]probe.Port{"out": {Required: true, Types: []probe.StageType{probe.N, probe.NS}}},
		Schema:  withRequired(probe.Merge(streamingProps(), graphQueryProps(), groupByProp(), referenceStateProp(), partialProp()), "reference_state"),
		New: func(b *probe.Build) (probe.Processor, error) {
			return newTallyAggregate(b, tallyPartial(true), nil, func(extra ...probe.Column) (*groupCounter, error) {
				return newMatchCounter(b, extra...)
			}, func(out *probe.Stage, i int, t Tally) {
				if t.Total == 0 {
					out.Invalidate(i)
					return
				}
				out.SetNum(i, 100*t.Matched/t.Total)
			})
		},
	})
	probe.RegisterPartial("match_perc", tallyPartial(true))
}
