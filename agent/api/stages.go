package api

import (
	"fmt"
	"strings"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/probe-agent/probe-agent/agent"
	"github.com/probe-agent/probe-agent/probe"
)

// DefaultStageSeriesLimit bounds the series one stage contributes to
// /metrics when api.stage_series_limit is 0.
const DefaultStageSeriesLimit = 10000

// stageCollector exposes the value of every stage whose producer has
// enable_streaming as Prometheus gauges, read at scrape time: one metric
// family per probe and stage (probe_stage_<probe>_<stage>), item keys as
// labels. The Apstra Telegraf input cannot carry probe values to
// Prometheus, so they are served here directly (docs/metrics.md).
type stageCollector struct {
	agent *agent.Agent
	limit int
}

func newStageCollector(a *agent.Agent, limit int) *stageCollector {
	if limit <= 0 {
		limit = DefaultStageSeriesLimit
	}
	return &stageCollector{agent: a, limit: limit}
}

var (
	descOmitted = prometheus.NewDesc("probe_agent_stage_series_omitted",
		"Items of a streamed stage left out of /metrics at the last scrape because the stage has more than api.stage_series_limit items.", []string{"probe_id", "stage"}, nil)
	descStageStale = prometheus.NewDesc("probe_agent_stage_values_withheld",
		"1 while stage values are withheld from /metrics because the collector has no data (missing data is not shown as its last value).", nil, nil)
)

// Describe sends nothing: the families depend on the probes loaded, so
// the collector is unchecked.
func (c *stageCollector) Describe(chan<- *prometheus.Desc) {}

func (c *stageCollector) Collect(ch chan<- prometheus.Metric) {
	withheld := c.agent.Stats().NoData != ""
	v := 0.0
	if withheld {
		v = 1
	}
	ch <- prometheus.MustNewConstMetric(descStageStale, prometheus.GaugeValue, v)
	if withheld {
		return
	}
	// Copy under the probe set's lock, emit after it: the registry reads
	// the channel at its own pace and must not hold up ticks.
	var snaps []stageSnapshot
	c.agent.Manager().Each(func(inst *probe.Instance) {
		if inst.Plan.Doc.Disabled {
			return // a disabled probe provides no data
		}
		for _, st := range inst.Stages() {
			if st.Streaming && st.Type.Kind != probe.Text {
				snaps = append(snaps, c.snapshot(inst, st))
			}
		}
	})
	for i := range snaps {
		snaps[i].emit(ch)
	}
}

// stageSnapshot is one stage's valid items as read under the lock. Item
// key values are the stage's own slices, which are replaced, never
// modified, so they may be read after the lock is released.
type stageSnapshot struct {
	desc                  *prometheus.Desc
	probeID, label, stage string
	state                 bool
	props                 [][]string
	nums                  []float64
	strs                  []string
	omitted               int
}

// constLabels are the labels every stage series carries; an item key of
// the same name is renamed key_<name>.
var constLabels = []string{"probe_id", "probe_label", "stage"}

func (c *stageCollector) snapshot(inst *probe.Instance, st *probe.Stage) stageSnapshot {
	labels := make([]string, 0, len(constLabels)+len(st.Keys)+1)
	labels = append(labels, constLabels...)
	for _, k := range st.Keys {
		labels = append(labels, itemLabel(k))
	}
	state := st.Type.Kind == probe.DiscreteState
	if state {
		labels = append(labels, "state")
	}
	help := fmt.Sprintf("Stage %q of probe %q (%s)", st.Name, inst.Plan.Label(), stageTypeName(st.Type))
	if u := st.Meta.Units.For("value"); u != "" {
		help += ", in " + u
	}
	if st.Meta.Description != "" {
		help += ": " + st.Meta.Description
	}
	if state {
		help += "; 1 for the item's current state"
	}
	sn := stageSnapshot{
		desc:    prometheus.NewDesc(StageMetricName(inst.ID(), st.Name), help, labels, nil),
		probeID: inst.ID(), label: inst.Plan.Label(), stage: st.Name, state: state,
	}
	for i := 0; i < st.Len(); i++ {
		if !st.Valid(i) {
			continue
		}
		if len(sn.props) == c.limit {
			sn.omitted++
			continue
		}
		sn.props = append(sn.props, st.Props(i))
		if state {
			sn.strs = append(sn.strs, st.Str(i, 0))
		} else {
			sn.nums = append(sn.nums, st.Num(i, 0))
		}
	}
	return sn
}

func (sn *stageSnapshot) emit(ch chan<- prometheus.Metric) {
	n := len(constLabels)
	for i, props := range sn.props {
		values := make([]string, 0, n+len(props)+1)
		values = append(values, sn.probeID, sn.label, sn.stage)
		values = append(values, props...)
		v := 1.0
		if sn.state {
			values = append(values, sn.strs[i])
		} else {
			v = sn.nums[i]
		}
		ch <- prometheus.MustNewConstMetric(sn.desc, prometheus.GaugeValue, v, values...)
	}
	if sn.omitted > 0 {
		ch <- prometheus.MustNewConstMetric(descOmitted, prometheus.GaugeValue, float64(sn.omitted), sn.probeID, sn.stage)
	}
}

// StageMetricName is the metric family of a probe's stage:
// probe_stage_<probe id>_<stage>, with every character Prometheus does not
// allow in a name replaced by "_".
func StageMetricName(probeID, stage string) string {
	return "probe_stage_" + sanitizeName(probeID) + "_" + sanitizeName(stage)
}

func sanitizeName(s string) string {
	var b strings.Builder
	for _, r := range s {
		if r == '_' || (r >= 'a' && r <= 'z') || (r >= 'A' && r <= 'Z') || (r >= '0' && r <= '9') {
			b.WriteRune(r)
		} else {
			b.WriteByte('_')
		}
	}
	return b.String()
}

func itemLabel(key string) string {
	l := sanitizeName(key)
	if l == "" || (l[0] >= '0' && l[0] <= '9') || strings.HasPrefix(l, "__") {
		l = "key_" + l
	}
	for _, c := range append(constLabels, "state") {
		if l == c {
			return "key_" + l
		}
	}
	return l
}

func stageTypeName(t probe.StageType) string {
	k := map[probe.Kind]string{probe.Number: "number", probe.DiscreteState: "discrete state", probe.Text: "text"}[t.Kind]
	if t.Set {
		k += " set"
	}
	if t.TimeSeries {
		k += " time series, latest sample"
	}
	return k
}
