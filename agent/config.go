package agent

import (
	"bytes"
	_ "embed"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/probe-agent/probe-agent/agent/stream"
	"github.com/probe-agent/probe-agent/probe"
	"github.com/probe-agent/probe-agent/restapi"
)

// ExampleConfig is the documented example configuration; every key in it is
// a key Load accepts.
//
//go:embed example.yaml
var ExampleConfig []byte

// Config is the agent's configuration file.
type Config struct {
	SystemID        string           `yaml:"system_id"`
	Hostname        string           `yaml:"hostname"`
	Role            string           `yaml:"role"`
	BlueprintID     string           `yaml:"blueprint_id"`
	BlueprintLabel  string           `yaml:"blueprint_label"`
	Interval        Duration         `yaml:"interval"`
	Collector       CollectorConfig  `yaml:"collector"`
	ProbesDir       string           `yaml:"probes_dir"`
	StateDir        string           `yaml:"state_dir"`
	Streaming       []StreamingEntry `yaml:"streaming"`
	Queue           QueueConfig      `yaml:"queue"`
	Output          string           `yaml:"output"`
	ShutdownTimeout Duration         `yaml:"shutdown_timeout"`
	LogLevel        string           `yaml:"log_level"`
	// Dialect is the dialect of probe documents that neither set
	// "dialect" nor carry evidence of one (docs/probes.md).
	Dialect string `yaml:"dialect"`
	// LogSummary is how often a one-line Info summary is logged (probes,
	// interfaces, anomalies, messages sent and dropped per channel); 0
	// turns it off.
	LogSummary Duration      `yaml:"log_summary"`
	Control    ControlConfig `yaml:"control"`
	API        APIConfig     `yaml:"api"`
	// Limits are the probes' resource budgets (agent/limits.go).
	Limits LimitsConfig `yaml:"limits"`

	stateDirLine int // line of state_dir, for CheckStateDir's error
}

// ControlConfig configures the gRPC control plane controllers push probes
// through. An empty Listen disables it.
type ControlConfig struct {
	Listen    string    `yaml:"listen"`
	TLS       TLSConfig `yaml:"tls"`
	TokenFile string    `yaml:"token_file"`
	// Insecure serves plaintext without client certificates: labs only.
	Insecure bool `yaml:"insecure"`
	// MaxConnections bounds the connections served at once; further
	// clients wait in the kernel's accept backlog (docs/control-plane.md).
	// 0 means 64.
	MaxConnections int `yaml:"max_connections"`
	// HandshakeTimeout closes a connection that has not completed its TLS
	// and HTTP/2 handshake by then; 0 means 10s (gRPC's own is 120s).
	HandshakeTimeout Duration `yaml:"handshake_timeout"`
	// IdleTimeout closes a connection without a call or stream in
	// progress for that long; 0 means 5m.
	IdleTimeout Duration `yaml:"idle_timeout"`
}

// Control-plane listener defaults, used where a key is 0.
const (
	DefaultControlMaxConnections   = 64
	DefaultControlHandshakeTimeout = 10 * time.Second
	DefaultControlIdleTimeout      = 5 * time.Minute
)

// Limits returns the listener's bounds with defaults for keys left at 0.
func (c ControlConfig) Limits() (maxConns int, handshake, idle time.Duration) {
	return orInt(c.MaxConnections, DefaultControlMaxConnections),
		orDuration(c.HandshakeTimeout, DefaultControlHandshakeTimeout),
		orDuration(c.IdleTimeout, DefaultControlIdleTimeout)
}

