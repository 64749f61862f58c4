// Package bus is the broker-independent part of fan-in through a
// distributed log: what crosses the edge/central cut (one device's exports
// of one probe for one evaluation, a Record), how it is named on a broker
// (NATS subjects, Kafka topics and keys), the agent's side (a Publisher
// behind a bounded queue, fed from agent.Exports) and the controller's
// side that is the same whatever the broker (a Member evaluating the probes
// it owns from records, acknowledging records only after the tick that
// merged them, and a Checkpoint of each probe's raised anomalies so that a
// member taking a probe over neither raises again what was raised nor
// forgets to clear it).
//
// The brokers themselves live in subpackages (bus/natsbus, bus/kafkabus);
// this package imports no network code.
package bus
