package expr

import (
	"errors"
	"math"
	"reflect"
	"strings"
	"testing"
)

// corpusEnv is a fake environment for the expressions of the Apstra 4.2.1
// probes in /work/shared/corpus: graph query variables as maps, and a
// property set as query_result.
func corpusEnv() MapEnv {
	return MapEnv{
		"system":                   map[string]any{"system_id": "525400ABCDEF", "label": "leaf1", "hostname": "leaf1.dc1", "role": "leaf"},
		"iface":                    map[string]any{"if_name": "xe-0/0/1", "operation_state": "up"},
		"remote_iface":             map[string]any{"if_name": "xe-0/0/7"},
		"remote_system":            map[string]any{"label": "spine1"},
		"link":                     map[string]any{"speed": "10G", "role": "spine_leaf"},
		"DP":                       map[string]any{"label": "Juniper_QFX5120"},
		"Device_Profile":           map[string]any{"label": "Juniper_QFX5110"},
		"local_leaf_loopback":      map[string]any{"ipv4_addr": "10.0.0.1/32"},
		"external_router_loopback": map[string]any{"ipv4_addr": "192.0.2.1/32"},
		"remote_leaf_loopback":     map[string]any{"ipv4_addr": "10.0.0.2/32"},
		"local_leaf_VTEP":          map[string]any{"ipv4_addr": "10.1.0.1/32"},
		"remote_leaf_VTEP":         map[string]any{"ipv4_addr": "10.1.0.2/32"},
		"local_leaf_rack":          map[string]any{"label": "rack1"},
		"remote_leaf_rack":         map[string]any{"label": "rack2"},
		"routing_zone":             map[string]any{"label": "blue"},
		"local_routing_zone":       map[string]any{"label": "red"},
		"external_router":          map[string]any{"label": "ext1"},
		"query_result": []any{map[string]any{"ps": map[string]any{"label": "os_versions", "values": map[string]any{
			"os_version": map[string]any{
				"exclude_list":       []any{"4.1.2", "4.2.0"},
				"regexp_valid_range": "^4\\.2\\.[1-9]",
			},
			"accumulate_duration": "300",
		}}}},
		"context": map[string]any{"speed": "25G", "server_bond_id": "bond0", "count": 3},
		// Names of the third-party probes (Apstra/iba templates, Juniper's
		// packs, users' collections).
		"intf":         map[string]any{"ipv4_addr": "10.1.1.0/31", "description": ""},
		"other_intf":   map[string]any{"ipv4_addr": "10.1.1.1/31"},
		"d1":           map[string]any{"domain_id": int64(64512)},
		"d2":           map[string]any{"domain_id": int64(64513)},
		"interface":    map[string]any{"if_name": "et-0/0/48", "description": nil},
		"system2":      map[string]any{"hostname": "", "label": "spine2", "role": "spine"},
		"logical_vtep": map[string]any{"ipv4_addr": "10.2.0.5/32"},
		"sz":           map[string]any{"vrf_name": "blue"},
		"vn_endpoint":  map[string]any{"tag_type": "vlan_tagged"},
		"vn_instance":  map[string]any{"vlan_id": int64(100)},
		"server":       map[string]any{"hostname": nil, "label": "srv1"},
	}
}

