package processors

import "github.com/probe-agent/probe-agent/probe"

func init() {
	registerAggregate("max", "Max", "the maximum", []string{"max"}, []any{}, nil, func(*probe.Build) (func(*Moments) float64, error) {
		return func(m *Moments) float64 { return m.Max }, nil
	})
}
