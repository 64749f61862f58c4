package api

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/probe-agent/probe-agent/agent"
	"github.com/probe-agent/probe-agent/probe"
)

// agentCollector exports the agent's counters when scraped, from
// snapshots (agent.Stats, the Manager's probe list); the tick loop is not
// instrumented beyond plain counters.
type agentCollector struct {
	agent *agent.Agent
}

func newAgentCollector(a *agent.Agent) *agentCollector { return &agentCollector{agent: a} }

var streamLabels = []string{"channel", "receiver"}

var (
	descTicks = prometheus.NewDesc("probe_agent_ticks_total",
		"Ticks evaluated (the collector answered and every probe was evaluated).", nil, nil)
	descTickDuration = prometheus.NewDesc("probe_agent_tick_duration_seconds",
		"Duration of evaluated ticks: collection, evaluation and emission.", nil, nil)
	descLastTick = prometheus.NewDesc("probe_agent_last_tick_timestamp_seconds",
		"Unix time the last evaluated tick completed (0 before the first).", nil, nil)
	descCollectorErrors = prometheus.NewDesc("probe_agent_collector_errors_total",
		"Ticks skipped because the collector failed.", nil, nil)
	descNoDataTicks = prometheus.NewDesc("probe_agent_collector_no_data_ticks_total",
		"Ticks skipped because the collector had no data (e.g. the gNMI stream was down): nothing evaluated, nothing sent.", nil, nil)
	descHasData = prometheus.NewDesc("probe_agent_collector_has_data",
		"0 while the collector has no data (ticks are skipped), else 1.", nil, nil)
	descQueueDepth = prometheus.NewDesc("probe_agent_stream_queue_depth",
		"Messages queued for a streaming receiver.", streamLabels, nil)
	descDropped = prometheus.NewDesc("probe_agent_stream_dropped_total",
		"Messages discarded for a streaming receiver because its queue was full (oldest first).", streamLabels, nil)
	descSent = prometheus.NewDesc("probe_agent_stream_sent_total",
		"Deprecated name of probe_agent_stream_written_total (same value): frames written to the connection, not delivered.", streamLabels, nil)
	descDroppedBytes = prometheus.NewDesc("probe_agent_stream_dropped_queue_bytes_total",
		"The part of probe_agent_stream_dropped_total due to the byte bound (queue.bytes); the rest is due to queue.messages.", streamLabels, nil)
	descQueueBytes = prometheus.NewDesc("probe_agent_stream_queue_bytes",
		"Memory held by a streaming receiver's queue (encoded frames in chunks), bounded by queue.bytes.", streamLabels, nil)
	descWritten = prometheus.NewDesc("probe_agent_stream_written_total",
		"Frames written to a streaming receiver's connection: the kernel accepted them. Not delivery: only a sequenced receiver's gaps prove what arrived (docs/metrics.md).", streamLabels, nil)
	descWrittenOnFailed = prometheus.NewDesc("probe_agent_stream_written_on_failed_connections_total",
		"Frames written on connections that then failed (write error, receiver closed or reset): accepted by the kernel, never confirmed read; the upper bound of what those failures lost.", streamLabels, nil)
	descReconnects = prometheus.NewDesc("probe_agent_stream_reconnects_total",
		"Successful connections to a streaming receiver after the first.", streamLabels, nil)
	descConnectFailures = prometheus.NewDesc("probe_agent_stream_connect_failures_total",
		"Failed attempts to connect to a streaming receiver (the log has the reason: a Warn at the first of an outage, then at most one a minute).", streamLabels, nil)
	descConnected = prometheus.NewDesc("probe_agent_stream_connected",
		"1 while connected to the streaming receiver, else 0.", streamLabels, nil)
	descProbes = prometheus.NewDesc("probe_agent_probes",
		"Probes by state (created, operational, error, disabled).", []string{"state"}, nil)
	descRaised = prometheus.NewDesc("probe_agent_anomalies_raised_total",
		"Anomalies raised (clears not counted) since start.", nil, nil)
	descActive = prometheus.NewDesc("probe_agent_anomalies_active",
		"Anomalies currently raised.", nil, nil)
	descStoreCorrupt = prometheus.NewDesc("probe_agent_state_store_corrupt_total",
		"Probe store files (state_dir) found corrupt at start and moved aside as NAME.corrupt-TIME; the log has the error.", nil, nil)
)

