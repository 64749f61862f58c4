// Package api is probe-agent's local HTTP interface: the probe REST API of
// the Apstra IBA documentation under /api/blueprints/{bp}/..., scoped to the
// agent's blueprint id, plus /metrics, /healthz and /readyz. It reads and
// changes probes only through the agent's Manager; see docs/rest-api.md.
package api

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/probe-agent/probe-agent/agent"
	"github.com/probe-agent/probe-agent/connlimit"
	"github.com/probe-agent/probe-agent/restapi"
)

// MaxBodyBytes bounds request bodies; larger ones are refused with 413.
const MaxBodyBytes = restapi.MaxBodyBytes

// stallIntervals is how many intervals without a completed tick make the
// agent not ready.
const stallIntervals = 3

// Server serves the REST API and the operational endpoints.
type Server struct {
	agent    *agent.Agent
	manager  *agent.Manager
	cfg      agent.Config
	log      *slog.Logger
	messages *messageLog
	mux      *http.ServeMux
	handler  http.Handler
	now      func() time.Time
	auth     restapi.WriteAuth
	limit    *connlimit.Listener // set by Listen: the connection bound
}

// NewServer builds the server of agent a. Its metrics, with the Go runtime
// and process collectors, are registered on reg (a new registry when nil)
// and served from reg at /metrics.
func NewServer(a *agent.Agent, cfg agent.Config, reg *prometheus.Registry, log *slog.Logger) *Server {
	if log == nil {
		log = slog.Default()
	}
	if reg == nil {
		reg = prometheus.NewRegistry()
	}
	s := &Server{
		agent: a, manager: a.Manager(), cfg: cfg, log: log,
		messages: newMessageLog(MessagesPerProbe),
		mux:      http.NewServeMux(),
		now:      time.Now,
		auth:     restapi.NewWriteAuth(cfg.API.TokenFile, cfg.API.TLS.CA != "", "probe-agent"),
	}
	for _, c := range []prometheus.Collector{
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		newAgentCollector(a),
		newStageCollector(a, cfg.API.StageSeriesLimit),
		&limitsCollector{manager: a.Manager()},
		connectionCollector{s},
	} {
		if err := reg.Register(c); err != nil {
			var already prometheus.AlreadyRegisteredError
			if !errors.As(err, &already) {
				log.Error("metrics collector not registered", "err", err)
			}
		}
	}
	s.routes(promhttp.HandlerFor(reg, promhttp.HandlerOpts{ErrorLog: slogPrinter{log}}))
	s.handler = restapi.JSONMuxErrors(s.mux)
	return s
}

// Handler is the server's HTTP handler.
func (s *Server) Handler() http.Handler { return s.handler }

func (s *Server) routes(metrics http.Handler) {
	m := s.mux
	m.Handle("GET /metrics", metrics)
	m.HandleFunc("GET /healthz", s.healthz)
	m.HandleFunc("GET /readyz", s.readyz)

	const bp = "/api/blueprints/{bp}"
	m.HandleFunc("POST "+bp+"/probes", s.inBlueprint(s.writer(s.createProbe)))
	m.HandleFunc("GET "+bp+"/probes", s.inBlueprint(s.listProbes))
	m.HandleFunc("GET "+bp+"/probes/{id}", s.inBlueprint(s.getProbe))
	m.HandleFunc("PATCH "+bp+"/probes/{id}", s.inBlueprint(s.writer(s.patchProbe)))
	m.HandleFunc("PUT "+bp+"/probes/{id}", s.inBlueprint(s.writer(s.replaceProbe)))
	m.HandleFunc("DELETE "+bp+"/probes/{id}", s.inBlueprint(s.writer(s.deleteProbe)))
	m.HandleFunc("GET "+bp+"/probes/{id}/stages/{stage}", s.inBlueprint(s.getStage))
	m.HandleFunc("GET "+bp+"/probes/{id}/processors/{name}", s.inBlueprint(s.getProcessor))
	m.HandleFunc("GET "+bp+"/probes/{id}/messages", s.inBlueprint(s.getMessages))
	m.HandleFunc("GET "+bp+"/anomalies", s.inBlueprint(s.listAnomalies))
	m.HandleFunc("GET "+bp+"/telemetry/processors", s.inBlueprint(restapi.ListProcessorTypes))
}

// inBlueprint refuses paths naming another blueprint than the agent's
// (read through the agent: a reloaded configuration may rename it).
func (s *Server) inBlueprint(h http.HandlerFunc) http.HandlerFunc {
	return restapi.InBlueprint(s.agent.BlueprintID, "this agent", h)
}

