package resolve

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/probe-agent/probe-agent/probe"
	_ "github.com/probe-agent/probe-agent/probe/processors" // the processor catalog
	"github.com/probe-agent/probe-agent/topology"
)

const seedProbe = "../../cmd/probectl/testdata/seed_probe.json"

func lab(t testing.TB, name string) *topology.Graph {
	t.Helper()
	g, _, err := topology.LoadFile(filepath.Join("../../containerlab", name+".clab.yml"), topology.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return g
}

func docFile(t testing.TB, path string) *probe.Document {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Skipf("%s: %v", path, err)
	}
	doc, probs := probe.ParseDocument(data)
	if len(probs) > 0 {
		t.Fatalf("%s: %v", path, probs)
	}
	return doc
}

func docJSON(t testing.TB, src string) *probe.Document {
	t.Helper()
	doc, probs := probe.ParseDocument([]byte(src))
	if len(probs) > 0 {
		t.Fatalf("%v", probs)
	}
	return doc
}

// items renders a source's items as "system_id interface key=value ...".
func items(si *probe.SourceItems) []string {
	var out []string
	si.Each(func(sys, iface string, vals []string) {
		s := sys + " " + iface
		for i, k := range si.Keys {
			s += fmt.Sprintf(" %s=%s", k, vals[i])
		}
		out = append(out, s)
	})
	slices.Sort(out)
	return out
}

func TestSeedProbeOnSRLinux(t *testing.T) {
	doc := docFile(t, seedProbe)
	for _, tc := range []struct {
		naming Naming
		want   []string
	}{
		{NOSNames, []string{"leaf1 ethernet-1/1", "leaf2 ethernet-1/1", "leaf3 ethernet-1/2"}},
		{NodeNames, []string{"leaf1 e1-1", "leaf2 e1-1", "leaf3 e1-2"}},
	} {
		res, rep, err := Resolve(lab(t, "srlinux"), doc, Options{Naming: tc.naming})
		if err != nil {
			t.Fatal(err)
		}
		if got := items(res["server_tx_bytes"]); !slices.Equal(got, tc.want) {
			t.Errorf("naming %d: items %v, want %v", tc.naming, got, tc.want)
		}
		if len(rep.Processors) != 1 || rep.Processors[0].Devices != 3 || rep.Processors[0].Rows != 3 {
			t.Errorf("report %+v", rep.Processors)
		}
	}
}

// TestBandwidthGroups: the Bandwidth Utilization probe's per-item "group"
// expression is evaluated per row.
func TestBandwidthGroups(t *testing.T) {
	doc := docJSON(t, `{"label": "bw", "processors": [{"name": "in", "type": "if_counter", "outputs": {"out": "in_rate"},
	 "properties": {"counter_type": "rx_bytes", "system_id": "system.system_id", "interface": "interface.if_name",
	  "graph_query": "node('system', name='system', system_type='switch', deploy_mode='deploy').out('hosted_interfaces').node('interface', if_type=is_in(['ip','ethernet', 'port_channel']), name='interface').out('link').node('link', name='link')",
	  "group": "str('mlag_peer' if link.role in ['leaf_peer_link', 'leaf_l3_peer_link'] else ('leaf_access' if 'access' in link.role else link.role))"}}]}`)
	res, _, err := Resolve(lab(t, "leaf-spine-linux"), doc, Options{})
	if err != nil {
		t.Fatal(err)
	}
	got := items(res["in"])
	if len(got) != 23 {
		t.Errorf("%d items, want 23", len(got))
	}
	count := map[string]int{}
	for _, it := range got {
		count[it[strings.Index(it, "group=")+6:]]++
	}
	// spines 8 + leaf uplinks 6 = 14 spine_leaf; the peer link seen from
	// both leaves; server ports leaf1 2, leaf2 3, leaf3 2.
	want := map[string]int{"spine_leaf": 14, "mlag_peer": 2, "to_generic": 7}
	if fmt.Sprint(count) != fmt.Sprint(want) {
		t.Errorf("groups %v, want %v", count, want)
	}
	if !slices.Contains(got, "leaf1 eth5 group=mlag_peer") {
		t.Errorf("items %v", got)
	}
}

// TestCorpusCountersProbe resolves a real probe (Apstra's counter errors
// template) whose interface_desc formats with %.
func TestCorpusCountersProbe(t *testing.T) {
	doc := docFile(t, "../../../shared/corpus/third-party/Apstra+iba/templates__counters_error_anomalies.j2.json")
	res, rep, err := Resolve(lab(t, "leaf-spine-linux"), doc, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Processors) == 0 {
		t.Fatal("no source processors resolved")
	}
	for name, si := range res {
		got := items(si)
		// deployed leaf1-3 and the spines, every port with a peer: 8 + 5 + 6 + 4.
		if len(got) != 23 {
			t.Errorf("%s: %d items, want 23", name, len(got))
		}
		if !slices.Contains(got, "leaf1 eth3 interface_desc=facing server1") {
			t.Errorf("%s: items %v", name, got)
		}
	}
}