// APIConfig configures the local REST API and /metrics, /healthz,
// /readyz. An empty Listen disables it. The API is read-only unless
// TokenFile or TLS.CA authenticates writes; a non-loopback Listen needs
// one of them.
type APIConfig struct {
	Listen string    `yaml:"listen"`
	TLS    TLSConfig `yaml:"tls"`
	// TokenFile holds a bearer token that POST, PATCH, PUT and DELETE
	// must present (Authorization: Bearer <token>).
	TokenFile string `yaml:"token_file"`
	// StageSeriesLimit bounds the series one streamed stage adds to
	// /metrics (items beyond it are counted, not shown); 0 means 10000.
	StageSeriesLimit int `yaml:"stage_series_limit"`
	// MaxConnections bounds the connections served at once: when all are
	// taken, the longest-idle keep-alive connection is closed for a new
	// client, and further clients wait in the kernel's accept backlog.
	// 0 means 256.
	MaxConnections int `yaml:"max_connections"`
	// IdleTimeout closes a keep-alive connection idle for that long; 0
	// means 60s.
	IdleTimeout Duration `yaml:"idle_timeout"`
	// ReadHeaderTimeout closes a connection whose TLS handshake and
	// request headers are not complete by then; 0 means 10s.
	ReadHeaderTimeout Duration `yaml:"read_header_timeout"`
	// AllowUnauthenticatedNetwork lets listen be an address reachable
	// from the network while nothing authenticates writes: the API is
	// then read-only (writes answer 403) but stages, anomalies and
	// /metrics are readable by anyone who can reach it.
	AllowUnauthenticatedNetwork bool `yaml:"allow_unauthenticated_network"`
}

// REST API listener defaults, used where a key is 0.
const (
	DefaultAPIMaxConnections    = 256
	DefaultAPIIdleTimeout       = 60 * time.Second
	DefaultAPIReadHeaderTimeout = 10 * time.Second
)

// Limits returns the listener's bounds with defaults for keys left at 0.
func (c APIConfig) Limits() (maxConns int, idle, readHeader time.Duration) {
	return orInt(c.MaxConnections, DefaultAPIMaxConnections),
		orDuration(c.IdleTimeout, DefaultAPIIdleTimeout),
		orDuration(c.ReadHeaderTimeout, DefaultAPIReadHeaderTimeout)
}

func orInt(v, def int) int {
	if v == 0 {
		return def
	}
	return v
}

func orDuration(v Duration, def time.Duration) time.Duration {
	if v == 0 {
		return def
	}
	return v.D()
}

// WritesAuthenticated reports whether the API accepts writes: a token or
// client certificates authenticate them.
func (c APIConfig) WritesAuthenticated() bool { return c.TokenFile != "" || c.TLS.CA != "" }

// isLoopback reports whether a listen host only accepts local connections
// (restapi.IsLoopback: the controller applies the same rule).
func isLoopback(host string) bool { return restapi.IsLoopback(host) }

// CollectorConfig selects and configures the counter source.
type CollectorConfig struct {
	Type    string        `yaml:"type"`
	Netlink NetlinkConfig `yaml:"netlink"`
	GNMI    GNMIConfig    `yaml:"gnmi"`
	Replay  ReplayConfig  `yaml:"replay"`
}

// NetlinkConfig configures the netlink collector.
type NetlinkConfig struct {
	Netns string `yaml:"netns"`
}

// GNMIConfig configures the gNMI collector.
type GNMIConfig struct {
	Target       string `yaml:"target"`
	PrefixTarget string `yaml:"prefix_target"`
	Origin       string `yaml:"origin"`
	Username     string `yaml:"username"`
	Password     string `yaml:"password"`
	// PasswordFile holds the password (one line; surrounding white space
	// is ignored), so the configuration file need not carry it. It is read
	// when the collector starts; password and password_file exclude each
	// other.
	PasswordFile string    `yaml:"password_file"`
	Insecure     bool      `yaml:"insecure"`
	TLS          TLSConfig `yaml:"tls"`
	// Encoding asks the target for "proto" (counters as uint_val),
	// "json_ietf" or "json"; a target that refuses it is asked with the
	// next of these.
	Encoding string `yaml:"encoding"`
	// StaleAfter drops an interface nothing was heard about for this long
	// (default three intervals).
	StaleAfter Duration `yaml:"stale_after"`
	// ReconnectMax caps the wait between attempts to reopen the
	// subscription (exponential backoff with jitter from 500ms); 0 means
	// 30s.
	ReconnectMax Duration `yaml:"reconnect_max"`
}

