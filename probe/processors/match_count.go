package processors

import "github.com/probe-agent/probe-agent/probe"

func init() {
	probe.Register(&probe.Spec{
		Name:  "match_count",
		Label: "Match Count",
		Description: `Match Count Processor.

Groups the input items as described by group_by and outputs, for each group,
the number of items whose value equals reference_state (column "value") and
the number of items in the group (column "total_count"). With an empty
group_by the whole input is one group and the output is N (0 and 0 for an
empty input); otherwise the output is NS keyed by the group_by properties.
Input is DS, DSS, T or TS, or their time-series forms, whose last value is
tested. Items without a value yet are not counted. reference_state is a
literal string compared exactly; one level of matching single or double
quotes ("'Full'", written in the 4.x expression style) is removed. Its partial
state, for a probe split between devices and the centre, is tallies(total,
matched).`,
		Inputs:  map[string]probe.Port{"in": {Required: true, Types: stringValueTypes}},
		Outputs: map[string]probe.Port{"out": {Required: true, Types: []probe.StageType{probe.N, probe.NS}}},
		Schema:  withRequired(probe.Merge(streamingProps(), graphQueryProps(), groupByProp(), referenceStateProp(), partialProp()), "reference_state"),
		New: func(b *probe.Build) (probe.Processor, error) {
			return newTallyAggregate(b, tallyPartial(true), []probe.Column{{Name: "total_count", Kind: probe.Number}}, func(extra ...probe.Column) (*groupCounter, error) {
				return newMatchCounter(b, extra...)
			}, func(out *probe.Stage, i int, t Tally) {
				out.SetNum(i, t.Matched)
				out.SetExtra(i, 1, probe.Value{Num: t.Total})
			})
		},
	})
	probe.RegisterPartial("match_count", tallyPartial(true))
}

func referenceStateProp() map[string]*probe.Schema {
	return map[string]*probe.Schema{
		"reference_state": probe.Prop("string").
			Desc("The state (or text) items are compared with; a literal string."),
	}
}

// newMatchCounter builds the group counter of match_count and match_perc.
func newMatchCounter(b *probe.Build, extra ...probe.Column) (*groupCounter, error) {
	var cfg struct {
		GroupBy        []string `json:"group_by"`
		ReferenceState string   `json:"reference_state"`
	}
	if err := b.Decode(&cfg); err != nil {
		return nil, err
	}
	c := newGroupCounter(b, cfg.GroupBy, extra...)
	if c == nil {
		return nil, nil
	}
	c.ref, c.useRef = unquoteOnce(cfg.ReferenceState), true
	return c, nil
}
