package controller

import (
	"github.com/prometheus/client_golang/prometheus"
)

// metrics are the controller's Prometheus metrics, on a registry of its
// own so that two controllers in one process (tests) do not collide.
type metrics struct {
	reg             *prometheus.Registry
	agents          prometheus.Gauge
	connected       prometheus.Gauge
	generation      prometheus.Gauge
	pushes          *prometheus.CounterVec
	batches         *prometheus.CounterVec
	partials        *prometheus.CounterVec
	bytes           *prometheus.CounterVec
	lost            *prometheus.CounterVec
	dropped         *prometheus.CounterVec
	staleDevices    *prometheus.GaugeVec
	partial         *prometheus.GaugeVec
	skipped         *prometheus.CounterVec
	tickSeconds     prometheus.Histogram
	anomaliesActive *prometheus.GaugeVec
	// The limits (limits.go) and the store.
	refused          *prometheus.CounterVec
	samplesCut       prometheus.Counter
	edgeAnomalyBytes prometheus.Gauge
	storeCorrupt     prometheus.Counter
}

func newMetrics() *metrics {
	m := &metrics{reg: prometheus.NewRegistry()}
	const ns = "probe_controller"
	m.agents = prometheus.NewGauge(prometheus.GaugeOpts{Namespace: ns, Name: "agents", Help: "Agents (switches) in the fabric."})
	m.connected = prometheus.NewGauge(prometheus.GaugeOpts{Namespace: ns, Name: "agents_connected", Help: "Agents with their part applied and their stage stream open."})
	m.generation = prometheus.NewGauge(prometheus.GaugeOpts{Namespace: ns, Name: "generation", Help: "Generation of the fabric probe set."})
	m.pushes = prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Name: "pushes_total", Help: "ApplyProbes calls to agents, by result (ok, error)."}, []string{"result"})
	m.batches = prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Name: "batches_received_total", Help: "Stage batches received, per device."}, []string{"device"})
	m.partials = prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Name: "partials_received_total", Help: "Stage updates (partials) received, per device."}, []string{"device"})
	m.bytes = prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Name: "bytes_received_total", Help: "Bytes of encoded stage updates received, per device."}, []string{"device"})
	m.lost = prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Name: "batches_lost_total", Help: "Batches missing from a stream (gaps in seq), per device."}, []string{"device"})
	m.dropped = prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Name: "batches_dropped_total", Help: "Batches an agent dropped because the controller read too slowly, per device."}, []string{"device"})
	m.staleDevices = prometheus.NewGaugeVec(prometheus.GaugeOpts{Namespace: ns, Name: "stale_devices", Help: "Devices left out of a probe's central result at the last tick."}, []string{"probe"})
	m.partial = prometheus.NewGaugeVec(prometheus.GaugeOpts{Namespace: ns, Name: "central_partial", Help: "1 when a probe's last central result leaves devices out."}, []string{"probe"})
	m.skipped = prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Name: "central_ticks_skipped_total", Help: "Central ticks skipped because more than max_missing_share of the devices were missing."}, []string{"probe"})
	m.tickSeconds = prometheus.NewHistogram(prometheus.HistogramOpts{Namespace: ns, Name: "central_tick_seconds", Help: "Time to evaluate every probe's central part once.",
		Buckets: prometheus.ExponentialBuckets(1e-5, 4, 10)})
	m.anomaliesActive = prometheus.NewGaugeVec(prometheus.GaugeOpts{Namespace: ns, Name: "anomalies_active", Help: "Active anomalies, by origin (central, edge)."}, []string{"origin"})
	m.refused = prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Name: "ingest_refused_total",
		Help: "What the controller's limits refused from the agents, by budget: stage updates with more items than limits.items_per_device or that would make a central stage hold more than limits.items_per_stage, edge anomalies past limits.edge_anomaly_memory (streamed, not kept)."}, []string{"budget"})
	m.samplesCut = prometheus.NewCounter(prometheus.CounterOpts{Namespace: ns, Name: "ingest_samples_cut_total",
		Help: "Samples cut from the series of stage updates that carried more than limits.samples_per_series (the oldest are cut)."})
	m.edgeAnomalyBytes = prometheus.NewGauge(prometheus.GaugeOpts{Namespace: ns, Name: "edge_anomaly_memory_bytes",
		Help: "Memory the devices' active anomalies kept by the controller are charged, against limits.edge_anomaly_memory."})
	m.storeCorrupt = prometheus.NewCounter(prometheus.CounterOpts{Namespace: ns, Name: "store_corrupt_total",
		Help: "Times the stored probe set (state_dir) was found corrupt at start and its files set aside (probes.json.corrupt-TIME)."})
	for _, b := range []string{"limits.items_per_device", "limits.items_per_stage", "limits.edge_anomaly_memory"} {
		m.refused.WithLabelValues(b)
	}
	m.reg.MustRegister(m.refused, m.samplesCut, m.edgeAnomalyBytes, m.storeCorrupt)
	m.reg.MustRegister(m.agents, m.connected, m.generation, m.pushes, m.batches, m.partials, m.bytes, m.lost, m.dropped,
		m.staleDevices, m.partial, m.skipped, m.tickSeconds, m.anomaliesActive)
	return m
}
