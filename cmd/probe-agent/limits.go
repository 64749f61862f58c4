package main

import (
	"log/slog"

	"github.com/probe-agent/probe-agent/agent"
	"github.com/probe-agent/probe-agent/connlimit"
)

// fitListeners raises the descriptor limit to its hard maximum and fits
// api.max_connections and control.max_connections under it, keeping
// connlimit.Reserve descriptors (plus one per streaming entry) for the
// connections the agent opens itself: a flood of clients must never
// leave a stream sender unable to reconnect (EMFILE).
func fitListeners(cfg *agent.Config, log *slog.Logger) {
	nofile, err := connlimit.RaiseNoFile()
	if err != nil {
		log.Warn("descriptor limit unknown; listener limits kept as configured", "err", err)
		return
	}
	apiMax, _, _ := cfg.API.Limits()
	ctlMax, _, _ := cfg.Control.Limits()
	var want []int
	if cfg.API.Listen != "" {
		want = append(want, apiMax)
	}
	if cfg.Control.Listen != "" {
		want = append(want, ctlMax)
	}
	reserve := connlimit.Reserve + len(cfg.Streaming)
	got, lowered := connlimit.Budget(nofile, reserve, want)
	if !lowered {
		log.Debug("descriptor budget", "nofile", nofile, "reserve", reserve, "listeners", want)
		return
	}
	i := 0
	if cfg.API.Listen != "" {
		cfg.API.MaxConnections = got[i]
		i++
	}
	if cfg.Control.Listen != "" {
		cfg.Control.MaxConnections = got[i]
	}
	log.Warn("listener connection limits lowered to fit the descriptor limit (raise LimitNOFILE= or lower the max_connections keys)",
		"nofile", nofile, "reserve", reserve, "api.max_connections", cfg.API.MaxConnections, "control.max_connections", cfg.Control.MaxConnections)
}
