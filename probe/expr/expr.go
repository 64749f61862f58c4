// Package expr is the safe evaluator for the Python expressions that Apstra
// probe properties hold ("60 * 15", "'up'", "str(link.speed)",
// "query_result[0]['ps'].values['k']", "'%s|%s' % (intf.if_name, 'rx_power')").
//
// It is a hand-written lexer and recursive-descent parser for a small subset
// of Python, and an evaluator over a small value model. Nothing of Python is
// run: names resolve only through an Env, calls only reach a fixed whitelist
// (int, str, float, bool, len, abs, round, sum, min, max, any, all, sorted,
// list, set, tuple, functions.speed_to_bits and the string methods split,
// rsplit, join, replace, strip, lstrip, rstrip, lower, upper, title,
// capitalize, startswith, endswith, partition, rpartition, find, rfind,
// count, isdigit), and everything else (lambda, other calls, str.format,
// imports, dunder attributes, assignment, statements) is a parse error
// naming what is not allowed. Expression length, nesting, result sizes and
// evaluation work are bounded, so no input can exhaust memory or stack.
//
// Supported: string literals ('..', "..", r'..', with Python escapes), int
// and float literals, True/False/None, + - * / // % with Python precedence
// and semantics (floor division, sign of %), printf-style str % args
// (conversions s r a d i u x X o e E f F g G c and %%, flags - + space 0 #,
// width, precision, %(name)s with a dict; a tuple operand is unpacked, any
// other value, a list too, is one argument; * widths are refused), unary -
// and +, comparisons (== != < <= > >= in, not in, is, is not; chained;
// lists and tuples order lexicographically, sets by inclusion), and/or/not
// with Python truthiness, a if c else b, parentheses, tuples ((a, b), (a,),
// (), a bare a, b), list, set and dict displays and comprehensions ([e for v
// in xs if c], {e for ...}, {k: v for ...}), a generator expression as the
// argument of a function that takes an iterable (sum(x for x in xs)),
// subscripts and slices x[i], x['k'], x[a:b], and attribute access a.b (a
// key of a map or Object).
//
// Values: a tuple is a Tuple and a set a Set, types of their own beside
// []Value so that (1, 2) != [1, 2] and each prints as Python prints it. A
// Set is its distinct elements in first-seen order (Python's order depends
// on hashing); its elements must be hashable (None, bools, numbers, strings,
// tuples of those). A dict is a map[string]Value: display keys must be
// strings, and a dict prints and iterates in key order, not insertion
// order. sum adds left to right (as Python before 3.12); round rounds half
// to even.
package expr

import (
	"errors"
	"fmt"
	"maps"
	"math"
	"slices"
	"strings"
)

// Limits on what an expression may be and produce.
const (
	// MaxLen is the longest accepted source, in bytes.
	MaxLen = 4096
	// MaxDepth bounds the parser's nesting (parentheses, brackets, calls,
	// unary operators, conditionals).
	MaxDepth = 64
	// MaxStringLen bounds every string an evaluation builds, in bytes.
	MaxStringLen = 1 << 16
	// MaxListLen bounds every list an evaluation builds.
	MaxListLen = 1 << 16
	// MaxSteps bounds the work of one evaluation (nodes evaluated plus
	// comprehension iterations).
	MaxSteps = 1 << 20
	// MaxAlloc bounds the bytes one evaluation may allocate for strings and
	// lists.
	MaxAlloc = 16 << 20
)

// Value is an expression value. Its dynamic type is one of nil (None), bool,
// int64, float64, string, []Value (list), Tuple, Set, map[string]Value (dict
// or graph node) or Object. Values read from an Env may also be other Go integer and
// float types, []string or map[string]string; they are converted on access.
type Value = any

// Object is a value whose attributes (a.b) and string subscripts (a['b'])
// are resolved by the caller, e.g. a graph node read lazily.
type Object interface {
	Get(key string) (Value, bool)
}

// Env resolves the free names of an expression: "context" (the current
// item's keys as a map), "query_result", graph query variables. The name
// "functions" is built in and never looked up.
type Env interface {
	Lookup(name string) (Value, bool)
}

// MapEnv is an Env backed by a map.
type MapEnv map[string]Value

// Lookup implements Env.
func (m MapEnv) Lookup(name string) (Value, bool) {
	v, ok := m[name]
	return v, ok
}

// Expr is a parsed expression. It is immutable and safe for concurrent use.
type Expr struct {
	src   string
	root  node
	names []string
}

// SyntaxError is a parse error; Pos is the byte offset in Src.
type SyntaxError struct {
	Src string
	Pos int
	Msg string
}

func (e *SyntaxError) Error() string {
	return fmt.Sprintf("expression %s: column %d: %s", quote(e.Src), e.Pos+1, e.Msg)
}

// quote renders a source for messages, shortened when long.
func quote(src string) string {
	if len(src) > 80 {
		src = src[:77] + "..."
	}
	return fmt.Sprintf("%q", src)
}