// TLSConfig names certificate files.
type TLSConfig struct {
	CA         string `yaml:"ca"`
	Cert       string `yaml:"cert"`
	Key        string `yaml:"key"`
	SkipVerify bool   `yaml:"skip_verify"`
	// ServerName is the name checked in the peer's certificate when it is
	// not the host in the address (connections the agent makes only).
	ServerName string `yaml:"server_name"`
}

// ReplayConfig configures the replay collector.
type ReplayConfig struct {
	File string `yaml:"file"`
	// Pace is "recording" (default): ticks come out at the recording's own
	// pace, so message timestamps stay true whatever the interval; or
	// "interval": one recorded tick per interval (fast-forward for tests
	// and demos; times then run ahead of the clock when the interval is
	// shorter than the recording's step).
	Pace string `yaml:"pace"`
}

// StreamingEntry is one receiver of one channel.
type StreamingEntry struct {
	Type      string     `yaml:"type"`
	Address   string     `yaml:"address"`
	Sequenced bool       `yaml:"sequenced"`
	TLS       *TLSConfig `yaml:"tls"`
	// ReconnectMax caps the wait between reconnect attempts (exponential
	// backoff with jitter from 100ms); 0 means 30s.
	ReconnectMax Duration `yaml:"reconnect_max"`
	// NATS configures a type nats entry (fan-in through JetStream,
	// fanin.go).
	NATS *NATSConfig `yaml:"nats"`
	// Kafka configures a type kafka entry (fan-in through Kafka,
	// fanin_kafka.go).
	Kafka *KafkaConfig `yaml:"kafka"`
	line  int
}

// QueueConfig bounds the per-entry queues.
type QueueConfig struct {
	Messages int `yaml:"messages"`
	// Bytes bounds the memory of each queue's encoded messages (a probe
	// message is about 150-250 bytes); the oldest are dropped at whichever
	// bound is reached first. Default 16 MiB.
	Bytes int `yaml:"bytes"`
}

// Duration is a time.Duration written as a Go duration string ("200ms").
type Duration time.Duration

// UnmarshalYAML parses a duration, naming the line on error.
func (d *Duration) UnmarshalYAML(n *yaml.Node) error {
	v, err := time.ParseDuration(n.Value)
	if err != nil {
		return fmt.Errorf("line %d: %q is not a duration (use e.g. 500ms, 1s, 1m)", n.Line, n.Value)
	}
	*d = Duration(v)
	return nil
}

// D returns the value as a time.Duration.
func (d Duration) D() time.Duration { return time.Duration(d) }

// Defaults returns the configuration used for keys a file leaves out.
func Defaults() Config {
	host, _ := os.Hostname()
	return Config{
		SystemID:        host,
		Hostname:        host,
		Interval:        Duration(time.Second),
		Collector:       CollectorConfig{Type: "netlink", GNMI: GNMIConfig{Target: "127.0.0.1:6030"}},
		StateDir:        "/var/lib/probe-agent",
		Queue:           QueueConfig{Messages: 100000, Bytes: 16 << 20},
		Output:          "json",
		ShutdownTimeout: Duration(5 * time.Second),
		LogLevel:        "info",
		LogSummary:      Duration(5 * time.Minute),
		API:             APIConfig{Listen: "127.0.0.1:8080"},
	}
}

// Load reads a configuration file. Unknown keys and bad values are errors
// naming the key and its line.
func Load(path string) (Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return Config{}, err
	}
	cfg, err := Parse(data)
	if err != nil {
		return cfg, fmt.Errorf("%s: %w", path, err)
	}
	return cfg, nil
}

