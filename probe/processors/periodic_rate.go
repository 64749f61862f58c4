package processors

import "github.com/probe-agent/probe-agent/probe"

func init() {
	probe.Register(&probe.Spec{
		Name:  "periodic_rate",
		Label: "Periodic Rate",
		Description: `Periodic Rate Processor.

Every period seconds, each output item becomes its input item's rate of
change per second over that period: the change periodic_change reports (last
value minus the value at the start of the period, counter resets re-based so
never negative) divided by the seconds between those two samples, so irregular
ticks do not skew it. Periods start at the first tick; the first tick at or
after the end of a period closes it, and its sample counts in the period it
closes. Missing, NaN and infinite input values are skipped; an item with no
new sample in a period has no value for it, and one with no sample at all
during a period starts afresh when it returns. Input is N or NS; output has
the same type and keys.`,
		Inputs:  map[string]probe.Port{"in": {Required: true, Types: numberNowTypes}},
		Outputs: map[string]probe.Port{"out": {Required: true, Types: numberNowTypes}},
		Schema:  periodicDeltaSchema("Period in seconds over which the rate is measured; a number or a constant expression."),
		New:     func(b *probe.Build) (probe.Processor, error) { return newPeriodicDelta(b, true) },
	})
}
