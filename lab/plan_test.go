package lab

import (
	"bytes"
	"encoding/json"
	"flag"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/probe-agent/probe-agent/agent"
	"github.com/probe-agent/probe-agent/controller"
	"github.com/probe-agent/probe-agent/topology"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

func loadPlan(t testing.TB, file string, opts Options) *Plan {
	t.Helper()
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	return planOf(t, data, file, opts)
}

func planOf(t testing.TB, data []byte, file string, opts Options) *Plan {
	t.Helper()
	g, l, warnings, err := topology.ParseContainerlab(data, file, topology.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if len(warnings) > 0 {
		t.Errorf("%s: warnings: %v", file, warnings)
	}
	p, err := Build(g, l, opts)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func golden(t *testing.T, path string, got []byte) {
	t.Helper()
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (go test -update writes it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("differs from %s (review, then go test ./lab/ -update rewrites it):\n%s", path, got)
	}
}

// TestPlanGolden plans every lab file in containerlab/ (each must load
// without warnings) and compares the whole plan with testdata/.
func TestPlanGolden(t *testing.T) {
	files, err := filepath.Glob("../containerlab/*.clab.yml")
	if err != nil || len(files) < 4 {
		t.Fatalf("lab files: %v %v", files, err)
	}
	for _, f := range files {
		name := strings.TrimSuffix(filepath.Base(f), ".clab.yml")
		t.Run(name, func(t *testing.T) {
			p := loadPlan(t, f, Options{PortBase: 30000})
			out, err := json.MarshalIndent(p, "", " ")
			if err != nil {
				t.Fatal(err)
			}
			golden(t, filepath.Join("testdata", name+".plan.json"), append(out, '\n'))
		})
	}
}

// TestConfigsGolden compares the agent configuration of one switch and the
// controller's with testdata/, and checks that the agent's is one
// probe-agent loads with the values the lab depends on.
func TestConfigsGolden(t *testing.T) {
	p := loadPlan(t, "../containerlab/leaf-spine-linux.clab.yml", Options{PortBase: 30000})
	l := Layout{Dir: "/LABDIR"}
	leaf1 := p.Node("leaf1")
	golden(t, "testdata/leaf-spine-linux.leaf1.agent.yaml", AgentConfig(p, leaf1, l))
	golden(t, "testdata/leaf-spine-linux.controller.yaml", ControllerConfig(p, "/LAB/leaf-spine-linux.clab.yml", l))

	path := filepath.Join(t.TempDir(), "agent.yaml")
	if err := os.WriteFile(path, AgentConfig(p, leaf1, l), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg, err := agent.Load(path)
	if err != nil {
		t.Fatalf("probe-agent refuses the generated config: %v", err)
	}
	checks := []struct{ what, got, want string }{
		{"system_id", cfg.SystemID, "leaf1"},
		{"collector", cfg.Collector.Type, "netlink"},
		{"netns", cfg.Collector.Netlink.Netns, "plab.leaf-spine-linux.leaf1"},
		{"control.listen", cfg.Control.Listen, "127.0.0.1:30004"},
		{"control.tls.ca", cfg.Control.TLS.CA, "/LABDIR/pki/ca.pem"},
		{"control.tls.cert", cfg.Control.TLS.Cert, "/LABDIR/pki/leaf1.pem"},
		{"api.listen", cfg.API.Listen, "127.0.0.1:30005"},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("%s = %q, want %q", c.what, c.got, c.want)
		}
	}
	if cfg.Control.Insecure || cfg.API.WritesAuthenticated() {
		t.Error("the control plane must use mutual TLS and the API stay read-only")
	}

	cpath := filepath.Join(t.TempDir(), "controller.yaml")
	if err := os.WriteFile(cpath, ControllerConfig(p, "../containerlab/leaf-spine-linux.clab.yml", l), 0o644); err != nil {
		t.Fatal(err)
	}
	ccfg, err := controller.LoadConfig(cpath)
	if err != nil {
		t.Fatalf("probe-controller refuses the generated config: %v", err)
	}
	if got := ccfg.Agents.Systems["leaf1"].Address; got != leaf1.Agent.Control {
		t.Errorf("controller reaches leaf1 at %q, want its control.listen %q", got, leaf1.Agent.Control)
	}
	if len(ccfg.Agents.Systems) != len(p.Switches()) || ccfg.Topology.InterfaceNames != "node" || ccfg.API.Listen != p.Controller.API {
		t.Errorf("controller config: %d systems (want %d), interface_names %q (want node), api %q (want %q)",
			len(ccfg.Agents.Systems), len(p.Switches()), ccfg.Topology.InterfaceNames, ccfg.API.Listen, p.Controller.API)
	}
}

// TestPlanFabric checks the properties the lab's traffic depends on, on
// the leaf-spine file: every address unique, both ends of every veth in
// one subnet and named in each other's peer, ECMP over both spines
// between racks, servers defaulting through their leaf.
func TestPlanFabric(t *testing.T) {
	p := loadPlan(t, "../containerlab/leaf-spine-linux.clab.yml", Options{PortBase: 30000})
	seen := map[netip.Addr]string{}
	for _, n := range p.Nodes {
		if !strings.HasPrefix(n.Netns, "plab.leaf-spine-linux.") {
			t.Errorf("%s: namespace %q lacks the lab prefix", n.Name, n.Netns)
		}
		for _, ifc := range n.Interfaces {
			if ifc.Address == "" {
				continue
			}
			a := netip.MustParsePrefix(ifc.Address).Addr()
			if other, dup := seen[a]; dup {
				t.Errorf("%s on %s:%s and %s", a, n.Name, ifc.Name, other)
			}
			seen[a] = n.Name + ":" + ifc.Name
		}
	}
	for _, l := range p.Links {
		if l.Role == "external" {
			continue
		}
		subnet := netip.MustParsePrefix(l.Subnet)
		for _, e := range []Endpoint{l.A, l.B} {
			if !subnet.Contains(netip.MustParsePrefix(e.Address).Addr()) {
				t.Errorf("%s:%s %s outside its link's %s", e.Node, e.Interface, e.Address, subnet)
			}
		}
	}
	route := func(node, dst string) Route {
		for _, r := range p.Node(node).Routes {
			if r.Dst == dst {
				return r
			}
		}
		t.Fatalf("%s has no route to %s", node, dst)
		return Route{}
	}
	subnetOf := func(server string) string {
		for _, l := range p.Links {
			if l.Role == "server" && l.B.Node == server {
				return l.Subnet
			}
		}
		t.Fatalf("no server link for %s", server)
		return ""
	}
	tests := []struct {
		node, toServer string
		devs           []string
	}{
		{"leaf1", "server5", []string{"eth1", "eth2"}}, // rack2: over both spines
		{"leaf3", "server2", []string{"eth1", "eth2"}},
		{"leaf1", "server3", []string{"eth5"}}, // the MLAG peer link is one hop
		{"spine1", "server5", []string{"eth3"}},
		{"spine2", "server8", []string{"eth4"}},
	}
	for _, tc := range tests {
		r := route(tc.node, subnetOf(tc.toServer))
		var devs []string
		for _, h := range r.Nexthops {
			devs = append(devs, h.Dev)
		}
		if strings.Join(devs, ",") != strings.Join(tc.devs, ",") {
			t.Errorf("%s to %s: via %v, want %v", tc.node, tc.toServer, devs, tc.devs)
		}
	}
	for _, srv := range []string{"server1", "server5"} {
		n := p.Node(srv)
		if len(n.Routes) != 1 || n.Routes[0].Dst != "0.0.0.0/0" || n.Agent != nil || n.Forwarding {
			t.Errorf("%s: want one default route, no agent, no forwarding: %+v", srv, n)
		}
	}
	if got := len(p.Switches()); got != 6 {
		t.Errorf("%d switches run agents, want 6 (2 spines, 4 leaves)", got)
	}
	if ifc := p.Node("leaf1").Interfaces; ifc[len(ifc)-1] != (Interface{Name: "eth9", Type: "dummy"}) {
		t.Errorf("leaf1's host link: %+v, want a dummy eth9", ifc[len(ifc)-1])
	}
}

// TestPlanInNodeNames checks that SR Linux interfaces get the Linux names
// inside the node whichever alias the file uses.
func TestPlanInNodeNames(t *testing.T) {
	p := loadPlan(t, "../containerlab/srlinux.clab.yml", Options{PortBase: 30000})
	var names []string
	for _, ifc := range p.Node("leaf3").Interfaces {
		names = append(names, ifc.Name)
	}
	if got := strings.Join(names, ","); got != "e1-49,e1-50,e1-2" {
		t.Errorf("leaf3 interfaces %s, want e1-49,e1-50,e1-2 (ethernet-1/2 is e1-2 in the node)", got)
	}
}

func TestBuildErrors(t *testing.T) {
	tests := []struct{ name, yaml, want string }{
		{"dotted lab", "name: a.b\ntopology: {nodes: {n1: {kind: linux}}}\n", `lab name "a.b": dots`},
		{"no name", "topology: {nodes: {n1: {kind: linux}}}\n", "lab name is empty"},
		{"long interface", "name: x\ntopology:\n  nodes: {a: {kind: linux}, b: {kind: linux}}\n  links: [{endpoints: [\"a:averyverylongname1\", \"b:eth1\"]}]\n", "at most 15 characters"},
		{"ports past 65535", "name: x\ntopology: {nodes: {leaf1: {kind: linux}}}\n", "past 65535"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			g, l, _, err := topology.ParseContainerlab([]byte(tc.yaml), "x.clab.yml", topology.Options{})
			if err != nil {
				t.Fatal(err)
			}
			opts := Options{PortBase: 30000}
			if tc.name == "ports past 65535" {
				opts.PortBase = 65535
			}
			_, err = Build(g, l, opts)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %v, want one containing %q", err, tc.want)
			}
		})
	}
}

func TestSystemIDLabel(t *testing.T) {
	p := planOf(t, []byte("name: x\ntopology:\n  nodes:\n    leaf1: {kind: linux, labels: {system_id: SN-0001}}\n"), "x.clab.yml", Options{})
	n := p.Node("leaf1")
	if n.SystemID != "SN-0001" || !bytes.Contains(AgentConfig(p, n, Layout{Dir: "/d"}), []byte(`system_id: "SN-0001"`)) {
		t.Errorf("system_id %q: the agent must report the topology's system_id label", n.SystemID)
	}
	if base := DefaultPortBase("x"); base < 20000 || base+99 >= 32768 || base%100 != 0 {
		t.Errorf("default port base %d", base)
	}
}

func TestNthPrefix(t *testing.T) {
	tests := []struct {
		pool    string
		bits, n int
		want    string
	}{
		{"10.0.0.0/16", 31, 0, "10.0.0.0/31"},
		{"10.0.0.0/16", 31, 129, "10.0.1.2/31"},
		{"172.16.0.0/12", 24, 300, "172.17.44.0/24"},
		{"10.0.0.0/16", 31, 32768, ""},
	}
	for _, tc := range tests {
		got, err := nthPrefix(netip.MustParsePrefix(tc.pool), tc.bits, tc.n)
		if tc.want == "" {
			if err == nil {
				t.Errorf("%s /%d #%d: %s, want an error", tc.pool, tc.bits, tc.n, got)
			}
			continue
		}
		if err != nil || got.String() != tc.want {
			t.Errorf("%s /%d #%d: %s %v, want %s", tc.pool, tc.bits, tc.n, got, err, tc.want)
		}
	}
}

func TestPlanAddress(t *testing.T) {
	p := loadPlan(t, "../containerlab/leaf-spine-linux.clab.yml", Options{PortBase: 30000})
	tests := []struct{ spec, want, err string }{
		{"server1", "172.16.0.2", ""},
		{"server1:eth2", "172.16.1.2", ""},
		{"server1:eth7", "", `no addressed interface "eth7"`},
		{"nobody", "", `no node "nobody"`},
	}
	for _, tc := range tests {
		a, err := p.Address(tc.spec)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("%s: %v, want an error containing %q", tc.spec, err, tc.err)
			}
			continue
		}
		if err != nil || a.String() != tc.want {
			t.Errorf("%s: %s %v, want %s", tc.spec, a, err, tc.want)
		}
	}
}

func TestNodeCommandsGolden(t *testing.T) {
	p := loadPlan(t, "../containerlab/leaf-spine-small.clab.yml", Options{PortBase: 30000})
	lines := NodeCommands(p)
	if len(lines) != len(p.Nodes) {
		t.Fatalf("%d lines for %d nodes", len(lines), len(p.Nodes))
	}
	golden(t, "testdata/leaf-spine-small.commands.sh", []byte(strings.Join(lines, "\n")+"\n"))
}
