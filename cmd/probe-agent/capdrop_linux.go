package main

import (
	"log/slog"
	"strings"

	"github.com/probe-agent/probe-agent/collectors/netlink"
)

// dropNamespaceCapability gives up CAP_SYS_ADMIN once the collector has
// entered its network namespace (collector.netlink.netns): the agent needs
// it for setns(2) only, and the collector makes every later socket on the
// thread it keeps in that namespace. Only the daemon does this: agents run
// in-process (tests, as root) keep their capabilities. A process that never
// had the capability logs nothing.
func dropNamespaceCapability(log *slog.Logger) {
	dropped, err := netlink.DropNamespaceCapability()
	entered := strings.Join(netlink.AnchoredNamespaces(), ",")
	switch {
	case err != nil && entered != "":
		log.Warn("CAP_SYS_ADMIN kept for the life of the process", "netns", entered, "reason", err)
	case err != nil:
		// No namespace entered: nothing relies on the drop (e.g. root
		// running a cgo build by hand).
		log.Debug("CAP_SYS_ADMIN kept", "reason", err)
	case dropped && entered != "":
		log.Info("gave up CAP_SYS_ADMIN after entering the network namespace; a reload naming another collector.netlink.netns needs a restart", "netns", entered)
	case dropped:
		log.Info("gave up CAP_SYS_ADMIN (no network namespace to enter); a reload that sets collector.netlink.netns needs a restart")
	}
}
