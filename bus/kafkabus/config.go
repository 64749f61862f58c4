package kafkabus

import (
	"context"
	"crypto/tls"
	"fmt"
	"log/slog"
	"net"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sasl"
	"github.com/twmb/franz-go/pkg/sasl/plain"
	"github.com/twmb/franz-go/pkg/sasl/scram"

	"github.com/probe-agent/probe-agent/bus"
)

// Config is a connection to a Kafka cluster and the fan-in layout on it.
type Config struct {
	// Brokers are seed brokers (host:port); the rest are learnt from
	// metadata.
	Brokers []string
	// ClientID is the client's name in the brokers' logs and quotas.
	ClientID string
	// TLS, when set, encrypts every connection.
	TLS *tls.Config
	// SASL: Mechanism is "" (none), PLAIN, SCRAM-SHA-256 or
	// SCRAM-SHA-512, with User and Password. PLAIN sends the password as
	// it is: use it with TLS only.
	Mechanism      string
	User, Password string

	// Prefix is the records' topic (bus.KafkaTopic) and the start of the
	// checkpoint topic's name.
	Prefix string
	// Blueprint is the blueprint the records belong to (agents).
	Blueprint string
	// Partitions of the records' topic when this client creates it (the
	// number of members the work can be split between, at most).
	Partitions int
	// Replication of the topics it creates (-1: the broker's default).
	Replication int
	// Group is the consumer group of the central evaluators (controllers).
	Group string
	// SessionTimeout is how long the group coordinator waits for a silent
	// member before giving its partitions to the others (the failover
	// time's main part); HeartbeatInterval how often a member speaks.
	SessionTimeout    time.Duration
	HeartbeatInterval time.Duration
	// CommitInterval is how often a member commits what its ticks
	// finished (and at every revoke).
	CommitInterval time.Duration
	// DeliveryTimeout bounds how long the producer keeps retrying one
	// batch before its Send fails (the bus.Publisher then retries it).
	DeliveryTimeout time.Duration

	// Dialer replaces the TCP dialer (tests cut connections with it).
	Dialer func(ctx context.Context, network, host string) (net.Conn, error)
	Log    *slog.Logger
}

// Defaults of the zero fields.
const (
	DefaultPrefix            = "probeagent"
	DefaultGroup             = "probe-controller"
	DefaultPartitions        = 12
	DefaultSessionTimeout    = 10 * time.Second
	DefaultHeartbeatInterval = time.Second
	DefaultCommitInterval    = time.Second
	DefaultDeliveryTimeout   = 30 * time.Second
)

// DefaultGroupOf is the consumer group of a blueprint's central
// evaluators when none is configured: DefaultGroup, a dot and the
// blueprint. One group per blueprint by default, because a group shares a
// topic's partitions among all its members whatever their blueprint and a
// member skips another blueprint's records: the levels of a hierarchy (or
// two fabrics) left in one group would silently lose each other's records.
func DefaultGroupOf(blueprint string) string {
	if blueprint == "" {
		return DefaultGroup
	}
	return DefaultGroup + "." + blueprint
}

// CheckpointTopic is the compacted topic of a prefix's checkpoints.
func CheckpointTopic(prefix string) string { return prefix + ".checkpoints" }

func (c Config) withDefaults() Config {
	if c.Prefix == "" {
		c.Prefix = DefaultPrefix
	}
	if c.Group == "" {
		c.Group = DefaultGroupOf(c.Blueprint)
	}
	if c.Partitions <= 0 {
		c.Partitions = DefaultPartitions
	}
	if c.Replication == 0 {
		c.Replication = -1
	}
	if c.SessionTimeout <= 0 {
		c.SessionTimeout = DefaultSessionTimeout
	}
	if c.HeartbeatInterval <= 0 {
		c.HeartbeatInterval = min(DefaultHeartbeatInterval, c.SessionTimeout/3)
	}
	if c.CommitInterval <= 0 {
		c.CommitInterval = DefaultCommitInterval
	}
	if c.DeliveryTimeout <= 0 {
		c.DeliveryTimeout = DefaultDeliveryTimeout
	}
	if c.Log == nil {
		c.Log = slog.Default()
	}
	return c
}

