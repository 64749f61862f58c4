package processors

import (
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"

	"github.com/probe-agent/probe-agent/probe"
	"github.com/probe-agent/probe-agent/probe/expr"
)

func init() {
	probe.Register(&probe.Spec{
		Name:    "range_check",
		Label:   "Range",
		Aliases: []string{"in_range", "not_in_range"},
		Description: `Range Check Processor.

Checks each input item against range {min, max}; either bound may be left out.
The output is "true" for an anomalous item. The meaning of range follows the
probe's dialect: in the seed dialect (stage-name inputs) range is the expected
region and an item is anomalous when its value lies outside it; in the 4.x
dialect ({"stage", "column"} inputs) range is the anomalous region, bounds
inclusive, and an item is anomalous when its value lies inside it.
property picks what is tested: value (the current value; the last sample of a
time series), or, for time-series input, sample_count, sum, avg or std_dev
(population standard deviation) over the series. sample_count on an input
that is not a time series counts the item's one value (1), so that
{"min": 1} flags every item present, as Apstra's templates use it on
set_comparison outputs. A discrete-state input is compared by the number
behind each state: the value_map code its producer gives it (as Apstra stores
states as numbers), or the state itself when it is a number; a state with
neither has no value. NaN is anomalous only with raise_on_nan. A bound may be a number, a
constant expression ("60 * 15") or an expression over the item's keys
("int(context.speed) * 0.8"), evaluated for each item when the items change;
an item whose bound does not evaluate has no value and puts the probe in the
error state with a message naming the item. Input is N, NS, NTS or NSTS,
discrete states (DS, DSS, DSTS, DSSTS), or a text series (TTS, TSTS) with
property sample_count, which is how flapping is counted; output is DS for a
single item and DSS for a set. A bound over graph query results (query_result)
is the controller's to evaluate: the probe validates with a warning and a
device reports an error for it. With raise_anomaly every
"true" item raises an anomaly.`,
		Inputs:  map[string]probe.Port{"in": {Required: true, Types: append(append([]probe.StageType{}, numberTypes...), probe.DS, probe.DSS, probe.DSTS, probe.DSSTS, probe.TTS, probe.TSTS)}},
		Outputs: map[string]probe.Port{"out": {Required: true, Types: []probe.StageType{probe.DS, probe.DSS}}},
		Schema: probe.Merge(streamingProps(), graphQueryProps(), anomalyProps(), map[string]*probe.Schema{
			"range": probe.Object(map[string]*probe.Schema{
				"min": probe.Prop("number", "string").Desc("Lower bound, inclusive; a number or an expression."),
				"max": probe.Prop("number", "string").Desc("Upper bound, inclusive; a number or an expression."),
			}).Desc("The range: expected values in the seed dialect, anomalous values in the 4.x dialect."),
			"property": probe.Prop("string").Def("value").OneOf("value", "sample_count", "sum", "avg", "std_dev").
				Desc("What to test: the value, or the sample count, sum, average or standard deviation of a time series."),
			"raise_on_nan": probe.Prop("boolean").Def(false).Desc("Treat a NaN value as anomalous."),
		}),
		New: newRangeCheck,
	})
}

type rangeCheck struct {
	in       *probe.Input
	out      *probe.Stage
	property string
	nanBad   bool
	ev       probe.Evidence
	// perItem holds bounds that are expressions over the item's keys
	// (context.<key>), evaluated per item when the items change.
	minExpr, maxExpr *expr.Expr
	bounds           perItem[itemBounds]
	// graphErr is set when a bound reads graph query results.
	graphErr error
	// codes maps a discrete-state input's states to numbers; nil for a
	// number input.
	codes map[string]float64
	state bool
}

// itemBounds are one item's evaluated context bounds.
type itemBounds struct {
	min, max float64
	err      string
	done     bool
}

func newRangeCheck(b *probe.Build) (probe.Processor, error) {
	var cfg struct {
		Range      map[string]any `json:"range"`
		Property   string         `json:"property"`
		RaiseOnNaN bool           `json:"raise_on_nan"`
		Raise      bool           `json:"raise_anomaly"`
	}
	if err := b.Decode(&cfg); err != nil {
		return nil, err
	}
	in := b.Input("in")
	p := &rangeCheck{in: in, property: cfg.Property, nanBad: cfg.RaiseOnNaN}
	p.ev.Kind = probe.Number
	p.ev.Anomalous = b.Dialect.AnomalousRanges()
	p.ev.Min, p.ev.HasMin, p.minExpr = boundProp(b, "range.min", cfg.Range["min"])
	p.ev.Max, p.ev.HasMax, p.maxExpr = boundProp(b, "range.max", cfg.Range["max"])
	if !p.ev.HasMin && !p.ev.HasMax && !b.Failed() {
		b.Errorf("properties.range", "needs min, max or both")
	}
	if p.ev.HasMin && p.ev.HasMax && p.minExpr == nil && p.maxExpr == nil && p.ev.Min > p.ev.Max {
		b.Errorf("properties.range", "min %v is greater than max %v", p.ev.Min, p.ev.Max)
	}
	p.state = in.Type.Kind == probe.DiscreteState
	if p.state {
		p.codes = in.Stage.StateCodes
	}
	if in.Type.Kind == probe.Text && p.property != "sample_count" {
		b.Errorf("properties.property", "stage %q holds text; only property \"sample_count\" can be range-checked on it", in.Stage.Name)
	}
	if p.property != "value" && p.property != "sample_count" && !in.Type.TimeSeries {
		b.Errorf("properties.property", "%q needs a time-series input; stage %q is %s (put an accumulate processor before this one)", p.property, in.Stage.Name, in.Type)
	}
	for _, e := range []*expr.Expr{p.minExpr, p.maxExpr} {
		if e != nil && slices.ContainsFunc(e.Names(), func(n string) bool { return n != "context" }) {
			b.Warn("processor %q: range bound %q reads graph query results; the controller evaluates it, a device reports an error until then", b.Name, e.String())
			p.graphErr = fmt.Errorf("range bound %q depends on graph query results; resolved by the controller", e.String())
		}
	}
	if b.Failed() {
		return nil, nil
	}
	p.out = b.Output("out", checkerType(in.Type), in.Stage.Keys)
	p.out.RaisesAnomalies = cfg.Raise
	return p, nil
}

