// Package probe is the IBA probe engine shared by probe-agent on devices and by
// the central evaluator: it parses probe documents in both Apstra dialects,
// validates them into an immutable Plan (typed stages, processors in
// topological order, resolved properties) and evaluates a Plan tick by tick
// in an Instance, producing stage data in the REST API's JSON shape and
// anomaly transitions.
//
// Processors live in package probe/processors, one file each, and register
// themselves in the catalog here with Register. The engine knows nothing about
// TCP, gRPC or HTTP: callers read stages, changes and anomalies through an
// Instance.
//
// Time comes from the tick, never from the wall clock, so replay, simulation
// and tests are deterministic.
package probe
