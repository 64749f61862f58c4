//go:build !nokafka

package agent

import (
	"fmt"
	"log/slog"
	"os"
	"strings"

	"github.com/probe-agent/probe-agent/bus"
	"github.com/probe-agent/probe-agent/bus/kafkabus"
)

// kafkaProblems lists what is wrong with a type kafka entry, as (key
// suffix, message) pairs.
func (s StreamingEntry) kafkaProblems() [][2]string {
	var out [][2]string
	bad := func(key, format string, args ...any) { out = append(out, [2]string{key, fmt.Sprintf(format, args...)}) }
	if s.Sequenced {
		bad(".sequenced", "not for type kafka: the producer is idempotent, with acks from every in-sync replica")
	}
	k := s.Kafka
	if k == nil {
		return out
	}
	c, err := s.kafkaClientConfig(false)
	if err != nil {
		bad(".kafka", "%v", err)
		return out
	}
	if err := c.Validate(); err != nil {
		bad(".kafka", "%v", err)
	}
	if strings.EqualFold(k.Mechanism, "PLAIN") && s.TLS == nil {
		bad(".kafka.mechanism", "PLAIN sends the password in clear: set the entry's tls too")
	}
	return out
}

// kafkaClientConfig is the kafkabus configuration of the entry; with
// secrets, the password file is read and the TLS files loaded.
func (s StreamingEntry) kafkaClientConfig(secrets bool) (kafkabus.Config, error) {
	k := s.Kafka
	if k == nil {
		k = &KafkaConfig{}
	}
	c := kafkabus.Config{Brokers: append([]string{s.Address}, k.Brokers...), Prefix: k.Topic,
		Mechanism: k.Mechanism, User: k.User, DeliveryTimeout: k.DeliveryTimeout.D()}
	if k.PasswordFile != "" {
		c.Password = "set" // a placeholder for Validate
		if secrets {
			b, err := os.ReadFile(k.PasswordFile)
			if err != nil {
				return c, fmt.Errorf("kafka.password_file: %w", err)
			}
			c.Password = strings.TrimSpace(strings.SplitN(string(b), "\n", 2)[0])
		}
	}
	if s.TLS != nil && secrets {
		var err error
		if c.TLS, err = clientTLS(*s.TLS); err != nil {
			return c, fmt.Errorf("tls: %w", err)
		}
	}
	return c, nil
}

// newKafkaPublisher starts the publisher of a type kafka entry.
func newKafkaPublisher(cfg Config, e StreamingEntry, log *slog.Logger) (*bus.Publisher, error) {
	c, err := e.kafkaClientConfig(true)
	if err != nil {
		return nil, err
	}
	c.Blueprint, c.ClientID, c.Log = cfg.BlueprintID, "probe-agent-"+cfg.SystemID, log.With("fanin", "kafka "+e.Address)
	sink, err := kafkabus.NewSink(c)
	if err != nil {
		return nil, err
	}
	return bus.NewPublisher(sink, bus.QueueOptions{Messages: cfg.Queue.Messages, Bytes: cfg.Queue.Bytes}, c.Log), nil
}