// corpusExpressions are every expression-valued property of the corpus
// probes (as the Python source, after JSON decoding) with the value each
// gives in corpusEnv.
var corpusExpressions = []struct {
	src  string
	want Value
}{
	{`60`, int64(60)},
	{`120`, int64(120)},
	{`5`, int64(5)},
	{`-1`, int64(-1)},
	{`''`, ""},
	{`'true'`, "true"},
	{`'false'`, "false"},
	{`"Loop-detected"`, "Loop-detected"},
	{`str(link.speed)`, "10G"},
	{`str(link.role)`, "spine_leaf"},
	{`str(DP.label)`, "Juniper_QFX5120"},
	{`str(Device_Profile.label)`, "Juniper_QFX5110"},
	{`str(remote_iface.if_name)`, "xe-0/0/7"},
	{`str(remote_system.label)`, "spine1"},
	{`str(system.label)`, "leaf1"},
	{`str(local_leaf_rack.label)`, "rack1"},
	{`str(remote_leaf_rack.label)`, "rack2"},
	{`str(external_router.label)`, "ext1"},
	{`iface.if_name`, "xe-0/0/1"},
	{`system.system_id`, "525400ABCDEF"},
	{`system.hostname`, "leaf1.dc1"},
	{`routing_zone.label`, "blue"},
	{`local_routing_zone.label`, "red"},
	{`local_leaf_loopback.ipv4_addr.split("/")[0]`, "10.0.0.1"},
	{`external_router_loopback.ipv4_addr.split("/")[0]`, "192.0.2.1"},
	{`remote_leaf_loopback.ipv4_addr.split("/")[0]`, "10.0.0.2"},
	{`local_leaf_VTEP.ipv4_addr.split("/")[0]`, "10.1.0.1"},
	{`remote_leaf_VTEP.ipv4_addr.split("/")[0]`, "10.1.0.2"},
	{`'|'.join([version.replace('.', '\\.') for version in query_result[0]['ps'].values['os_version']['exclude_list']])`, `4\.1\.2|4\.2\.0`},
	{`query_result[0]['ps'].values['os_version']['regexp_valid_range']`, `^4\.2\.[1-9]`},
	// Third-party probes: tuple keys, % formatting, partition().
	{`(intf.ipv4_addr.split('/')[0], d1.domain_id, other_intf.ipv4_addr.split('/')[0], d2.domain_id, 'default', 'ipv4')`,
		Tuple{"10.1.1.0", int64(64512), "10.1.1.1", int64(64513), "default", "ipv4"}},
	{`'%s|%s' % (interface.if_name, 'rx_power')`, "et-0/0/48|rx_power"},
	{`'%s_bum_to_total_percentage' % logical_vtep.ipv4_addr.partition('/')[0]`, "10.2.0.5_bum_to_total_percentage"},
	{`'%s|num_mcast_groups' % sz.vrf_name`, "blue|num_mcast_groups"},
	{`interface.description or 'facing %s' % (system2.hostname or system2.label or system2.role)`, "facing spine2"},
	{`'mlag_peer' if link.role in ['leaf_peer_link', 'spine_spine'] else ('leaf_server' if 'server' in link.role else link.role)`, "spine_leaf"},
	{`0 if vn_endpoint.tag_type == 'untagged' else vn_instance.vlan_id`, int64(100)},
	{`server.hostname or server.label`, "srv1"},
	// Forms the additions allow that real probes are likely to use.
	{`len({qr['ps'].label for qr in query_result})`, int64(1)},
	{`sum([functions.speed_to_bits(s) for s in ['10G', '25G']]) / 1e9`, 35.0},
	{`max(int(context.count), 1)`, int64(3)},
	{`round(functions.speed_to_bits(link.speed) * 0.8)`, int64(8000000000)},
	{`'%s:%d' % (system.label, context.count)`, "leaf1:3"},
	{`'%(label)s/%(role)s' % system`, "leaf1/leaf"},
	{`iface.if_name.rpartition('/')[2]`, "1"},
	// From the reference (§2.4, §3.1) rather than the corpus.
	{`60 * 15`, int64(900)},
	{`int(query_result[0]["ps"].values["accumulate_duration"])`, int64(300)},
	{`functions.speed_to_bits(link.speed, default=0)`, int64(10000000000)},
	{`functions.speed_to_bits(context.speed)`, int64(25000000000)},
	{`context.server_bond_id`, "bond0"},
	{`'system_cpu_utilization'`, "system_cpu_utilization"},
	{`"\"true\""`, `"true"`},
}

func TestCorpusExpressions(t *testing.T) {
	env := corpusEnv()
	for _, tt := range corpusExpressions {
		t.Run(tt.src, func(t *testing.T) {
			e, err := Parse(tt.src)
			if err != nil {
				t.Fatal(err)
			}
			got, err := e.Eval(env)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got %#v, want %#v", got, tt.want)
			}
		})
	}
}

