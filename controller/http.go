package controller

import (
	"encoding/json"
	"log/slog"
	"net"
	"net/http"
	"slices"

	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/probe-agent/probe-agent/probe"
	"github.com/probe-agent/probe-agent/restapi"
)

// Status is the controller's state in one document: what /status serves
// for operators and tests until the REST API serves the same per path.
type Status struct {
	BlueprintID string          `json:"blueprint_id"`
	Generation  uint64          `json:"generation"`
	Agents      []AgentStatus   `json:"agents"`
	Probes      []ProbeStatus   `json:"probes"`
	Central     []CentralResult `json:"central"`
	Anomalies   []Anomaly       `json:"anomalies"`
	// StoreCorrupt counts the times the stored probe set was found corrupt
	// at start; StoreSetAside are the files it was moved to.
	StoreCorrupt  uint64       `json:"store_corrupt"`
	StoreSetAside []string     `json:"store_set_aside,omitempty"`
	Limits        LimitsStatus `json:"limits"`
}

// CentralResult is one probe's central part: the status of its last tick
// and its stages as the stage API renders them.
type CentralResult struct {
	CentralStatus
	Stages map[string]json.RawMessage `json:"stages"`
}

// Status gathers the controller's state.
func (c *Controller) Status() Status {
	c.mu.Lock()
	st := Status{BlueprintID: c.cfg.BlueprintID, Generation: c.generation, StoreCorrupt: c.storeCorrupt, StoreSetAside: slices.Clone(c.storeMoved)}
	c.mu.Unlock()
	st.Limits = c.limitsStatus()
	st.Agents, st.Probes, st.Anomalies = c.Agents(), c.Probes(), c.Anomalies()
	for _, cs := range c.CentralStatuses() {
		r := CentralResult{CentralStatus: cs, Stages: map[string]json.RawMessage{}}
		c.Central(cs.Probe, func(inst *probe.Instance, _ CentralStatus) {
			for _, s := range inst.Stages() {
				if js, err := s.MarshalJSON(); err == nil {
					r.Stages[s.Name] = js
				}
			}
		})
		st.Central = append(st.Central, r)
	}
	if st.Anomalies == nil {
		st.Anomalies = []Anomaly{}
	}
	return st
}

// Handler serves the operational endpoints: /metrics (Prometheus),
// /healthz (the process runs), /readyz (every agent streaming) and
// /status (Status as JSON). The REST API mounts beside them.
func (c *Controller) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(c.metrics.reg, promhttp.HandlerOpts{}))
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte("ok\n")) })
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, _ *http.Request) {
		for _, a := range c.Agents() {
			if a.State != "streaming" {
				http.Error(w, "agent "+a.Name+" is "+a.State+"\n", http.StatusServiceUnavailable)
				return
			}
		}
		_, _ = w.Write([]byte("ready\n"))
	})
	mux.HandleFunc("GET /status", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		_ = enc.Encode(c.Status())
	})
	return mux
}

// ListenAPIServer opens api.listen (ListenAPI) and returns the HTTP
// server for it: the REST API and the operational endpoints, with
// api.read_header_timeout bounding the TLS handshake and the request
// headers, api.idle_timeout the keep-alive connections, and at most
// api.max_connections served at once (idle keep-alive connections give
// way to new clients; further clients wait in the kernel's backlog).
func (c *Controller) ListenAPIServer() (net.Listener, *http.Server, error) {
	l, limit, err := c.listenAPI()
	if err != nil {
		return nil, nil, err
	}
	c.mu.Lock()
	_, idle, readHeader := c.cfg.API.Limits()
	c.mu.Unlock()
	return l, &http.Server{
		Handler:           c.APIHandler(),
		ReadHeaderTimeout: readHeader,
		IdleTimeout:       idle,
		ConnState:         limit.ConnState,
		ErrorLog:          restapi.ErrorLog(c.logger()), // handshake floods rate-limited
	}, nil
}

// logger is the controller's logger (the default one for a Controller
// built without New, as some tests do).
func (c *Controller) logger() *slog.Logger {
	if c.log == nil {
		return slog.Default()
	}
	return c.log
}
