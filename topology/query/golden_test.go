package query

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/probe-agent/probe-agent/topology"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/golden")

// The counter-probe queries of graph-and-topology.md §1.5, verbatim.
var factQueries = map[string]string{
	"seed":           `node('system', name='sys').out('hosted_interfaces').node('interface', name='intf').out('link').node('link', link_type='ethernet', speed=not_none()).in_('link').node('interface', name='dst_intf').in_('hosted_interfaces').node('system', name='dst_node', role='server').ensure_different('intf', 'dst_intf')`,
	"ecmp":           `node("system", name="system", deploy_mode="deploy", role="leaf").out("hosted_interfaces").node("interface", name="iface", if_name=not_none()).out("link").node("link", link_type="ethernet").in_("link").node("interface").in_("hosted_interfaces").node("system", role="spine", deploy_mode="deploy")`,
	"spine_ft":       `match(node('system', name='system', system_id=not_none(), role='spine').out('hosted_interfaces').node('interface', name='intf', if_name=not_none()).out('link').node('link', role='spine_leaf', name='link').in_('link').node('interface').in_('hosted_interfaces').node('system', role='leaf', system_id=not_none()))`,
	"device_traffic": `node("system", name="system", system_id=not_none(),role=is_in(["spine", "leaf", "superspine", "access"])).out("hosted_interfaces").node("interface", name="iface", if_name=not_none()).out("link").node("link", name="link", link_type="ethernet")`,
	"bandwidth":      `node('system', name='system', system_type='switch', deploy_mode='deploy').out('hosted_interfaces').node('interface', if_type=is_in(['ip','ethernet', 'port_channel']), name='interface').out('link').node('link', name='link')`,
}

func loadLab(t testing.TB, name string) *topology.Graph {
	t.Helper()
	g, warnings, err := topology.LoadFile(filepath.Join("../../containerlab", name), topology.Options{})
	if err != nil {
		t.Fatal(err)
	}
	for _, w := range warnings {
		t.Errorf("unexpected warning: %v", w)
	}
	return g
}

// TestGoldenLabs runs the fact queries on the three labs in containerlab/.
// The counts are hand-counted from the lab files (see the comments in
// them); the golden files hold the rows, as variable -> node id.
func TestGoldenLabs(t *testing.T) {
	cases := []struct {
		lab, query string
		rows       int
	}{
		// 9 leaf-server cables (server1 has two); the leaf end only.
		{"leaf-spine-linux.clab.yml", "seed", 9},
		// leaf1-3 deployed (leaf4 drains), 2 uplinks each.
		{"leaf-spine-linux.clab.yml", "ecmp", 6},
		{"leaf-spine-linux.clab.yml", "spine_ft", 8},
		// 8 spine ports + leaf1 5, leaf2 6, leaf3 4, leaf4 4 (leaf1:eth9 has no peer).
		{"leaf-spine-linux.clab.yml", "device_traffic", 27},
		// switches in deploy: spines 8 + leaf1 5 + leaf2 6 + leaf3 4.
		{"leaf-spine-linux.clab.yml", "bandwidth", 23},
		{"srlinux.clab.yml", "seed", 3},
		{"srlinux.clab.yml", "ecmp", 6},
		{"srlinux.clab.yml", "spine_ft", 6},
		{"srlinux.clab.yml", "device_traffic", 15},
		{"srlinux.clab.yml", "bandwidth", 15},
		{"superspine.clab.yml", "seed", 4},
		{"superspine.clab.yml", "ecmp", 8},
		{"superspine.clab.yml", "spine_ft", 8},
		// superspines 8 (mgmt0 has no peer) + spines 16 + leaves 12.
		{"superspine.clab.yml", "device_traffic", 36},
		{"superspine.clab.yml", "bandwidth", 36},
	}
	for _, tc := range cases {
		t.Run(strings.TrimSuffix(tc.lab, ".clab.yml")+"/"+tc.query, func(t *testing.T) {
			g := loadLab(t, tc.lab)
			q, err := Parse(factQueries[tc.query])
			if err != nil {
				t.Fatal(err)
			}
			res, err := q.Match(g)
			if err != nil {
				t.Fatal(err)
			}
			if res.Len() != tc.rows {
				t.Errorf("%d rows, want %d", res.Len(), tc.rows)
			}
			compareGolden(t, filepath.Join("testdata", "golden", strings.TrimSuffix(tc.lab, ".clab.yml")+"__"+tc.query+".json"), rowIDs(res))
		})
	}
}

// rowIDs renders rows as one line each: var=id in the order of Vars.
func rowIDs(res *Result) []byte {
	var b bytes.Buffer
	for i := 0; i < res.Len(); i++ {
		var parts []string
		for j, n := range res.Row(i) {
			id := "None"
			if n != nil {
				id = n.ID
			}
			parts = append(parts, fmt.Sprintf("%s=%s", res.Vars[j], id))
		}
		b.WriteString(strings.Join(parts, " ") + "\n")
	}
	return b.Bytes()
}

func compareGolden(t *testing.T, path string, got []byte) {
	t.Helper()
	if *update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs:\ngot:\n%s\nwant:\n%s", path, got, want)
	}
}

// TestSeedRowsAreServerFacingLeafPorts checks the seed query's rows by
// their meaning, independently of the golden file: the near end is a leaf
// port, the far end a server, and every leaf-server cable appears once.
func TestSeedRowsAreServerFacingLeafPorts(t *testing.T) {
	g := loadLab(t, "srlinux.clab.yml")
	q, _ := Parse(factQueries["seed"])
	res, err := q.Match(g)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for i := 0; i < res.Len(); i++ {
		sys, intf, dst := res.Get(i, "sys"), res.Get(i, "intf"), res.Get(i, "dst_node")
		if sys.String("role") != "leaf" || dst.String("system_type") != "server" {
			t.Errorf("row %d: %s -> %s", i, sys.ID, dst.ID)
		}
		got = append(got, sys.ID+":"+intf.String("if_name"))
	}
	want := "leaf1:ethernet-1/1 leaf2:ethernet-1/1 leaf3:ethernet-1/2"
	if strings.Join(got, " ") != want {
		t.Errorf("got %v, want %s", got, want)
	}
	js, _ := json.Marshal(res.RowJSON(0))
	if !strings.Contains(string(js), `"sys":{`) || !strings.Contains(string(js), `"id":"leaf1"`) {
		t.Errorf("row JSON %s", js)
	}
}
