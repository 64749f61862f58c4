package lab

import (
	"fmt"
	"strings"
)

// SharedServerName is in every lab certificate besides the member's own
// name, so a controller that dials agents by management address (a
// containerlab deployment) verifies them all with one server_name.
const SharedServerName = "probe-agent"

// NodeCommands renders what Up does inside each node's namespace as shell
// commands, one line per node for a deployment where something else made
// the nodes and wired the links: containerlab's linux containers. Each
// line is `docker exec clab-<lab>-<node> sh -c '...'` (containerlab's
// container names): sysctls, addresses, links up, routes.
func NodeCommands(p *Plan) []string {
	var out []string
	for _, n := range p.Nodes {
		var cmds []string
		if n.Forwarding {
			cmds = append(cmds, "{ sysctl -qw net.ipv4.ip_forward=1 net.ipv4.fib_multipath_hash_policy=1 || true; }")
		}
		// An unprivileged container's /proc/sys is read-only: the lab
		// file's sysctls key sets these at deploy time instead.
		cmds = append(cmds, "{ sysctl -qw net.ipv4.conf.all.rp_filter=0 net.ipv4.conf.default.rp_filter=0 || true; }")
		for _, ifc := range n.Interfaces {
			if ifc.Type == "dummy" {
				continue // containerlab makes the host, mgmt-net and macvlan ends itself
			}
			if ifc.Address != "" {
				cmds = append(cmds, fmt.Sprintf("ip addr replace %s dev %s", ifc.Address, ifc.Name))
			}
			cmds = append(cmds, fmt.Sprintf("ip link set %s up", ifc.Name))
		}
		for _, r := range n.Routes {
			dst := r.Dst
			if dst == "0.0.0.0/0" {
				// The management network's default route stays; the
				// fabric gets the private ranges the plan uses.
				for _, pool := range []string{FabricPool.String(), ServerPool.String()} {
					cmds = append(cmds, fmt.Sprintf("ip route replace %s via %s dev %s", pool, r.Nexthops[0].Gateway, r.Nexthops[0].Dev))
				}
				continue
			}
			var hops []string
			for _, h := range r.Nexthops {
				hops = append(hops, fmt.Sprintf("nexthop via %s dev %s", h.Gateway, h.Dev))
			}
			if len(r.Nexthops) == 1 {
				hops = []string{fmt.Sprintf("via %s dev %s", r.Nexthops[0].Gateway, r.Nexthops[0].Dev)}
			}
			cmds = append(cmds, fmt.Sprintf("ip route replace %s %s", dst, strings.Join(hops, " ")))
		}
		out = append(out, fmt.Sprintf("docker exec clab-%s-%s sh -c '%s'", p.Lab, n.Name, strings.Join(cmds, " && ")))
	}
	return out
}
