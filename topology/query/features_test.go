package query

import (
	"errors"
	"sort"
	"strings"
	"testing"

	"github.com/probe-agent/probe-agent/topology"
)

// featureGraph is a small fabric written as plain graph JSON: two leaves
// in a rack and an MLAG pair, one spine, a server bonded to both leaves,
// a loopback on each leaf.
const featureGraph = `{
 "nodes": {
  "spine1": {"type": "system", "role": "spine", "system_id": "S1", "deploy_mode": "deploy", "system_type": "switch", "label": "spine1"},
  "leaf1":  {"type": "system", "role": "leaf", "system_id": "L1", "deploy_mode": "deploy", "system_type": "switch", "label": "leaf1", "external": false},
  "leaf2":  {"type": "system", "role": "leaf", "system_id": null, "deploy_mode": "drain", "system_type": "switch", "label": "leaf2"},
  "srv1":   {"type": "system", "role": "generic", "system_type": "server", "deploy_mode": "deploy", "label": "srv1", "system_id": "H1"},
  "rack1":  {"type": "rack", "label": "rack1"},
  "rg1":    {"type": "redundancy_group", "rg_type": "mlag"},
  "s1e1": {"type": "interface", "if_name": "eth1", "if_type": "ethernet"},
  "s1e2": {"type": "interface", "if_name": "eth2", "if_type": "ethernet"},
  "l1e1": {"type": "interface", "if_name": "eth1", "if_type": "ethernet"},
  "l1e3": {"type": "interface", "if_name": "eth3", "if_type": "ethernet"},
  "l1lo": {"type": "interface", "if_name": "lo0", "if_type": "loopback", "loopback_id": 0},
  "l2e1": {"type": "interface", "if_name": "eth1", "if_type": "ethernet"},
  "l2e3": {"type": "interface", "if_name": "eth3", "if_type": "ethernet"},
  "l2lo": {"type": "interface", "if_name": "lo0", "if_type": "loopback", "loopback_id": 1},
  "h1e1": {"type": "interface", "if_name": "eth1", "if_type": "ethernet"},
  "h1e2": {"type": "interface", "if_name": "eth2", "if_type": "ethernet"},
  "h1b":  {"type": "interface", "if_name": "bond0", "if_type": "port_channel"},
  "k1": {"type": "link", "role": "spine_leaf", "link_type": "ethernet", "speed": "100G"},
  "k2": {"type": "link", "role": "spine_leaf", "link_type": "ethernet", "speed": "100G"},
  "k3": {"type": "link", "role": "leaf_l2_server", "link_type": "ethernet", "speed": "10G"},
  "k4": {"type": "link", "role": "leaf_l2_server", "link_type": "ethernet"}
 },
 "relationships": {
  "r1":  {"type": "hosted_interfaces", "source_id": "spine1", "target_id": "s1e1"},
  "r2":  {"type": "hosted_interfaces", "source_id": "spine1", "target_id": "s1e2"},
  "r3":  {"type": "hosted_interfaces", "source_id": "leaf1", "target_id": "l1e1"},
  "r4":  {"type": "hosted_interfaces", "source_id": "leaf1", "target_id": "l1e3"},
  "r5":  {"type": "hosted_interfaces", "source_id": "leaf1", "target_id": "l1lo"},
  "r6":  {"type": "hosted_interfaces", "source_id": "leaf2", "target_id": "l2e1"},
  "r7":  {"type": "hosted_interfaces", "source_id": "leaf2", "target_id": "l2e3"},
  "r8":  {"type": "hosted_interfaces", "source_id": "leaf2", "target_id": "l2lo"},
  "r9":  {"type": "hosted_interfaces", "source_id": "srv1", "target_id": "h1e1"},
  "r10": {"type": "hosted_interfaces", "source_id": "srv1", "target_id": "h1e2"},
  "r11": {"type": "hosted_interfaces", "source_id": "srv1", "target_id": "h1b"},
  "r12": {"type": "composed_of", "source_id": "h1b", "target_id": "h1e1"},
  "r13": {"type": "composed_of", "source_id": "h1b", "target_id": "h1e2"},
  "r14": {"type": "link", "source_id": "s1e1", "target_id": "k1"},
  "r15": {"type": "link", "source_id": "l1e1", "target_id": "k1"},
  "r16": {"type": "link", "source_id": "s1e2", "target_id": "k2"},
  "r17": {"type": "link", "source_id": "l2e1", "target_id": "k2"},
  "r18": {"type": "link", "source_id": "l1e3", "target_id": "k3"},
  "r19": {"type": "link", "source_id": "h1e1", "target_id": "k3"},
  "r20": {"type": "link", "source_id": "l2e3", "target_id": "k4"},
  "r21": {"type": "link", "source_id": "h1e2", "target_id": "k4"},
  "r22": {"type": "part_of_rack", "source_id": "leaf1", "target_id": "rack1"},
  "r23": {"type": "part_of_rack", "source_id": "leaf2", "target_id": "rack1"},
  "r24": {"type": "composed_of_systems", "source_id": "rg1", "target_id": "leaf1"},
  "r25": {"type": "composed_of_systems", "source_id": "rg1", "target_id": "leaf2"}
 }
}`

