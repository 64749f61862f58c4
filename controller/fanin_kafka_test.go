package controller

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestFanInKafkaConfig(t *testing.T) {
	pass := filepath.Join(t.TempDir(), "pass")
	if err := os.WriteFile(pass, []byte("s3cret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := ParseConfig([]byte(faninBase+"interval: 1s\nstaleness: 9\nfanin:\n  member_id: ctl-2\n  kafka:\n    brokers: ['k1:9092', 'k2:9092']\n    topic: dc1.pa\n    group: dc1-central\n    partitions: 24\n    mechanism: SCRAM-SHA-256\n    user: ctl\n    password_file: "+pass+"\n"), "c.yaml")
	if err != nil {
		t.Fatal(err)
	}
	f := cfg.FanIn
	if !f.Enabled() || !f.Pushes() || f.Kafka == nil || len(f.Kafka.Brokers) != 2 {
		t.Fatalf("fanin %+v", f)
	}
	kc, err := f.Kafka.client(&cfg, true)
	if err != nil {
		t.Fatal(err)
	}
	// The session timeout defaults to two thirds of the staleness bound.
	if kc.Prefix != "dc1.pa" || kc.Group != "dc1-central" || kc.Partitions != 24 || kc.Password != "s3cret" || kc.SessionTimeout != 6*time.Second || kc.HeartbeatInterval >= kc.SessionTimeout {
		t.Fatalf("client config %+v", kc)
	}
}

func TestFanInKafkaConfigErrors(t *testing.T) {
	for _, tc := range []struct{ name, in, want string }{
		{"no brokers", "fanin: {kafka: {}}\n", "c.yaml:3: fanin.kafka: brokers"},
		{"two brokers kinds", "fanin: {nats: {urls: ['nats://n:4222']}, kafka: {brokers: ['k:9092']}}\n", "fanin: set one broker"},
		{"session past staleness", "interval: 1s\nstaleness: 3\nfanin:\n  kafka: {brokers: ['k:9092'], session_timeout: 3s}\n", "fanin.kafka.session_timeout: 3s must be shorter than the staleness bound"},
		{"plain without tls", "fanin: {kafka: {brokers: ['k:9092'], mechanism: PLAIN, user: u, password_file: p}}\n", "fanin.kafka.mechanism: PLAIN sends the password in clear"},
		{"unknown mechanism", "fanin: {kafka: {brokers: ['k:9092'], mechanism: GSSAPI, user: u, password_file: p}}\n", "fanin.kafka: mechanism: want PLAIN"},
		{"bad topic", "fanin: {kafka: {brokers: ['k:9092'], topic: 'a>b'}}\n", "fanin.kafka: topic"},
		{"unknown key", "fanin: {kafka: {broker: 'k:9092'}}\n", "field broker not found"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseConfig([]byte(faninBase+tc.in), "c.yaml")
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want %q", err, tc.want)
			}
		})
	}
}
