//go:build nokafka

package agent

import (
	"errors"
	"log/slog"

	"github.com/probe-agent/probe-agent/bus"
)

// A build with -tags nokafka leaves franz-go out (about 3.5 MB of the
// binary, docs/PERFORMANCE.md); a type kafka entry is then refused.

func (s StreamingEntry) kafkaProblems() [][2]string {
	return [][2]string{{".type", "kafka: this probe-agent was built without the Kafka output (-tags nokafka)"}}
}

func newKafkaPublisher(Config, StreamingEntry, *slog.Logger) (*bus.Publisher, error) {
	return nil, errors.New("built without the Kafka output (-tags nokafka)")
}
