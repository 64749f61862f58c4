// Package lab turns a containerlab topology into a fabric of Linux network
// namespaces on one host, so the whole system (agents on every switch, a
// controller, real traffic between servers) runs without Docker: in CI, on
// a laptop, in the end-to-end test.
//
// The work is split the usual way: Build is a pure function from a parsed
// topology to a Plan (namespaces, veth pairs, addresses, routes, ports,
// the processes to start and their configuration files), tested with
// golden files and no privileges; Up, Down and Status (Linux, root) apply
// a plan with netlink and record what they made in LABDIR/state.json, and
// Down also finds what a crashed run left behind by the lab's namespace
// prefix and by the processes' command lines, so it always cleans up.
//
// Agents run in the root namespace and read their switch's counters by
// entering the switch's namespace (the netlink collector's netns setting),
// so every control plane and API listens on 127.0.0.1 and the controller
// reaches them without any routing between the lab and the host.
package lab