func eval(t *testing.T, src string, env Env) (Value, error) {
	t.Helper()
	e, err := Parse(src)
	if err != nil {
		return nil, err
	}
	return e.Eval(env)
}

func TestEval(t *testing.T) {
	env := MapEnv{
		"n":    int64(7),
		"f":    2.5,
		"s":    "Hello World",
		"xs":   []any{int64(1), int64(2), int64(3)},
		"strs": []string{"a", "b"},
		"m":    map[string]any{"k": "v", "n": 4, "nested": map[string]string{"x": "y"}},
		"none": nil,
		"u":    uint32(9),
	}
	tests := []struct {
		src  string
		want Value
	}{
		// precedence and associativity
		{"1 + 2 * 3", int64(7)},
		{"(1 + 2) * 3", int64(9)},
		{"10 - 4 - 3", int64(3)},
		{"2 * 3 % 4", int64(2)},
		{"-2 * 3", int64(-6)},
		{"- -3", int64(3)},
		{"+3", int64(3)},
		{"-n", int64(-7)},
		{"1 + 2 == 3", true},
		{"not 1 == 2", true},
		{"not 0 and 1", int64(1)},
		{"1 or 2 and 0", int64(1)},
		{"0 or 2 and 3", int64(3)},
		{"1 if 0 else 2 if 1 else 3", int64(2)},
		{"1 if True else 2", int64(1)},
		{"'a' if n > 5 else 'b'", "a"},
		{"1 + 2 if False else 10 * 2", int64(20)},
		// arithmetic semantics
		{"7 / 2", 3.5},
		{"7 // 2", int64(3)},
		{"-7 // 2", int64(-4)},
		{"7 % -3", int64(-2)},
		{"-7 % 3", int64(2)},
		{"7.5 // 2", 3.0},
		{"-7.5 % 2", 0.5},
		{"1 + 2.5", 3.5},
		{"True + 1", int64(2)},
		{"1e3", 1000.0},
		{".5 + 1_000", 1000.5},
		{"f * 2", 5.0},
		{"u + 1", int64(10)},
		{"'ab' + 'cd'", "abcd"},
		{"'ab' * 3", "ababab"},
		{"2 * 'ab'", "abab"},
		{"'ab' * -1", ""},
		{"[1] + [2]", []Value{int64(1), int64(2)}},
		{"[0] * 3", []Value{int64(0), int64(0), int64(0)}},
		// comparisons
		{"1 < 2 < 3", true},
		{"1 < 3 < 2", false},
		{"1 == 1.0", true},
		{"'a' < 'b'", true},
		{"'a' != 'a'", false},
		{"2 >= 2", true},
		{"2 <= 1", false},
		{"2 > 1", true},
		{"'a' == 1", false},
		{"None == None", true},
		{"none is None", true},
		{"n is not None", true},
		{"2 in xs", true},
		{"5 not in xs", true},
		{"'World' in s", true},
		{"'k' in m", true},
		{"[1, 2] == [1, 2]", true},
		{"float('nan') == float('nan')", false},
		{"float('nan') < 1", false},
		// literals and access
		{"'it\\'s'", "it's"},
		{`"tab\there"`, "tab\there"},
		{`'\x41\u00e9'`, "Aé"},
		{`'a\.b'`, `a\.b`},
		{`r'a\.b'`, `a\.b`},
		{`'a' "b"`, "ab"},
		{"[]", []Value{}},
		{"[1, 'a', None, True, 2.0,]", []Value{int64(1), "a", nil, true, 2.0}},
		{"xs[0]", int64(1)},
		{"xs[-1]", int64(3)},
		{"xs[1:]", []Value{int64(2), int64(3)}},
		{"xs[:-1]", []Value{int64(1), int64(2)}},
		{"s[:5]", "Hello"},
		{"s[-5:]", "World"},
		{"s[0]", "H"},
		{"'héllo'[1]", "é"},
		{"strs[1]", "b"},
		{"m['k']", "v"},
		{"m.k", "v"},
		{"m.n", int64(4)},
		{"m.nested.x", "y"},
		{"m['nested']['x']", "y"},
		// comprehensions
		{"[x * 2 for x in xs]", []Value{int64(2), int64(4), int64(6)}},
		{"[x for x in xs if x != 2]", []Value{int64(1), int64(3)}},
		{"[x + y for x in xs if x > 1 for y in [10, 20]]", []Value{int64(12), int64(22), int64(13), int64(23)}},
		{"[c for c in 'ab']", []Value{"a", "b"}},
		{"[k for k in m]", []Value{"k", "n", "nested"}},
		{"[x for x in xs if x > 5]", []Value{}},
		{"[n for n in xs]", []Value{int64(1), int64(2), int64(3)}},
		{"[[y for y in xs if y < x] for x in xs]", []Value{[]Value{}, []Value{int64(1)}, []Value{int64(1), int64(2)}}},
		// builtins
		{"int('42')", int64(42)},
		{"int(' -3 ')", int64(-3)},
		{"int(3.9)", int64(3)},
		{"int(-3.9)", int64(-3)},
		{"int(True)", int64(1)},
		{"float('2.5')", 2.5},
		{"float(3)", 3.0},
		{"float(' inf ')", math.Inf(1)},
		{"str(3)", "3"},
		{"str(2.0)", "2.0"},
		{"str(0.1 + 0.2)", "0.30000000000000004"},
		{"str(1e16)", "1e+16"},
		{"str(1e-5)", "1e-05"},
		{"str(123456.5)", "123456.5"},
		{"str(None)", "None"},
		{"str(True)", "True"},
		{"str(['a', 1, None])", "['a', 1, None]"},
		{"str(m.nested)", "{'x': 'y'}"},
		{"str(\"it's\")", "it's"},
		{"str([\"it's\"])", `["it's"]`},
		{"len('héllo')", int64(5)},
		{"len(xs)", int64(3)},
		{"len(m)", int64(3)},
		{"len([])", int64(0)},
		// string methods
		{"'a/b/c'.split('/')", []Value{"a", "b", "c"}},
		{"'a/b/c'.split('/', 1)", []Value{"a", "b/c"}},
		{"'  a  b '.split()", []Value{"a", "b"}},
		{"' a b  c '.split(None, 1)", []Value{"a", "b  c "}},
		{"','.join(['a', 'b'])", "a,b"},
		{"''.join([])", ""},
		{"'a.b.c'.replace('.', '-')", "a-b-c"},
		{"'a.b.c'.replace('.', '-', 1)", "a-b.c"},
		{"'  x '.strip()", "x"},
		{"'xxhixx'.strip('x')", "hi"},
		{"'AbC'.lower()", "abc"},
		{"'AbC'.upper()", "ABC"},
		{"s.startswith('Hell')", true},
		{"s.endswith('x')", false},
		{"s.lower().split(' ')[1].upper()", "WORLD"},
		// speed_to_bits
		{"functions.speed_to_bits('10G')", int64(10_000_000_000)},
		{"functions.speed_to_bits('25G')", int64(25_000_000_000)},
		{"functions.speed_to_bits('100M')", int64(100_000_000)},
		{"functions.speed_to_bits('1T')", int64(1_000_000_000_000)},
		{"functions.speed_to_bits('2.5G')", int64(2_500_000_000)},
		{"functions.speed_to_bits('400g')", int64(400_000_000_000)},
		{"functions.speed_to_bits('10Gbps')", int64(10_000_000_000)},
		{"functions.speed_to_bits('1000')", int64(1000)},
		{"functions.speed_to_bits(1000)", int64(1000)},
		{"functions.speed_to_bits('auto', default=0)", int64(0)},
		{"functions.speed_to_bits(None, default=-1)", int64(-1)},
		{"functions.speed_to_bits('', 7)", int64(7)},
	}
	for _, tt := range tests {
		t.Run(tt.src, func(t *testing.T) {
			got, err := eval(t, tt.src, env)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got %#v, want %#v", got, tt.want)
			}
		})
	}
}

