// Package stream sends and receives the Apstra streaming wire format: protobuf
// messages of package aos.streaming, each preceded by a 2-byte big-endian length,
// one TCP connection per channel (perfmon, alerts, events).
//
// Sender is the agent side. It is a TCP client that owns a bounded queue, so the
// engine never blocks on a slow or absent receiver: when the queue is full the
// oldest message is dropped and counted. Receiver is the listening side used by
// `probectl receive` and by the tests; it decodes frames, numbers them and reports
// sequence gaps as loss.
//
// # Sequence numbers
//
// On a sequenced channel every message gets its seq_num when it is enqueued, from a
// counter that starts at an arbitrary value and grows by one per message. Numbering
// at enqueue time rather than at write time means every message the agent meant to
// send and then lost (dropped from a full queue, or refused as oversize) leaves a
// gap of exactly that size at the receiver, which is how Apstra receivers report
// loss. A message that was written to a connection that then failed is written
// again after the reconnect with the same seq_num; a receiver therefore dedups by
// seq_num, and Receiver does.
package stream
