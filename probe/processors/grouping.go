package processors

import (
	"math"
	"slices"

	"github.com/probe-agent/probe-agent/probe"
)

// Moments is the mergeable state of a numeric group: count, mean and sum of
// squared deviations (Welford), plus sum, min and max. Grouping processors
// accumulate items into it, merge partial states from several devices
// (Chan's parallel update) and finish it into their value, which is what lets
// the controller split a fabric-wide aggregation into edge partials and a
// central merge.
type Moments struct {
	N, Mean, M2, Sum, Min, Max float64
}

// Add accumulates one value.
func (m *Moments) Add(x float64) {
	m.N++
	d := x - m.Mean
	m.Mean += d / m.N
	m.M2 += d * (x - m.Mean)
	m.Sum += x
	if m.N == 1 || x < m.Min || math.IsNaN(x) {
		m.Min = x
	}
	if m.N == 1 || x > m.Max || math.IsNaN(x) {
		m.Max = x
	}
}

// Merge folds another partial state into m (Chan, Golub and LeVeque's
// parallel update). The mean is combined as Spark's StatCounter does: from
// the larger side when the sizes differ tenfold, else as a weighted mean,
// which keeps the mean of integers exact when it is representable.
func (m *Moments) Merge(o Moments) {
	if o.N == 0 {
		return
	}
	if m.N == 0 {
		*m = o
		return
	}
	n := m.N + o.N
	d := o.Mean - m.Mean
	switch {
	case o.N*10 < m.N:
		m.Mean += d * o.N / n
	case m.N*10 < o.N:
		m.Mean = o.Mean - d*m.N/n
	default:
		m.Mean = (m.Mean*m.N + o.Mean*o.N) / n
	}
	m.M2 += o.M2 + d*d*m.N*o.N/n
	m.N = n
	m.Sum += o.Sum
	m.Min = math.Min(m.Min, o.Min)
	m.Max = math.Max(m.Max, o.Max)
}

// momentFields are the Moments fields a partial-state stage can carry, by
// column name; the "value" column always carries N.
var momentFields = map[string]func(*Moments) *float64{
	"sum":  func(m *Moments) *float64 { return &m.Sum },
	"mean": func(m *Moments) *float64 { return &m.Mean },
	"m2":   func(m *Moments) *float64 { return &m.M2 },
	"min":  func(m *Moments) *float64 { return &m.Min },
	"max":  func(m *Moments) *float64 { return &m.Max },
}

// StdDev is the standard deviation with divisor N - ddof; NaN when the
// divisor is not positive.
func (m *Moments) StdDev(ddof int) float64 {
	div := m.N - float64(ddof)
	if div <= 0 {
		return math.NaN()
	}
	return math.Sqrt(math.Max(m.M2, 0) / div)
}

// grouping maps the items of a number input to the groups of group_by and
// keeps the output stage's items equal to the groups. The mapping is
// rebuilt only when the input's items change.
type grouping struct {
	in     *probe.Input
	out    *probe.Stage
	by     []int
	layout uint64
	group  []int32 // input item -> group
	acc    []Moments
	// partial is merge's scratch state for one input item.
	partial Moments
}

// groupedOutput declares the output of a grouping processor: N with an empty
// group_by, NS otherwise, keyed by the group_by properties, with any extra
// value columns; nil when group_by names a property the input lacks.
func groupedOutput(b *probe.Build, in *probe.Input, groupBy []string, extra ...probe.Column) *grouping {
	g := &grouping{in: in, by: keyIndexes(b, "group_by", in, groupBy)}
	if b.Failed() {
		return nil
	}
	t := probe.N
	if len(groupBy) > 0 {
		t = probe.NS
	}
	g.out = b.Output("out", t, groupBy, extra...)
	return g
}

func (g *grouping) sync() {
	st := g.in.Stage
	if g.layout == st.Layout() && len(g.group) == st.Len() && g.acc != nil {
		return
	}
	g.group = make([]int32, st.Len())
	if len(g.by) == 0 {
		g.acc = make([]Moments, 1)
		g.out.SetSingle()
		g.layout = st.Layout()
		return
	}
	ids := map[string]int32{}
	var props [][]string
	for i := 0; i < st.Len(); i++ {
		itemProps := st.Props(i)
		key := make([]string, len(g.by))
		for k, idx := range g.by {
			key[k] = itemProps[idx]
		}
		id := joinProps(key)
		gid, ok := ids[id]
		if !ok {
			gid = int32(len(props))
			ids[id] = gid
			props = append(props, key)
		}
		g.group[i] = gid
	}
	g.out.SetLayout(props)
	g.acc = make([]Moments, len(props))
	g.layout = st.Layout()
}