func feature(t *testing.T) *topology.Graph {
	t.Helper()
	g, err := topology.ParseGraphJSON([]byte(featureGraph), "feature.json")
	if err != nil {
		t.Fatal(err)
	}
	return g
}

// rowsOf renders each row as "var=id ..." sorted, for comparison.
func rowsOf(res *Result) []string {
	var out []string
	for i := 0; i < res.Len(); i++ {
		var parts []string
		for j, n := range res.Row(i) {
			id := "None"
			if n != nil {
				id = n.ID
			}
			parts = append(parts, res.Vars[j]+"="+id)
		}
		out = append(out, strings.Join(parts, " "))
	}
	sort.Strings(out)
	return out
}

func TestFeatures(t *testing.T) {
	g := feature(t)
	cases := []struct {
		name, query string
		want        []string
	}{
		{"positional type and equality", `node('system', name='s', role='leaf')`,
			[]string{"s=leaf1", "s=leaf2"}},
		{"type keyword (SDK form)", `node(type='system',name='n_system',role='spine')`,
			[]string{"n_system=spine1"}},
		{"is_in", `node('system', name='s', role=is_in(['spine', 'generic']))`,
			[]string{"s=spine1", "s=srv1"}},
		{"not_in", `node('system', name='s', role=not_in(['leaf', 'generic']))`,
			[]string{"s=spine1"}},
		{"ne", `node('interface', name='i', if_type=ne('ethernet'))`,
			[]string{"i=h1b", "i=l1lo", "i=l2lo"}},
		{"eq()", `node('interface', name='i', if_name=eq('bond0'))`,
			[]string{"i=h1b"}},
		{"not_none drops the unassigned device", `node('system', name='s', role='leaf', system_id=not_none())`,
			[]string{"s=leaf1"}},
		{"is_none", `node('system', name='s', system_id=is_none())`,
			[]string{"s=leaf2"}},
		{"int literal", `node('interface', name='i', loopback_id=0)`,
			[]string{"i=l1lo"}},
		{"gt ge lt le", `node('interface', name='i', loopback_id=ge(0), if_type='loopback').in_('hosted_interfaces').node('system', name='s').having(node(name='i'), at_least=1)`,
			[]string{"i=l1lo s=leaf1", "i=l2lo s=leaf2"}},
		{"gt", `node('interface', name='i', loopback_id=gt(0))`, []string{"i=l2lo"}},
		{"lt", `node('interface', name='i', loopback_id=lt(1))`, []string{"i=l1lo"}},
		{"le", `node('interface', name='i', loopback_id=le(1))`, []string{"i=l1lo", "i=l2lo"}},
		{"bool literal", `node('system', name='s', external=False)`, []string{"s=leaf1"}},
		{"in_ walks backwards", `node('rack', name='r').in_('part_of_rack').node('system', name='s')`,
			[]string{"r=rack1 s=leaf1", "r=rack1 s=leaf2"}},
		{"untyped step and implicit end node", `node('system', name='s', role='spine').out().node(name='i', if_name='eth2')`,
			[]string{"s=spine1 i=s1e2"}},
		{"link far end without ensure_different keeps both ends", `node('interface', name='a', if_name='eth3').out('link').node('link').in_('link').node('interface', name='b')`,
			[]string{"a=l1e3 b=h1e1", "a=l1e3 b=l1e3", "a=l2e3 b=h1e2", "a=l2e3 b=l2e3"}},
		{"ensure_different on a path", `node('system', name='s', role='leaf').out('hosted_interfaces').node('interface', name='a').out('link').node('link').in_('link').node('interface', name='b').ensure_different('a', 'b')`,
			[]string{"s=leaf1 a=l1e1 b=s1e1", "s=leaf1 a=l1e3 b=h1e1", "s=leaf2 a=l2e1 b=s1e2", "s=leaf2 a=l2e3 b=h1e2"}},
		{"seed role='server' matches a generic server", `node('system', name='sys', role='leaf').out('hosted_interfaces').node('interface', name='intf').out('link').node('link', speed=not_none()).in_('link').node('interface', name='dst_intf').in_('hosted_interfaces').node('system', name='dst', role='server').ensure_different('intf', 'dst_intf')`,
			[]string{"sys=leaf1 intf=l1e3 dst_intf=h1e1 dst=srv1"}},
		{"match join by name", `match(node('system', name='s', role='leaf').out('part_of_rack').node('rack', name='r'), node(name='s').in_('composed_of_systems').node('redundancy_group', name='g'))`,
			[]string{"s=leaf1 r=rack1 g=rg1", "s=leaf2 r=rack1 g=rg1"}},
		{"nested match with ensure_different on systems", `match(match(node('system', name='a', role='leaf'), node('system', name='b', role='leaf')).ensure_different('a', 'b'), node(name='a').out('part_of_rack').node('rack', name='r'))`,
			[]string{"a=leaf1 b=leaf2 r=rack1", "a=leaf2 b=leaf1 r=rack1"}},
		{"optional is a left join", `match(node('system', name='s', role=is_in(['leaf', 'spine'])), optional(node(name='s').out('part_of_rack').node('rack', name='r')))`,
			[]string{"s=leaf1 r=rack1", "s=leaf2 r=rack1", "s=spine1 r=None"}},
		{"distinct()", `match(node('system', name='s', role='leaf').out('hosted_interfaces').node('interface')).distinct()`,
			[]string{"s=leaf1", "s=leaf2"}},
		{"distinct([...])", `match(node('system', name='s').out('hosted_interfaces').node('interface', name='i')).distinct(['s'])`,
			[]string{"s=leaf1 i=l1e1", "s=leaf2 i=l2e1", "s=spine1 i=s1e1", "s=srv1 i=h1e1"}},
		{"distinct(names=[...])", `match(node('system', name='s').out('hosted_interfaces').node('interface', name='i', if_type='loopback')).distinct(names=['s'])`,
			[]string{"s=leaf1 i=l1lo", "s=leaf2 i=l2lo"}},
		{"having at_least", `node('system', name='s').having(node(name='s').out('hosted_interfaces').node('interface', if_type='loopback'), at_least=1)`,
			[]string{"s=leaf1", "s=leaf2"}},
		{"having at_most=0 is NOT EXISTS", `match(node('system', name='server', system_type='server').out('hosted_interfaces').node('interface', name='i').having(node(name='i').in_('composed_of').node('interface'), at_most=0))`,
			[]string{"server=srv1 i=h1b"}},
		{"select", `match(node('system', name='s', role='spine').out('hosted_interfaces').node('interface', name='i')).select('i')`,
			[]string{"i=s1e1", "i=s1e2"}},
		{"where over properties", `match(node('interface', name='a', if_type='loopback'), node('interface', name='b', if_type='loopback')).where(lambda a, b: a.loopback_id < b.loopback_id)`,
			[]string{"a=l1lo b=l2lo"}},
		{"where node identity", `match(node('system', name='system', role='leaf'), node('system', name='remote_system', role='leaf')).where(lambda system, remote_system: system != remote_system)`,
			[]string{"system=leaf1 remote_system=leaf2", "system=leaf2 remote_system=leaf1"}},
		{"where with an unset property reads None", `node('system', name='s', role='leaf').where(lambda s: s.hostname is None and 'leaf' in s.label.lower())`,
			[]string{"s=leaf1", "s=leaf2"}},
		{"overlay types match nothing", `match(node('security_zone', name='sz').in_('sz').node('multicast_policy'))`, nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			q, err := Parse(tc.query)
			if err != nil {
				t.Fatal(err)
			}
			res, err := q.Match(g)
			if err != nil {
				t.Fatal(err)
			}
			got := rowsOf(res)
			if tc.want == nil {
				tc.want = []string{}
			}
			sort.Strings(tc.want)
			if strings.Join(got, "\n") != strings.Join(tc.want, "\n") {
				t.Errorf("got\n  %s\nwant\n  %s", strings.Join(got, "\n  "), strings.Join(tc.want, "\n  "))
			}
		})
	}
}

