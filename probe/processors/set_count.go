package processors

import "github.com/probe-agent/probe-agent/probe"

func init() {
	probe.Register(&probe.Spec{
		Name:  "set_count",
		Label: "Set Count",
		Description: `Set Count Processor.

Groups the input items as described by group_by and outputs the number of
items in each group, whatever their values. With an empty group_by the whole
input is one group and the output is N (0 for an empty input); otherwise the
output is NS keyed by the group_by properties, one item per group. Input is
any stage type (number, discrete state or text; single or set; time series or
not); a time series counts as one item, not one per sample. Items without a
value yet are not counted, as in the other grouping processors. Its partial
state, for a probe split between devices and the centre, is tallies(total).`,
		Inputs:  map[string]probe.Port{"in": {Required: true, Types: probe.AllStageTypes}},
		Outputs: map[string]probe.Port{"out": {Required: true, Types: []probe.StageType{probe.N, probe.NS}}},
		Schema:  probe.Merge(streamingProps(), graphQueryProps(), groupByProp(), partialProp()),
		New: func(b *probe.Build) (probe.Processor, error) {
			var cfg groupingConfig
			if err := b.Decode(&cfg); err != nil {
				return nil, err
			}
			return newTallyAggregate(b, tallyPartial(false), nil, func(extra ...probe.Column) (*groupCounter, error) {
				return newGroupCounter(b, cfg.GroupBy, extra...), nil
			}, func(out *probe.Stage, i int, t Tally) {
				out.SetNum(i, t.Total)
			})
		},
	})
	probe.RegisterPartial("set_count", tallyPartial(false))
}
