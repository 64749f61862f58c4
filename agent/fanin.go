package agent

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"strings"

	"github.com/probe-agent/probe-agent/bus"
	"github.com/probe-agent/probe-agent/bus/natsbus"
	"github.com/probe-agent/probe-agent/proto/aos"
)

// NATSConfig is the nats block of a streaming entry of type nats: the
// agent publishes what crosses the edge/central cut (its exports, one
// bus.Record per probe and evaluation) to a JetStream stream, for central
// evaluators that read it through the broker instead of each agent's
// StreamStages (docs/streaming.md, "Fan-in through NATS JetStream").
type NATSConfig struct {
	// URLs are more servers of the same cluster, besides the entry's
	// address (nats://host:port; tls:// with the entry's tls block).
	URLs []string `yaml:"urls"`
	// SubjectPrefix and Stream must match the evaluators' (defaults
	// probeagent and PROBEAGENT).
	SubjectPrefix string `yaml:"subject_prefix"`
	Stream        string `yaml:"stream"`
	// Credentials: one of user with password_file, token_file, creds_file
	// (a .creds file: JWT and NKey seed) and nkey_file (an NKey seed).
	User         string `yaml:"user"`
	PasswordFile string `yaml:"password_file"`
	TokenFile    string `yaml:"token_file"`
	CredsFile    string `yaml:"creds_file"`
	NKeyFile     string `yaml:"nkey_file"`
	// PublishTimeout bounds the wait for the stream's acknowledgements
	// of one batch (default 5s); a batch not acknowledged is sent again,
	// with the same message ids.
	PublishTimeout Duration `yaml:"publish_timeout"`
}

// natsProblems lists what is wrong with a type nats entry, as (key
// suffix, message) pairs.
func (s StreamingEntry) natsProblems() [][2]string {
	var out [][2]string
	bad := func(key, format string, args ...any) { out = append(out, [2]string{key, fmt.Sprintf(format, args...)}) }
	if s.Sequenced {
		bad(".sequenced", "not for type nats: JetStream acknowledges every record")
	}
	n := s.NATS
	if n == nil {
		return out
	}
	c, err := s.natsClientConfig(false)
	if err != nil {
		bad(".nats", "%v", err)
		return out
	}
	if err := c.Validate(); err != nil {
		bad(".nats", "%v", err)
	}
	if n.PasswordFile != "" && n.User == "" {
		bad(".nats.password_file", "needs user")
	}
	return out
}

// natsClientConfig is the natsbus configuration of the entry; with
// secrets, the credential files are read.
func (s StreamingEntry) natsClientConfig(secrets bool) (natsbus.Config, error) {
	n := s.NATS
	if n == nil {
		n = &NATSConfig{}
	}
	scheme := "nats://"
	if s.TLS != nil {
		scheme = "tls://"
	}
	c := natsbus.Config{URLs: append([]string{scheme + s.Address}, n.URLs...), Prefix: n.SubjectPrefix, Stream: n.Stream,
		User: n.User, CredsFile: n.CredsFile, NKeyFile: n.NKeyFile, PublishTimeout: n.PublishTimeout.D()}
	read := func(key, file string) (string, error) {
		if !secrets || file == "" {
			return strings.Repeat("x", len(file)), nil // a placeholder: set or not
		}
		b, err := os.ReadFile(file)
		if err != nil {
			return "", fmt.Errorf("nats.%s: %w", key, err)
		}
		return strings.TrimSpace(string(b)), nil
	}
	var err error
	if c.Password, err = read("password_file", n.PasswordFile); err != nil {
		return c, err
	}
	if c.Token, err = read("token_file", n.TokenFile); err != nil {
		return c, err
	}
	if s.TLS != nil && secrets {
		if c.TLS, err = clientTLS(*s.TLS); err != nil {
			return c, fmt.Errorf("tls: %w", err)
		}
	}
	return c, nil
}

// aosEntries are the entries aosout sends (every type but nats).
func aosEntries(entries []StreamingEntry) []StreamingEntry {
	var out []StreamingEntry
	for _, e := range entries {
		if e.Type != "nats" && e.Type != "kafka" {
			out = append(out, e)
		}
	}
	return out
}

// discard is the output when every streaming entry is a fan-in one: the
// Apstra channels go nowhere (nothing is printed either).
type discard struct{}

func (discard) send(string, *aos.AosMessage) {}
func (discard) close(context.Context) error  { return nil }
func (discard) describe() string             { return "fan-in only" }

// fanIn is the agent's fan-in outputs: one publisher per nats entry, fed
// from the probe exports.
type fanIn struct {
	pubs   []*bus.Publisher
	log    *slog.Logger
	cancel context.CancelFunc
	done   chan struct{}
}

// newFanIn starts a publisher per type nats entry of cfg; nil when there
// is none.
func newFanIn(cfg Config, ex *Exports, log *slog.Logger) (*fanIn, error) {
	var pubs []*bus.Publisher
	for i, e := range cfg.Streaming {
		if e.Type == "kafka" {
			p, err := newKafkaPublisher(cfg, e, log)
			if err != nil {
				for _, p := range pubs {
					_ = p.Close(context.Background())
				}
				return nil, fmt.Errorf("line %d: streaming[%d]: %w", e.line, i, err)
			}
			pubs = append(pubs, p)
			continue
		}
		if e.Type != "nats" {
			continue
		}
		c, err := e.natsClientConfig(true)
		if err == nil {
			c.Blueprint, c.Name, c.Log = cfg.BlueprintID, "probe-agent "+cfg.SystemID, log.With("fanin", e.Address)
			var p *bus.Publisher
			p, err = natsbus.NewPublisher(context.Background(), c, bus.QueueOptions{Messages: cfg.Queue.Messages, Bytes: cfg.Queue.Bytes})
			if err == nil {
				pubs = append(pubs, p)
				continue
			}
		}
		for _, p := range pubs {
			_ = p.Close(context.Background())
		}
		return nil, fmt.Errorf("line %d: streaming[%d]: %w", e.line, i, err)
	}
	if len(pubs) == 0 {
		return nil, nil
	}
	ctx, cancel := context.WithCancel(context.Background())
	f := &fanIn{pubs: pubs, log: log, cancel: cancel, done: make(chan struct{})}
	sub, unsubscribe := ex.Subscribe(64)
	go func() {
		defer close(f.done)
		defer unsubscribe()
		ForwardExports(ctx, sub, cfg.BlueprintID, f, log)
	}()
	return f, nil
}

// Publish hands a record to every publisher.
func (f *fanIn) Publish(r *bus.Record) error {
	for _, p := range f.pubs {
		if err := p.Publish(r); err != nil {
			return err
		}
	}
	return nil
}

// close stops forwarding and flushes the publishers within ctx.
func (f *fanIn) close(ctx context.Context) error {
	if f == nil {
		return nil
	}
	f.cancel()
	<-f.done
	var first error
	for _, p := range f.pubs {
		err := p.Close(ctx)
		st := p.Stats()
		f.log.Info("fan-in publisher closed", "sent", st.Sent, "dropped", st.Dropped, "failed_sends", st.Failures, "bytes", st.Bytes)
		if err != nil && first == nil {
			first = err
		}
	}
	return first
}
