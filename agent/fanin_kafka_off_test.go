//go:build nokafka

package agent

import (
	"strings"
	"testing"
)

// TestKafkaEntryNotBuilt: without the Kafka output a kafka entry is
// refused at load, naming the entry, whatever its block holds.
func TestKafkaEntryNotBuilt(t *testing.T) {
	_, err := Parse([]byte("streaming:\n  - {type: kafka, address: 'k:9092', kafka: {topic: t}}\n"))
	if err == nil || !strings.Contains(err.Error(), "streaming[0].type: kafka: this probe-agent was built without the Kafka output") {
		t.Fatalf("error %v", err)
	}
}
