package lab

import (
	"bytes"
	"fmt"
	"path/filepath"
)

// Layout names the files of a lab folder. Every path is absolute (Dir is),
// because the configurations are read by processes that do not share
// probectl's working directory.
type Layout struct{ Dir string }

// State is LABDIR/state.json.
func (l Layout) State() string { return filepath.Join(l.Dir, "state.json") }

// CA is the lab's certificate authority.
func (l Layout) CA() string { return filepath.Join(l.Dir, "pki", "ca.pem") }

// CAKey is the CA's private key.
func (l Layout) CAKey() string { return filepath.Join(l.Dir, "pki", "ca.key") }

// Cert and Key are a member's certificate and key: a node name, "controller"
// or "probectl" (a client certificate for the user).
func (l Layout) Cert(name string) string { return filepath.Join(l.Dir, "pki", name+".pem") }

// Key is a member's private key.
func (l Layout) Key(name string) string { return filepath.Join(l.Dir, "pki", name+".key") }

// AgentDir holds one switch's agent: config, probes.d, state, log.
func (l Layout) AgentDir(node string) string { return filepath.Join(l.Dir, "agents", node) }

// AgentConfig is a switch's probe-agent configuration file.
func (l Layout) AgentConfig(node string) string {
	return filepath.Join(l.AgentDir(node), "agent.yaml")
}

// ControllerDir holds probe-controller's config, state and log.
func (l Layout) ControllerDir() string { return filepath.Join(l.Dir, "controller") }

// ControllerConfig is probe-controller's configuration file.
func (l Layout) ControllerConfig() string {
	return filepath.Join(l.ControllerDir(), "controller.yaml")
}

// Log is where a process's stdout and stderr go.
func (l Layout) Log(name string) string { return filepath.Join(l.Dir, "logs", name+".log") }

// AgentConfig renders a switch's probe-agent configuration: its system_id
// from the topology, the netlink collector in the switch's namespace (the
// agent itself runs in the root namespace), the control plane on loopback
// with mutual TLS from the lab CA, and the read-only REST API on loopback.
func AgentConfig(p *Plan, n *Node, l Layout) []byte {
	var b bytes.Buffer
	fmt.Fprintf(&b, "# probe-agent for %s in lab %s (written by probectl lab up).\n", n.Name, p.Lab)
	fmt.Fprintf(&b, "system_id: %q\nhostname: %q\nrole: %q\nblueprint_id: %q\nblueprint_label: %q\n", n.SystemID, n.Name, n.Role, p.Lab, p.Lab)
	b.WriteString("interval: 1s\n")
	b.WriteString("# The agent runs in the root namespace and reads the switch's counters\n# in its namespace, so its listeners are on 127.0.0.1.\n")
	fmt.Fprintf(&b, "collector:\n  type: netlink\n  netlink:\n    netns: %q\n", n.Netns)
	fmt.Fprintf(&b, "probes_dir: %q\nstate_dir: %q\n", filepath.Join(l.AgentDir(n.Name), "probes.d"), filepath.Join(l.AgentDir(n.Name), "state"))
	fmt.Fprintf(&b, "control:\n  listen: %q\n  tls: {ca: %q, cert: %q, key: %q}\n", n.Agent.Control, l.CA(), l.Cert(n.Name), l.Key(n.Name))
	b.WriteString("# Read-only: no token_file and no client CA, so writes answer 403.\n")
	fmt.Fprintf(&b, "api:\n  listen: %q\n", n.Agent.API)
	b.WriteString("output: json\nshutdown_timeout: 2s\nlog_level: info\nlog_summary: 1m\n")
	return b.Bytes()
}

// ControllerConfig renders probe-controller's configuration: the lab's
// topology file, every agent's control address and the lab's mutual TLS
// files, its API on loopback.
func ControllerConfig(p *Plan, topologyFile string, l Layout) []byte {
	var b bytes.Buffer
	fmt.Fprintf(&b, "# probe-controller for lab %s (written by probectl lab up).\n", p.Lab)
	fmt.Fprintf(&b, "blueprint_id: %q\n", p.Lab)
	b.WriteString("# The agents read netlink inside each node, so they report the Linux\n# names (e1-1), not the NOS ones (ethernet-1/1).\n")
	fmt.Fprintf(&b, "topology: {file: %q, roles: {}, interface_names: node}\n", topologyFile)
	b.WriteString("agents:\n")
	b.WriteString("  # A restarted agent is reached again within 2s.\n")
	fmt.Fprintf(&b, "  defaults: {tls: {ca: %q, cert: %q, key: %q}, reconnect_max: 2s}\n", l.CA(), l.Cert("controller"), l.Key("controller"))
	b.WriteString("  systems:\n")
	for _, n := range p.Switches() {
		fmt.Fprintf(&b, "    %s: {address: %q}\n", n.Name, n.Agent.Control)
	}
	fmt.Fprintf(&b, "api: {listen: %q}\n", p.Controller.API)
	fmt.Fprintf(&b, "state_dir: %q\n", filepath.Join(l.ControllerDir(), "state"))
	fmt.Fprintf(&b, "probes_dir: %q\n", filepath.Join(l.ControllerDir(), "probes.d"))
	b.WriteString("interval: 1s\nstaleness: 3\nstreaming: []\nlog_level: info\n")
	return b.Bytes()
}