func joinProps(p []string) string {
	n := 0
	for _, s := range p {
		n += len(s) + 1
	}
	b := make([]byte, 0, n)
	for _, s := range p {
		b = append(b, s...)
		b = append(b, 0x1f)
	}
	return string(b)
}

// accumulate fills one Moments per group from the valid input items; for a
// time-series input every sample of every series counts. It makes two
// passes, the second only when M2 is needed: deviations from the exact mean
// keep a standard deviation of integers exact where Welford's running update
// would print 99.99999999999996 for 100.
func (g *grouping) accumulate(needM2 bool) []Moments {
	g.sync()
	for i := range g.acc {
		g.acc[i] = Moments{}
	}
	g.each(func(m *Moments, x float64) {
		m.N++
		m.Sum += x
		if m.N == 1 || x < m.Min || math.IsNaN(x) {
			m.Min = x
		}
		if m.N == 1 || x > m.Max || math.IsNaN(x) {
			m.Max = x
		}
	})
	for i := range g.acc {
		if g.acc[i].N > 0 {
			g.acc[i].Mean = g.acc[i].Sum / g.acc[i].N
		}
	}
	if needM2 {
		g.each(func(m *Moments, x float64) {
			d := x - m.Mean
			m.M2 += d * d
		})
	}
	return g.acc
}

func (g *grouping) each(fn func(m *Moments, x float64)) {
	st := g.in.Stage
	ts := g.in.Type.TimeSeries && g.in.Column == 0
	for i := 0; i < st.Len(); i++ {
		if !st.Valid(i) {
			continue
		}
		m := &g.acc[g.group[i]]
		if ts {
			st.Item(i).Samples(func(s probe.Sample) { fn(m, s.Value.Num) })
			continue
		}
		fn(m, g.in.Num(i))
	}
}

// merge fills one Moments per group by merging the partial states of the
// valid input items: the central side of a split, where each item is one
// device's partial state of one group (cols are the input columns of the
// partial's fields, after "value", which holds N).
func (g *grouping) merge(cols []int, fields []func(*Moments) *float64) []Moments {
	g.sync()
	for i := range g.acc {
		g.acc[i] = Moments{}
	}
	st := g.in.Stage
	for i := 0; i < st.Len(); i++ {
		if !st.Valid(i) {
			continue
		}
		// The partial is decoded into a field of g, not a local: the field
		// setters would make a local escape, one allocation per item.
		p := &g.partial
		*p = Moments{N: st.Num(i, 0)}
		for k, c := range cols {
			*fields[k](p) = st.Num(i, c)
		}
		g.acc[g.group[i]].Merge(*p)
	}
	return g.acc
}

// finish writes one value per group; empty groups have no value.
func (g *grouping) finish(value func(*Moments) float64) {
	for i := range g.acc {
		if g.acc[i].N == 0 {
			g.out.Invalidate(i)
			continue
		}
		g.out.SetNum(i, value(&g.acc[i]))
	}
}

// writePartial writes each group's partial state: N as the value, then the
// fields. An empty group has N = 0, a value: the centre must still see the
// group exist.
func (g *grouping) writePartial(fields []func(*Moments) *float64) {
	for i := range g.acc {
		g.out.SetNum(i, g.acc[i].N)
		for k, f := range fields {
			g.out.SetExtra(i, k+1, probe.Value{Num: *f(&g.acc[i])})
		}
	}
}

// partialMode is how a grouping processor takes part in a split probe
// (property "partial").
type partialMode uint8

const (
	wholeMode  partialMode = iota // items in, value out
	outputMode                    // items in, partial state out: the edge
	mergeMode                     // partial states in, value out: the centre
)

// partialProp is the "partial" property of the grouping processors, which
// the partitioner sets on the two halves of a split.
func partialProp() map[string]*probe.Schema {
	return map[string]*probe.Schema{
		"partial": probe.Prop("string").Def("").OneOf("", probe.PartialOutput, probe.PartialMerge).
			Desc(`Set by the partitioner of a split probe: "output" writes each group's partial state instead of its value (the device side); "merge" reads partial states from many devices, merges them per group and writes the value (the central side). Empty: items in, value out.`),
	}
}

