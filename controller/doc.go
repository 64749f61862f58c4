// Package controller is the core of probe-controller, the daemon that makes
// a fabric of probe-agents one system: it knows the fabric (a topology
// file), keeps the fabric's probe set, cuts every probe between the devices
// and the centre (probe.Partition), pushes each agent its part over the
// agents' control plane (ApplyProbes, mutual TLS, a generation per push),
// receives the partial aggregates the agents stream back (StreamStages,
// lossless PSU1 stage updates) and evaluates the central part of each probe
// on the latest partial of every device, leaving out devices whose data is
// stale and refusing to raise or clear anomalies on a result that misses too
// many of them.
//
// The package links no agent code and no collector: the controller talks to
// agents only through controlclient and the generated gRPC stubs. Its REST
// API and packaging live elsewhere; what they serve comes from the
// accessors here (Agents, Probes, Central, Anomalies).
package controller
