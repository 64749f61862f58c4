package controller

import (
	"fmt"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/probe-agent/probe-agent/bus"
	"github.com/probe-agent/probe-agent/limits"
	"github.com/probe-agent/probe-agent/probe"
)

// LimitsConfig is the limits: section: the engine's budgets, as the
// agent's (docs/probes.md, "Limits"), applied to every fabric probe at
// validation and to the central parts the controller evaluates; and the
// bounds on what the agents send, which would otherwise grow the
// controller's state with its input. 0 or absent takes the default.
type LimitsConfig struct {
	limits.Config `yaml:",inline"`
	// ProbesPerFabric bounds the fabric probe set (REST, probes_dir and
	// the stored set together); default 1000.
	ProbesPerFabric int `yaml:"probes_per_fabric"`
	// ItemsPerDevice bounds the items one device's update carries for one
	// stage; an update with more is refused before it is stored. Default:
	// items_per_stage.
	ItemsPerDevice int `yaml:"items_per_device"`
	// EdgeAnomalyMemory bounds the memory the devices' active anomalies
	// take in the controller (it keeps them to list and clear them); a
	// raise past it is streamed but not kept. Default 32MiB.
	EdgeAnomalyMemory limits.ByteSize `yaml:"edge_anomaly_memory"`
}

// Defaults of the controller's own budgets.
const (
	// DefaultProbesPerFabric is the agent's default probes_per_agent:
	// every fabric probe runs on every device.
	DefaultProbesPerFabric = probe.DefaultProbesPerAgent
	// DefaultEdgeAnomalyMemory is about 100,000 active anomalies of the
	// usual size (an anomaly's JSON is 150-300 bytes).
	DefaultEdgeAnomalyMemory = 32 << 20
)

// edgeAnomalyOverhead is what one kept edge anomaly costs besides its
// strings: the map entry, the Anomaly and the slice headers.
const edgeAnomalyOverhead = 160

// Engine returns the budgets as the engine takes them (zero fields stay
// zero: the engine's defaults); the engine carries probes_per_fabric in
// ProbesPerAgent.
func (c LimitsConfig) Engine() probe.Limits { return c.Config.Engine(c.ProbesPerFabric) }

// WithDefaults returns c with every budget set.
func (c LimitsConfig) WithDefaults() LimitsConfig {
	e := c.Engine().WithDefaults()
	c.SamplesPerSeries, c.ItemsPerStage, c.ProcessorsPerProbe, c.StageMemory = e.SamplesPerSeries, e.ItemsPerStage, e.ProcessorsPerProbe, limits.ByteSize(e.StageMemory)
	if c.ProbesPerFabric == 0 {
		c.ProbesPerFabric = DefaultProbesPerFabric
	}
	if c.ItemsPerDevice == 0 {
		c.ItemsPerDevice = c.ItemsPerStage
	}
	if c.EdgeAnomalyMemory == 0 {
		c.EdgeAnomalyMemory = DefaultEdgeAnomalyMemory
	}
	return c
}

// check reports budgets that cannot be used, by key.
func (c LimitsConfig) check(bad func(key, format string, args ...any)) {
	c.Config.Check(bad)
	if c.ProbesPerFabric < 0 {
		bad("limits.probes_per_fabric", "%d is negative (0 for the default, %d)", c.ProbesPerFabric, DefaultProbesPerFabric)
	}
	if c.ItemsPerDevice < 0 {
		bad("limits.items_per_device", "%d is negative (0 for the default, items_per_stage)", c.ItemsPerDevice)
	} else if d := c.WithDefaults(); c.ItemsPerStage >= 0 && d.ItemsPerDevice > d.ItemsPerStage {
		bad("limits.items_per_device", "%d is over items_per_stage (%d): a central stage could never hold one device's update", c.ItemsPerDevice, d.ItemsPerStage)
	}
	if c.EdgeAnomalyMemory < 0 {
		bad("limits.edge_anomaly_memory", "%d is negative (0 for the default, %s)", c.EdgeAnomalyMemory, limits.ByteSize(DefaultEdgeAnomalyMemory))
	}
}

// ProbeOptions are the options fabric probes are compiled with: the
// budgets of cfg and the stage-memory budget every central part shares.
func (c *Config) ProbeOptions(memory *probe.MemoryBudget) probe.Options {
	return probe.Options{Limits: c.Limits.Engine(), Memory: memory}
}

