package controller

import (
	"context"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/probe-agent/probe-agent/bus"
	"github.com/probe-agent/probe-agent/bus/kafkabus"
	"github.com/probe-agent/probe-agent/tlsutil"
)

// FanInKafka is fanin.kafka: the Kafka cluster the agents publish to
// (their streaming entries of type kafka) and the consumer group this
// controller shares the probes in: a member owns the probes whose key
// hashes to the partitions the group gives it.
type FanInKafka struct {
	Brokers []string `yaml:"brokers"`
	// Topic of the records (default probeagent); checkpoints go to
	// <topic>.checkpoints (compacted).
	Topic string `yaml:"topic"`
	// Group is the consumer group of the central evaluators (default
	// probe-controller.<blueprint_id>: one per blueprint).
	Group string `yaml:"group"`
	// Partitions and Replication of the topics this controller creates
	// when missing (default 12 and the broker's default); with
	// create_topics false they must exist.
	Partitions   int   `yaml:"partitions"`
	Replication  int   `yaml:"replication"`
	CreateTopics *bool `yaml:"create_topics"`
	// SASL: mechanism PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512, user and
	// password_file (first line, trimmed).
	Mechanism    string   `yaml:"mechanism"`
	User         string   `yaml:"user"`
	PasswordFile string   `yaml:"password_file"`
	TLS          TLSFiles `yaml:"tls"`
	// SessionTimeout is how long the group waits for a silent member
	// before its partitions go to the others (default two thirds of the
	// staleness bound); it must be shorter than the staleness bound, and
	// at least the broker's group.min.session.timeout.ms (Kafka's
	// default is 6s: lower it, or raise staleness).
	SessionTimeout Duration `yaml:"session_timeout"`
}

func (c *Config) validateFanInKafka(bad func(key, format string, args ...any)) {
	k := c.FanIn.Kafka
	if c.FanIn.NATS != nil {
		bad("fanin", "set one broker: nats or kafka")
	}
	kc := k.validateConn(c, "fanin.kafka", bad)
	if k.Partitions < 0 {
		bad("fanin.kafka.partitions", "%d: want at least 1", k.Partitions)
	}
	if st := kc.SessionTimeout; st < 100*time.Millisecond {
		bad("fanin.kafka.session_timeout", "%s is too short (at least 100ms)", st)
	} else if st >= c.StaleAfter() {
		bad("fanin.kafka.session_timeout", "%s must be shorter than the staleness bound (interval x staleness = %s): a takeover must come before the partials it reads go stale", st, c.StaleAfter())
	}
}

// validateConn checks what connecting needs (brokers, SASL, TLS), for
// fanin.kafka and upward.kafka alike; key is the section's. It returns the
// client configuration with its defaults.
func (k *FanInKafka) validateConn(c *Config, key string, bad func(key, format string, args ...any)) kafkabus.Config {
	kc, err := k.client(c, false)
	if err == nil {
		err = kc.Validate()
	}
	if err != nil {
		bad(key, "%v", err)
	}
	if strings.EqualFold(k.Mechanism, "PLAIN") && k.TLS.CA == "" && k.TLS.Cert == "" {
		bad(key+".mechanism", "PLAIN sends the password in clear: set "+key+".tls too")
	}
	return kc
}

// client is the kafkabus configuration; with secrets, files are read.
func (k *FanInKafka) client(c *Config, secrets bool) (kafkabus.Config, error) {
	kc := kafkabus.Config{Brokers: k.Brokers, Prefix: k.Topic, Group: k.Group, Blueprint: c.BlueprintID, Partitions: k.Partitions,
		Replication: k.Replication, Mechanism: k.Mechanism, User: k.User, SessionTimeout: k.SessionTimeout.D(),
		ClientID: "probe-controller-" + c.BlueprintID}
	if kc.SessionTimeout == 0 {
		kc.SessionTimeout = c.StaleAfter() * 2 / 3
	}
	kc.HeartbeatInterval = max(kc.SessionTimeout/5, 10*time.Millisecond)
	if k.PasswordFile != "" {
		kc.Password = "set"
		if secrets {
			b, err := os.ReadFile(k.PasswordFile)
			if err != nil {
				return kc, fmt.Errorf("password_file: %w", err)
			}
			kc.Password = strings.TrimSpace(strings.SplitN(string(b), "\n", 2)[0])
		}
	}
	if secrets && (k.TLS.CA != "" || k.TLS.Cert != "") {
		var err error
		if kc.TLS, err = tlsutil.Client(tlsutil.Files{CA: k.TLS.CA, Cert: k.TLS.Cert, Key: k.TLS.Key}, k.TLS.ServerName); err != nil {
			return kc, fmt.Errorf("tls: %w", err)
		}
	}
	return kc, nil
}

// startFanInKafka joins the consumer group; the member is ticked by Run.
func (c *Controller) startFanInKafka(ctx context.Context) error {
	c.mu.Lock()
	cfg := c.cfg
	c.mu.Unlock()
	k := cfg.FanIn.Kafka
	kc, err := k.client(&cfg, true)
	if err != nil {
		return fmt.Errorf("fanin.kafka: %w", err)
	}
	if cfg.FanIn.MemberID != "" {
		kc.ClientID = cfg.FanIn.MemberID
	}
	kc.Log = c.log.With("fanin", "kafka")
	cp, err := kafkabus.NewCheckpoint(kc)
	if err != nil {
		return fmt.Errorf("fanin.kafka: %w", err)
	}
	// The input creates the topics (create_topics) and waits for a
	// cluster not reachable yet: the controller starts anyway.
	in, err := kafkabus.NewInput(kc, kafkabus.InputOptions{Probes: c.centralProbes, CreateTopics: k.CreateTopics == nil || *k.CreateTopics})
	if err != nil {
		cp.Close()
		return fmt.Errorf("fanin.kafka: %w", err)
	}
	up, err := c.startUpward(ctx, &cfg)
	if err != nil {
		cp.Close()
		return err
	}
	m := bus.NewMember(parts{c, cfg.FanIn.Devices}, cp, bus.MemberOptions{StaleAfter: cfg.StaleAfter(), MaxMissingShare: cfg.MaxMissingShare,
		OnTick: c.fanInTick, Log: c.log.With("fanin", "member"), Blueprint: cfg.BlueprintID, KeepPartials: up != nil})
	rctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := in.Run(rctx, m); err != nil {
			c.log.Error("fan-in input stopped", "err", err)
		}
	}()
	c.cmu.Lock()
	c.fanin = &fanIn{member: m, input: in, up: up, close: func() {
		cancel()
		<-done
		if up != nil {
			up.close()
		}
		cp.Close()
	}}
	c.cmu.Unlock()
	c.log.Info("fan-in: reading partials from Kafka", "brokers", kc.Brokers, "group", kc.Group, "push_config", cfg.FanIn.Pushes())
	return nil
}
