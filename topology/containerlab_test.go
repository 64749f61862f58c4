package topology

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

var labs = []string{"leaf-spine-linux", "srlinux", "superspine"}

// TestLabGraphsGolden loads the labs in containerlab/ and compares their
// whole graph (as plain graph JSON) with testdata/<lab>.graph.json; the
// graph then survives a round trip through ParseGraphJSON.
func TestLabGraphsGolden(t *testing.T) {
	for _, lab := range labs {
		t.Run(lab, func(t *testing.T) {
			g, warnings, err := LoadFile(filepath.Join("../containerlab", lab+".clab.yml"), Options{})
			if err != nil {
				t.Fatal(err)
			}
			if len(warnings) > 0 {
				t.Errorf("warnings: %v", warnings)
			}
			raw, err := json.Marshal(g)
			if err != nil {
				t.Fatal(err)
			}
			var pretty bytes.Buffer
			if err := json.Indent(&pretty, raw, "", " "); err != nil {
				t.Fatal(err)
			}
			golden := filepath.Join("testdata", lab+".graph.json")
			if *update {
				if err := os.WriteFile(golden, pretty.Bytes(), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (go test -update writes it)", err)
			}
			if !bytes.Equal(pretty.Bytes(), want) {
				t.Errorf("graph differs from %s (go test -update rewrites it after review)", golden)
			}
			g2, err := ParseGraphJSON(want, golden)
			if err != nil {
				t.Fatal(err)
			}
			raw2, _ := json.Marshal(g2)
			if !bytes.Equal(raw, raw2) {
				t.Error("graph JSON does not survive a round trip")
			}
		})
	}
}

func TestLabProperties(t *testing.T) {
	g, _, err := LoadFile("../containerlab/leaf-spine-linux.clab.yml", Options{})
	if err != nil {
		t.Fatal(err)
	}
	check := func(id, key string, want any) {
		t.Helper()
		n := g.Node(id)
		if n == nil {
			t.Fatalf("no node %s", id)
		}
		if got := n.Get(key); got != want {
			t.Errorf("%s.%s = %v, want %v", id, key, got, want)
		}
	}
	check("leaf1", "role", "leaf")
	check("leaf1", "system_id", "leaf1")
	check("leaf1", "hostname", "leaf1")
	check("leaf1", "system_type", "switch")
	check("leaf1", "deploy_mode", "deploy")
	check("leaf4", "deploy_mode", "drain")
	check("leaf1", "rack_id", "rack:rack1")
	check("leaf1", "image", "ghcr.io/hellt/network-multitool") // from defaults
	check("server1", "role", "generic")
	check("server1", "system_type", "server")
	check("leaf1:eth1<->spine1:eth1", "role", "spine_leaf")
	check("leaf1:eth1<->spine1:eth1", "speed", "100G")
	check("leaf1:eth5<->leaf2:eth5", "role", "leaf_peer_link")
	check("leaf1:eth3<->server1:eth1", "speed", DefaultLinkSpeed)
	check("leaf1:eth3<->server1:eth1", "role", "to_generic")
	check("leaf1:eth9", "if_name", "eth9")
	if n := Neighbors(g.Node("leaf1:eth9"), RelLink, true); len(n) != 0 {
		t.Errorf("the host link's interface has a link node: %v", n)
	}
	if got := len(Neighbors(g.Node("redundancy_group:leafpair1"), RelComposedOfSystems, true)); got != 2 {
		t.Errorf("redundancy group has %d systems, want 2", got)
	}
	if got := len(Neighbors(g.Node("rack:rack2"), RelPartOfRack, false)); got != 6 {
		t.Errorf("rack2 has %d systems, want 6 (leaf3, leaf4, server5-8)", got)
	}

	s, _, err := LoadFile("../containerlab/superspine.clab.yml", Options{DefaultSpeed: "25G", Roles: map[string]string{"p2-host2": "l3_server"}})
	if err != nil {
		t.Fatal(err)
	}
	for id, want := range map[string]string{"ss1": "superspine", "p1-spine1": "spine", "p1-leaf1": "leaf", "p1-host1": "generic", "p2-host2": "l3_server"} {
		if got := s.Node(id).String("role"); got != want {
			t.Errorf("%s: role %s, want %s", id, got, want)
		}
	}
	if got := s.Node("p1-leaf1:eth3").String("if_name"); got != "Ethernet8" {
		t.Errorf("SONiC eth3 if_name %s, want Ethernet8", got)
	}
	if got := s.Node("p1-spine1:eth3<->p1-leaf1:eth1").String("speed"); got != "100G" {
		t.Errorf("speed from vars %s, want 100G", got)
	}
	if got := s.Node("p1-leaf1:eth3<->p1-host1:eth1").String("speed"); got != "25G" {
		t.Errorf("default speed %s, want 25G", got)
	}
	if got := s.Node("p2-leaf2:eth3<->p2-host2:eth1").String("role"); got != "leaf_l3_server" {
		t.Errorf("link role %s, want leaf_l3_server", got)
	}
}

// TestInheritance: node > group > kind > defaults for single values, and
// labels merged across all four with the most specific winning per key.
func TestInheritance(t *testing.T) {
	src := `name: inh
topology:
  defaults:
    kind: srl
    image: img-default
    labels: {a: defaults, b: defaults, c: defaults, d: defaults}
  kinds:
    nokia_srlinux:
      image: img-kind
      labels: {b: kind, c: kind, d: kind}
  groups:
    g1:
      kind: linux
      labels: {c: group, d: group}
  nodes:
    n1:
      labels: {d: node, system_id: SN1}
    n2:
      group: g1
      image: img-node
    n3:
  links:
    - endpoints: ["n1:e1-1", "n2:eth1"]
`
	_, lab, warnings, err := ParseContainerlab([]byte(src), "inh.clab.yml", Options{})
	if err != nil {
		t.Fatal(err)
	}
	if len(warnings) != 0 {
		t.Errorf("warnings %v", warnings)
	}
	n1, n2, n3 := lab.Nodes[0], lab.Nodes[1], lab.Nodes[2]
	if n1.Kind != "nokia_srlinux" || n1.Image != "img-kind" {
		t.Errorf("n1 kind %s image %s", n1.Kind, n1.Image)
	}
	if got := n1.Labels; got["a"] != "defaults" || got["b"] != "kind" || got["c"] != "kind" || got["d"] != "node" {
		t.Errorf("n1 labels %v", got)
	}
	if n2.Kind != "linux" || n2.Image != "img-node" {
		t.Errorf("n2 kind %s image %s", n2.Kind, n2.Image)
	}
	if got := n2.Labels; got["a"] != "defaults" || got["b"] != "defaults" || got["c"] != "group" || got["d"] != "group" {
		t.Errorf("n2 labels %v (the linux kind has no kinds entry, so b stays from defaults)", got)
	}
	if n3.Kind != "nokia_srlinux" || n3.Name != "n3" {
		t.Errorf("null node n3: %+v", n3)
	}
	g, _ := lab.Graph(Options{})
	if got := g.Node("n1").String("system_id"); got != "SN1" {
		t.Errorf("system_id label: %s", got)
	}
	if got := g.Node("n1:e1-1").String("if_name"); got != "ethernet-1/1" {
		t.Errorf("if_name %s", got)
	}
}

func TestContainerlabErrors(t *testing.T) {
	cases := []struct {
		name, src, want string
	}{
		{"undefined node", "name: x\ntopology:\n  nodes:\n    a: {kind: linux}\n  links:\n    - endpoints: [\"a:eth1\", \"b:eth1\"]\n",
			`x.clab.yml:6:29: topology.links[0]: endpoint b:eth1: node "b" is not defined in topology.nodes`},
		{"duplicate endpoint", "name: x\ntopology:\n  nodes:\n    a: {kind: linux}\n    b: {kind: linux}\n  links:\n    - endpoints: [\"a:eth1\", \"b:eth1\"]\n    - endpoints: [\"a:eth1\", \"b:eth2\"]\n",
			`x.clab.yml:8:19: topology.links[1]: endpoint a:eth1 is already used by the link at x.clab.yml:7:19`},
		{"same interface by alias", "name: x\ntopology:\n  nodes:\n    a: {kind: srl}\n    b: {kind: linux}\n  links:\n    - endpoints: [\"a:e1-1\", \"b:eth1\"]\n    - endpoints: [\"a:ethernet-1/1\", \"b:eth2\"]\n",
			`x.clab.yml:8:19: topology.links[1]: endpoint a:ethernet-1/1 is the same interface as another endpoint (e1-1)`},
		{"malformed endpoint", "name: x\ntopology:\n  nodes:\n    a: {kind: linux}\n  links:\n    - endpoints: [\"a-eth1\", \"a:eth2\"]\n",
			`x.clab.yml:6:19: topology.links[0].endpoints[0]: endpoint "a-eth1": want "node:interface"`},
		{"three endpoints", "name: x\ntopology:\n  nodes:\n    a: {kind: linux}\n  links:\n    - endpoints: [\"a:e1\", \"a:e2\", \"a:e3\"]\n",
			`x.clab.yml:6:18: topology.links[0].endpoints: expected a list of two "node:interface" endpoints`},
		{"no kind", "name: x\ntopology:\n  nodes:\n    a:\n",
			`x.clab.yml:4:5: topology.nodes.a.kind: no kind`},
		{"bad interface for kind", "name: x\ntopology:\n  nodes:\n    a: {kind: srl}\n    b: {kind: linux}\n  links:\n    - endpoints: [\"a:eth1\", \"b:eth1\"]\n",
			`x.clab.yml:7:19: topology.links[0]: endpoint a:eth1: interface "eth1" is not a nokia_srlinux interface name`},
		{"labels not scalar", "name: x\ntopology:\n  nodes:\n    a: {kind: linux, labels: {role: [a]}}\n",
			`x.clab.yml:4:37: topology.nodes.a.labels.role: expected a string or number`},
		{"bad node name", "name: x\ntopology:\n  nodes:\n    -a: {kind: linux}\n",
			`x.clab.yml:4:5: topology.nodes.-a: invalid node name`},
		{"no topology", "name: x\n", `x.clab.yml:1:1: topology: required`},
		{"not yaml", "name: [x\n", `x.clab.yml: not YAML`},
		{"unknown link type", "name: x\ntopology:\n  nodes:\n    a: {kind: linux}\n  links:\n    - type: tunnel\n      endpoint: {node: a, interface: e1}\n",
			`x.clab.yml:6:13: topology.links[0].type: unknown link type "tunnel"`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, _, _, err := ParseContainerlab([]byte(tc.src), "x.clab.yml", Options{})
			if err == nil {
				t.Fatal("no error")
			}
			if !strings.HasPrefix(err.Error(), tc.want) {
				t.Errorf("error\n  %v\nwant prefix\n  %s", err, tc.want)
			}
		})
	}
}