func TestErrors(t *testing.T) {
	env := MapEnv{"xs": []any{int64(1)}, "m": map[string]any{"k": "v"}, "s": "str", "none": nil}
	tests := []struct {
		src  string
		want string // substring of the error
	}{
		// parse errors naming what is not allowed
		{"lambda x: x", "lambda is not allowed"},
		{"__import__('os')", "__import__ is not allowed (dunder names)"},
		{"import os", `"import" is not allowed`},
		{"x = 1", "assignment is not allowed"},
		{"(x := 1)", "assignment (:=) is not allowed"},
		{"a; b", "statements are not allowed"},
		{"open('/etc/passwd')", "call to open() is not allowed; allowed calls: int(), str()"},
		{"eval('1')", "call to eval() is not allowed"},
		{"getattr(m, 'k')", "call to getattr() is not allowed"},
		{"m.get('k')", "method get() is not allowed"},
		{"m.__class__", "attribute __class__ is not allowed"},
		{"s.__len__()", "attribute __len__ is not allowed"},
		{"functions.system('ls')", "functions.system() is not available"},
		{"functions.speed_to_bits", "must be called"},
		{"functions", "functions can only be used as"},
		{"int", "int is a function"},
		{"(lambda: 1)()", "lambda is not allowed"},
		{"xs[0](1)", "calling this value is not allowed"},
		{"2 ** 8", "operator ** is not allowed"},
		{"{1: 'a'}", "dict key the int 1: only string keys are supported"},
		{"(1, 2", `expected ")"`},
		{"1, 2 3", "expected end of expression"},
		{"1 & 2", "operator & is not allowed"},
		{"int(x for x in xs)", "generator expressions are not supported"},
		{"int('1', 2)", "takes exactly 1 argument"},
		{"int(x=1)", "keyword argument x= is not allowed"},
		{"'a'.split(sep='/')", "keyword argument sep= is not allowed"},
		{"int(*xs)", "argument unpacking is not allowed"},
		{"'abc'", ""},
		{"", "empty expression"},
		{"'abc", "unterminated string literal"},
		{"'''a'''", "triple-quoted strings are not supported"},
		{"b'a'", "string prefix \"b\" is not supported"},
		{"1 +", "expected a value, found end of expression"},
		{"(1", `expected ")"`},
		{"1 if 2", `expected "else"`},
		{"$", "unexpected character"},
		{"1 # comment", "comments are not allowed"},
		{"99999999999999999999", "out of range"},
		{"012", "leading zeros"},
		{"1abc", "invalid number"},
		{"xs[1:2:3]", "slice steps are not supported"},
		{"[x for (a, b) in xs]", "expected a loop variable name"},
		{"[x for a, b in xs]", "tuple loop variables are not supported"},
		{strings.Repeat("(", 65) + "1" + strings.Repeat(")", 65), "nested too deeply"},
		{strings.Repeat("-", 100) + "1", "nested too deeply"},
		{strings.Repeat("not ", 100) + "1", "nested too deeply"},
		{strings.Repeat("1+", 2100) + "1", "longer than 4096 bytes"},
		// evaluation errors
		{"undefined_name", `name "undefined_name" is not defined`},
		{"1 / 0", "division by zero"},
		{"1 // 0", "by zero"},
		{"1 % 0", "by zero"},
		{"1.0 / 0", "division by zero"},
		{"9223372036854775807 + 1", "integer overflow"},
		{"-9223372036854775807 - 2", "integer overflow"},
		{"4611686018427387904 * 2", "integer overflow"},
		{"'a' + 1", "unsupported operand types for +: str and int"},
		{"-'a'", "bad operand for unary -"},
		{"'a' < 1", "< is not supported between str and int"},
		{"xs[5]", "list index out of range"},
		{"xs['a']", "indices must be integers"},
		{"m['missing']", `key "missing" not found`},
		{"m.missing", `object has no attribute "missing"`},
		{"none.label", "attribute \"label\" of None"},
		{"s.nope", `str has no attribute "nope"`},
		{"s.split", "method split must be called"},
		{"xs.split('/')", "has no method split()"},
		{"len(1)", "has no length"},
		{"int('1.5')", `invalid literal "1.5"`},
		{"int(float('nan'))", "cannot convert"},
		{"int(1e300)", "out of the 64-bit range"},
		{"float('0x10')", "invalid literal"},
		{"float(None)", "cannot convert"},
		{"''.join([1])", "item 0 must be a string"},
		{"'a'.split('')", "empty separator"},
		{"functions.speed_to_bits('fast')", "cannot read the str 'fast' as a speed"},
		{"1 is 1", "only supported with None"},
		{"1 in 1", "not iterable"},
		{"[x for x in 5]", "is not iterable"},
		{"1[0]", "is not subscriptable"},
		// limits
		{"'x' * 70000", "exceeds the limit"},
		{"[0] * 70000", "exceeds the limit"},
		{"[0] * 60000 + [0] * 60000", "exceeds the limit"},
		{"[0 for a in [0] * 1000 for b in [0] * 1000 for c in [0] * 1000 if a]", "steps"},
		{"[x for x in [0] * 60000 for y in [0, 0]]", "list of more than 65536 items"},
		{"[('x' * 60000) + 'y' for a in [0] * 1000]", "allocates more than"},
		{"('\\u0250' * 30000).upper()", "string of 90000 bytes exceeds the limit"},
	}
	for _, tt := range tests {
		t.Run(tt.src[:min(len(tt.src), 60)], func(t *testing.T) {
			_, err := eval(t, tt.src, env)
			if tt.want == "" {
				if err != nil {
					t.Fatalf("unexpected error: %v", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("no error, want one containing %q", tt.want)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %q does not contain %q", err, tt.want)
			}
		})
	}
}

func TestNamesAndConstant(t *testing.T) {
	tests := []struct {
		src   string
		names []string
	}{
		{"60 * 15", nil},
		{"'up'", nil},
		{"functions.speed_to_bits('10G')", nil},
		{"str(link.speed)", []string{"link"}},
		{"context.speed", []string{"context"}},
		{"[v.replace('.', '-') for v in query_result[0]['ps'].values['l']]", []string{"query_result"}},
		{"[v for v in xs if v > limit]", []string{"limit", "xs"}},
		{"[x for x in x]", []string{"x"}}, // the iterable is outside the loop's scope
		{"[[y for y in x] for x in xs]", []string{"xs"}},
		{"a if b else a", []string{"a", "b"}},
	}
	for _, tt := range tests {
		t.Run(tt.src, func(t *testing.T) {
			e, err := Parse(tt.src)
			if err != nil {
				t.Fatal(err)
			}
			got := e.Names()
			if len(got) == 0 {
				got = nil
			}
			if !reflect.DeepEqual(got, tt.names) {
				t.Errorf("Names() = %v, want %v", got, tt.names)
			}
			if e.Constant() != (len(tt.names) == 0) {
				t.Errorf("Constant() = %v", e.Constant())
			}
			if e.String() != tt.src {
				t.Errorf("String() = %q", e.String())
			}
		})
	}
}

func TestNumberAndString(t *testing.T) {
	numbers := []struct {
		src  string
		want float64
		err  string
	}{
		{"60", 60, ""},
		{"60 * 15", 900, ""},
		{" 2.5 ", 2.5, ""},
		{"int('10') + 1", 11, ""},
		{"-1", -1, ""},
		{"1 / 4", 0.25, ""},
		{"'60'", 0, "is the str '60', not a number"},
		{"True", 0, "is the bool True, not a number"},
		{"float('inf')", 0, "not a finite number"},
		{"context.speed * 2", 0, "depends on context (the current item's keys, resolved per item)"},
		{"int(query_result[0]['ps'].values['d'])", 0, "depends on query_result (graph query results, resolved by the controller)"},
		{"context.a + link.b", 0, "depends on context (the current item's keys, resolved per item) and on link (graph query results"},
		{"60 *", 0, "expected a value"},
	}
	for _, tt := range numbers {
		t.Run("Number/"+tt.src, func(t *testing.T) {
			got, err := Number(tt.src)
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("error %v, want one containing %q", err, tt.err)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("Number(%q) = %v, %v; want %v", tt.src, got, err, tt.want)
			}
		})
	}
	strs := []struct {
		src, want, err string
	}{
		{"'up'", "up", ""},
		{`"up"`, "up", ""},
		{`'Loop-' + 'detected'`, "Loop-detected", ""},
		{`str(60)`, "60", ""},
		{"up", "", `depends on up (graph query results, resolved by the controller); only a constant expression is allowed here (for the string up, quote it: "'up'")`},
		{"60", "", "is the int 60, not a string"},
	}
	for _, tt := range strs {
		t.Run("String/"+tt.src, func(t *testing.T) {
			got, err := String(tt.src)
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("error %v, want one containing %q", err, tt.err)
				}
				var nc *NotConstantError
				if strings.Contains(tt.err, "depends on") && !errors.As(err, &nc) {
					t.Errorf("error %T is not a *NotConstantError", err)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("String(%q) = %q, %v; want %q", tt.src, got, err, tt.want)
			}
		})
	}
}

