package processors

import (
	"math"

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

// Merge folds another partial state into m.
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
	m.Mean += d * o.N / n
	m.M2 += o.M2 + d*d*m.N*o.N/n
	m.N = n
	m.Sum += o.Sum
	m.Min = math.Min(m.Min, o.Min)
	m.Max = math.Max(m.Max, o.Max)
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

// groupingConfig is the property set of the numeric grouping processors.
type groupingConfig struct {
	GroupBy []string `json:"group_by"`
}

// registerAggregate registers one of the numeric grouping processors, which
// differ only in how they finish a group.
func registerAggregate(name, label, what string, needM2 bool, defaultGroupBy []any, extra map[string]*probe.Schema, finish func(b *probe.Build) (func(*Moments) float64, error)) {
	probe.Register(&probe.Spec{
		Name:  name,
		Label: label,
		Description: label + ` Processor.

Groups the input items as described by group_by and outputs ` + what + ` of each
group. With an empty group_by the whole input is one group and the output is N;
otherwise the output is NS keyed by the group_by properties. Input is N, NS,
NTS or NSTS; for a time series every sample of every series counts. Items
without a value are left out; a group with no values has no value. NaN
propagates.`,
		Inputs:  map[string]probe.Port{"in": {Required: true, Types: numberTypes}},
		Outputs: map[string]probe.Port{"out": {Required: true, Types: []probe.StageType{probe.N, probe.NS}}},
		Schema: probe.Merge(streamingProps(), graphQueryProps(), extra, map[string]*probe.Schema{
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
			g := groupedOutput(b, b.Input("in"), cfg.GroupBy)
			if g == nil {
				return nil, nil
			}
			return &aggregate{g: g, finish: fn, needM2: needM2}, nil
		},
	})
}

type aggregate struct {
	g      *grouping
	finish func(*Moments) float64
	needM2 bool
}

func (a *aggregate) Eval(*probe.Tick) error {
	a.g.accumulate(a.needM2)
	a.g.finish(a.finish)
	return nil
}
