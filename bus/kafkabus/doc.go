// Package kafkabus carries fan-in records through Kafka, with franz-go's
// kgo client: the agent's side (a bus.Sink writing one topic with an
// idempotent producer and acks=all), the controller's side (a bus.Input
// in a consumer group: the partitions a member is assigned decide the
// probes it owns, records are committed only once the tick that merged
// them is finished) and a bus.Checkpoint on a compacted topic.
//
// Layout: every record goes to topic <prefix> (bus.KafkaTopic) with key
// <blueprint>/<probe> (bus.KafkaKey), partitioned with Kafka's own
// murmur2 hash of the key (what Java clients and kgo's default do), so all
// of a probe's records, from every device, are in one partition in the
// order they were written, and a member can tell which probes a partition
// holds without reading it (PartitionOf). Checkpoints go to
// <prefix>.checkpoints (compacted, key = probe id).
package kafkabus
