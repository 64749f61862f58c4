package processors

import (
	"time"

	"github.com/probe-agent/probe-agent/probe"
)

func init() {
	probe.Register(&probe.Spec{
		Name:  "periodic_average",
		Label: "Periodic Average",
		Description: `Periodic Average Processor.

Every period seconds, each output item becomes the plain mean of the values its
input item had at each tick of that period (a value held for several ticks
counts once per tick). Periods end at multiples of period since the Unix
epoch, so that every device of a split probe (and one that got the probe
later) averages over the same intervals; the first period may be shorter. An item gets its first
value at the end of the first period it was seen in. Input is N or NS; output
has the same type and keys.`,
		Inputs:  map[string]probe.Port{"in": {Required: true, Types: numberNowTypes}},
		Outputs: map[string]probe.Port{"out": {Required: true, Types: numberNowTypes}},
		Schema: probe.Merge(streamingProps(), graphQueryProps(), map[string]*probe.Schema{
			"period": probe.Prop("integer", "string").Def(60).Desc("Averaging period in seconds; a number or an expression."),
		}),
		New: func(b *probe.Build) (probe.Processor, error) {
			period, _ := numberProp(b, "period", b.Props["period"])
			if period <= 0 && !b.Failed() {
				b.Errorf("properties.period", "must be positive, got %v", period)
			}
			if b.Failed() {
				return nil, nil
			}
			in := b.Input("in")
			return &periodicAverage{in: in, out: b.Output("out", in.Type, in.Stage.Keys), period: time.Duration(period * float64(time.Second))}, nil
		},
	})
}

type periodicAverage struct {
	in     *probe.Input
	out    *probe.Stage
	period time.Duration
	start  time.Time
	acc    perItem[sumCount]
}

type sumCount struct {
	sum float64
	n   int
}

func (p *periodicAverage) Eval(t *probe.Tick) error {
	st := p.in.Stage
	p.out.Mirror(st)
	acc := p.acc.sync(p.out)
	if p.start.IsZero() {
		// Align to the epoch: the period holding the first tick.
		ns, per := t.Time.UnixNano(), int64(p.period)
		p.start = time.Unix(0, ns-((ns%per)+per)%per)
	}
	// A tick at or after the end of the period closes it first, so each
	// tick counts in exactly one period.
	if elapsed := t.Time.Sub(p.start); elapsed >= p.period {
		for i := range acc {
			if acc[i].n > 0 {
				p.out.SetNum(i, acc[i].sum/float64(acc[i].n))
			}
			acc[i] = sumCount{}
		}
		p.start = p.start.Add(p.period * (elapsed / p.period))
	}
	for i := 0; i < st.Len(); i++ {
		if st.Valid(i) {
			acc[i].sum += p.in.Num(i)
			acc[i].n++
		}
	}
	return nil
}