// ingestLimits are the bounds the ingest path applies, kept under cmu
// (the configuration is under mu, which ingest does not take).
type ingestLimits struct {
	itemsPerDevice    int
	itemsPerStage     int
	samplesPerSeries  int
	edgeAnomalyMemory int64
}

func (c LimitsConfig) ingest() ingestLimits {
	d := c.WithDefaults()
	return ingestLimits{itemsPerDevice: d.ItemsPerDevice, itemsPerStage: d.ItemsPerStage, samplesPerSeries: d.SamplesPerSeries, edgeAnomalyMemory: int64(d.EdgeAnomalyMemory)}
}

// probeBudgetError refuses a probe set of total probes, over
// limits.probes_per_fabric, naming over, the first probe past the budget.
func (c *Controller) probeBudgetError(total int, over *compiled) error {
	return &ProbeError{Probe: fmt.Sprintf("%q", firstNonEmpty(over.label, over.id)), Problems: []string{
		fmt.Sprintf("the fabric would have %d probes; the budget is %d probes per fabric (limits.probes_per_fabric)", total, c.probeBudgetLocked())}}
}

// probeBudgetLocked is limits.probes_per_fabric.
func (c *Controller) probeBudgetLocked() int { return c.cfg.Limits.WithDefaults().ProbesPerFabric }

// stoppedByBudget reports whether a budget stopped inst: a stage layout
// was refused and the instance is in error. The engine does not evaluate
// such an instance again; the controller starts a fresh one at the next
// change of the probe set or reload.
func stoppedByBudget(inst *probe.Instance) bool {
	state, _ := inst.State()
	return state == probe.StateError && inst.Usage().LayoutsRefused > 0
}

// edgeAnomalyCost is what keeping a is charged against
// limits.edge_anomaly_memory.
func edgeAnomalyCost(key string, a *Anomaly) int64 {
	return int64(len(key) + len(a.Probe) + len(a.Stage) + len(a.ItemID) + len(a.Device) + len(a.JSON) + edgeAnomalyOverhead)
}

// keepEdgeAnomalyLocked keeps (or replaces) an edge anomaly within
// limits.edge_anomaly_memory; it reports false, counted, when the budget
// has no room for it.
func (c *Controller) keepEdgeAnomalyLocked(key string, a Anomaly) bool {
	cost := edgeAnomalyCost(key, &a)
	var old int64
	if prev, ok := c.edgeAnoms[key]; ok {
		old = edgeAnomalyCost(key, &prev)
	}
	if c.edgeBytes-old+cost > c.ingest.edgeAnomalyMemory {
		c.metrics.refused.WithLabelValues("limits.edge_anomaly_memory").Inc()
		if now := time.Now(); now.Sub(c.edgeWarned) > time.Minute {
			c.edgeWarned = now
			c.log.Warn("edge anomaly not kept: the devices' active anomalies are at their budget (limits.edge_anomaly_memory); it is streamed but not listed",
				"device", a.Device, "probe", a.Probe, "item", a.ItemID, "used", limits.ByteSize(c.edgeBytes), "budget", limits.ByteSize(c.ingest.edgeAnomalyMemory))
		}
		return false
	}
	c.edgeAnoms[key] = a
	c.edgeBytes += cost - old
	c.metrics.edgeAnomalyBytes.Set(float64(c.edgeBytes))
	return true
}

// forgetEdgeAnomalyLocked drops a kept edge anomaly.
func (c *Controller) forgetEdgeAnomalyLocked(key string) {
	if prev, ok := c.edgeAnoms[key]; ok {
		c.edgeBytes -= edgeAnomalyCost(key, &prev)
		delete(c.edgeAnoms, key)
		c.metrics.edgeAnomalyBytes.Set(float64(c.edgeBytes))
	}
}

