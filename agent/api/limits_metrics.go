package api

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/probe-agent/probe-agent/agent"
	"github.com/probe-agent/probe-agent/probe"
)

// limitsCollector exports what the probes hold against the resource
// budgets (limits:) and what the budgets refused them, so an operator
// sees a probe living at its budget before its users miss history.
type limitsCollector struct {
	manager *agent.Manager
}

var (
	descStageMemory = prometheus.NewDesc("probe_agent_stage_memory_bytes",
		"Memory the probes' stage data holds (item columns and time series), as charged to limits.stage_memory.", nil, nil)
	descStageMemoryLimit = prometheus.NewDesc("probe_agent_stage_memory_limit_bytes",
		"The stage-data budget, limits.stage_memory.", nil, nil)
	descStageMemoryRefused = prometheus.NewDesc("probe_agent_stage_memory_refused_total",
		"Requests for stage memory the budget refused (a series kept fewer samples, or a layout was refused).", nil, nil)
	descSamplesDropped = prometheus.NewDesc("probe_agent_stage_samples_dropped_total",
		"Samples a probe's time series dropped before max_samples or total_duration would have, because limits.stage_memory refused them room (probes with none are not listed).", []string{"probe"}, nil)
	descLayoutsRefused = prometheus.NewDesc("probe_agent_stage_layouts_refused_total",
		"Stage layouts refused for more items than limits.items_per_stage or more memory than limits.stage_memory left (the probe is then in error; probes with none are not listed).", []string{"probe"}, nil)
)

func (c *limitsCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descStageMemory, descStageMemoryLimit, descStageMemoryRefused, descSamplesDropped, descLayoutsRefused} {
		ch <- d
	}
}

func (c *limitsCollector) Collect(ch chan<- prometheus.Metric) {
	b := c.manager.StageMemory()
	ch <- prometheus.MustNewConstMetric(descStageMemory, prometheus.GaugeValue, float64(b.Used()))
	ch <- prometheus.MustNewConstMetric(descStageMemoryLimit, prometheus.GaugeValue, float64(b.Limit()))
	ch <- prometheus.MustNewConstMetric(descStageMemoryRefused, prometheus.CounterValue, float64(b.Refused()))
	c.manager.Each(func(inst *probe.Instance) {
		u := inst.Usage()
		if u.SamplesDropped > 0 {
			ch <- prometheus.MustNewConstMetric(descSamplesDropped, prometheus.CounterValue, float64(u.SamplesDropped), inst.ID())
		}
		if u.LayoutsRefused > 0 {
			ch <- prometheus.MustNewConstMetric(descLayoutsRefused, prometheus.CounterValue, float64(u.LayoutsRefused), inst.ID())
		}
	})
}