// Parse decodes and validates configuration YAML over the defaults.
func Parse(data []byte) (Config, error) {
	cfg := Defaults()
	var root yaml.Node
	if err := yaml.Unmarshal(data, &root); err != nil {
		return cfg, err
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&cfg); err != nil && !errors.Is(err, io.EOF) {
		return cfg, cleanYAMLError(err)
	}
	lines := keyLines(&root)
	for i := range cfg.Streaming {
		cfg.Streaming[i].line = lines[fmt.Sprintf("streaming[%d]", i)]
	}
	cfg.stateDirLine = lines["state_dir"]
	if cfg.Hostname == "" {
		cfg.Hostname = Defaults().Hostname
	}
	if cfg.SystemID == "" {
		cfg.SystemID = cfg.Hostname
	}
	if cfg.BlueprintID == "" {
		cfg.BlueprintID = cfg.SystemID
	}
	return cfg, cfg.validate(lines)
}

func cleanYAMLError(err error) error {
	msg := strings.TrimPrefix(err.Error(), "yaml: ")
	msg = strings.ReplaceAll(msg, "unmarshal errors:\n  ", "")
	msg = strings.ReplaceAll(msg, " in type agent.", " in ")
	return errors.New(msg)
}

// keyLines maps dotted key paths ("collector.type", "streaming[1]") to the
// line they are on, so value errors can name their line too.
func keyLines(root *yaml.Node) map[string]int {
	out := map[string]int{}
	var walk func(n *yaml.Node, path string)
	walk = func(n *yaml.Node, path string) {
		switch n.Kind {
		case yaml.DocumentNode:
			for _, c := range n.Content {
				walk(c, path)
			}
		case yaml.MappingNode:
			for i := 0; i+1 < len(n.Content); i += 2 {
				p := n.Content[i].Value
				if path != "" {
					p = path + "." + p
				}
				out[p] = n.Content[i].Line
				walk(n.Content[i+1], p)
			}
		case yaml.SequenceNode:
			for i, c := range n.Content {
				p := fmt.Sprintf("%s[%d]", path, i)
				out[p] = c.Line
				walk(c, p)
			}
		}
	}
	walk(root, "")
	return out
}

