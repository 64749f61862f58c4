package processors

import "github.com/probe-agent/probe-agent/probe"

func init() {
	registerAggregate("std_dev", "Standard Deviation", "the standard deviation (divisor N - ddof; NaN when N <= ddof)", []string{"mean", "m2"},
		[]any{"system_id"},
		map[string]*probe.Schema{
			"ddof": probe.Prop("integer").Def(0).Min(0).Titled("ddof").
				Desc("Standard deviation correction value, is used to correct divisor (N - ddof) in calculations, e.g. ddof=0 - uncorrected sample standard deviation, ddof=1 - corrected sample standard deviation."),
		},
		func(b *probe.Build) (func(*Moments) float64, error) {
			var cfg struct {
				DDOF int `json:"ddof"`
			}
			if err := b.Decode(&cfg); err != nil {
				return nil, err
			}
			return func(m *Moments) float64 { return m.StdDev(cfg.DDOF) }, nil
		})
}
