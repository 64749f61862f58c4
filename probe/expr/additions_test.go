package expr

import (
	"reflect"
	"strings"
	"testing"
)

// additionsEnv holds the values the tests of tuples, formatting, sets,
// dicts and built-ins read.
func additionsEnv() MapEnv {
	return MapEnv{
		"xs":    []any{int64(3), int64(1), int64(2)},
		"t":     Tuple{"a", int64(1)},
		"s":     "Hello World",
		"m":     map[string]any{"k": "v", "n": int64(4)},
		"none":  nil,
		"empty": map[string]any{},
		"max":   "graph node max", // a graph query may name a node after a built-in
		"sum":   "graph node sum",
		"intf":  map[string]any{"ipv4_addr": "10.0.0.1/31", "if_name": "xe-0/0/1", "description": ""},
		"other": map[string]any{"ipv4_addr": "10.0.0.0/31"},
		"d1":    map[string]any{"domain_id": int64(65001)},
		"d2":    map[string]any{"domain_id": int64(65002)},
		"s2":    map[string]any{"hostname": nil, "label": "spine1", "role": "spine"},
		"query_result": []any{
			map[string]any{"system": map[string]any{"system_id": "A"}},
			map[string]any{"system": map[string]any{"system_id": "B"}},
			map[string]any{"system": map[string]any{"system_id": "A"}},
		},
	}
}

