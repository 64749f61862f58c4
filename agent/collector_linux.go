package agent

import (
	"log/slog"

	"github.com/probe-agent/probe-agent/collectors"
	"github.com/probe-agent/probe-agent/collectors/netlink"
)

func newNetlink(cfg Config, log *slog.Logger) (collectors.Collector, error) {
	return netlink.New(netlink.Options{Netns: cfg.Collector.Netlink.Netns, SystemID: cfg.SystemID, Logger: log})
}
