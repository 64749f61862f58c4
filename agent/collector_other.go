//go:build !linux

package agent

import (
	"errors"
	"log/slog"

	"github.com/probe-agent/probe-agent/collectors"
)

func newNetlink(Config, *slog.Logger) (collectors.Collector, error) {
	return nil, errors.New("the netlink collector needs Linux")
}
