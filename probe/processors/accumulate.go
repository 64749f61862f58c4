package processors

import (
	"time"

	"github.com/probe-agent/probe-agent/probe"
)

func init() {
	var in []probe.StageType
	for _, k := range []probe.Kind{probe.Number, probe.DiscreteState, probe.Text} {
		in = append(in, singleOrSetTypes(k)...)
	}
	var out []probe.StageType
	for _, t := range in {
		out = append(out, t.WithTimeSeries(true))
	}
	probe.Register(&probe.Spec{
		Name:  "accumulate",
		Label: "Accumulate",
		Description: `Accumulate Processor.

Makes one time series per input item, keyed the same way, appending (time,
value) whenever the item's value changes (and when it first appears). A series
keeps at most max_samples samples and, when total_duration is not 0, only the
samples of the last total_duration seconds; older ones are dropped even when no
new sample arrives, so sample_count over total_duration counts recent changes
(e.g. interface flaps). max_samples 0 would mean unbounded and is refused, as
is more than the limits.samples_per_series budget (4096 by default). A series
holds memory for the samples it has, not for max_samples.
Input is N, NS, DS, DSS, T or TS; output is the matching time-series type.`,
		Inputs:  map[string]probe.Port{"in": {Required: true, Types: in}},
		Outputs: map[string]probe.Port{"out": {Required: true, Types: out}},
		Schema: probe.Merge(streamingProps(), graphQueryProps(), map[string]*probe.Schema{
			"max_samples":    probe.Prop("integer", "string").Def(1024).Desc("Samples kept per series; a number or an expression."),
			"total_duration": probe.Prop("integer", "string").Def(0).Desc("Seconds of history kept per series, 0 for no limit; a number or an expression."),
		}),
		New: newAccumulate,
	})
}

type accumulate struct {
	in  *probe.Input
	out *probe.Stage
}

func newAccumulate(b *probe.Build) (probe.Processor, error) {
	in := b.Input("in")
	maxSamples, _ := numberProp(b, "max_samples", b.Props["max_samples"])
	duration, _ := numberProp(b, "total_duration", b.Props["total_duration"])
	if maxSamples < 0 {
		b.Errorf("properties.max_samples", "must not be negative")
	}
	if duration < 0 {
		b.Errorf("properties.total_duration", "must not be negative")
	}
	if b.Failed() {
		return nil, nil
	}
	out := b.Output("out", in.Type.WithTimeSeries(true), in.Stage.Keys)
	out.PossibleValues, out.StateCodes = in.Stage.PossibleValues, in.Stage.StateCodes
	out.MaxSamples = int(maxSamples)
	out.MaxDuration = time.Duration(duration * float64(time.Second))
	return &accumulate{in: in, out: out}, nil
}

func (p *accumulate) Eval(*probe.Tick) error {
	st := p.in.Stage
	p.out.Mirror(st)
	for i := 0; i < st.Len(); i++ {
		if st.ChangedNow(i) {
			p.out.Append(i, st.ValueAt(i, p.in.Column))
			continue
		}
		p.out.Expire(i)
	}
	return nil
}
