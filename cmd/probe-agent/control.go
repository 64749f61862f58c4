package main

import (
	"context"
	"log/slog"

	"github.com/probe-agent/probe-agent/agent"
	"github.com/probe-agent/probe-agent/agent/control"
)

// startControl starts the gRPC control plane when control.listen is set and
// returns at once. The server stops gracefully when ctx ends; if it fails
// instead, fail cancels ctx with the error, which stops the agent. wait
// blocks until the server has stopped and returns its error.
func startControl(ctx context.Context, a *agent.Agent, cfg agent.Config, log *slog.Logger, fail context.CancelCauseFunc) (wait func() error, err error) {
	if cfg.Control.Listen == "" {
		return func() error { return nil }, nil
	}
	srv, err := control.NewServer(a.Manager(), cfg.Control, log)
	if err != nil {
		return nil, err
	}
	done := make(chan error, 1)
	go func() {
		err := srv.Serve(ctx)
		if err != nil {
			fail(err)
		}
		done <- err
	}()
	return func() error { return <-done }, nil
}
