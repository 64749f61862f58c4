package main

import (
	"context"
	"log/slog"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/probe-agent/probe-agent/agent"
	"github.com/probe-agent/probe-agent/agent/api"
)

// startAPI serves the REST API, /metrics, /healthz and /readyz on
// api.listen when it is set. It opens the listener (and loads api.tls)
// before returning, so a taken port or a bad certificate stops the start;
// the server then runs until ctx ends and shuts down gracefully. A server
// failure later is logged: the agent keeps evaluating and streaming.
func startAPI(ctx context.Context, a *agent.Agent, cfg agent.Config, log *slog.Logger) error {
	if cfg.API.Listen == "" {
		return nil
	}
	srv := api.NewServer(a, cfg, prometheus.NewRegistry(), log)
	l, err := srv.Listen()
	if err != nil {
		return err
	}
	go func() {
		if err := srv.ServeListener(ctx, l); err != nil {
			log.Error("REST API stopped", "err", err)
		}
	}()
	return nil
}
