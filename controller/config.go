package controller

import (
	"bytes"
	_ "embed"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"sort"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/probe-agent/probe-agent/restapi"
)

// ExampleConfig is the annotated configuration printed by
// `probe-controller config example`; a test parses it, so it cannot drift
// from what Parse accepts.
//
//go:embed example.yaml
var ExampleConfig []byte

// Config is probe-controller's configuration file.
type Config struct {
	// BlueprintID names the fabric in the API paths and the streaming
	// header, as an Apstra blueprint does.
	BlueprintID string         `yaml:"blueprint_id"`
	Topology    TopologyConfig `yaml:"topology"`
	Agents      AgentsConfig   `yaml:"agents"`
	// API is parsed here and served by the controller's REST API.
	API APIConfig `yaml:"api"`
	// StateDir holds the fabric probe set (probestore).
	StateDir string `yaml:"state_dir"`
	// ProbesDir holds probe documents (*.json) loaded into the fabric
	// probe set at start and on reload; empty loads none.
	ProbesDir string `yaml:"probes_dir"`
	// Interval is how often central parts are evaluated.
	Interval Duration `yaml:"interval"`
	// Staleness is the number of intervals without a partial from a
	// device after which the device is left out of the central merge.
	Staleness int `yaml:"staleness"`
	// MaxMissingShare is the share of a probe's devices that may be
	// missing from a central result before the tick is skipped: no
	// anomaly is raised or cleared on a result missing more than this.
	MaxMissingShare float64           `yaml:"max_missing_share"`
	Streaming       []StreamingConfig `yaml:"streaming"`
	LogLevel        string            `yaml:"log_level"`
	// FanIn reads the agents' partials from a broker instead of their
	// stage streams, sharing the probes with other controllers (fanin.go).
	FanIn FanInConfig `yaml:"fanin"`
	// Upward publishes this controller's merged partials to the level
	// above (upward.go).
	Upward *UpwardConfig `yaml:"upward"`
	// Limits are the resource budgets of the fabric probes and of what
	// agents send the controller (limits.go).
	Limits LimitsConfig `yaml:"limits"`
}

// FanInConfig is the fanin section: at most one broker.
type FanInConfig struct {
	NATS *FanInNATS `yaml:"nats"`
	// Kafka is the other broker (fanin_kafka.go).
	Kafka *FanInKafka `yaml:"kafka"`
	// MemberID names this controller among the central evaluators
	// (default: host name, process id and a random suffix).
	MemberID string `yaml:"member_id"`
	// PushConfig says whether this controller pushes the probe set to the
	// agents (default true): exactly one controller per fabric does, the
	// others only evaluate (docs/controller.md, fan-in).
	PushConfig *bool `yaml:"push_config"`
	// Devices replaces the devices a probe's result hears from (by
	// default the topology's switches with items): a fabric-level
	// controller's are the pods below it (fanin.go).
	Devices []string `yaml:"devices"`
}

// TopologyConfig is the fabric's topology file and role overrides.
type TopologyConfig struct {
	// File is a containerlab topology file or a graph JSON document.
	File string `yaml:"file"`
	// Roles sets the role of nodes by name, over labels and names.
	Roles map[string]string `yaml:"roles"`
	// InterfaceNames is which interface names the agents report: nos (the
	// device's own, e.g. ethernet-1/1) or node (the Linux name in the
	// node, e.g. e1-1).
	InterfaceNames string `yaml:"interface_names"`
}

// TLSFiles are PEM files of one side of a TLS connection.
type TLSFiles struct {
	CA   string `yaml:"ca"`
	Cert string `yaml:"cert"`
	Key  string `yaml:"key"`
	// ServerName is the name expected in the peer's certificate when it
	// is not the host of the address.
	ServerName string `yaml:"server_name"`
}

// AgentsConfig says how to reach the agents' control planes.
type AgentsConfig struct {
	Defaults AgentDefaults `yaml:"defaults"`
	// Systems gives per node name an address; a switch not listed is
	// reached on its mgmt-ipv4 from the topology and Defaults.Port.
	Systems map[string]SystemConfig `yaml:"systems"`
}

// AgentDefaults apply to every agent.
type AgentDefaults struct {
	Port int      `yaml:"port"`
	TLS  TLSFiles `yaml:"tls"`
	// TokenFile holds a bearer token sent with every call.
	TokenFile string `yaml:"token_file"`
	// Insecure dials plaintext (agents with control.insecure): labs only.
	Insecure bool `yaml:"insecure"`
	// ReconnectMax caps the exponential backoff between attempts to reach
	// an agent that is down.
	ReconnectMax Duration `yaml:"reconnect_max"`
}