func (s *Server) healthz(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
}

// readyz answers 200 once a tick has been evaluated and while ticks keep
// completing; 503 while the collector has no data (a gNMI stream down),
// before the first tick and when none completed for more than three
// intervals (collector failing, loop stuck).
func (s *Server) readyz(w http.ResponseWriter, _ *http.Request) {
	st := s.agent.Stats()
	switch {
	case st.NoData != "":
		writeJSON(w, http.StatusServiceUnavailable, map[string]any{
			"status": "not ready",
			"reason": "collector has no data: " + st.NoData,
			"since":  st.NoDataSince.UTC().Format(time.RFC3339), "ticks_without_data": st.NoDataTicks,
		})
	case st.Ticks == 0:
		writeJSON(w, http.StatusServiceUnavailable, map[string]any{"status": "not ready", "reason": "no tick evaluated yet"})
	case s.now().Sub(st.LastProgress) > stallIntervals*st.Interval:
		writeJSON(w, http.StatusServiceUnavailable, map[string]any{
			"status": "not ready",
			"reason": fmt.Sprintf("no tick completed for %s (interval %s)", s.now().Sub(st.LastProgress).Round(time.Millisecond), st.Interval),
			"ticks":  st.Ticks, "collector_errors": st.CollectorErrors,
		})
	default:
		writeJSON(w, http.StatusOK, map[string]any{"status": "ready", "ticks": st.Ticks})
	}
}

// Listen opens the configured api.listen address, with TLS when api.tls
// names a certificate and key.
func (s *Server) Listen() (net.Listener, error) {
	if s.auth.LoadErr != nil {
		return nil, s.auth.LoadErr
	}
	t := s.cfg.API.TLS
	tc, err := restapi.ServerTLS(restapi.TLSFiles{Cert: t.Cert, Key: t.Key, CA: t.CA})
	if err != nil {
		return nil, err
	}
	maxConns, _, _ := s.cfg.API.Limits()
	l, limit, err := restapi.ListenLimited(s.cfg.API.Listen, tc, maxConns)
	if err != nil {
		return nil, err
	}
	s.limit = limit
	return l, nil
}

// Serve listens on api.listen and serves until ctx ends.
func (s *Server) Serve(ctx context.Context) error {
	l, err := s.Listen()
	if err != nil {
		return err
	}
	return s.ServeListener(ctx, l)
}

// ServeListener serves on l until ctx ends, then shuts down gracefully,
// giving requests in flight up to five seconds. It also keeps the probe
// message log (GET .../messages) while it runs. api.read_header_timeout
// bounds the TLS handshake and the request headers, api.idle_timeout
// keep-alive connections; on a listener from Listen, idle keep-alive
// connections give way to new clients once api.max_connections are open.
func (s *Server) ServeListener(ctx context.Context, l net.Listener) error {
	_, idle, readHeader := s.cfg.API.Limits()
	srv := &http.Server{
		Handler:           s.handler,
		ReadHeaderTimeout: readHeader,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       idle,
		ErrorLog:          restapi.ErrorLog(s.log), // handshake floods rate-limited
	}
	if s.limit != nil {
		srv.ConnState = s.limit.ConnState
	}
	events, cancel := s.manager.Watch(watchBuffer)
	defer cancel()
	go s.messages.follow(events)

	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(l) }()
	s.log.Info("REST API listening", "addr", l.Addr().String(), "tls", s.cfg.API.TLS.Cert != "", "blueprint", s.cfg.BlueprintID, "writes", s.auth.Describe(), "max_connections", s.limitMax())
	select {
	case err := <-errc:
		return fmt.Errorf("api: %w", err)
	case <-ctx.Done():
	}
	sctx, stop := context.WithTimeout(context.Background(), 5*time.Second)
	defer stop()
	if err := srv.Shutdown(sctx); err != nil {
		return fmt.Errorf("api shutdown: %w", err)
	}
	if err := <-errc; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("api: %w", err)
	}
	return nil
}

// slogPrinter adapts the logger to promhttp's error log.
type slogPrinter struct{ log *slog.Logger }

func (p slogPrinter) Println(v ...any) { p.log.Error("metrics", "err", fmt.Sprint(v...)) }

// limitMax is the connection bound in force (0: a listener the caller
// opened, unbounded here).
func (s *Server) limitMax() int {
	if s.limit == nil {
		return 0
	}
	return s.limit.Max()
}