func (c *Config) validate(lines map[string]int) error {
	var errs []string
	bad := func(key, format string, args ...any) {
		prefix := key
		// A key left out is reported at the line of its closest parent.
		for k := key; k != ""; k = parentKey(k) {
			if l, ok := lines[k]; ok {
				prefix = fmt.Sprintf("line %d: %s", l, key)
				break
			}
		}
		errs = append(errs, prefix+": "+fmt.Sprintf(format, args...))
	}
	if c.Interval.D() < 10*time.Millisecond {
		bad("interval", "%s is too short (minimum 10ms)", c.Interval.D())
	}
	switch c.Collector.Type {
	case "netlink":
	case "gnmi":
		if _, _, err := net.SplitHostPort(c.Collector.GNMI.Target); err != nil {
			bad("collector.gnmi.target", "want host:port, got %q", c.Collector.GNMI.Target)
		}
		switch c.Collector.GNMI.Encoding {
		case "", "proto", "json_ietf", "json":
		default:
			bad("collector.gnmi.encoding", "want proto, json_ietf or json, got %q", c.Collector.GNMI.Encoding)
		}
		if m := c.Collector.GNMI.ReconnectMax.D(); m != 0 && m < 500*time.Millisecond {
			bad("collector.gnmi.reconnect_max", "must be at least 500ms (or 0 for the default, 30s), got %s", m)
		}
	case "replay":
		if c.Collector.Replay.File == "" {
			bad("collector.replay.file", "required for the replay collector")
		}
		switch c.Collector.Replay.Pace {
		case "", "recording", "interval":
		default:
			bad("collector.replay.pace", "want recording or interval, got %q", c.Collector.Replay.Pace)
		}
	default:
		bad("collector.type", "want netlink, gnmi or replay, got %q", c.Collector.Type)
	}
	for i, s := range c.Streaming {
		key := fmt.Sprintf("streaming[%d]", i)
		switch s.Type {
		case "perfmon", "alerts", "events":
		case "nats":
			for _, p := range s.natsProblems() {
				bad(key+p[0], "%s", p[1])
			}
		case "kafka":
			for _, p := range s.kafkaProblems() {
				bad(key+p[0], "%s", p[1])
			}
		default:
			bad(key+".type", "want perfmon, alerts or events (or nats or kafka: fan-in through a broker), got %q", s.Type)
		}
		if _, _, err := net.SplitHostPort(s.Address); err != nil {
			bad(key+".address", "want host:port, got %q", s.Address)
		}
		if s.ReconnectMax != 0 && s.ReconnectMax.D() < stream.DefaultBackoffMin {
			bad(key+".reconnect_max", "must be at least %s (or 0 for the default, %s), got %s", stream.DefaultBackoffMin, stream.DefaultBackoffMax, s.ReconnectMax.D())
		}
	}
	if c.Control.Listen != "" {
		if _, _, err := net.SplitHostPort(c.Control.Listen); err != nil {
			bad("control.listen", "want host:port, got %q", c.Control.Listen)
		}
		t := c.Control.TLS
		if t.ServerName != "" {
			bad("control.tls.server_name", "only for connections the agent makes (streaming, gnmi), not for the control plane it serves")
		}
		if !c.Control.Insecure && (t.CA == "" || t.Cert == "" || t.Key == "") {
			bad("control.tls", "ca, cert and key are required (clients are checked against ca); set control.insecure: true only in a lab")
		}
	}
	if c.API.Listen != "" {
		if _, _, err := net.SplitHostPort(c.API.Listen); err != nil {
			bad("api.listen", "want host:port, got %q", c.API.Listen)
		}
		if c.API.TLS.ServerName != "" {
			bad("api.tls.server_name", "only for connections the agent makes (streaming, gnmi), not for the API it serves")
		}
		if (c.API.TLS.Cert == "") != (c.API.TLS.Key == "") {
			bad("api.tls", "cert and key go together")
		}
		if c.API.StageSeriesLimit < 0 {
			bad("api.stage_series_limit", "must be 0 (the default, 10000) or more, got %d", c.API.StageSeriesLimit)
		}
		if c.API.TLS.CA != "" && c.API.TLS.Cert == "" {
			bad("api.tls.ca", "client certificates need HTTPS: set api.tls.cert and api.tls.key too")
		}
		if host, _, err := net.SplitHostPort(c.API.Listen); err == nil && !isLoopback(host) && !c.API.WritesAuthenticated() && !c.API.AllowUnauthenticatedNetwork {
			bad("api.listen", "%q is reachable from the network but nothing authenticates writes: set api.token_file (bearer token) or api.tls.ca (client certificates), or listen on 127.0.0.1 (or set api.allow_unauthenticated_network: true for a read-only API anyone on the network can read)", c.API.Listen)
		}
	}
	if c.Queue.Messages < 1 {
		bad("queue.messages", "must be at least 1, got %d", c.Queue.Messages)
	}
	if c.Queue.Bytes < 1<<20 {
		bad("queue.bytes", "must be at least 1048576 (1 MiB), got %d", c.Queue.Bytes)
	}
	switch c.Output {
	case "json", "text":
	default:
		bad("output", "want json or text, got %q", c.Output)
	}
	switch c.LogLevel {
	case "debug", "info", "warn", "error":
	default:
		bad("log_level", "want debug, info, warn or error, got %q", c.LogLevel)
	}
	if c.Dialect != "" {
		if _, err := probe.ParseDialect(c.Dialect); err != nil {
			bad("dialect", "%v", err)
		}
	}
	c.validateBounds(bad)
	c.Limits.check(bad)
	if len(errs) > 0 {
		return errors.New(strings.Join(errs, "\n"))
	}
	return nil
}

// MaxInterval is the longest interval accepted: counters read less often
// than hourly make rates meaningless and a typo (1000h for 1000ms) would
// silently stop evaluation for weeks.
const MaxInterval = time.Hour

