package main

import (
	"encoding/json"
	"strings"
	"testing"
)

const (
	srlLab       = "../../containerlab/srlinux.clab.yml"
	leafSpineLab = "../../containerlab/leaf-spine-linux.clab.yml"
	seedQuery    = `node('system', name='sys').out('hosted_interfaces').node('interface', name='intf').out('link').node('link', link_type='ethernet', speed=not_none()).in_('link').node('interface', name='dst_intf').in_('hosted_interfaces').node('system', name='dst_node', role='server').ensure_different('intf', 'dst_intf')`
)

func TestTopologyCommand(t *testing.T) {
	for _, tc := range []struct {
		name string
		args []string
	}{
		{"topology_srlinux.table", []string{"topology", srlLab}},
		{"topology_srlinux.yaml", []string{"topology", srlLab, "-o", "yaml"}},
		{"topology_leaf_spine.json", []string{"topology", leafSpineLab, "-o", "json", "--default-speed", "25G"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out, code := run(t, tc.args...)
			if code != 0 {
				t.Fatalf("exit %d: %s", code, out)
			}
			golden(t, tc.name, out)
		})
	}
	out, code := run(t, "topology", "--check", srlLab)
	if code != 0 || out != srlLab+": ok, 8 systems, 18 interfaces, 9 links\n" {
		t.Errorf("--check: exit %d, %q", code, out)
	}
	out, code = run(t, "topology", "--check", "testdata/seed_probe.json")
	if code != 1 || !strings.Contains(out, "testdata/seed_probe.json") {
		t.Errorf("--check on a non-topology: exit %d, %q", code, out)
	}
}

func TestQueryCommand(t *testing.T) {
	out, code := run(t, "query", "--topology", srlLab, seedQuery)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, out)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 3 {
		t.Fatalf("%d rows, want 3:\n%s", len(lines), out)
	}
	var row map[string]map[string]any
	if err := json.Unmarshal([]byte(lines[0]), &row); err != nil {
		t.Fatal(err)
	}
	if row["sys"]["id"] != "leaf1" || row["intf"]["if_name"] != "ethernet-1/1" || row["dst_node"]["type"] != "system" {
		t.Errorf("first row %v", row)
	}
	out, code = run(t, "query", "--topology", srlLab, "-o", "table", seedQuery)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, out)
	}
	golden(t, "query_seed_srlinux.table", out)

	out, code = run(t, "query", "--topology", srlLab, "node('system', name='s').out('hosted_interfaces').node('interface' name='i')")
	if code != 1 {
		t.Fatalf("bad query: exit %d, want 1", code)
	}
	want := "graph query: column 68: expected ')' to close node(, found \"name\"\n" +
		"  node('system', name='s').out('hosted_interfaces').node('interface' name='i')\n" +
		"  " + strings.Repeat(" ", 67) + "^\n"
	if out != want {
		t.Errorf("bad query output\n%s\nwant\n%s", out, want)
	}

	out, code = run(t, "query", "--topology", srlLab, "match(node('security_zone', name='sz'))")
	if code != 0 || !strings.Contains(out, "warning: node types not in this topology") || !strings.Contains(out, "security_zone; the query matches nothing") {
		t.Errorf("overlay query: exit %d, %q", code, out)
	}
}

// TestSimulateTopology: with --topology only the leaf ports facing servers
// are items of the seed probe, not every line of the counters file
// (uplinks, the host-facing port, the spine's and the server's ports).
func TestSimulateTopology(t *testing.T) {
	args := []string{"simulate", "--probe", "testdata/seed_probe.json", "--counters", "testdata/topology_counters.jsonl"}
	out, code := run(t, append(args, "--topology", leafSpineLab)...)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, out)
	}
	golden(t, "simulate_seed_topology.json", out)
	if !strings.Contains(out, "server_tx_bytes: 9 items on 4 devices from 9 query rows") {
		t.Errorf("no resolution summary in\n%s", out)
	}
	count := func(s string) int { return strings.Count(s, `"system_id": `) }
	if n := count(out); n != 3 {
		t.Errorf("%d items with --topology, want 3 (leaf1 eth3, leaf1 eth4, leaf2 eth3)", n)
	}
	plain, code := run(t, args...)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, plain)
	}
	if n := count(plain); n != 7 {
		t.Errorf("%d items without --topology, want every line's 7", n)
	}
	if out, code := run(t, append(args, "--topology", leafSpineLab, "--interface-names", "linux")...); code != 2 || !strings.Contains(out, "want nos or node") {
		t.Errorf("bad --interface-names: exit %d %q", code, out)
	}
}