func TestContainerlabWarnings(t *testing.T) {
	src := "name: old\nprefix: \"\"\nextra: 1\ntopology:\n  nodes:\n    a:\n      kind: linux\n      mgmt_ipv4: 172.20.20.2\n      binds: [/x:/y]\n      colour: red\n"
	g, _, warnings, err := ParseContainerlab([]byte(src), "old.clab.yml", Options{})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, w := range warnings {
		got = append(got, w.Error())
	}
	want := []string{
		"old.clab.yml:3:1: extra: unknown top-level key (containerlab refuses it); ignored",
		"old.clab.yml:8:7: topology.nodes.a.mgmt_ipv4: deprecated key, now mgmt-ipv4; ignored",
		"old.clab.yml:10:7: topology.nodes.a.colour: unknown node key (containerlab refuses it); ignored",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("warnings\n  %s\nwant\n  %s", strings.Join(got, "\n  "), strings.Join(want, "\n  "))
	}
	if g.Node("a") == nil {
		t.Error("node a missing")
	}
}

func TestGraphJSONErrors(t *testing.T) {
	cases := []struct{ src, want string }{
		{`{"nodes": {"a": {"type": "system"}}, "relationships": {"r": {"type": "x", "source_id": "a", "target_id": "b"}}}`,
			`g.json:1:61: relationships.r.target_id: "b" is not a node`},
		{`{"nodes": {"a": {"role": "leaf"}}}`, `g.json:1:17: nodes.a.type: required`},
		{"{\"nodes\": {\n \"a\": {\"type\": \"system\", \"id\": \"b\"}}}", `g.json:2:7: nodes.a.id: b differs`},
		{`{"nodes": [1]}`, `g.json:1:11: nodes: expected an object`},
		{`{"nodes": {}} x`, `g.json`},
	}
	for _, tc := range cases {
		_, err := ParseGraphJSON([]byte(tc.src), "g.json")
		if err == nil || !strings.HasPrefix(err.Error(), tc.want) {
			t.Errorf("%s: error %v, want prefix %s", tc.src, err, tc.want)
		}
	}
}
