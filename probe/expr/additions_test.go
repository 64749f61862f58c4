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
