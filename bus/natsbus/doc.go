// Package natsbus carries fan-in records through NATS JetStream: the
// agent's output (a bus.Sink publishing with acknowledgements and
// Nats-Msg-Id de-duplication), the controller's input (one durable
// consumer per owned probe), the share-out of probes among central
// evaluators (leases in a JetStream key-value bucket) and the checkpoint
// of raised anomalies (another key-value bucket).
//
// Layout on the server, for a configuration with stream S and prefix P:
//   - stream S holds subjects P.> (bus.Subject: P.<blueprint>.<probe>.<device>),
//     file storage, the last MaxPerSubject records per device and probe,
//     a de-duplication window of Duplicates;
//   - durable consumer <blueprint>_<probe> (tokens) per probe, filtered on
//     P.<blueprint>.<probe>.*, explicit acks;
//   - key-value bucket S_leases (TTL = lease TTL): member.<id> is a
//     member's heartbeat, probe.<blueprint>.<probe> names the probe's owner;
//   - key-value bucket S_state: raised.<blueprint>.<probe> is the probe's
//     checkpoint (bus.EncodeRaised).
package natsbus
