package agent

// KafkaConfig is the kafka block of a streaming entry of type kafka: the
// agent publishes what crosses the edge/central cut (one bus.Record per
// probe and evaluation) to a Kafka topic, key <blueprint>/<probe>, for
// central evaluators sharing the partitions as a consumer group
// (docs/controller.md, "Fan-in through Kafka").
type KafkaConfig struct {
	// Brokers are more seed brokers of the same cluster, besides the
	// entry's address.
	Brokers []string `yaml:"brokers"`
	// Topic must match the evaluators' (default probeagent).
	Topic string `yaml:"topic"`
	// SASL: mechanism PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512 with user and
	// password_file (first line, trimmed). PLAIN needs the entry's tls.
	Mechanism    string `yaml:"mechanism"`
	User         string `yaml:"user"`
	PasswordFile string `yaml:"password_file"`
	// DeliveryTimeout bounds how long the producer retries one batch
	// (default 30s) before the publisher sends it again.
	DeliveryTimeout Duration `yaml:"delivery_timeout"`
}