// Validate checks what a configuration file sets, naming the key.
func (c Config) Validate() error {
	if len(c.Brokers) == 0 {
		return fmt.Errorf("brokers: at least one host:port is required")
	}
	for i, b := range c.Brokers {
		if _, _, err := net.SplitHostPort(b); err != nil {
			return fmt.Errorf("brokers[%d]: want host:port, got %q", i, b)
		}
	}
	switch strings.ToUpper(c.Mechanism) {
	case "":
		if c.User != "" || c.Password != "" {
			return fmt.Errorf("user: set mechanism too (PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512)")
		}
	case "PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512":
		if c.User == "" || c.Password == "" {
			return fmt.Errorf("mechanism: %s needs user and password", c.Mechanism)
		}
	default:
		return fmt.Errorf("mechanism: want PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512, got %q", c.Mechanism)
	}
	if c.Prefix != "" {
		if err := bus.ValidPrefix(c.Prefix); err != nil {
			return fmt.Errorf("topic: %w", err)
		}
		if len(CheckpointTopic(c.Prefix)) > 249 {
			return fmt.Errorf("topic: %q is too long for a Kafka topic name", c.Prefix)
		}
	}
	if c.Partitions < 0 {
		return fmt.Errorf("partitions: must be positive, got %d", c.Partitions)
	}
	if c.SessionTimeout != 0 && c.HeartbeatInterval != 0 && c.HeartbeatInterval >= c.SessionTimeout {
		return fmt.Errorf("heartbeat_interval: %s must be shorter than session_timeout %s", c.HeartbeatInterval, c.SessionTimeout)
	}
	return nil
}

// mechanism is the SASL mechanism of the configuration (nil: none).
func (c Config) mechanism() sasl.Mechanism {
	switch strings.ToUpper(c.Mechanism) {
	case "PLAIN":
		return plain.Auth{User: c.User, Pass: c.Password}.AsMechanism()
	case "SCRAM-SHA-256":
		return scram.Auth{User: c.User, Pass: c.Password}.AsSha256Mechanism()
	case "SCRAM-SHA-512":
		return scram.Auth{User: c.User, Pass: c.Password}.AsSha512Mechanism()
	}
	return nil
}

// common are the options of every client: brokers, TLS, SASL, logging.
func (c Config) common() []kgo.Opt {
	opts := []kgo.Opt{kgo.SeedBrokers(c.Brokers...), kgo.WithLogger(kgoLogger{c.Log})}
	if c.ClientID != "" {
		opts = append(opts, kgo.ClientID(c.ClientID))
	}
	if c.Dialer != nil {
		opts = append(opts, kgo.Dialer(c.Dialer))
	}
	if c.TLS != nil {
		if c.Dialer != nil {
			// kgo refuses a dialer and a TLS configuration together: the
			// dialer is the tests' and wraps the connection itself.
			tc := c.TLS.Clone()
			dial := c.Dialer
			opts[len(opts)-1] = kgo.Dialer(func(ctx context.Context, network, host string) (net.Conn, error) {
				conn, err := dial(ctx, network, host)
				if err != nil {
					return nil, err
				}
				cfg := tc.Clone()
				if cfg.ServerName == "" {
					cfg.ServerName, _, _ = net.SplitHostPort(host)
				}
				tconn := tls.Client(conn, cfg)
				if err := tconn.HandshakeContext(ctx); err != nil {
					conn.Close()
					return nil, err
				}
				return tconn, nil
			})
		} else {
			opts = append(opts, kgo.DialTLSConfig(c.TLS.Clone()))
		}
	}
	if m := c.mechanism(); m != nil {
		opts = append(opts, kgo.SASL(m))
	}
	return opts
}

// kgoLogger sends kgo's warnings and errors to slog (its info and debug
// lines are per request: too many for a daemon's log).
type kgoLogger struct{ l *slog.Logger }

func (k kgoLogger) Level() kgo.LogLevel { return kgo.LogLevelWarn }
func (k kgoLogger) Log(level kgo.LogLevel, msg string, kv ...any) {
	switch level {
	case kgo.LogLevelError:
		k.l.Error("kafka: "+msg, kv...)
	case kgo.LogLevelWarn:
		k.l.Warn("kafka: "+msg, kv...)
	default:
		k.l.Debug("kafka: "+msg, kv...)
	}
}
