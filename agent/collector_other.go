//go:build !linux

package agent

import (
	"log/slog"

	"github.com/probe-agent/probe-agent/collectors"
)

func newNetlink(Config, *slog.Logger) (collectors.Collector, error) {
	return nil, errNoCollector
}
