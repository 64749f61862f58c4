// Command agent is `make bench-agent`: the whole probe-agent measured as a
// user sees it, beside node_exporter's netdev collector on the same
// interfaces (issue 18, docs/PERFORMANCE.md "Whole agent").
//
// As root it builds N interfaces in network namespaces: veth pairs whose
// counters move (a raw-socket sender in this process puts a few UDP frames
// a second on every end) and, for the idle case, ifb interfaces nothing
// sends on. It builds probe-agent with the release flags
// (packaging/release-flags), runs it with the netlink collector in the
// namespace, streaming to a receiver on loopback that counts bytes and
// messages, and runs node_exporter (netdev collector only, scraped once per
// interval) when it is installed. Each process sits in a cgroup of its own;
// CPU is the cgroup's usage over a window after a warm-up, divided by the
// ticks in it, and memory is VmRSS sampled once a second (the cgroup's
// figure beside it). Scenarios: the seed probe streaming only its std_dev
// result, the seed probe streaming every if_counter item, the seed probe on
// idle interfaces, and the 10-probe set (testdata/probes and seed variants)
// for memory; each optionally under several GOGC values.
//
// Everything it makes (namespaces, cgroups, processes, the temporary
// directory) is removed on exit, on error and on Ctrl-C. Linux only.
package main
