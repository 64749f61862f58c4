package processors

import "github.com/probe-agent/probe-agent/probe"

func init() {
	registerAggregate("average", "Average", "the arithmetic mean", []string{"sum"}, []any{}, nil, func(*probe.Build) (func(*Moments) float64, error) {
		return func(m *Moments) float64 { return m.Sum / m.N }, nil
	})
}