func TestOverlayWarning(t *testing.T) {
	q, _ := Parse(`match(node('security_zone', name='sz').in_('sz').node('multicast_policy'), node('system', name='s'))`)
	res, err := q.Match(feature(t))
	if err != nil {
		t.Fatal(err)
	}
	if res.Len() != 0 || len(res.Warnings) != 1 {
		t.Fatalf("rows %d, warnings %v", res.Len(), res.Warnings)
	}
	if w := res.Warnings[0]; !strings.Contains(w, "multicast_policy, security_zone") || !strings.Contains(w, "matches nothing") {
		t.Errorf("warning %q", w)
	}
}

func TestSyntaxErrors(t *testing.T) {
	cases := []struct {
		query string
		col   int
		msg   string
	}{
		{``, 1, "empty query"},
		{`node('system'`, 14, "expected ')' to close node("},
		{`node('system', role=)`, 21, "expected a value"},
		{`node('system', role=is_one(['a']))`, 21, "unknown matcher is_one()"},
		{`node('system').outt('x')`, 16, `unknown method "outt"`},
		{`node('system').node('interface')`, 16, "expected .out(...) or .in_(...) between two nodes"},
		{`node('system', name='s').ensure_different('s', 'x')`, 26, `unknown variable "x" (known: s)`},
		{`node('system', name='s').ensure_different('s')`, 26, "at least two"},
		{`match(, node('system'))`, 7, "expected node(...), match(...) or optional(...)"},
		{`match(node('system')).out('x')`, 23, ".out(...) cannot follow match(...)"},
		{`optional(node('system'))`, 1, "only allowed as an argument of match"},
		{`node('system', name='s').where(lambda s: t.role == 'x')`, 41, `reads "t"`},
		{`node('system', name='s').where(s.role)`, 32, "where expects a lambda"},
		{`node('system', name='s').having(node(name='s'), at_leest=1)`, 49, "expected at_least= or at_most="},
		{`node('system', name="s)`, 21, "unterminated string"},
		{`node('system') x`, 16, "expected end of query"},
		{`node(name='x', 'system')`, 16, "the node type must be the first argument"},
		{"match(\n  node('system', name='s'),\n  node(name='s').out('hosted_interfaces').node('interface',, name='i'))", 60, "expected a node type string or key=value"},
	}
	for _, tc := range cases {
		t.Run(tc.query, func(t *testing.T) {
			_, err := Parse(tc.query)
			var se *SyntaxError
			if !errors.As(err, &se) {
				t.Fatalf("got %v, want a SyntaxError", err)
			}
			if se.Pos+1 != tc.col && !strings.Contains(tc.query, "\n") {
				t.Errorf("column %d, want %d (%v)", se.Pos+1, tc.col, err)
			}
			if !strings.Contains(err.Error(), tc.msg) {
				t.Errorf("error %q does not say %q", err, tc.msg)
			}
		})
	}
	_, err := Parse("match(\n  node('system', name='s'),\n  node(name='s').out('hosted_interfaces').node('interface',, name='i'))")
	if err == nil || !strings.Contains(err.Error(), "line 3, column 60") {
		t.Errorf("multi-line error %v, want line 3, column 60", err)
	}
}

// TestUnsupportedWhereBody: a lambda body the expression evaluator refuses
// still parses as a query, is listed by Unsupported, and makes Match fail
// with the evaluator's reason instead of silently matching everything.
func TestUnsupportedWhereBody(t *testing.T) {
	q, err := Parse(`node('system', name='s').where(lambda s: s.label.format(1))`)
	if err != nil {
		t.Fatal(err)
	}
	if len(q.Unsupported()) != 1 {
		t.Fatalf("unsupported %v", q.Unsupported())
	}
	_, err = q.Match(feature(t))
	if err == nil || !strings.Contains(err.Error(), "where(lambda s: s.label.format(1))") {
		t.Errorf("match error %v", err)
	}
}