// validateBounds checks ranges the YAML types do not: ports, durations
// that must not be negative or absurd, connection bounds, secrets given
// twice.
func (c *Config) validateBounds(bad func(key, format string, args ...any)) {
	if c.Interval.D() > MaxInterval {
		bad("interval", "%s is too long (maximum %s)", c.Interval.D(), MaxInterval)
	}
	if c.ShutdownTimeout < 0 {
		bad("shutdown_timeout", "must not be negative, got %s (0 exits without flushing queued messages)", c.ShutdownTimeout.D())
	}
	port := func(key, addr string, zeroOK bool) {
		_, p, err := net.SplitHostPort(addr)
		if err != nil {
			return // reported as "want host:port" where the key is checked
		}
		n, err := net.LookupPort("tcp", p)
		switch {
		case err != nil || n < 0 || n > 65535:
			bad(key, "port %q is not a port number (0 to 65535) in %q", p, addr)
		case n == 0 && !zeroOK:
			bad(key, "port 0 in %q: the peer's port is needed", addr)
		}
	}
	if c.Collector.Type == "gnmi" {
		port("collector.gnmi.target", c.Collector.GNMI.Target, false)
		if c.Collector.GNMI.Password != "" && c.Collector.GNMI.PasswordFile != "" {
			bad("collector.gnmi.password_file", "set password or password_file, not both")
		}
	}
	for i, s := range c.Streaming {
		port(fmt.Sprintf("streaming[%d].address", i), s.Address, false)
	}
	if c.Control.Listen != "" {
		port("control.listen", c.Control.Listen, true)
	}
	if c.API.Listen != "" {
		port("api.listen", c.API.Listen, true)
	}
	for _, k := range []struct {
		key string
		n   int
	}{{"api.max_connections", c.API.MaxConnections}, {"control.max_connections", c.Control.MaxConnections}} {
		if k.n < 0 {
			bad(k.key, "must be 0 (the default) or more, got %d", k.n)
		}
	}
	for _, k := range []struct {
		key string
		d   Duration
	}{
		{"api.idle_timeout", c.API.IdleTimeout}, {"api.read_header_timeout", c.API.ReadHeaderTimeout},
		{"control.handshake_timeout", c.Control.HandshakeTimeout}, {"control.idle_timeout", c.Control.IdleTimeout},
	} {
		if k.d < 0 {
			bad(k.key, "must be 0 (the default) or more, got %s", k.d.D())
		}
	}
}

// CheckStateDir refuses a state_dir the agent cannot write (read-only
// file system, wrong owner): found at start rather than at the first
// probe write, which would fail long after the operator has gone. It
// creates the directory when missing, as the store does.
func (c Config) CheckStateDir() error {
	if c.StateDir == "" {
		return nil
	}
	key := "state_dir"
	if c.stateDirLine > 0 {
		key = fmt.Sprintf("line %d: state_dir", c.stateDirLine)
	}
	if err := os.MkdirAll(c.StateDir, 0o750); err != nil {
		return fmt.Errorf("%s: %w", key, err)
	}
	f, err := os.CreateTemp(c.StateDir, ".write-check-*")
	if err != nil {
		return fmt.Errorf("%s: %s is not writable: %w", key, c.StateDir, err)
	}
	name := f.Name()
	_ = f.Close()
	if err := os.Remove(name); err != nil {
		return fmt.Errorf("%s: %s: %w", key, c.StateDir, err)
	}
	return nil
}

func parentKey(k string) string {
	if i := strings.LastIndexAny(k, ".["); i >= 0 {
		return k[:i]
	}
	return ""
}

// ProbeOptions are the engine's options the configuration sets.
func (c Config) ProbeOptions() probe.Options {
	d, _ := probe.ParseDialect(c.Dialect)
	return probe.Options{DefaultDialect: d, Limits: c.Limits.Engine()}
}
