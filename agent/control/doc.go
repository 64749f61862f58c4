// Package control is probe-agent's gRPC control plane: the
// probeagent.v1.ProbeControl service through which a controller, or probectl,
// applies the device's probes, reads them back, deletes them and watches
// their status. It is a thin protocol layer over agent.Manager, which owns
// the probe set, its validation, its generation and its persistence.
//
// Security: mutual TLS by default (the client's certificate must chain to
// the configured CA), an optional bearer token on top, and plaintext only
// with an explicit insecure flag, logged as a warning. Calls that do not
// authenticate are refused with codes.Unauthenticated.
package control
