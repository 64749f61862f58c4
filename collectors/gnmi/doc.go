// Package gnmi is a counter source that streams interface counters from a
// network device over gNMI instead of reading them from the local kernel.
//
// A Collector keeps one Subscribe stream (STREAM mode, SAMPLE subscriptions)
// open in the background to /interfaces/interface/state/counters,
// /interfaces/interface/state/oper-status and, where the target has them,
// /interfaces/interface/ethernet/state/{port-speed,counters}. Targets differ in how they
// split a sample into responses (one response per leaf with its own
// timestamp is common), so every update is merged into a per-interface
// latest-known state and Collect only copies that state out. This decouples
// the engine's tick from the device's sample boundaries and lets a value that
// a target chose not to resend be carried forward until it goes stale.
//
// Values are decoded with ygot-generated OpenConfig structs (package oc) so
// that type checking of each leaf follows the YANG model rather than ad-hoc
// parsing. The few leaves the model shipped with ygot lacks (in-fcs-errors,
// and port-speed and the MAC counters of openconfig-if-ethernet) are decoded
// directly.
//
// The stream is restarted with exponential backoff and jitter whenever it
// fails; Collect keeps serving the last known state meanwhile. A counter that
// goes backwards (a device reload or a counter clear, typically noticed right
// after a reconnect) bumps that interface's Generation so that consumers do
// not compute a rate across the discontinuity.
package gnmi

//go:generate sh gen.sh