// SystemConfig is one agent's address.
type SystemConfig struct {
	Address string `yaml:"address"`
}

// APIConfig is the controller's HTTP listener (REST API, /metrics,
// /healthz, /readyz); an empty Listen disables it.
type APIConfig struct {
	Listen    string   `yaml:"listen"`
	TLS       TLSFiles `yaml:"tls"`
	TokenFile string   `yaml:"token_file"`
	// MaxConnections bounds the connections served at once: when all are
	// taken the longest-idle keep-alive one is closed for a new client,
	// and further clients wait in the kernel's accept backlog; 0 means
	// 256. IdleTimeout closes keep-alive connections idle that long (0:
	// 60s); ReadHeaderTimeout bounds the TLS handshake and the request
	// headers (0: 10s). As the agent's api keys (docs/rest-api.md).
	MaxConnections    int      `yaml:"max_connections"`
	IdleTimeout       Duration `yaml:"idle_timeout"`
	ReadHeaderTimeout Duration `yaml:"read_header_timeout"`
}

// Limits returns the listener's bounds with the agent's defaults for keys
// left at 0.
func (c APIConfig) Limits() (maxConns int, idle, readHeader time.Duration) {
	maxConns, idle, readHeader = 256, 60*time.Second, 10*time.Second
	if c.MaxConnections != 0 {
		maxConns = c.MaxConnections
	}
	if c.IdleTimeout != 0 {
		idle = c.IdleTimeout.D()
	}
	if c.ReadHeaderTimeout != 0 {
		readHeader = c.ReadHeaderTimeout.D()
	}
	return maxConns, idle, readHeader
}

// StreamingConfig is one receiver of fabric stages and anomalies in the
// Apstra format: the agent's streaming entries.
type StreamingConfig struct {
	Type         string   `yaml:"type"`
	Address      string   `yaml:"address"`
	Sequenced    bool     `yaml:"sequenced"`
	TLS          TLSFiles `yaml:"tls"`
	ReconnectMax Duration `yaml:"reconnect_max"`
}

// Duration is a time.Duration written as Go writes it (500ms, 1s, 1m).
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
	return Config{
		BlueprintID:     "fabric",
		Topology:        TopologyConfig{InterfaceNames: "nos"},
		Agents:          AgentsConfig{Defaults: AgentDefaults{Port: 50051, ReconnectMax: Duration(30 * time.Second)}},
		StateDir:        "/var/lib/probe-controller",
		Interval:        Duration(time.Second),
		Staleness:       3,
		MaxMissingShare: 0.5,
		LogLevel:        "info",
	}
}

// StaleAfter is how old a device's latest partial may be before the
// device is left out: Staleness intervals.
func (c *Config) StaleAfter() time.Duration { return time.Duration(c.Staleness) * c.Interval.D() }

// LoadConfig reads and validates a configuration file.
func LoadConfig(path string) (Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return Config{}, err
	}
	return ParseConfig(data, path)
}

// ParseConfig decodes YAML over the defaults and validates it. Errors name
// the file, the line and the key ("ctl.yaml:7: agents.defaults.port: ...");
// every problem is reported at once.
func ParseConfig(data []byte, file string) (Config, error) {
	cfg := Defaults()
	if file == "" {
		file = "<config>"
	}
	var root yaml.Node
	if err := yaml.Unmarshal(data, &root); err != nil {
		return cfg, fmt.Errorf("%s: %s", file, cleanYAMLError(err))
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&cfg); err != nil && !errors.Is(err, io.EOF) {
		return cfg, fmt.Errorf("%s: %s", file, cleanYAMLError(err))
	}
	if err := cfg.validate(file, keyLines(&root)); err != nil {
		return cfg, err
	}
	return cfg, nil
}

// cleanYAMLError makes yaml.v3's messages read as ours: "line 3: field
// x not found in type controller.Config" becomes "line 3: field x not found
// in Config".
func cleanYAMLError(err error) string {
	msg := strings.TrimPrefix(err.Error(), "yaml: ")
	msg = strings.ReplaceAll(msg, "unmarshal errors:\n  ", "")
	msg = strings.ReplaceAll(msg, "\n  ", "; ")
	return strings.ReplaceAll(msg, " in type controller.", " in ")
}

// keyLines maps dotted key paths ("agents.defaults.port", "streaming[1]")
// to their line, so value errors can name it.
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

