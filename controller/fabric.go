package controller

import (
	"bytes"
	"fmt"
	"net"
	"os"
	"sort"
	"strconv"

	"gopkg.in/yaml.v3"

	"github.com/probe-agent/probe-agent/topology"
)

// Fabric is the topology as the controller uses it: the graph that graph
// queries are resolved on, and the agents, one per switch.
type Fabric struct {
	Graph *topology.Graph
	// Agents are the switches (every system that is not a server), sorted
	// by device id.
	Agents   []AgentInfo
	Warnings []string
}

// AgentInfo is one switch running probe-agent.
type AgentInfo struct {
	// Name is the node's name in the topology.
	Name string
	// Device is its system_id: the agent's config.system_id and the
	// system_id of its items.
	Device  string
	Role    string
	Address string
}

// LoadFabric reads the topology file of cfg and works out each agent's
// address: agents.systems by node name, else the node's mgmt-ipv4 with
// agents.defaults.port. A switch with neither is not managed (a warning
// says so); an agents.systems entry that names no switch is an error.
func LoadFabric(cfg *Config) (*Fabric, error) {
	data, err := os.ReadFile(cfg.Topology.File)
	if err != nil {
		return nil, fmt.Errorf("topology.file: %w", err)
	}
	g, warns, err := topology.Parse(data, cfg.Topology.File, topology.Options{Roles: cfg.Topology.Roles})
	if err != nil {
		return nil, err
	}
	f := &Fabric{Graph: g}
	for _, w := range warns {
		f.Warnings = append(f.Warnings, w.Error())
	}
	mgmt := mgmtAddresses(data)
	seen := map[string]string{}
	var missing []string
	for _, n := range g.NodesOfType(topology.TypeSystem) {
		if n.String("system_type") == "server" {
			continue
		}
		a := AgentInfo{Name: n.ID, Device: n.String("system_id"), Role: n.String("role")}
		if a.Device == "" {
			a.Device = n.ID
		}
		if other, dup := seen[a.Device]; dup {
			return nil, fmt.Errorf("%s: systems %q and %q have the same system_id %q", cfg.Topology.File, other, n.ID, a.Device)
		}
		seen[a.Device] = n.ID
		if s, ok := cfg.Agents.Systems[n.ID]; ok {
			a.Address = s.Address
		} else if ip := firstNonEmpty(mgmt[n.ID], n.String("mgmt_ipv4"), n.String("management_ip")); ip != "" {
			a.Address = net.JoinHostPort(ip, strconv.Itoa(cfg.Agents.Defaults.Port))
		} else {
			missing = append(missing, n.ID)
			continue
		}
		f.Agents = append(f.Agents, a)
	}
	if len(missing) > 0 {
		// Not an error: a fabric may run agents on some switches only.
		// Their items are then not part of any result, which is said.
		f.Warnings = append(f.Warnings, fmt.Sprintf("%s: no address for switches %v (no agents.systems entry, no mgmt-ipv4): they are not managed and their items are left out", cfg.Topology.File, missing))
	}
	for _, name := range sortedKeys(cfg.Agents.Systems) {
		found := false
		for _, a := range f.Agents {
			found = found || a.Name == name
		}
		if !found {
			return nil, fmt.Errorf("agents.systems.%s: no switch of that name in %s", name, cfg.Topology.File)
		}
	}
	sort.Slice(f.Agents, func(i, j int) bool { return f.Agents[i].Device < f.Agents[j].Device })
	return f, nil
}

// mgmtAddresses reads the nodes' mgmt-ipv4 from a containerlab file (the
// topology graph does not keep addresses); nothing for graph JSON.
func mgmtAddresses(data []byte) map[string]string {
	if t := bytes.TrimSpace(data); len(t) > 0 && t[0] == '{' {
		return nil
	}
	var lab struct {
		Topology struct {
			Nodes map[string]struct {
				MgmtIPv4 string `yaml:"mgmt-ipv4"`
			} `yaml:"nodes"`
		} `yaml:"topology"`
	}
	if yaml.Unmarshal(data, &lab) != nil {
		return nil
	}
	out := map[string]string{}
	for name, n := range lab.Topology.Nodes {
		if n.MgmtIPv4 != "" {
			out[name] = n.MgmtIPv4
		}
	}
	return out
}

func firstNonEmpty(vals ...string) string {
	for _, v := range vals {
		if v != "" {
			return v
		}
	}
	return ""
}
