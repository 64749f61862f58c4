package processors

import "github.com/probe-agent/probe-agent/probe"

func init() {
	registerAggregate("min", "Min", "the minimum", []string{"min"}, []any{}, nil, func(*probe.Build) (func(*Moments) float64, error) {
		return func(m *Moments) float64 { return m.Min }, nil
	})
}
