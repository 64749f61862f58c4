package processors

import (
	"math"
	"time"

	"github.com/probe-agent/probe-agent/probe"
)

func init() {
	probe.Register(&probe.Spec{
		Name:  "periodic_change",
		Label: "Periodic Change",
		Description: `Periodic Change Processor.

Every period seconds, each output item becomes how much its input item grew
during that period: its last value minus its value at the start of the period.
The input should be a monotonically non-decreasing counter (e.g. a flap or
violation count). Periods start at the first tick; the first tick at or after
the end of a period closes it, and its sample counts in the period it closes,
so a period's start is the last sample of the one before and the changes of
consecutive periods add up to the total change. An item first seen mid-period
reports the change since it was first seen. A decrease is taken as a counter
reset: that step adds nothing and counting resumes from the new value, so the
output is never negative (rather than report a negative or spiked change).
Missing, NaN and infinite input values are skipped. An item with no new sample
in a period has no value for it, and one with no sample at all during a period
starts afresh when it returns. Input is N or NS; output has the same type and
keys.`,
		Inputs:  map[string]probe.Port{"in": {Required: true, Types: numberNowTypes}},
		Outputs: map[string]probe.Port{"out": {Required: true, Types: numberNowTypes}},
		Schema:  periodicDeltaSchema("Period in seconds over which the change is measured; a number or a constant expression."),
		New:     func(b *probe.Build) (probe.Processor, error) { return newPeriodicDelta(b, false) },
	})
}

// periodicDeltaSchema is the property schema of periodic_change and
// periodic_rate. The default period, 60 s, is the value every corpus probe
// uses and the default of periodic_average.
func periodicDeltaSchema(periodDesc string) *probe.Schema {
	return probe.Merge(streamingProps(), graphQueryProps(), map[string]*probe.Schema{
		"period": probe.Prop("integer", "string").Def(60).Desc(periodDesc),
	})
}

// maxPeriod bounds period so that it fits a time.Duration with room to spare.
const maxPeriod = 1e9 // seconds, about 31 years

// periodicDelta implements periodic_change and, with rate set, periodic_rate.
type periodicDelta struct {
	in     *probe.Input
	out    *probe.Stage
	period time.Duration
	rate   bool
	start  time.Time
	state  perItem[deltaState]
}

// deltaState is one item's progress through the current period.
type deltaState struct {
	prev    float64   // last sample
	prevAt  time.Time // its time
	from    time.Time // time of the sample the period's change is measured from
	sum     float64   // non-negative increments since from
	steps   int       // samples after from
	seen    bool      // prev holds a sample
	sampled bool      // a sample arrived during the current period
}

func newPeriodicDelta(b *probe.Build, rate bool) (probe.Processor, error) {
	period, ok := numberProp(b, "period", b.Props["period"])
	switch {
	case !ok || b.Failed():
	case period < 1:
		b.Errorf("properties.period", "must be at least 1 second, got %v", period)
	case period > maxPeriod:
		b.Errorf("properties.period", "must be at most %v seconds, got %v", maxPeriod, period)
	}
	if b.Failed() {
		return nil, nil
	}
	in := b.Input("in")
	return &periodicDelta{
		in:     in,
		out:    b.Output("out", in.Type, in.Stage.Keys),
		period: time.Duration(period * float64(time.Second)),
		rate:   rate,
	}, nil
}

func (p *periodicDelta) Eval(t *probe.Tick) error {
	st := p.in.Stage
	p.out.Mirror(st)
	items := p.state.sync(p.out)
	if p.start.IsZero() {
		p.start = t.Time
	}
	for i := 0; i < st.Len(); i++ {
		if !st.Valid(i) {
			continue
		}
		v := p.in.Num(i)
		if math.IsNaN(v) || math.IsInf(v, 0) {
			continue
		}
		s := &items[i]
		s.sampled = true
		if !s.seen {
			*s = deltaState{prev: v, prevAt: t.Time, from: t.Time, seen: true, sampled: true}
			continue
		}
		if d := v - s.prev; d > 0 {
			s.sum += d
		}
		s.prev, s.prevAt = v, t.Time
		s.steps++
	}
	elapsed := t.Time.Sub(p.start)
	if elapsed < p.period {
		return nil
	}
	for i := range items {
		s := &items[i]
		if s.steps > 0 {
			p.emit(i, s)
		} else {
			p.out.Invalidate(i)
		}
		if !s.sampled {
			*s = deltaState{}
		}
		s.sum, s.steps, s.from, s.sampled = 0, 0, s.prevAt, false
	}
	p.start = p.start.Add(p.period * (elapsed / p.period))
	return nil
}

func (p *periodicDelta) emit(i int, s *deltaState) {
	if !p.rate {
		p.out.SetNum(i, s.sum)
		return
	}
	secs := s.prevAt.Sub(s.from).Seconds()
	if secs <= 0 { // every sample of the period had the same time
		p.out.Invalidate(i)
		return
	}
	p.out.SetNum(i, s.sum/secs)
}
