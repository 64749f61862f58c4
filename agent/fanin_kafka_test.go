//go:build !nokafka

package agent

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestKafkaEntryConfig(t *testing.T) {
	pass := filepath.Join(t.TempDir(), "pass")
	if err := os.WriteFile(pass, []byte("s3cret\nignored\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := Parse([]byte("streaming:\n  - {type: perfmon, address: 'r:4444'}\n  - type: kafka\n    address: 'k1:9092'\n    kafka:\n      brokers: ['k2:9092']\n      topic: dc1.pa\n      mechanism: SCRAM-SHA-512\n      user: agent\n      password_file: " + pass + "\n      delivery_timeout: 10s\n"))
	if err != nil {
		t.Fatal(err)
	}
	c, err := cfg.Streaming[1].kafkaClientConfig(true)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(c.Brokers, ",") != "k1:9092,k2:9092" || c.Prefix != "dc1.pa" || c.Mechanism != "SCRAM-SHA-512" || c.User != "agent" || c.Password != "s3cret" || c.DeliveryTimeout.String() != "10s" {
		t.Fatalf("client config %+v", c)
	}
	if got := aosEntries(cfg.Streaming); len(got) != 1 || got[0].Type != "perfmon" {
		t.Fatalf("aosout entries %+v", got)
	}
}

func TestKafkaEntryErrors(t *testing.T) {
	for _, tc := range []struct{ name, yaml, want string }{
		{"plain without tls", "streaming:\n  - {type: kafka, address: 'k:9092', kafka: {mechanism: PLAIN, user: u, password_file: p}}\n", "streaming[0].kafka.mechanism: PLAIN sends the password in clear"},
		{"user without mechanism", "streaming:\n  - {type: kafka, address: 'k:9092', kafka: {user: u}}\n", "line 2: streaming[0].kafka: user: set mechanism too"},
		{"scram without password", "streaming:\n  - {type: kafka, address: 'k:9092', kafka: {mechanism: SCRAM-SHA-256, user: u}}\n", "streaming[0].kafka: mechanism: SCRAM-SHA-256 needs user and password"},
		{"bad broker", "streaming:\n  - {type: kafka, address: 'k:9092', kafka: {brokers: [k2]}}\n", "streaming[0].kafka: brokers[1]"},
		{"bad topic", "streaming:\n  - {type: kafka, address: 'k:9092', kafka: {topic: 'a b'}}\n", "streaming[0].kafka: topic"},
		{"sequenced", "streaming:\n  - {type: kafka, address: 'k:9092', sequenced: true}\n", "streaming[0].sequenced: not for type kafka"},
		{"no address", "streaming:\n  - {type: kafka}\n", "streaming[0].address: want host:port"},
		{"unknown key", "streaming:\n  - {type: kafka, address: 'k:9092', kafka: {partitions: 3}}\n", "field partitions not found"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse([]byte(tc.yaml))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want %q", err, tc.want)
			}
		})
	}
}

// TestKafkaEntryUnreadableSecret: a password file that cannot be read
// stops the start with its key named.
func TestKafkaEntryUnreadableSecret(t *testing.T) {
	cfg, err := Parse([]byte("streaming:\n  - {type: kafka, address: 'k:9092', kafka: {mechanism: SCRAM-SHA-256, user: u, password_file: /nonexistent/p}}\n"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := newFanIn(cfg, NewExports(), nil); err == nil || !strings.Contains(err.Error(), "line 2: streaming[0]: kafka.password_file") {
		t.Fatalf("newFanIn: %v", err)
	}
}