func TestMergesDuplicatesAndFiltersTags(t *testing.T) {
	src := `name: tags
topology:
  defaults: {kind: linux}
  nodes:
    leaf1: {labels: {tags: "Border_Leaf, red"}}
    leaf2:
    server1:
  links:
    - endpoints: ["leaf1:eth1", "server1:eth1"]
    - endpoints: ["leaf2:eth1", "server1:eth2"]
`
	g, _, _, err := topology.ParseContainerlab([]byte(src), "tags.clab.yml", topology.Options{})
	if err != nil {
		t.Fatal(err)
	}
	// Without ensure_different every interface is matched twice (as
	// itself and as the far end's far end): one item each.
	doc := docJSON(t, `{"label": "dup", "processors": [{"name": "c", "type": "if_counter", "outputs": {"out": "o"},
	  "properties": {"counter_type": "rx_bytes", "graph_query": ["node('system', name='system').out('hosted_interfaces').node('interface', name='intf').out('link').node('link').in_('link').node('interface')", ""],
	   "system_id": "system.system_id"}},
	 {"name": "t", "type": "if_counter", "outputs": {"out": "p"},
	  "properties": {"counter_type": "rx_bytes", "graph_query": "node('system', name='system', role='leaf').out('hosted_interfaces').node('interface', name='intf')",
	   "system_id": "system.system_id", "query_tag_filter": {"filter": {"system": {"is_in": ["Border_Leaf"]}}, "operation": "and"}}}]}`)
	res, rep, err := Resolve(g, doc, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if got := items(res["c"]); len(got) != 4 || rep.Processors[0].Rows != 8 {
		t.Errorf("items %v from %d rows, want 4 from 8", got, rep.Processors[0].Rows)
	}
	if got := items(res["t"]); !slices.Equal(got, []string{"leaf1 eth1"}) || rep.Processors[1].Skipped != 1 {
		t.Errorf("tag filter kept %v (skipped %d), want leaf1 eth1 only", got, rep.Processors[1].Skipped)
	}
}

func TestOverlayQueryMatchesNothing(t *testing.T) {
	doc := docJSON(t, `{"label": "o", "processors": [{"name": "g", "type": "generic_graph_collector", "outputs": {"out": "o"},
	  "properties": {"graph_query": "match(node('security_zone', name='sz').in_('sz').node('multicast_policy').out('rp').node('rendezvous_point').out('anycast_interface').node('interface').in_('hosted_interfaces').node('system', name='system'))",
	   "system_id": "system.system_id", "value": "1", "data_type": "ns"}}]}`)
	res, rep, err := Resolve(lab(t, "srlinux"), doc, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if res["g"].Len() != 0 || len(rep.Processors[0].Warnings) != 1 || !strings.Contains(rep.Processors[0].Warnings[0], "matches nothing") {
		t.Errorf("items %d, warnings %v", res["g"].Len(), rep.Processors[0].Warnings)
	}
}

func TestErrorsNameProcessorAndField(t *testing.T) {
	cases := []struct{ props, want string }{
		{`"graph_query": "node('system', name='s'"`, `probe "e": processor "c": graph_query: graph query: column 24: expected ')'`},
		{`"graph_query": ["node('system', name='s')", "node(x)"], "system_id": "s.system_id"`, `probe "e": processor "c": graph_query[1]: graph query: column 6`},
		{`"graph_query": "node('system', name='s')", "system_id": "s.system_id +"`, `probe "e": processor "c": system_id: expression`},
		{`"graph_query": "node('system', name='s')", "system_id": "s.system_id", "interface": "s.missing.x"`, `probe "e": processor "c": interface: expression "s.missing.x": attribute "x" of None`},
	}
	for _, tc := range cases {
		doc := docJSON(t, `{"label": "e", "processors": [{"name": "c", "type": "if_counter", "outputs": {"out": "o"}, "properties": {"counter_type": "rx_bytes", `+tc.props+`}}]}`)
		_, _, err := Resolve(lab(t, "srlinux"), doc, Options{})
		if err == nil || !strings.HasPrefix(err.Error(), tc.want) {
			t.Errorf("%s: error\n  %v\nwant prefix\n  %s", tc.props, err, tc.want)
		}
	}
}
