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
		if len(x) > MaxListLen {
			t.Fatalf("list of %d items", len(x))
		}
		for _, e := range x {
			checkSize(t, e, depth+1)
		}
	}
}