// objectNode is an Object read through Get, like a lazily loaded graph node.
type objectNode map[string]string

func (o objectNode) Get(k string) (Value, bool) {
	v, ok := o[k]
	return v, ok
}

func TestObjectAndSyntaxError(t *testing.T) {
	got, err := eval(t, "n.label + '/' + n['id'] if 'id' in n else ''", MapEnv{"n": objectNode{"label": "leaf1", "id": "x1"}})
	if err != nil || got != "leaf1/x1" {
		t.Fatalf("got %v, %v", got, err)
	}
	_, err = Parse("1 + lambda: 2")
	var se *SyntaxError
	if !errors.As(err, &se) || se.Pos != 4 || !strings.Contains(err.Error(), "column 5") {
		t.Fatalf("error %#v, want a SyntaxError at offset 4", err)
	}
	if Str(int64(3)) != "3" || Str("x") != "x" || Str([]any{1, "a"}) != "[1, 'a']" {
		t.Errorf("Str: %q %q %q", Str(int64(3)), Str("x"), Str([]any{1, "a"}))
	}
	if f, ok := ToFloat(int32(4)); !ok || f != 4 {
		t.Errorf("ToFloat(int32(4)) = %v, %v", f, ok)
	}
	if _, ok := ToFloat("4"); ok {
		t.Errorf("ToFloat accepted a string")
	}
}