func parentKey(k string) string {
	if i := strings.LastIndexAny(k, ".["); i > 0 {
		return k[:i]
	}
	return ""
}

func (c *Config) validate(file string, lines map[string]int) error {
	var errs []string
	bad := func(key, format string, args ...any) {
		where := file
		// A key left out is reported at the line of its closest parent.
		for k := key; k != ""; k = parentKey(k) {
			if l, ok := lines[k]; ok {
				where = file + ":" + strconv.Itoa(l)
				break
			}
		}
		errs = append(errs, where+": "+key+": "+fmt.Sprintf(format, args...))
	}
	if c.BlueprintID == "" {
		bad("blueprint_id", "must not be empty")
	}
	if c.Topology.File == "" {
		bad("topology.file", "must name the fabric's topology (a containerlab file or graph JSON)")
	}
	switch c.Topology.InterfaceNames {
	case "nos", "node":
	default:
		bad("topology.interface_names", "want nos or node, got %q", c.Topology.InterfaceNames)
	}
	for _, name := range sortedKeys(c.Topology.Roles) {
		if c.Topology.Roles[name] == "" {
			bad("topology.roles."+name, "empty role")
		}
	}
	d := c.Agents.Defaults
	if d.Port < 1 || d.Port > 65535 {
		bad("agents.defaults.port", "%d is not a TCP port", d.Port)
	}
	if !d.Insecure && (d.TLS.Cert == "" || d.TLS.Key == "") {
		bad("agents.defaults.tls", "cert and key must be set: agents accept only controllers with a client certificate (or set insecure: true for agents with control.insecure, labs only)")
	}
	if d.ReconnectMax.D() < 10*time.Millisecond {
		bad("agents.defaults.reconnect_max", "%s is too short (at least 10ms)", d.ReconnectMax.D())
	}
	for _, name := range sortedKeys(c.Agents.Systems) {
		addr := c.Agents.Systems[name].Address
		if addr == "" {
			bad("agents.systems."+name+".address", "must be set (HOST:PORT)")
		} else if _, _, err := net.SplitHostPort(addr); err != nil {
			bad("agents.systems."+name+".address", "%q is not HOST:PORT", addr)
		}
	}
	if c.API.Listen != "" {
		if _, _, err := net.SplitHostPort(c.API.Listen); err != nil {
			bad("api.listen", "%q is not HOST:PORT", c.API.Listen)
		} else if err := restapi.CheckListen(c.API.Listen, c.API.TokenFile != "" || c.API.TLS.CA != ""); err != nil {
			bad("api.listen", "%v", err)
		}
		if c.API.TLS.CA != "" && c.API.TLS.Cert == "" {
			bad("api.tls.ca", "client certificates need HTTPS: set api.tls.cert and api.tls.key too")
		}
		if c.API.MaxConnections < 0 {
			bad("api.max_connections", "must be 0 (the default, 256) or more, got %d", c.API.MaxConnections)
		}
		if c.API.IdleTimeout < 0 || c.API.ReadHeaderTimeout < 0 {
			bad("api", "idle_timeout and read_header_timeout must not be negative")
		}
	}
	if c.StateDir == "" {
		bad("state_dir", "must not be empty: the fabric probe set and its generation live there")
	}
	if c.Interval.D() < 10*time.Millisecond {
		bad("interval", "%s is too short (at least 10ms)", c.Interval.D())
	}
	if c.Staleness < 1 {
		bad("staleness", "%d: want at least 1 interval", c.Staleness)
	}
	if c.MaxMissingShare < 0 || c.MaxMissingShare > 1 {
		bad("max_missing_share", "%g: want a share between 0 and 1", c.MaxMissingShare)
	}
	for i, s := range c.Streaming {
		key := fmt.Sprintf("streaming[%d]", i)
		switch s.Type {
		case "perfmon", "alerts", "events":
		default:
			bad(key+".type", "want perfmon, alerts or events, got %q", s.Type)
		}
		if _, _, err := net.SplitHostPort(s.Address); err != nil {
			bad(key+".address", "%q is not HOST:PORT", s.Address)
		}
	}
	c.validateFanIn(bad)
	c.validateUpward(bad)
	c.Limits.check(bad)
	switch c.LogLevel {
	case "debug", "info", "warn", "error":
	default:
		bad("log_level", "want debug, info, warn or error, got %q", c.LogLevel)
	}
	if len(errs) > 0 {
		return errors.New(strings.Join(errs, "\n"))
	}
	return nil
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