func (c *agentCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descTicks, descTickDuration, descLastTick, descCollectorErrors, descNoDataTicks, descHasData,
		descQueueDepth, descDropped, descDroppedBytes, descQueueBytes, descSent, descWritten, descWrittenOnFailed, descReconnects, descConnectFailures, descConnected, descProbes, descRaised, descActive, descStoreCorrupt} {
		ch <- d
	}
}

func (c *agentCollector) Collect(ch chan<- prometheus.Metric) {
	st := c.agent.Stats()
	ch <- prometheus.MustNewConstMetric(descTicks, prometheus.CounterValue, float64(st.Ticks))
	ch <- prometheus.MustNewConstHistogram(descTickDuration, st.Ticks, st.TickDurationSum, cumulativeBuckets(st.TickDurationCounts))
	last := 0.0
	if !st.LastTick.IsZero() {
		last = float64(st.LastTick.UnixNano()) / 1e9
	}
	ch <- prometheus.MustNewConstMetric(descLastTick, prometheus.GaugeValue, last)
	ch <- prometheus.MustNewConstMetric(descCollectorErrors, prometheus.CounterValue, float64(st.CollectorErrors))
	ch <- prometheus.MustNewConstMetric(descNoDataTicks, prometheus.CounterValue, float64(st.NoDataTicks))
	hasData := 1.0
	if st.NoData != "" {
		hasData = 0
	}
	ch <- prometheus.MustNewConstMetric(descHasData, prometheus.GaugeValue, hasData)
	ch <- prometheus.MustNewConstMetric(descRaised, prometheus.CounterValue, float64(st.AnomaliesRaised))
	for _, s := range st.Streams {
		ch <- prometheus.MustNewConstMetric(descQueueDepth, prometheus.GaugeValue, float64(s.QueueDepth), s.Channel, s.Receiver)
		ch <- prometheus.MustNewConstMetric(descDropped, prometheus.CounterValue, float64(s.Dropped), s.Channel, s.Receiver)
		ch <- prometheus.MustNewConstMetric(descDroppedBytes, prometheus.CounterValue, float64(s.DroppedBytes), s.Channel, s.Receiver)
		ch <- prometheus.MustNewConstMetric(descQueueBytes, prometheus.GaugeValue, float64(s.QueueBytes), s.Channel, s.Receiver)
		ch <- prometheus.MustNewConstMetric(descSent, prometheus.CounterValue, float64(s.Sent), s.Channel, s.Receiver)
		ch <- prometheus.MustNewConstMetric(descWritten, prometheus.CounterValue, float64(s.Sent), s.Channel, s.Receiver)
		ch <- prometheus.MustNewConstMetric(descWrittenOnFailed, prometheus.CounterValue, float64(s.WrittenOnFailed), s.Channel, s.Receiver)
		ch <- prometheus.MustNewConstMetric(descReconnects, prometheus.CounterValue, float64(s.Reconnects), s.Channel, s.Receiver)
		ch <- prometheus.MustNewConstMetric(descConnectFailures, prometheus.CounterValue, float64(s.ConnectFailures), s.Channel, s.Receiver)
		connected := 0.0
		if s.Connected {
			connected = 1
		}
		ch <- prometheus.MustNewConstMetric(descConnected, prometheus.GaugeValue, connected, s.Channel, s.Receiver)
	}
	states := map[probe.State]int{probe.StateCreated: 0, probe.StateOperational: 0, probe.StateError: 0, agent.StateDisabled: 0}
	active := 0
	for _, info := range c.agent.Manager().List() {
		states[info.State]++
		active += info.AnomalyCount
	}
	for state, n := range states {
		ch <- prometheus.MustNewConstMetric(descProbes, prometheus.GaugeValue, float64(n), string(state))
	}
	ch <- prometheus.MustNewConstMetric(descActive, prometheus.GaugeValue, float64(active))
	ch <- prometheus.MustNewConstMetric(descStoreCorrupt, prometheus.CounterValue, float64(c.agent.Manager().StoreCorrupt()))
}

// cumulativeBuckets turns per-bucket counts (the last one beyond the
// largest bound) into the cumulative map a const histogram takes.
func cumulativeBuckets(counts []uint64) map[float64]uint64 {
	out := make(map[float64]uint64, len(agent.TickDurationBuckets))
	var sum uint64
	for i, bound := range agent.TickDurationBuckets {
		if i < len(counts) {
			sum += counts[i]
		}
		out[bound] = sum
	}
	return out
}