func BenchmarkEvalCorpus(b *testing.B) {
	env := corpusEnv()
	e, err := Parse(corpusExpressions[28].src) // the os_version join
	if err != nil {
		b.Fatal(err)
	}
	if !strings.HasPrefix(e.String(), "'|'.join(") {
		b.Fatalf("corpusExpressions[28] is %q, not the os_version join", e.String())
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := e.Eval(env); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkEvalArith(b *testing.B) {
	e, err := Parse("context.count * 60 + 15 if context.count > 1 else 0")
	if err != nil {
		b.Fatal(err)
	}
	env := corpusEnv()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := e.Eval(env); err != nil {
			b.Fatal(err)
		}
	}
}

func TestSplitMaxsplitUnicodeSpace(t *testing.T) {
	got, err := eval(t, "'a\u2003b c d'.split(None, 2)", nil)
	if err != nil || !reflect.DeepEqual(got, []Value{"a", "b", "c d"}) {
		t.Fatalf("got %#v, %v", got, err)
	}
}

// Operations that scan big operands without allocating are charged work, so
// an environment holding large values cannot make an evaluation run away.
func TestScanWorkIsBounded(t *testing.T) {
	big := make([]any, MaxListLen)
	for i := range big {
		big[i] = int64(0)
	}
	env := MapEnv{"big": big, "s": strings.Repeat("x", MaxStringLen)}
	for _, src := range []string{
		"[big == big for i in big]",
		"[-1 in big for i in big]",
		"['y' in s for i in big]",
		"[s.strip('x') for i in big]",
		"[len(s) for i in big]",
	} {
		t.Run(src, func(t *testing.T) {
			_, err := eval(t, src, env)
			if err == nil || !strings.Contains(err.Error(), "steps") {
				t.Fatalf("error %v, want the step limit", err)
			}
		})
	}
}
