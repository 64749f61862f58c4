package processors

import "github.com/probe-agent/probe-agent/probe"

func init() {
	registerAggregate("average", "Average", "the arithmetic mean", false, []any{}, nil, func(*probe.Build) (func(*Moments) float64, error) {
		return func(m *Moments) float64 { return m.Mean }, nil
	})
}
