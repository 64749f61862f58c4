// Package api is probe-agent's local HTTP interface: the probe REST API of
// the Apstra IBA documentation under /api/blueprints/{bp}/..., scoped to the
// agent's blueprint id, plus /metrics, /healthz and /readyz. It reads and
// changes probes only through the agent's Manager; see docs/rest-api.md.
package api

import (
	"bytes"
	"context"
	"crypto/tls"
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
)

// MaxBodyBytes bounds request bodies; larger ones are refused with 413.
const MaxBodyBytes = 4 << 20

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
	auth     writeAuth
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
		auth:     newWriteAuth(cfg.API.TokenFile, cfg.API.TLS.CA != ""),
	}
	for _, c := range []prometheus.Collector{
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		newAgentCollector(a),
		newStageCollector(a, cfg.API.StageSeriesLimit),
	} {
		if err := reg.Register(c); err != nil {
			var already prometheus.AlreadyRegisteredError
			if !errors.As(err, &already) {
				log.Error("metrics collector not registered", "err", err)
			}
		}
	}
	s.routes(promhttp.HandlerFor(reg, promhttp.HandlerOpts{ErrorLog: slogPrinter{log}}))
	s.handler = s.jsonMuxErrors(s.mux)
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
	m.HandleFunc("GET "+bp+"/telemetry/processors", s.inBlueprint(s.listProcessorTypes))
}

// inBlueprint refuses paths naming another blueprint than the agent's.
func (s *Server) inBlueprint(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		// Read through the agent: a reloaded configuration may rename it.
		if bp, want := r.PathValue("bp"), s.agent.BlueprintID(); bp != want {
			writeError(w, http.StatusNotFound, fmt.Sprintf("blueprint %q not found: this agent serves blueprint %q", bp, want))
			return
		}
		h(w, r)
	}
}

// jsonMuxErrors turns the mux's own plain-text 404 and 405 answers into
// JSON errors, keeping their status and Allow header.
func (s *Server) jsonMuxErrors(mux *http.ServeMux) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h, pattern := mux.Handler(r)
		if pattern != "" {
			mux.ServeHTTP(w, r) // sets the path values
			return
		}
		rec := &recorder{header: http.Header{}}
		h.ServeHTTP(rec, r)
		if allow := rec.header.Get("Allow"); allow != "" {
			w.Header().Set("Allow", allow)
		}
		switch rec.status {
		case http.StatusMethodNotAllowed:
			writeError(w, rec.status, fmt.Sprintf("method %s is not allowed on %s; allowed: %s", r.Method, r.URL.Path, rec.header.Get("Allow")))
		case http.StatusNotFound, 0:
			writeError(w, http.StatusNotFound, fmt.Sprintf("no such endpoint: %s %s", r.Method, r.URL.Path))
		default:
			// Redirects (e.g. path cleaning) and anything else pass as they are.
			for k, v := range rec.header {
				w.Header()[k] = v
			}
			w.WriteHeader(rec.status)
			_, _ = w.Write(rec.body.Bytes())
		}
	})
}

// recorder captures a response of the mux's built-in handlers.
type recorder struct {
	header http.Header
	status int
	body   bytes.Buffer
}

func (r *recorder) Header() http.Header { return r.header }
func (r *recorder) WriteHeader(code int) {
	if r.status == 0 {
		r.status = code
	}
}
func (r *recorder) Write(b []byte) (int, error) {
	if r.status == 0 {
		r.status = http.StatusOK
	}
	return r.body.Write(b)
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
	if s.auth.loadErr != nil {
		return nil, s.auth.loadErr
	}
	var tc *tls.Config
	if t := s.cfg.API.TLS; t.Cert != "" || t.Key != "" {
		cert, err := tls.LoadX509KeyPair(t.Cert, t.Key)
		if err != nil {
			return nil, fmt.Errorf("api.tls: %w", err)
		}
		tc = &tls.Config{MinVersion: tls.VersionTLS12, Certificates: []tls.Certificate{cert}}
		if t.CA != "" {
			// Reads stay open (scrapers, health checks); writes need a
			// verified certificate (auth.go).
			pool, err := agent.LoadCertPool(t.CA)
			if err != nil {
				return nil, fmt.Errorf("api.tls.ca: %w", err)
			}
			tc.ClientCAs, tc.ClientAuth = pool, tls.VerifyClientCertIfGiven
		}
	}
	l, err := net.Listen("tcp", s.cfg.API.Listen)
	if err != nil {
		return nil, fmt.Errorf("api.listen: %w", err)
	}
	if tc != nil {
		l = tls.NewListener(l, tc)
	}
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
// message log (GET .../messages) while it runs.
func (s *Server) ServeListener(ctx context.Context, l net.Listener) error {
	srv := &http.Server{
		Handler:           s.handler,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelWarn),
	}
	events, cancel := s.manager.Watch(watchBuffer)
	defer cancel()
	go s.messages.follow(events)

	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(l) }()
	s.log.Info("REST API listening", "addr", l.Addr().String(), "tls", s.cfg.API.TLS.Cert != "", "blueprint", s.cfg.BlueprintID, "writes", s.auth.describe())
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
