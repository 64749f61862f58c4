// Package aosout is the Apstra streaming output both daemons share: the
// agent for its edge stages and anomalies, the controller for the central
// (fabric) ones. It turns a probe tick's changed stage items into
// PerfMon probe_messages and anomaly transitions into Alert{probe_alert}
// (docs/streaming.md: identity fields, the per-stage wire value type),
// and fans messages out to the configured receivers, one sequenced or
// unsequenced agent/stream sender with a bounded queue per entry.
//
// It links neither the agent nor the collectors, so the controller can use
// it (cmd/probe-controller/deps_test.go).
package aosout