func modeOf(b *probe.Build) partialMode {
	switch b.Props["partial"] {
	case probe.PartialOutput:
		return outputMode
	case probe.PartialMerge:
		return mergeMode
	}
	return wholeMode
}

// partialInput checks, in merge mode, that the input is a partial-state
// stage of ps and returns the columns of its fields.
func partialInput(b *probe.Build, in *probe.Input, ps probe.PartialSpec) ([]int, bool) {
	if in.Column != 0 || in.Type.TimeSeries {
		b.Errorf("inputs.in", "with partial: merge the input is a partial-state stage read from its \"value\" column")
		return nil, false
	}
	cols := make([]int, len(ps.Columns))
	for k, name := range ps.Columns {
		c, ok := in.Stage.ColumnIndex(name)
		if !ok {
			b.Errorf("inputs.in", "stage %q is not a partial state %s: it has no column %q", in.Stage.Name, ps, name)
			return nil, false
		}
		cols[k] = c
	}
	return cols, true
}

// groupingConfig is the property set of the numeric grouping processors.
type groupingConfig struct {
	GroupBy []string `json:"group_by"`
}

// registerAggregate registers one of the numeric grouping processors, which
// differ only in the Moments fields their partial state carries and in how
// they finish a group. Each runs as accumulate (items into one Moments per
// group) or merge (partial states into one per group), then finish (a
// Moments into the value) or, on the edge of a split, writes the partial.
func registerAggregate(name, label, what string, fields []string, defaultGroupBy []any, extra map[string]*probe.Schema, finish func(b *probe.Build) (func(*Moments) float64, error)) {
	ps := probe.PartialSpec{Family: "moments", Value: "n", Columns: fields}
	probe.RegisterPartial(name, ps)
	getters := make([]func(*Moments) *float64, len(fields))
	for i, f := range fields {
		getters[i] = momentFields[f]
	}
	needM2 := slices.Contains(fields, "m2")
	probe.Register(&probe.Spec{
		Name:  name,
		Label: label,
		Description: label + ` Processor.

Groups the input items as described by group_by and outputs ` + what + ` of each
group. With an empty group_by the whole input is one group and the output is N;
otherwise the output is NS keyed by the group_by properties. Input is N, NS,
NTS or NSTS; for a time series every sample of every series counts. Items
without a value are left out; a group with no values has no value. NaN
propagates. Its partial state, for a probe split between devices and the
centre, is ` + ps.String() + `.`,
		Inputs:  map[string]probe.Port{"in": {Required: true, Types: numberTypes}},
		Outputs: map[string]probe.Port{"out": {Required: true, Types: []probe.StageType{probe.N, probe.NS}}},
		Schema: probe.Merge(streamingProps(), graphQueryProps(), extra, partialProp(), map[string]*probe.Schema{
			"group_by": probe.Prop("array").Def(defaultGroupBy).Of(probe.Prop("string")).
				Desc("Properties to group by; empty means one group of everything."),
		}),
		New: func(b *probe.Build) (probe.Processor, error) {
			var cfg groupingConfig
			if err := b.Decode(&cfg); err != nil {
				return nil, err
			}
			fn, err := finish(b)
			if err != nil || fn == nil {
				return nil, err
			}
			a := &aggregate{finish: fn, needM2: needM2, mode: modeOf(b), fields: getters}
			in := b.Input("in")
			var outCols []probe.Column
			switch a.mode {
			case mergeMode:
				cols, ok := partialInput(b, in, ps)
				if !ok {
					return nil, nil
				}
				a.cols = cols
			case outputMode:
				outCols = ps.StageColumns()[1:]
			}
			a.g = groupedOutput(b, in, cfg.GroupBy, outCols...)
			if a.g == nil {
				return nil, nil
			}
			return a, nil
		},
	})
}

type aggregate struct {
	g      *grouping
	finish func(*Moments) float64
	needM2 bool
	mode   partialMode
	fields []func(*Moments) *float64
	cols   []int // merge mode: input columns of fields
}

func (a *aggregate) Eval(*probe.Tick) error {
	if a.mode == mergeMode {
		a.g.merge(a.cols, a.fields)
	} else {
		a.g.accumulate(a.needM2)
	}
	if a.mode == outputMode {
		a.g.writePartial(a.fields)
		return nil
	}
	a.g.finish(a.finish)
	return nil
}
