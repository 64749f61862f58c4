package api

import "github.com/prometheus/client_golang/prometheus"

// connectionCollector exports the REST listener's connection bound
// (api.max_connections, connlimit): how close the API is to it and how
// often clients had to wait or idle connections were closed for them.
type connectionCollector struct{ s *Server }

var (
	descConnOpen = prometheus.NewDesc("probe_agent_api_connections_open",
		"Connections the REST API holds now (at most probe_agent_api_connections_max).", nil, nil)
	descConnMax = prometheus.NewDesc("probe_agent_api_connections_max",
		"api.max_connections in force (lowered at start when the descriptor limit is too small).", nil, nil)
	descConnWaits = prometheus.NewDesc("probe_agent_api_connection_waits_total",
		"New clients that found every connection slot taken (they waited in the accept backlog).", nil, nil)
	descConnReclaimed = prometheus.NewDesc("probe_agent_api_idle_connections_closed_total",
		"Idle keep-alive connections closed to make room for a new client.", nil, nil)
)

func (c connectionCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descConnOpen, descConnMax, descConnWaits, descConnReclaimed} {
		ch <- d
	}
}

func (c connectionCollector) Collect(ch chan<- prometheus.Metric) {
	l := c.s.limit
	if l == nil {
		return // served on a listener the caller opened: no bound here
	}
	ch <- prometheus.MustNewConstMetric(descConnOpen, prometheus.GaugeValue, float64(l.Open()))
	ch <- prometheus.MustNewConstMetric(descConnMax, prometheus.GaugeValue, float64(l.Max()))
	ch <- prometheus.MustNewConstMetric(descConnWaits, prometheus.CounterValue, float64(l.Waits()))
	ch <- prometheus.MustNewConstMetric(descConnReclaimed, prometheus.CounterValue, float64(l.Reclaimed()))
}
