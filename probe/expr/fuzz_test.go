package expr

import (
	"errors"
	"strings"
	"testing"
	"time"
)

// FuzzParseEval checks that no input makes Parse or Eval panic, run away in
// time, or return a value beyond the size limits. The seed corpus in
// testdata/fuzz/FuzzParseEval holds every expression of the corpus probes.
func FuzzParseEval(f *testing.F) {
	for _, tt := range corpusExpressions {
		f.Add(tt.src)
	}
	for _, src := range additionSeeds {
		f.Add(src)
	}
	env := corpusEnv()
	f.Fuzz(func(t *testing.T, src string) {
		e, err := Parse(src)
		if err != nil {
			var se *SyntaxError
			if !errors.As(err, &se) {
				t.Fatalf("Parse error %T is not a *SyntaxError: %v", err, err)
			}
			return
		}
		start := time.Now()
		for _, en := range []Env{env, nil} {
			v, err := e.Eval(en)
			if err != nil {
				if en == nil && e.Constant() && strings.Contains(err.Error(), "is not defined") {
					t.Fatalf("constant expression reads a name: %v", err)
				}
				continue
			}
			checkSize(t, v, 0)
		}
		if d := time.Since(start); d > 5*time.Second {
			t.Fatalf("evaluation took %v", d)
		}
	})
}

func checkSize(t *testing.T, v Value, depth int) {
	if depth > 2*MaxDepth+10 {
		t.Fatalf("result nested %d deep", depth)
	}
	switch x := v.(type) {
	case string:
		if len(x) > MaxStringLen {
			t.Fatalf("string of %d bytes", len(x))
		}
	case []Value:
		checkItems(t, x, depth)
	case Tuple:
		checkItems(t, x, depth)
	case Set:
		checkItems(t, x, depth)
	case map[string]Value:
		if len(x) > MaxListLen {
			t.Fatalf("dict of %d items", len(x))
		}
		for _, e := range x {
			checkSize(t, e, depth+1)
		}
	}
}

func checkItems(t *testing.T, x []Value, depth int) {
	if len(x) > MaxListLen {
		t.Fatalf("sequence of %d items", len(x))
	}
	for _, e := range x {
		checkSize(t, e, depth+1)
	}
}

// additionSeeds exercise tuples, % formatting, the added string methods,
// set and dict displays and the added built-ins.
var additionSeeds = []string{
	`(1, 'a')`, `(1,)`, `()`, `1, 2`, `str((1,)) + str(())`, `(1, 2) < (1, 3)`, `(0,) * 3 + (1,)`,
	`'%s|%s' % (iface.if_name, 'x')`, `'%-+#08.3f|%5s|%(k)r' % {'k': 1}`, `'%x %o %e %g %c %%' % (255, 8, 1.5, 1e-5, 65)`,
	`'%(a)s %s' % {'a': 1}`, `'%*d' % (1, 2)`, `'%d' % 'a'`, `'%s' % [1, 2]`, `'%.3s|%5c' % ('abcd', 'é')`,
	`'a.b.c'.partition('.')[2].rpartition('.')`, `'abcabc'.find('c', -2) + 'abc'.rfind('b') + 'aaa'.count('a', 1)`,
	`' a b '.rsplit(None, 1) + 'x,y'.rsplit(',', 0)`, `'hello wORLD'.title().capitalize().lstrip('H').rstrip()`,
	`'123'.isdigit() and 'xe-1'.startswith(('ge-', 'xe-'))`,
	`{'a': 1, 'b': [2]}`, `{k: len(k) for k in ['ab', 'c'] if k}`, `{x % 3 for x in [1, 2, 3, 4]}`, `{1, 1.0, True, (1, 'a')}`,
	`{1} < {1, 2} and {2, 1} == {1, 2}`, `len({qr['ps'].label for qr in query_result})`,
	`sum(x for x in [1, 2]) + max([3, 1]) + min(4, 5) + abs(-1) + round(2.5) + round(1.25, 1)`,
	`any([0]) or all(x for x in []) or sorted('cab', reverse=True)`, `list('ab') + list(tuple(set([1, 1])))`,
	`bool(()) or max((x for x in [] if x), default=0)`, `round(1250, -2) + round(-1.5)`,
}