// admitUpdateLocked applies the ingest bounds to one decoded update
// before it is stored: more items than limits.items_per_device refuses it
// (false); series longer than limits.samples_per_series are cut to their
// newest samples (the engine would cut them anyway, but only after the
// update was stored whole).
func (c *Controller) admitUpdateLocked(u *probe.StageUpdate) bool {
	lim := c.ingest
	if len(u.Items) > lim.itemsPerDevice {
		c.metrics.refused.WithLabelValues("limits.items_per_device").Inc()
		return false
	}
	for i := range u.Items {
		if s := u.Items[i].Samples; len(s) > lim.samplesPerSeries {
			c.metrics.samplesCut.Add(float64(len(s) - lim.samplesPerSeries))
			u.Items[i].Samples = s[len(s)-lim.samplesPerSeries:]
		}
	}
	return true
}

// limitsCollector exports what the central parts hold against the
// budgets and what the budgets refused them, as the agent's.
type limitsCollector struct{ c *Controller }

var (
	descStageMemory = prometheus.NewDesc("probe_controller_stage_memory_bytes",
		"Memory the central parts' stage data holds (item columns and time series), as charged to limits.stage_memory.", nil, nil)
	descStageMemoryLimit = prometheus.NewDesc("probe_controller_stage_memory_limit_bytes",
		"The central parts' stage-data budget, limits.stage_memory.", nil, nil)
	descStageMemoryRefused = prometheus.NewDesc("probe_controller_stage_memory_refused_total",
		"Requests for stage memory the budget refused (a series kept fewer samples, or a layout was refused).", nil, nil)
	descSamplesDropped = prometheus.NewDesc("probe_controller_stage_samples_dropped_total",
		"Samples a central part's time series dropped before max_samples or total_duration would have, because limits.stage_memory refused them room (probes with none are not listed).", []string{"probe"}, nil)
	descLayoutsRefused = prometheus.NewDesc("probe_controller_stage_layouts_refused_total",
		"Central stage layouts refused for more items than limits.items_per_stage or more memory than limits.stage_memory left (the central part is then in error; probes with none are not listed).", []string{"probe"}, nil)
)

func (l limitsCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descStageMemory, descStageMemoryLimit, descStageMemoryRefused, descSamplesDropped, descLayoutsRefused} {
		ch <- d
	}
}

func (l limitsCollector) Collect(ch chan<- prometheus.Metric) {
	b := l.c.memory
	ch <- prometheus.MustNewConstMetric(descStageMemory, prometheus.GaugeValue, float64(b.Used()))
	ch <- prometheus.MustNewConstMetric(descStageMemoryLimit, prometheus.GaugeValue, float64(b.Limit()))
	ch <- prometheus.MustNewConstMetric(descStageMemoryRefused, prometheus.CounterValue, float64(b.Refused()))
	for id, u := range l.c.centralUsage() {
		if u.SamplesDropped > 0 {
			ch <- prometheus.MustNewConstMetric(descSamplesDropped, prometheus.CounterValue, float64(u.SamplesDropped), id)
		}
		if u.LayoutsRefused > 0 {
			ch <- prometheus.MustNewConstMetric(descLayoutsRefused, prometheus.CounterValue, float64(u.LayoutsRefused), id)
		}
	}
}

// centralUsage is each central part's use of the budgets, by probe: the
// member's owned probes with fanin.
func (c *Controller) centralUsage() map[string]probe.Usage {
	c.cmu.Lock()
	defer c.cmu.Unlock()
	out := map[string]probe.Usage{}
	if c.fanin != nil {
		for _, id := range c.fanin.member.Owned() {
			c.fanin.member.Inspect(id, func(inst *probe.Instance, _ bus.ProbeStatus) { out[id] = inst.Usage() })
		}
		return out
	}
	for id, ce := range c.centrals {
		out[id] = ce.inst.Usage()
	}
	return out
}

// LimitsStatus is what /status shows of the budgets.
type LimitsStatus struct {
	StageMemory      int64 `json:"stage_memory_bytes"`
	StageMemoryLimit int64 `json:"stage_memory_limit_bytes"`
	EdgeAnomalies    int64 `json:"edge_anomaly_memory_bytes"`
	EdgeAnomalyLimit int64 `json:"edge_anomaly_memory_limit_bytes"`
}

func (c *Controller) limitsStatus() LimitsStatus {
	c.cmu.Lock()
	defer c.cmu.Unlock()
	return LimitsStatus{StageMemory: c.memory.Used(), StageMemoryLimit: c.memory.Limit(), EdgeAnomalies: c.edgeBytes, EdgeAnomalyLimit: c.ingest.edgeAnomalyMemory}
}