func (p *rangeCheck) Eval(*probe.Tick) error {
	if p.graphErr != nil {
		return p.graphErr
	}
	st := p.in.Stage
	p.out.Mirror(st)
	var bounds []itemBounds
	var firstErr error
	if p.minExpr != nil || p.maxExpr != nil {
		bounds = p.bounds.sync(p.out)
	}
	for i := 0; i < st.Len(); i++ {
		if !st.Valid(i) {
			p.out.Invalidate(i)
			continue
		}
		ev := p.ev
		if bounds != nil {
			b := &bounds[i]
			if !b.done {
				*b = p.evalBounds(st, i)
			}
			if b.err != "" {
				p.out.Invalidate(i)
				if firstErr == nil {
					firstErr = fmt.Errorf("range for item %s: %s", describeItem(st, i), b.err)
				}
				continue
			}
			if p.minExpr != nil {
				ev.Min = b.min
			}
			if p.maxExpr != nil {
				ev.Max = b.max
			}
		}
		v := p.tested(st, i)
		bad := anomalousIn(ev, v, p.nanBad)
		ev.Actual.Num = v
		p.out.SetCheck(i, bad, ev)
	}
	return firstErr
}

func (p *rangeCheck) tested(st *probe.Stage, i int) float64 {
	if !st.Type.TimeSeries {
		if p.property == "sample_count" {
			return 1
		}
		return p.num(p.in.Num(i), p.in.Str(i))
	}
	if p.property == "value" {
		return p.num(p.in.Num(i), p.in.Str(i))
	}
	it := st.Item(i)
	n := it.SampleCount()
	if p.property == "sample_count" {
		return float64(n)
	}
	if n == 0 {
		return math.NaN()
	}
	var sum float64
	it.Samples(func(s probe.Sample) { sum += p.num(s.Value.Num, s.Value.Str) })
	mean := sum / float64(n)
	switch p.property {
	case "sum":
		return sum
	case "avg":
		return mean
	case "std_dev":
		var m2 float64
		it.Samples(func(s probe.Sample) {
			d := p.num(s.Value.Num, s.Value.Str) - mean
			m2 += d * d
		})
		return math.Sqrt(m2 / float64(n))
	}
	return p.num(p.in.Num(i), p.in.Str(i))
}

// num is the number a value stands for: itself for a number input, the
// state's code (or the state read as a number) for a discrete-state one, NaN
// when a state has neither.
func (p *rangeCheck) num(v float64, state string) float64 {
	if !p.state {
		return v
	}
	if c, ok := p.codes[state]; ok {
		return c
	}
	if f, err := strconv.ParseFloat(state, 64); err == nil {
		return f
	}
	return math.NaN()
}

// anomalousIn applies the dialect's polarity to a value and a range.
func anomalousIn(ev probe.Evidence, v float64, nanBad bool) bool {
	if math.IsNaN(v) {
		return nanBad
	}
	inside := (!ev.HasMin || v >= ev.Min) && (!ev.HasMax || v <= ev.Max)
	if ev.Anomalous {
		return inside
	}
	return !inside
}

// evalBounds evaluates the context bounds of one item.
func (p *rangeCheck) evalBounds(st *probe.Stage, i int) itemBounds {
	ctx := make(map[string]any, len(st.Keys))
	for k, key := range st.Keys {
		ctx[key] = st.Props(i)[k]
	}
	env := expr.MapEnv{"context": ctx}
	out := itemBounds{done: true}
	for _, e := range []struct {
		x   *expr.Expr
		dst *float64
	}{{p.minExpr, &out.min}, {p.maxExpr, &out.max}} {
		if e.x == nil {
			continue
		}
		v, err := e.x.Eval(env)
		if err != nil {
			out.err = err.Error()
			return out
		}
		f, ok := expr.ToFloat(v)
		if !ok {
			out.err = fmt.Sprintf("expression %q gives %v, not a number", e.x.String(), v)
			return out
		}
		*e.dst = f
	}
	return out
}

func describeItem(st *probe.Stage, i int) string {
	parts := make([]string, len(st.Keys))
	for k, key := range st.Keys {
		parts[k] = key + "=" + st.Props(i)[k]
	}
	return "{" + strings.Join(parts, ", ") + "}"
}

// boundProp reads a range bound: a number, a constant expression, or an
// expression over the item's keys (context.<key>), which is returned to be
// evaluated per item. Expressions over graph query results are refused: the
// controller resolves those.
func boundProp(b *probe.Build, field string, v any) (float64, bool, *expr.Expr) {
	src, isExpr := v.(string)
	if !isExpr {
		f, ok := numberProp(b, field, v)
		return f, ok, nil
	}
	x, err := expr.Parse(src)
	if err != nil {
		b.Errorf("properties."+field, "%v", err)
		return 0, false, nil
	}
	if !x.Constant() {
		return 0, true, x // per item (context) or by the controller (graph)
	}
	f, ok := numberProp(b, field, v)
	return f, ok, nil
}