// checkValues evaluates each source in env and compares with want; the
// wanted values were checked against CPython 3.11.
func checkValues(t *testing.T, env Env, tests []struct {
	src  string
	want Value
}) {
	t.Helper()
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

// checkErrors evaluates each source and wants an error ending with want
// (the evaluator prefixes the expression).
func checkErrors(t *testing.T, env Env, tests []struct{ src, want string }) {
	t.Helper()
	for _, tt := range tests {
		t.Run(tt.src, func(t *testing.T) {
			v, err := eval(t, tt.src, env)
			if err == nil {
				t.Fatalf("got %#v, want an error ending with %q", v, tt.want)
			}
			if !strings.HasSuffix(err.Error(), tt.want) {
				t.Errorf("error %q does not end with %q", err, tt.want)
			}
		})
	}
}

func TestTuples(t *testing.T) {
	checkValues(t, additionsEnv(), []struct {
		src  string
		want Value
	}{
		{"()", Tuple{}},
		{"(1,)", Tuple{int64(1)}},
		{"(1, 'a')", Tuple{int64(1), "a"}},
		{"(1, 'a',)", Tuple{int64(1), "a"}},
		{"1, 2", Tuple{int64(1), int64(2)}},
		{"1,", Tuple{int64(1)}},
		{"(1)", int64(1)},
		{"((1, 2), 3)", Tuple{Tuple{int64(1), int64(2)}, int64(3)}},
		{"(intf.ipv4_addr.split('/')[0], d1.domain_id, other.ipv4_addr.split('/')[0], d2.domain_id, 'default', 'ipv4')",
			Tuple{"10.0.0.1", int64(65001), "10.0.0.0", int64(65002), "default", "ipv4"}},
		{"str(('a', 1))", "('a', 1)"},
		{"str((1,))", "(1,)"},
		{"str(())", "()"},
		{"str([(1, 2)])", "[(1, 2)]"},
		{"len(t)", int64(2)},
		{"len(())", int64(0)},
		{"'a' in t", true},
		{"2 in (1, 2)", true},
		{"3 not in (1, 2)", true},
		{"t[0]", "a"},
		{"t[-1]", int64(1)},
		{"(1, 2, 3)[1:]", Tuple{int64(2), int64(3)}},
		{"(1, 2, 3)[:0]", Tuple{}},
		{"[x * 2 for x in (1, 2)]", []Value{int64(2), int64(4)}},
		{"(1, 2) == (1, 2)", true},
		{"(1, 2) == [1, 2]", false},
		{"(1, 2) != (1, 3)", true},
		{"(1, 2) < (1, 3)", true},
		{"(1, 2) < (1, 2, 0)", true},
		{"(2,) > (1, 9)", true},
		{"[1, 2] <= [1, 2]", true},
		{"(1,) + (2, 'b')", Tuple{int64(1), int64(2), "b"}},
		{"(0,) * 3", Tuple{int64(0), int64(0), int64(0)}},
		{"2 * (1,)", Tuple{int64(1), int64(1)}},
		{"'yes' if () else 'no'", "no"},
		{"'yes' if (0,) else 'no'", "yes"},
		{"not ()", true},
		{"[1, 2]", []Value{int64(1), int64(2)}},
	})
	checkErrors(t, additionsEnv(), []struct{ src, want string }{
		{"t[2]", "tuple index out of range"},
		{"(1,) + [2]", "unsupported operand types for +: tuple and list"},
		{"(1,) < [2]", "< is not supported between tuple and list"},
		{"(1, 'a') < (1, 2)", "< is not supported between str and int"},
		{"(1, 2", `column 6: expected ")", found end of expression`},
		{"(,)", `column 2: expected a value, found ","`},
		{"1,,", `column 3: expected a value, found ","`},
	})
}

func TestPercentFormat(t *testing.T) {
	checkValues(t, additionsEnv(), []struct {
		src  string
		want Value
	}{
		{`'%s|%s' % ('xe-0/0/1', 'rx_power')`, `xe-0/0/1|rx_power`},
		{`'%s|%s' % (intf.if_name, 'media_type')`, `xe-0/0/1|media_type`},
		{`'%s_bum_to_total_percentage' % intf.ipv4_addr.partition('/')[0]`, `10.0.0.1_bum_to_total_percentage`},
		{`'%s|num_mcast_groups' % s`, `Hello World|num_mcast_groups`},
		{`intf.description or 'facing %s' % (s2.hostname or s2.label or s2.role)`, `facing spine1`},
		{`'%s' % xs`, `[3, 1, 2]`},
		{`'%s' % (xs,)`, `[3, 1, 2]`},
		{`'%s' % (t,)`, `('a', 1)`},
		{`'%s' % None`, `None`},
		{`'%s' % 1.0`, `1.0`},
		{`'%s' % 1e16`, `1e+16`},
		{`'%s' % True`, `True`},
		{`'%s' % empty`, `{}`},
		{`'%s' % m`, `{'k': 'v', 'n': 4}`},
		{`'%r' % 'a'`, `'a'`},
		{`'%r' % "it's"`, `"it's"`},
		{`'%a' % 'é'`, `'\xe9'`},
		{`'%r' % 'é'`, `'é'`},
		{`'%.2r' % 'abc'`, `'a`},
		{`'%5s|' % 'é'`, `    é|`},
		{`'%.3s' % 'héllo'`, `hél`},
		{`'%.3s' % 12345`, `123`},
		{`'%-5s|%5s' % ('ab', 'cd')`, `ab   |   cd`},
		{`'%05s' % 'a'`, `    a`},
		{`'%d' % 42`, `42`},
		{`'%i' % 3.9`, `3`},
		{`'%u' % -3.9`, `-3`},
		{`'%d' % -0.5`, `0`},
		{`'%d' % True`, `1`},
		{`'%.3d' % 5`, `005`},
		{`'%08.3d' % 5`, `00000005`},
		{`'%-08.3d|' % 5`, `005     |`},
		{`'%+05d' % 3`, `+0003`},
		{`'% d' % 3`, ` 3`},
		{`'% d' % -3`, `-3`},
		{`'%-5d|' % 3`, `3    |`},
		{`'%0-5d|' % 1`, `1    |`},
		{`'%ld %hd %Ld' % (1, 2, 3)`, `1 2 3`},
		{`'%x' % 255`, `ff`},
		{`'%X' % 255`, `FF`},
		{`'%#x' % 255`, `0xff`},
		{`'%#X' % 255`, `0XFF`},
		{`'%#x' % -5`, `-0x5`},
		{`'%x' % -255`, `-ff`},
		{`'%#.3x' % 5`, `0x005`},
		{`'%#08x' % 255`, `0x0000ff`},
		{`'%o' % 8`, `10`},
		{`'%#o' % 8`, `0o10`},
		{`'%#5o|' % 8`, ` 0o10|`},
		{`'%x' % True`, `1`},
		{`'%f' % 1`, `1.000000`},
		{`'%f' % 2.5`, `2.500000`},
		{`'%.2f' % 2.675`, `2.67`},
		{`'%.3f' % 2.0005`, `2.001`},
		{`'%.0f' % 0.5`, `0`},
		{`'%.0f' % 1.5`, `2`},
		{`'%#.0f' % 1`, `1.`},
		{`'%5.1f|' % -2.25`, ` -2.2|`},
		{`'% 06.1f' % 2.25`, ` 002.2`},
		{`'%-+8.2f|' % 2.5`, `+2.50   |`},
		{`'%08.2f' % -2.5`, `-0002.50`},
		{`'%f' % -0.0`, `-0.000000`},
		{`'%F' % 1.5`, `1.500000`},
		{`'%e' % 0`, `0.000000e+00`},
		{`'%e' % 12345.678`, `1.234568e+04`},
		{`'%10.3e' % 12345.678`, ` 1.235e+04`},
		{`'%E' % 1.5`, `1.500000E+00`},
		{`'%#.0e' % 1`, `1.e+00`},
		{`'%.20e' % 0.1`, `1.00000000000000005551e-01`},
		{`'%g' % 1.0`, `1`},
		{`'%g' % 0.0001`, `0.0001`},
		{`'%g' % 0.00001234`, `1.234e-05`},
		{`'%g' % 123456789`, `1.23457e+08`},
		{`'%g' % 100000`, `100000`},
		{`'%g' % 1000000`, `1e+06`},
		{`'%g' % 1e-5`, `1e-05`},
		{`'%.0g' % 15`, `2e+01`},
		{`'%#g' % 1.0`, `1.00000`},
		{`'%#g' % 1e10`, `1.00000e+10`},
		{`'%#.1g' % 1`, `1.`},
		{`'%G' % 1e20`, `1E+20`},
		{`'%G' % 1e-10`, `1E-10`},
		{`'%#.3G' % 1`, `1.00`},
		{`'%g' % 2.5`, `2.5`},
		{`'%.10g' % 0.1`, `0.1`},
		{`'%c' % 65`, `A`},
		{`'%c' % 'é'`, `é`},
		{`'%5c|' % 65`, `    A|`},
		{`'%-3c|' % 'a'`, `a  |`},
		{`'%%' % ()`, `%`},
		{`'%d%%' % 50`, `50%`},
		{`'100%%' % ()`, `100%`},
		{`'abc' % ()`, `abc`},
		{`'abc' % []`, `abc`},
		{`'abc' % empty`, `abc`},
		{`'abc' % m`, `abc`},
		{`'%(k)s=%(n)d' % m`, `v=4`},
		{`'%(n)05d' % m`, `00004`},
		{`'%(k)s %(k)s' % m`, `v v`},
		{`'%s %(k)s' % m`, `{'k': 'v', 'n': 4} v`},
		{`'%f' % float('nan')`, `nan`},
		{`'%F' % float('nan')`, `NAN`},
		{`'%+f' % float('nan')`, `+nan`},
		{`'%+f' % float('-inf')`, `-inf`},
		{`'%05f' % float('inf')`, `00inf`},
		{`'%E' % float('-inf')`, `-INF`},
	})
	checkErrors(t, additionsEnv(), []struct{ src, want string }{
		{`'%s' % t`, `not all arguments converted during string formatting`},
		{`'%5%|' % 1`, `unsupported format character '%' (0x25) at index 2`},
		{`'%s %s' % 1`, `not enough arguments for format string`},
		{`'%s' % ()`, `not enough arguments for format string`},
		{`'%s' % (1, 2)`, `not all arguments converted during string formatting`},
		{`'abc' % 5`, `not all arguments converted during string formatting`},
		{`'%%' % 1`, `not all arguments converted during string formatting`},
		{`'%s%s' % [1, 2]`, `not enough arguments for format string`},
		{`'%s %s' % xs`, `not enough arguments for format string`},
		{`'%d' % 'a'`, `%d format: a real number is required, not str`},
		{`'%d' % [1]`, `%d format: a real number is required, not list`},
		{`'%i' % 'a'`, `%i format: a real number is required, not str`},
		{`'%u' % 'a'`, `%u format: a real number is required, not str`},
		{`'%x' % 1.5`, `%x format: an integer is required, not float`},
		{`'%X' % 'a'`, `%X format: an integer is required, not str`},
		{`'%o' % 'a'`, `%o format: an integer is required, not str`},
		{`'%x' % 1e3`, `%x format: an integer is required, not float`},
		{`'%f' % 'a'`, `must be real number, not str`},
		{`'%e' % None`, `must be real number, not NoneType`},
		{`'%g' % 'a'`, `must be real number, not str`},
		{`'%c' % 'ab'`, `%c requires int or char`},
		{`'%c' % ''`, `%c requires int or char`},
		{`'%c' % 1.5`, `%c requires int or char`},
		{`'%c' % 1114112`, `%c arg not in range(0x110000)`},
		{`'%c' % -1`, `%c arg not in range(0x110000)`},
		{`'%z' % 1`, `unsupported format character 'z' (0x7a) at index 1`},
		{`'%é' % 1`, `unsupported format character '?' (0xe9) at index 1`},
		{`'%' % ()`, `incomplete format`},
		{`'%(a' % empty`, `incomplete format key`},
		{`'%(a)' % m`, `key "a" not found`},
		{`'%-' % 1`, `incomplete format`},
		{`'%.' % 1`, `incomplete format`},
		{`'%5' % 1`, `incomplete format`},
		{`'%l' % 1`, `incomplete format`},
		{`'%(k)s' % 1`, `format requires a mapping`},
		{`'%(k)s' % (1,)`, `format requires a mapping`},
		{`'%(k)s' % []`, `list indices must be integers or slices, not str`},
		{`'%(a)s %s' % m`, `key "a" not found`},
		{`'%d' % float('nan')`, `cannot convert float NaN to integer`},
		{`'%d' % float('inf')`, `cannot convert float infinity to integer`},
		{`5 % 'a'`, `unsupported operand types for %: int and str`},
		{`'%*d' % (3, 1)`, `* width or precision in % format is not supported; write the number in the format`},
		{`'%.*f' % (3, 1.0)`, `* width or precision in % format is not supported; write the number in the format`},
		{`'%99999999d' % 1`, `width or precision in % format exceeds the limit of 65536: limit exceeded`},
		{`'%65537d' % 1`, `exceeds the limit of 65536: limit exceeded`},
		{`'%d' % 1e300`, `1e+300 is out of the 64-bit integer range`},
	})
}

func TestStringMethods(t *testing.T) {
	checkValues(t, additionsEnv(), []struct {
		src  string
		want Value
	}{
		{`'a.b.c'.partition('.')`, Tuple{`a`, `.`, `b.c`}},
		{`'a.b.c'.rpartition('.')`, Tuple{`a.b`, `.`, `c`}},
		{`'abc'.partition('.')`, Tuple{`abc`, ``, ``}},
		{`'abc'.rpartition('.')`, Tuple{``, ``, `abc`}},
		{`'10.0.0.1/31'.partition('/')[0]`, `10.0.0.1`},
		{`'a::b::c'.partition('::')`, Tuple{`a`, `::`, `b::c`}},
		{`str('a/b'.partition('/'))`, `('a', '/', 'b')`},
		{`'abc'.find('c')`, int64(2)},
		{`'abcabc'.find('c', 3)`, int64(5)},
		{`'abcabc'.find('c', -2)`, int64(5)},
		{`'abcabc'.find('c', 0, 2)`, int64(-1)},
		{`'abc'.find('')`, int64(0)},
		{`'abc'.find('', 3)`, int64(3)},
		{`'abc'.find('', 4)`, int64(-1)},
		{`'abc'.find('x')`, int64(-1)},
		{`'héllo'.find('l')`, int64(2)},
		{`'héllo'.rfind('l')`, int64(3)},
		{`'héllo'.find('l', 3)`, int64(3)},
		{`'abcabc'.rfind('b')`, int64(4)},
		{`'abcabc'.rfind('b', 0, 4)`, int64(1)},
		{`'abcabc'.rfind('x')`, int64(-1)},
		{`'abcabc'.count('b')`, int64(2)},
		{`'aaaa'.count('aa')`, int64(2)},
		{`'abc'.count('')`, int64(4)},
		{`'abc'.count('', 4)`, int64(0)},
		{`'abc'.count('', 3)`, int64(1)},
		{`'héllo'.count('')`, int64(6)},
		{`'abcabc'.count('a', 1)`, int64(1)},
		{`'abcabc'.count('a', None, 3)`, int64(1)},
		{`'  a  '.lstrip()`, `a  `},
		{`'  a  '.rstrip()`, `  a`},
		{`'xxaxx'.lstrip('x')`, `axx`},
		{`'xxaxx'.rstrip('x')`, `xxa`},
		{`'a'.lstrip(None)`, `a`},
		{`'a,b,c'.rsplit(',')`, []Value{`a`, `b`, `c`}},
		{`'a,b,c'.rsplit(',', 1)`, []Value{`a,b`, `c`}},
		{`'a,b,c'.rsplit(',', 0)`, []Value{`a,b,c`}},
		{`'a,b,c'.rsplit(',', -1)`, []Value{`a`, `b`, `c`}},
		{`' a b c '.rsplit()`, []Value{`a`, `b`, `c`}},
		{`' a b c '.rsplit(None, 1)`, []Value{` a b`, `c`}},
		{`' a b c '.rsplit(None, 0)`, []Value{` a b c`}},
		{`'   '.rsplit(None, 1)`, []Value{}},
		{`'a\u2003b c'.rsplit(None, 1)`, []Value{`a b`, `c`}},
		{`'xe-0/0/1.0'.rsplit('.', 1)[0]`, `xe-0/0/1`},
		{`'hello wORLD ab1cd o\'neil'.title()`, `Hello World Ab1Cd O'Neil`},
		{`'hELLO wORLD'.capitalize()`, `Hello world`},
		{`''.capitalize()`, ``},
		{`''.title()`, ``},
		{`'123'.isdigit()`, true},
		{`'12a'.isdigit()`, false},
		{`''.isdigit()`, false},
		{`'٣'.isdigit()`, true},
		{`'xe-0/0/1'.startswith(('ge-', 'xe-'))`, true},
		{`'xe-0/0/1'.endswith(('/1', '/2'))`, true},
		{`'xe-0/0/1'.startswith(())`, false},
	})
	checkErrors(t, additionsEnv(), []struct{ src, want string }{
		{`'abc'.find(1)`, `find(): argument 1 must be a string, not int`},
		{`'abc'.find('a', 'b')`, `find(): slice indices must be integers or None, not str`},
		{`'abc'.partition('')`, `partition(): empty separator`},
		{`'abc'.rpartition(1)`, `rpartition(): argument 1 must be a string, not int`},
		{`'a'.rsplit('')`, `rsplit(): empty separator`},
		{`'a'.rsplit(',', 'x')`, `rsplit(): maxsplit must be an int, not str`},
		{`'abc'.startswith((1,))`, `startswith(): argument must be a string or a tuple of strings, not int`},
		{`'abc'.title(1)`, `title() takes no arguments (1 given)`},
		{`'abc'.partition()`, `partition() takes exactly 1 argument (0 given)`},
		{`'abc'.find()`, `find() takes 1 to 3 arguments, got 0`},
		{`'abc'.format(1)`, `method format() is not allowed; allowed calls: ` + allowedCalls},
		{`[1].count(1)`, `the list [1] has no method count() (string methods only)`},
	})
}

func TestSetsAndDicts(t *testing.T) {
	env := additionsEnv()
	env["range_"] = []any{int64(0), int64(1), int64(2), int64(3), int64(4)}
	checkValues(t, env, []struct {
		src  string
		want Value
	}{
		{`{'a': 1}`, map[string]Value{`a`: int64(1)}},
		{`{'a': 1, 'b': 'x',}`, map[string]Value{`a`: int64(1), `b`: `x`}},
		{`{}`, map[string]Value{}},
		{`{'a': 1, 'a': 2}`, map[string]Value{`a`: int64(2)}},
		{`{k: len(k) for k in ['ab', 'c']}`, map[string]Value{`ab`: int64(2), `c`: int64(1)}},
		{`{q['system'].system_id: 1 for q in query_result}`, map[string]Value{`A`: int64(1), `B`: int64(1)}},
		{`{'a': [1, (2,)]}['a'][1]`, Tuple{int64(2)}},
		{`{'a': {'b': 'c'}}.a.b`, "c"},
		{`'a' in {'a': 1}`, true},
		{`len({'a': 1, 'b': 2})`, int64(2)},
		// Dicts print with their keys sorted (map[string]Value keeps no
		// insertion order); Python would print {'b': 1, 'a': (1,)}.
		{`str({'b': 1, 'a': (1,)})`, `{'a': (1,), 'b': 1}`},
		{`{'a': 1} == {'a': 1.0}`, true},
		{`{'%s|%s' % (k, 'x'): k for k in ['p']}`, map[string]Value{`p|x`: `p`}},
		{`len({qr['system'].system_id for qr in query_result})`, int64(2)},
		{`sorted({qr['system'].system_id for qr in query_result})`, []Value{"A", "B"}},
		{`{qr['system'].system_id for qr in query_result}`, Set{"A", "B"}},
		{`{3, 1, 3, 2}`, Set{int64(3), int64(1), int64(2)}},
		{`{1, 1.0, True, 2}`, Set{int64(1), int64(2)}},
		{`len({x % 3 for x in range_})`, int64(3)},
		{`len({(1, 'a'), (1, 'a'), (2, 'a')})`, int64(2)},
		{`sorted({3, 1, 2, 1})`, []Value{int64(1), int64(2), int64(3)}},
		{`2 in {1, 2}`, true},
		{`'x' not in {1, 2}`, true},
		{`{1, 2} == {2, 1}`, true},
		{`{1, 2} == {1, 2, 3}`, false},
		{`{1} < {1, 2}`, true},
		{`{1, 2} <= {1, 2}`, true},
		{`{1, 2} < {1, 2}`, false},
		{`{1, 2, 3} > {3}`, true},
		{`{1, 2} >= {1, 3}`, false},
		{`len(set())`, int64(0)},
		{`str(set())`, `set()`},
		{`str({1})`, `{1}`},
		{`str({'b', 'a'})`, `{'b', 'a'}`},
		{`set() == set()`, true},
		{`{1, 2} == [1, 2]`, false},
		{`bool({0})`, true},
		{`[x for x in {1, 1, 2}]`, []Value{int64(1), int64(2)}},
		{`len(set([1, 1, 2]))`, int64(2)},
	})
	checkErrors(t, env, []struct{ src, want string }{
		{`{[1]}`, `unhashable type: 'list'`},
		{`{{'a': 1}}`, `unhashable type: 'dict'`},
		{`{[x] for x in [1]}`, `unhashable type: 'list'`},
		{`{1}[0]`, `the set {1} is not subscriptable`},
		{`{[1]: 2}`, `dict key the list [1]: only string keys are supported`},
		{`{x: 1 for x in [1]}`, `dict key the int 1: only string keys are supported`},
		{`{**m}`, `column 2: unpacking (**) in a display is not allowed`},
		{`{'a': 1, **m}`, `column 10: unpacking (**) in a display is not allowed`},
		{`{*xs}`, `column 2: unpacking (*) in a display is not allowed`},
		{`{'a': 1`, `column 8: expected "}", found end of expression`},
		{`{'a' 1}`, `column 6: expected "}", found number`},
		{`{'a': 1, 'b'}`, `column 13: expected ":", found "}"`},
		{`{x for x in xs`, `column 15: expected "}", found end of expression`},
	})
}

func TestBuiltins(t *testing.T) {
	checkValues(t, additionsEnv(), []struct {
		src  string
		want Value
	}{
		{`sum([1, 2, 3])`, int64(6)},
		{`sum([])`, int64(0)},
		{`sum([1, 2], 0.5)`, 3.5},
		{`sum([0.1] * 3)`, 0.30000000000000004},
		{`sum((1, 2))`, int64(3)},
		{`sum([[1], [2]], [])`, []Value{int64(1), int64(2)}},
		{`sum(x * 2 for x in xs)`, int64(12)},
		{`sum([True, True])`, int64(2)},
		{`sum(len(s) for s in ['ab', 'c'])`, int64(3)},
		{`min(xs)`, int64(1)},
		{`max(xs)`, int64(3)},
		{`min(3, 1, 2)`, int64(1)},
		{`max(3, 1, 2)`, int64(3)},
		{`max('abc')`, `c`},
		{`min(['b', 'a'])`, `a`},
		{`max([1, 2.5])`, 2.5},
		{`max(1, 1.0)`, int64(1)},
		{`min([], default=7)`, int64(7)},
		{`max((x for x in xs if x > 5), default=0)`, int64(0)},
		{`max(x for x in xs)`, int64(3)},
		{`sum((x for x in xs))`, int64(6)},
		{`max([(1, 'b'), (1, 'a')])`, Tuple{int64(1), `b`}},
		{`abs(-3)`, int64(3)},
		{`abs(3)`, int64(3)},
		{`abs(-2.5)`, 2.5},
		{`abs(True)`, int64(1)},
		{`round(2.5)`, int64(2)},
		{`round(3.5)`, int64(4)},
		{`round(-2.5)`, int64(-2)},
		{`round(2.675, 2)`, 2.67},
		{`round(1.25, 1)`, 1.2},
		{`round(1.35, 1)`, 1.4},
		{`round(2.5, 0)`, 2.0},
		{`round(1234, -2)`, int64(1200)},
		{`round(1250, -2)`, int64(1200)},
		{`round(-1250, -2)`, int64(-1200)},
		{`round(1350, -2)`, int64(1400)},
		{`round(1250.0, -2)`, 1200.0},
		{`round(5, 1)`, int64(5)},
		{`round(0.5, None)`, int64(0)},
		{`round(123.456, -1)`, 120.0},
		{`round(1e300, 400)`, 1e+300},
		{`round(7, -30)`, int64(0)},
		{`any([0, '', 1])`, true},
		{`any([])`, false},
		{`all([])`, true},
		{`all([1, 'a', (0,)])`, true},
		{`all(x > 0 for x in xs)`, true},
		{`any(x > 2 for x in xs)`, true},
		{`sorted(xs)`, []Value{int64(1), int64(2), int64(3)}},
		{`sorted(xs, reverse=True)`, []Value{int64(3), int64(2), int64(1)}},
		{`sorted(['b', 'a', 'C'])`, []Value{`C`, `a`, `b`}},
		{`sorted((3, 1))`, []Value{int64(1), int64(3)}},
		{`sorted('cab')`, []Value{`a`, `b`, `c`}},
		{`sorted([(2, 'a'), (1, 'b')])`, []Value{Tuple{int64(1), `b`}, Tuple{int64(2), `a`}}},
		{`sorted(x for x in xs if x != 2)`, []Value{int64(1), int64(3)}},
		{`list()`, []Value{}},
		{`list((1, 2))`, []Value{int64(1), int64(2)}},
		{`list('ab')`, []Value{`a`, `b`}},
		{`list(x for x in xs)`, []Value{int64(3), int64(1), int64(2)}},
		{`tuple()`, Tuple{}},
		{`tuple([1, 2])`, Tuple{int64(1), int64(2)}},
		{`tuple('ab')`, Tuple{`a`, `b`}},
		{`str(tuple([1]))`, `(1,)`},
		{`len(set('abca'))`, int64(3)},
		{`sorted(set(xs + xs))`, []Value{int64(1), int64(2), int64(3)}},
		{`bool()`, false},
		{`bool(0)`, false},
		{`bool('x')`, true},
		{`bool([])`, false},
		{`bool(())`, false},
		{`','.join(x for x in ['a', 'b'])`, `a,b`},
		{`','.join(('a', 'b'))`, `a,b`},
		{`','.join('ab')`, `a,b`},
		{`max(1, True)`, int64(1)},
		{`sorted([(1, 'b'), (1, 'a'), (0, 'c')], reverse=True)`, []Value{Tuple{int64(1), "b"}, Tuple{int64(1), "a"}, Tuple{int64(0), "c"}}},
		{`[max, sum]`, []Value{"graph node max", "graph node sum"}},
	})
	checkErrors(t, additionsEnv(), []struct{ src, want string }{
		{`sum(['a'], '')`, `sum() can't sum strings [use ''.join(seq) instead]`},
		{`sum(['a'])`, `unsupported operand types for +: int and str`},
		{`sum(1)`, `the int 1 is not iterable`},
		{`max(1)`, `the int 1 is not iterable`},
		{`min([])`, `min() arg is an empty sequence`},
		{`max([1, 'a'])`, `> is not supported between str and int`},
		{`sorted([1, 'a'])`, `< is not supported between str and int`},
		{`abs('a')`, `bad operand type for abs(): 'str'`},
		{`abs(-9223372036854775807 - 1)`, `integer overflow in abs(-9223372036854775808)`},
		{`round('a')`, `type str doesn't define __round__ method`},
		{`round(1.5, 1.5)`, `'float' object cannot be interpreted as an integer`},
		{`round(float('nan'))`, `cannot convert float NaN to integer`},
		{`round(float('inf'))`, `cannot convert float infinity to integer`},
		{`round(1e300)`, `1e+300 is out of the 64-bit integer range`},
		{`any(1)`, `the int 1 is not iterable`},
		{`list(1)`, `the int 1 is not iterable`},
		{`min()`, `column 1: min expected at least 1 argument, got 0`},
		{`sum()`, `column 1: sum() takes 1 to 2 arguments, got 0`},
		{`round(1, 2, 3)`, `column 1: round() takes 1 to 2 arguments, got 3`},
		{`abs(1, 2)`, `column 1: abs() takes exactly 1 argument here, got 2`},
		{`list(1, 2)`, `column 1: list() takes 0 to 1 arguments, got 2`},
		{`min(1, 2, default=0)`, `column 1: cannot specify a default for min() with multiple positional arguments`},
		{`sorted(xs, key=len)`, `column 12: keyword argument key= is not allowed here`},
		{`max(xs, reverse=True)`, `column 9: keyword argument reverse= is not allowed here`},
		{`sum(x for x in xs, 1)`, `column 18: a generator expression must be the only argument (or be parenthesized, which is not supported)`},
		{`sum(1, x for x in xs)`, `column 10: generator expressions are not supported here; use a list comprehension [...]`},
		{`len(x for x in xs)`, `column 7: generator expressions are not supported here; use a list comprehension [...]`},
		{`'-'.split(x for x in xs)`, `column 13: generator expressions are not supported here; use a list comprehension [...]`},
		{`max((x for x in xs)) + (x for x in xs)`, `column 27: generator expressions are not supported; use a list comprehension [...]`},
		{`(x for x in xs)`, `column 4: generator expressions are not supported; use a list comprehension [...]`},
		{`','.join(1)`, `join(): argument must be an iterable of strings, not int`},
		{`dict(a=1)`, `call to dict() is not allowed; allowed calls: ` + allowedCalls},
	})
}

// Work that a result does not show (digits %g formats then trims, padding
// built before the result is measured) is charged, so a loop of them stops
// at the allocation bound.
func TestFormatWorkIsBounded(t *testing.T) {
	for _, src := range []string{
		"['%.65535g' % 5e-324 for i in [0] * 1000 for j in [0] * 1000]",
		"[len('%65536s' % '') for i in [0] * 1000 for j in [0] * 1000]",
	} {
		t.Run(src, func(t *testing.T) {
			_, err := eval(t, src, nil)
			if err == nil || !strings.HasSuffix(err.Error(), "evaluation allocates more than 16777216 bytes: limit exceeded") {
				t.Fatalf("error %v, want the allocation limit", err)
			}
		})
	}
}

// Hashing a set's elements scans them, and is charged like a comparison.
func TestSetWorkIsBounded(t *testing.T) {
	big := make([]any, MaxListLen)
	for i := range big {
		big[i] = int64(0)
	}
	env := MapEnv{"big": big, "s": strings.Repeat("x", MaxStringLen)}
	for _, src := range []string{"len({s for i in big})", "len({(s, 1) for i in big})", "len(set([s for i in big]))"} {
		t.Run(src, func(t *testing.T) {
			_, err := eval(t, src, env)
			if err == nil || !strings.HasSuffix(err.Error(), "evaluation exceeds 1048576 steps: limit exceeded") {
				t.Fatalf("error %v, want the step limit", err)
			}
		})
	}
}

// BenchmarkEvalFormatKey is a third-party probe's item key: a tuple built
// and formatted per graph match.
func BenchmarkEvalFormatKey(b *testing.B) {
	e, err := Parse(`'%s|%s' % (interface.if_name, 'rx_power')`)
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

func TestItemsAndStr(t *testing.T) {
	for _, v := range []Value{[]Value{"a", int64(1)}, Tuple{"a", int64(1)}, Set{"a", int64(1)}} {
		got, ok := Items(v)
		if !ok || !reflect.DeepEqual(got, []Value{"a", int64(1)}) {
			t.Errorf("Items(%#v) = %#v, %v", v, got, ok)
		}
	}
	if _, ok := Items("ab"); ok {
		t.Errorf("Items accepted a string")
	}
	for v, want := range map[string]Value{"('a', 1)": Tuple{"a", int64(1)}, "(1,)": Tuple{int64(1)}, "{'a'}": Set{"a"}, "set()": Set{}} {
		if got := Str(want); got != v {
			t.Errorf("Str(%#v) = %q, want %q", want, got, v)
		}
	}
}

// graphNode is a graph node as a query matcher binds it: an Object by pointer.
type graphNode struct{ id string }

func (n *graphNode) Get(k string) (Value, bool) {
	if k == "id" {
		return n.id, true
	}
	return nil, false
}

// TestObjectIdentity: two variables bound to one graph node are equal (and
// "is" each other); two different nodes are not, whatever their properties.
func TestObjectIdentity(t *testing.T) {
	a, b, a2 := &graphNode{"x"}, &graphNode{"y"}, &graphNode{"x"}
	env := MapEnv{"a": a, "b": b, "same": a, "twin": a2}
	for src, want := range map[string]bool{
		"a == same": true, "a != same": false, "a is same": true, "a is not same": false,
		"a == b": false, "a != b": true, "a == twin": false, "a.id == twin.id": true, "a is b": false,
	} {
		e, err := Parse(src)
		if err != nil {
			t.Fatal(err)
		}
		got, err := e.Eval(env)
		if err != nil || got != want {
			t.Errorf("%s = %v (%v), want %v", src, got, err, want)
		}
	}
}
