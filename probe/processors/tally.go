package processors

import "github.com/probe-agent/probe-agent/probe"

// Tally is the mergeable state of a counting group (set_count, match_count,
// match_perc): the items with a value and how many of them match the
// reference state. Counts are float64 so that they cross the cut in a
// partial-state stage unchanged; they are exact up to 2^53.
type Tally struct {
	Total, Matched float64
}

// Merge folds another partial state into t.
func (t *Tally) Merge(o Tally) {
	t.Total += o.Total
	t.Matched += o.Matched
}

// tallyPartial is the partial state of a counting processor type; set_count
// needs only the total.
func tallyPartial(matched bool) probe.PartialSpec {
	ps := probe.PartialSpec{Family: "tallies", Value: "total"}
	if matched {
		ps.Columns = []string{"matched"}
	}
	return ps
}

// tallyAggregate runs a counting processor as accumulate (count the items
// of each group) or merge (add up partial tallies from many devices), then
// finish (write the value) or, on the edge of a split, write the partial.
type tallyAggregate struct {
	c          *groupCounter
	mode       partialMode
	ps         probe.PartialSpec
	matchedCol int // merge mode: input column of "matched", 0 if none
	acc        []Tally
	finish     func(out *probe.Stage, i int, t Tally)
}

// newTallyAggregate builds a counting processor; whole lists the extra
// output columns of its value (match_count's total_count). newCounter
// declares the output with the given extra columns.
func newTallyAggregate(b *probe.Build, ps probe.PartialSpec, whole []probe.Column, newCounter func(extra ...probe.Column) (*groupCounter, error), finish func(out *probe.Stage, i int, t Tally)) (probe.Processor, error) {
	p := &tallyAggregate{mode: modeOf(b), ps: ps, finish: finish}
	extra := whole
	switch p.mode {
	case mergeMode:
		cols, ok := partialInput(b, b.Input("in"), ps)
		if !ok {
			return nil, nil
		}
		if len(cols) > 0 {
			p.matchedCol = cols[0]
		}
	case outputMode:
		extra = ps.StageColumns()[1:]
	}
	c, err := newCounter(extra...)
	if c == nil || err != nil {
		return nil, err
	}
	p.c = c
	return p, nil
}

func (p *tallyAggregate) Eval(*probe.Tick) error {
	g := p.c.g
	if p.mode == mergeMode {
		g.sync()
		p.resize(len(g.acc))
		st := g.in.Stage
		for i := 0; i < st.Len(); i++ {
			if !st.Valid(i) {
				continue
			}
			t := Tally{Total: st.Num(i, 0)}
			if p.matchedCol > 0 {
				t.Matched = st.Num(i, p.matchedCol)
			}
			p.acc[g.group[i]].Merge(t)
		}
	} else {
		counts := p.c.count()
		p.resize(len(counts))
		for i, t := range counts {
			p.acc[i] = Tally{Total: float64(t.total), Matched: float64(t.matched)}
		}
	}
	out := g.out
	for i, t := range p.acc {
		if p.mode != outputMode {
			p.finish(out, i, t)
			continue
		}
		out.SetNum(i, t.Total)
		if len(p.ps.Columns) > 0 {
			out.SetExtra(i, 1, probe.Value{Num: t.Matched})
		}
	}
	return nil
}

func (p *tallyAggregate) resize(n int) {
	if len(p.acc) != n {
		p.acc = make([]Tally, n)
	} else {
		clear(p.acc)
	}
}