// Parse parses src, rejecting anything outside the supported subset.
func Parse(src string) (*Expr, error) {
	if len(src) > MaxLen {
		return nil, &SyntaxError{Src: src, Pos: MaxLen, Msg: fmt.Sprintf("expression longer than %d bytes", MaxLen)}
	}
	if strings.TrimSpace(src) == "" {
		return nil, &SyntaxError{Src: src, Msg: "empty expression"}
	}
	toks, err := lex(src)
	if err != nil {
		return nil, err
	}
	p := &parser{src: src, toks: toks, genAt: -1}
	root, err := p.test()
	if err != nil {
		return nil, err
	}
	if p.isOp(",") { // a bare tuple: a, b
		if root, err = p.tupleRest(root); err != nil {
			return nil, err
		}
	}
	if p.peek().kind != tkEOF {
		return nil, p.unexpected("expected end of expression")
	}
	names := map[string]bool{}
	freeNames(root, map[string]int{}, names)
	return &Expr{src: src, root: root, names: slices.Sorted(maps.Keys(names))}, nil
}

// String returns the source of the expression.
func (e *Expr) String() string { return e.src }

// Names returns the free names the expression reads from its Env, sorted;
// comprehension variables and the built-in "functions" are not included.
func (e *Expr) Names() []string { return append([]string(nil), e.names...) }

// Constant reports whether the expression reads no names, so that it can be
// evaluated once, at validation.
func (e *Expr) Constant() bool { return len(e.names) == 0 }

// Eval evaluates the expression. env may be nil for a constant expression.
func (e *Expr) Eval(env Env) (Value, error) {
	ev := evaluator{env: env}
	v, err := ev.eval(e.root)
	if err != nil {
		return nil, fmt.Errorf("expression %s: %w", quote(e.src), err)
	}
	return v, nil
}

// NotConstantError reports an expression used where only a constant one is
// allowed; Names are the names it needs.
type NotConstantError struct {
	Src   string
	Names []string
}

func (e *NotConstantError) Error() string {
	var perItem, graph []string
	for _, n := range e.Names {
		if n == "context" {
			perItem = append(perItem, n)
		} else {
			graph = append(graph, n)
		}
	}
	var parts []string
	if len(perItem) > 0 {
		parts = append(parts, "context (the current item's keys, resolved per item)")
	}
	if len(graph) > 0 {
		parts = append(parts, fmt.Sprintf("%s (graph query results, resolved by the controller)", strings.Join(graph, ", ")))
	}
	msg := fmt.Sprintf("expression %s depends on %s; only a constant expression is allowed here", quote(e.Src), strings.Join(parts, " and on "))
	if len(e.Names) == 1 && strings.TrimSpace(e.Src) == e.Names[0] {
		msg += fmt.Sprintf(" (for the string %s, quote it: \"'%s'\")", e.Names[0], e.Names[0])
	}
	return msg
}

// Constant parses src and evaluates it, failing with a *NotConstantError
// when it reads any name.
func Constant(src string) (Value, error) {
	e, err := Parse(src)
	if err != nil {
		return nil, err
	}
	if !e.Constant() {
		return nil, &NotConstantError{Src: src, Names: e.Names()}
	}
	return e.Eval(nil)
}

// Number evaluates a constant numeric expression or literal ("60",
// "60 * 15", "int('10')") to a finite float64.
func Number(src string) (float64, error) {
	v, err := Constant(src)
	if err != nil {
		return 0, err
	}
	f, ok := ToFloat(v)
	if !ok {
		return 0, fmt.Errorf("expression %s is %s, not a number", quote(src), describe(v))
	}
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return 0, fmt.Errorf("expression %s is %v, not a finite number", quote(src), f)
	}
	return f, nil
}

// String evaluates a constant string expression: "'up'" and "\"up\"" give
// up. A bare word such as "up" is a name, not a string, and fails.
func String(src string) (string, error) {
	v, err := Constant(src)
	if err != nil {
		return "", err
	}
	s, ok := v.(string)
	if !ok {
		return "", fmt.Errorf("expression %s is %s, not a string (string literals need quotes, e.g. \"'up'\")", quote(src), describe(v))
	}
	return s, nil
}

// ToFloat converts an int or float value to float64; bools, strings and
// other values are not numbers.
func ToFloat(v Value) (float64, bool) {
	v, err := normalize(v)
	if err != nil {
		return 0, false
	}
	switch x := v.(type) {
	case int64:
		return float64(x), true
	case float64:
		return x, true
	}
	return 0, false
}

// Str renders a value as Python's str() does: strings as they are, None as
// None, True as True, 1.0 as 1.0, lists and maps in repr form.
func Str(v Value) string {
	var b strings.Builder
	if s, ok := v.(string); ok {
		return s
	}
	writeRepr(&b, v, MaxStringLen)
	return b.String()
}

// errLimit marks an evaluation that hit a size or work bound.
var errLimit = errors.New("limit exceeded")
