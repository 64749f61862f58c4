package expr

import (
	"fmt"
	"math"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"unicode/utf8"
)

// evaluator holds the state of one evaluation: comprehension variables and
// the work and allocation spent so far.
type evaluator struct {
	env   Env
	scope []binding
	steps int
	alloc int
}

type binding struct {
	name string
	v    Value
}

func (ev *evaluator) step() error {
	ev.steps++
	if ev.steps > MaxSteps {
		return fmt.Errorf("evaluation exceeds %d steps: %w", MaxSteps, errLimit)
	}
	return nil
}

// charge accounts for n bytes about to be allocated.
func (ev *evaluator) charge(n int) error {
	ev.alloc += n
	if ev.alloc > MaxAlloc {
		return fmt.Errorf("evaluation allocates more than %d bytes: %w", MaxAlloc, errLimit)
	}
	return nil
}

func (ev *evaluator) newString(n int) error {
	if n > MaxStringLen {
		return fmt.Errorf("string of %d bytes exceeds the limit of %d: %w", n, MaxStringLen, errLimit)
	}
	return ev.charge(n)
}

func (ev *evaluator) newList(n int) error {
	if n > MaxListLen {
		return fmt.Errorf("list of %d items exceeds the limit of %d: %w", n, MaxListLen, errLimit)
	}
	return ev.charge(16 * n)
}

// weigh charges steps for operations that scan their operands without
// allocating (comparisons, searches, methods): a string costs one step per
// 16 bytes, a list or map one per item.
func (ev *evaluator) weigh(vs ...Value) error {
	for _, v := range vs {
		switch x := v.(type) {
		case string:
			ev.steps += len(x) / 16
		case []Value:
			ev.steps += len(x)
		case Tuple:
			ev.steps += len(x)
		case Set:
			ev.steps += len(x)
		case map[string]Value:
			ev.steps += len(x)
		}
	}
	return ev.step()
}

func (ev *evaluator) lookup(name string) (Value, error) {
	for i := len(ev.scope) - 1; i >= 0; i-- {
		if ev.scope[i].name == name {
			return ev.scope[i].v, nil
		}
	}
	if name == "functions" {
		return nil, fmt.Errorf("functions can only be used as functions.speed_to_bits(...)")
	}
	if ev.env != nil {
		if v, ok := ev.env.Lookup(name); ok {
			return normalize(v)
		}
	}
	return nil, fmt.Errorf("name %q is not defined", name)
}

func (ev *evaluator) eval(n node) (Value, error) {
	if err := ev.step(); err != nil {
		return nil, err
	}
	switch n := n.(type) {
	case *litNode:
		return n.v, nil
	case *nameNode:
		return ev.lookup(n.name)
	case *unaryNode:
		x, err := ev.eval(n.x)
		if err != nil {
			return nil, err
		}
		return unary(n.op, x)
	case *binNode:
		x, err := ev.eval(n.x)
		if err != nil {
			return nil, err
		}
		y, err := ev.eval(n.y)
		if err != nil {
			return nil, err
		}
		return ev.binary(n.op, x, y)
	case *boolNode:
		x, err := ev.eval(n.x)
		if err != nil {
			return nil, err
		}
		if truthy(x) != n.and {
			return x, nil // "a or b" is a when a is true; "a and b" is a when a is false
		}
		return ev.eval(n.y)
	case *notNode:
		x, err := ev.eval(n.x)
		if err != nil {
			return nil, err
		}
		return !truthy(x), nil
	case *compareNode:
		x, err := ev.eval(n.xs[0])
		if err != nil {
			return nil, err
		}
		for i, op := range n.ops {
			y, err := ev.eval(n.xs[i+1])
			if err != nil {
				return nil, err
			}
			ok, err := ev.compare(op, x, y)
			if err != nil || !ok {
				return false, err
			}
			x = y
		}
		return true, nil
	case *condNode:
		c, err := ev.eval(n.cond)
		if err != nil {
			return nil, err
		}
		if truthy(c) {
			return ev.eval(n.then)
		}
		return ev.eval(n.els)
	case *listNode:
		if err := ev.newList(len(n.elems)); err != nil {
			return nil, err
		}
		out := make([]Value, len(n.elems))
		for i, e := range n.elems {
			v, err := ev.eval(e)
			if err != nil {
				return nil, err
			}
			out[i] = v
		}
		return out, nil
	case *tupleNode:
		if err := ev.newList(len(n.elems)); err != nil {
			return nil, err
		}
		out := make(Tuple, len(n.elems))
		for i, e := range n.elems {
			v, err := ev.eval(e)
			if err != nil {
				return nil, err
			}
			out[i] = v
		}
		return out, nil
	case *indexNode:
		x, err := ev.eval(n.x)
		if err != nil {
			return nil, err
		}
		i, err := ev.eval(n.i)
		if err != nil {
			return nil, err
		}
		if s, ok := x.(string); ok { // non-ASCII strings are indexed by rune
			if err := ev.weigh(s); err != nil {
				return nil, err
			}
		}
		return index(x, i)
	case *sliceNode:
		return ev.slice(n)
	case *attrNode:
		x, err := ev.eval(n.x)
		if err != nil {
			return nil, err
		}
		return attr(x, n.name)
	case *callNode:
		return ev.call(n)
	case *methodNode:
		return ev.method(n)
	case *compNode:
		var out collector
		if n.kind == compDict {
			out.dict = map[string]Value{}
		}
		if err := ev.comprehend(n, 0, &out); err != nil {
			return nil, err
		}
		switch {
		case n.kind == compDict:
			return out.dict, nil
		case n.kind == compSet:
			if out.set.out == nil {
				return Set{}, nil
			}
			return out.set.out, nil
		case out.list == nil:
			return []Value{}, nil
		}
		return out.list, nil
	case *setNode:
		vs, err := ev.args(n.elems)
		if err != nil {
			return nil, err
		}
		return ev.newSet(vs)
	case *dictNode:
		if err := ev.newList(len(n.keys)); err != nil {
			return nil, err
		}
		out := make(map[string]Value, len(n.keys))
		for i := range n.keys {
			if err := ev.dictEntry(out, n.keys[i], n.vals[i]); err != nil {
				return nil, err
			}
		}
		return out, nil
	}
	return nil, fmt.Errorf("internal error: unknown node %T", n)
}

// collector accumulates what a comprehension builds.
type collector struct {
	list []Value
	set  setBuilder
	dict map[string]Value
}

// dictEntry evaluates a key (a string, the only keys the value model has)
// and then its value, as Python does, into d.
func (ev *evaluator) dictEntry(d map[string]Value, kn, vn node) error {
	k, err := ev.eval(kn)
	if err != nil {
		return err
	}
	ks, ok := k.(string)
	if !ok {
		return fmt.Errorf("dict key %s: only string keys are supported", describe(k))
	}
	v, err := ev.eval(vn)
	if err != nil {
		return err
	}
	if _, dup := d[ks]; !dup {
		if len(d) >= MaxListLen {
			return fmt.Errorf("dict of more than %d items exceeds the limit: %w", MaxListLen, errLimit)
		}
		if err := ev.charge(16 + len(ks)); err != nil {
			return err
		}
	}
	d[ks] = v
	return nil
}

func (ev *evaluator) comprehend(n *compNode, k int, out *collector) error {
	if k == len(n.clauses) {
		switch n.kind {
		case compDict:
			return ev.dictEntry(out.dict, n.key, n.elem)
		case compSet:
			v, err := ev.eval(n.elem)
			if err != nil {
				return err
			}
			return ev.addToSet(&out.set, v)
		}
		v, err := ev.eval(n.elem)
		if err != nil {
			return err
		}
		if len(out.list) >= MaxListLen {
			return fmt.Errorf("list of more than %d items exceeds the limit: %w", MaxListLen, errLimit)
		}
		if err := ev.charge(16); err != nil {
			return err
		}
		out.list = append(out.list, v)
		return nil
	}
	c := n.clauses[k]
	x, err := ev.eval(c.x)
	if err != nil {
		return err
	}
	if !c.isFor {
		if !truthy(x) {
			return nil
		}
		return ev.comprehend(n, k+1, out)
	}
	items, err := ev.iterate(x)
	if err != nil {
		return err
	}
	ev.scope = append(ev.scope, binding{name: c.v})
	defer func() { ev.scope = ev.scope[:len(ev.scope)-1] }()
	for _, it := range items {
		if err := ev.step(); err != nil {
			return err
		}
		v, err := normalize(it)
		if err != nil {
			return err
		}
		ev.scope[len(ev.scope)-1].v = v
		if err := ev.comprehend(n, k+1, out); err != nil {
			return err
		}
	}
	return nil
}

// iterate lists what "for v in x" visits: list items, a string's
// characters, a map's keys (sorted).
func (ev *evaluator) iterate(x Value) ([]Value, error) {
	switch x := x.(type) {
	case []Value:
		return x, nil
	case Tuple:
		return x, nil
	case Set:
		return x, nil
	case string:
		if err := ev.newList(len(x)); err != nil {
			return nil, err
		}
		out := make([]Value, 0, len(x))
		for _, r := range x {
			out = append(out, string(r))
		}
		return out, nil
	case map[string]Value:
		if err := ev.newList(len(x)); err != nil {
			return nil, err
		}
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		out := make([]Value, len(keys))
		for i, k := range keys {
			out[i] = k
		}
		return out, nil
	}
	return nil, fmt.Errorf("%s is not iterable", describe(x))
}

// normalize converts values from an Env to the value model.
func normalize(v Value) (Value, error) {
	switch x := v.(type) {
	case nil, bool, int64, float64, string, []Value, Tuple, Set, map[string]Value, Object:
		return v, nil
	case int:
		return int64(x), nil
	case int8:
		return int64(x), nil
	case int16:
		return int64(x), nil
	case int32:
		return int64(x), nil
	case uint8:
		return int64(x), nil
	case uint16:
		return int64(x), nil
	case uint32:
		return int64(x), nil
	case uint:
		if uint64(x) > math.MaxInt64 {
			return float64(x), nil
		}
		return int64(x), nil
	case uint64:
		if x > math.MaxInt64 {
			return float64(x), nil
		}
		return int64(x), nil
	case float32:
		return float64(x), nil
	case []string:
		if len(x) > MaxListLen {
			return nil, fmt.Errorf("list of %d items exceeds the limit of %d: %w", len(x), MaxListLen, errLimit)
		}
		out := make([]Value, len(x))
		for i, s := range x {
			out[i] = s
		}
		return out, nil
	case map[string]string:
		out := make(map[string]Value, len(x))
		for k, s := range x {
			out[k] = s
		}
		return out, nil
	}
	return nil, fmt.Errorf("unsupported value of Go type %T", v)
}

// typeName is Python's name for a value's type.
func typeName(v Value) string {
	switch v.(type) {
	case nil:
		return "NoneType"
	case bool:
		return "bool"
	case int64:
		return "int"
	case float64:
		return "float"
	case string:
		return "str"
	case []Value:
		return "list"
	case Tuple:
		return "tuple"
	case Set:
		return "set"
	case map[string]Value:
		return "dict"
	}
	return "object"
}

// describe renders a value for messages: "the int 3", "None".
func describe(v Value) string {
	if v == nil {
		return "None"
	}
	var b strings.Builder
	writeRepr(&b, v, 40)
	s := b.String()
	if len(s) > 40 {
		cut := 40
		for cut > 0 && !utf8.RuneStart(s[cut]) {
			cut--
		}
		s = s[:cut] + "..."
	}
	return fmt.Sprintf("the %s %s", typeName(v), s)
}

// Truthy is Python's truth value of an expression result (bool(v)).
func Truthy(v Value) bool { return truthy(v) }

func truthy(v Value) bool {
	switch x := v.(type) {
	case nil:
		return false
	case bool:
		return x
	case int64:
		return x != 0
	case float64:
		return x != 0
	case string:
		return x != ""
	case []Value:
		return len(x) > 0
	case Tuple:
		return len(x) > 0
	case Set:
		return len(x) > 0
	case map[string]Value:
		return len(x) > 0
	}
	return true
}

// number returns v as an int or float; bools count as ints, as in Python.
func number(v Value) (i int64, f float64, isInt, ok bool) {
	switch x := v.(type) {
	case bool:
		if x {
			return 1, 1, true, true
		}
		return 0, 0, true, true
	case int64:
		return x, float64(x), true, true
	case float64:
		return 0, x, false, true
	}
	return 0, 0, false, false
}

func unary(op string, x Value) (Value, error) {
	i, f, isInt, ok := number(x)
	if !ok {
		return nil, fmt.Errorf("bad operand for unary %s: %s", op, describe(x))
	}
	switch {
	case op == "+" && isInt:
		return i, nil
	case op == "+":
		return f, nil
	case isInt && i == math.MinInt64:
		return nil, fmt.Errorf("integer overflow")
	case isInt:
		return -i, nil
	}
	return -f, nil
}

func (ev *evaluator) binary(op string, x, y Value) (Value, error) {
	xi, xf, xInt, xNum := number(x)
	yi, yf, yInt, yNum := number(y)
	if xNum && yNum {
		if xInt && yInt {
			return intOp(op, xi, yi)
		}
		return floatOp(op, xf, yf)
	}
	switch op {
	case "+":
		switch a := x.(type) {
		case string:
			if b, ok := y.(string); ok {
				if err := ev.newString(len(a) + len(b)); err != nil {
					return nil, err
				}
				return a + b, nil
			}
		case []Value:
			if b, ok := y.([]Value); ok {
				if err := ev.newList(len(a) + len(b)); err != nil {
					return nil, err
				}
				out := make([]Value, 0, len(a)+len(b))
				return append(append(out, a...), b...), nil
			}
		case Tuple:
			if b, ok := y.(Tuple); ok {
				if err := ev.newList(len(a) + len(b)); err != nil {
					return nil, err
				}
				out := make(Tuple, 0, len(a)+len(b))
				return append(append(out, a...), b...), nil
			}
		}
	case "*":
		if yInt && yNum {
			return ev.repeat(x, yi)
		}
		if xInt && xNum {
			return ev.repeat(y, xi)
		}
	case "%":
		if f, ok := x.(string); ok {
			return ev.format(f, y)
		}
	}
	return nil, fmt.Errorf("unsupported operand types for %s: %s and %s", op, typeName(x), typeName(y))
}

func (ev *evaluator) repeat(x Value, n int64) (Value, error) {
	if n < 0 {
		n = 0
	}
	if t, ok := x.(Tuple); ok {
		v, err := ev.repeat([]Value(t), n)
		if l, ok := v.([]Value); ok {
			return Tuple(l), err
		}
		return v, err
	}
	switch a := x.(type) {
	case string:
		if len(a) > 0 && n > int64(MaxStringLen/len(a)) {
			return nil, fmt.Errorf("string repetition exceeds the limit of %d bytes: %w", MaxStringLen, errLimit)
		}
		if err := ev.newString(len(a) * int(n)); err != nil {
			return nil, err
		}
		return strings.Repeat(a, int(n)), nil
	case []Value:
		if len(a) > 0 && n > int64(MaxListLen/len(a)) {
			return nil, fmt.Errorf("list repetition exceeds the limit of %d items: %w", MaxListLen, errLimit)
		}
		if err := ev.newList(len(a) * int(n)); err != nil {
			return nil, err
		}
		out := make([]Value, 0, len(a)*int(n))
		for range n {
			out = append(out, a...)
		}
		return out, nil
	}
	return nil, fmt.Errorf("unsupported operand types for *: %s and int", typeName(x))
}

func intOp(op string, a, b int64) (Value, error) {
	overflow := func() error { return fmt.Errorf("integer overflow in %d %s %d", a, op, b) }
	switch op {
	case "+":
		c := a + b
		if (c > a) != (b > 0) {
			return nil, overflow()
		}
		return c, nil
	case "-":
		c := a - b
		if (c < a) != (b > 0) {
			return nil, overflow()
		}
		return c, nil
	case "*":
		if a == 0 || b == 0 {
			return int64(0), nil
		}
		c := a * b
		if c/b != a || (a == -1 && b == math.MinInt64) || (b == -1 && a == math.MinInt64) {
			return nil, overflow()
		}
		return c, nil
	case "/":
		if b == 0 {
			return nil, fmt.Errorf("division by zero")
		}
		return float64(a) / float64(b), nil
	case "//", "%":
		if b == 0 {
			return nil, fmt.Errorf("integer division or modulo by zero")
		}
		if a == math.MinInt64 && b == -1 {
			if op == "%" {
				return int64(0), nil
			}
			return nil, overflow()
		}
		q, r := a/b, a%b
		if r != 0 && (r < 0) != (b < 0) {
			q--
			r += b
		}
		if op == "//" {
			return q, nil
		}
		return r, nil
	}
	return nil, fmt.Errorf("unknown operator %s", op)
}

func floatOp(op string, a, b float64) (Value, error) {
	switch op {
	case "+":
		return a + b, nil
	case "-":
		return a - b, nil
	case "*":
		return a * b, nil
	case "/":
		if b == 0 {
			return nil, fmt.Errorf("division by zero")
		}
		return a / b, nil
	case "//", "%":
		if b == 0 {
			return nil, fmt.Errorf("float division or modulo by zero")
		}
		r := math.Mod(a, b)
		if r != 0 && (r < 0) != (b < 0) {
			r += b
		}
		if op == "%" {
			return r, nil
		}
		return math.Floor((a - r) / b), nil
	}
	return nil, fmt.Errorf("unknown operator %s", op)
}

// equal is Python's ==: numbers compare by value across int, float and
// bool; lists and maps compare element-wise.
func (ev *evaluator) equal(x, y Value) bool {
	ev.steps++
	if ev.steps > MaxSteps {
		return false // the caller's step check reports it
	}
	x, y = mustNorm(x), mustNorm(y)
	_, xf, xInt, xNum := number(x)
	_, yf, yInt, yNum := number(y)
	if xNum && yNum {
		if xInt && yInt {
			xi, _, _, _ := number(x)
			yi, _, _, _ := number(y)
			return xi == yi
		}
		return xf == yf
	}
	switch a := x.(type) {
	case nil:
		return y == nil
	case string:
		b, ok := y.(string)
		return ok && a == b
	case []Value:
		b, ok := y.([]Value)
		return ok && ev.seqEqual(a, b)
	case Tuple:
		b, ok := y.(Tuple)
		return ok && ev.seqEqual(a, b)
	case Set:
		b, ok := y.(Set)
		if !ok || len(a) != len(b) {
			return false
		}
		sub, err := ev.subset(a, b)
		return err == nil && sub
	case map[string]Value:
		b, ok := y.(map[string]Value)
		if !ok || len(a) != len(b) {
			return false
		}
		for k, v := range a {
			w, ok := b[k]
			if !ok {
				return false
			}
			if !ev.equal(v, w) {
				return false
			}
		}
		return true
	case Object:
		// Objects are equal when they are the same object (a graph node
		// bound to two query variables), as Python compares nodes by
		// identity; an Object of an uncomparable type equals nothing.
		b, ok := y.(Object)
		return ok && sameObject(a, b)
	}
	return false
}

// sameObject is identity for Objects whose dynamic type Go can compare
// (pointers, the usual case), false otherwise.
func sameObject(a, b Object) bool {
	ta, tb := reflect.TypeOf(a), reflect.TypeOf(b)
	return ta == tb && ta.Comparable() && a == b
}

func (ev *evaluator) seqEqual(a, b []Value) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if !ev.equal(a[i], b[i]) {
			return false
		}
	}
	return true
}

func mustNorm(v Value) Value {
	n, err := normalize(v)
	if err != nil {
		return nil
	}
	return n
}

func (ev *evaluator) compare(op string, x, y Value) (bool, error) {
	if err := ev.weigh(x, y); err != nil {
		return false, err
	}
	switch op {
	case "==":
		return ev.equal(x, y), ev.step()
	case "!=":
		return !ev.equal(x, y), ev.step()
	case "is", "is not":
		_, xb := x.(bool)
		_, yb := y.(bool)
		xo, xObj := x.(Object)
		yo, yObj := y.(Object)
		if xObj && yObj {
			return sameObject(xo, yo) == (op == "is"), nil
		}
		if !(x == nil || y == nil || xb && yb) {
			return false, fmt.Errorf("%q is only supported with None, True, False and graph nodes", op)
		}
		same := x == y
		return same == (op == "is"), nil
	case "in", "not in":
		in, err := ev.contains(y, x)
		return in == (op == "in"), err
	}
	_, xf, xInt, xNum := number(x)
	_, yf, yInt, yNum := number(y)
	var c int
	switch {
	case xNum && yNum && xInt && yInt:
		xi, _, _, _ := number(x)
		yi, _, _, _ := number(y)
		c = cmpOrdered(xi, yi)
	case xNum && yNum:
		if math.IsNaN(xf) || math.IsNaN(yf) {
			return false, nil
		}
		c = cmpOrdered(xf, yf)
	default:
		a, aok := x.(string)
		b, bok := y.(string)
		if !aok || !bok {
			return ev.compareOther(op, x, y)
		}
		c = strings.Compare(a, b)
	}
	switch op {
	case "<":
		return c < 0, nil
	case "<=":
		return c <= 0, nil
	case ">":
		return c > 0, nil
	}
	return c >= 0, nil
}

// compareOther orders lists with lists and tuples with tuples
// lexicographically, and sets by inclusion.
func (ev *evaluator) compareOther(op string, x, y Value) (bool, error) {
	switch a := x.(type) {
	case []Value:
		if b, ok := y.([]Value); ok {
			return ev.seqCompare(op, a, b)
		}
	case Tuple:
		if b, ok := y.(Tuple); ok {
			return ev.seqCompare(op, a, b)
		}
	case Set:
		if b, ok := y.(Set); ok {
			if op == ">" || op == ">=" {
				a, b = b, a
			}
			sub, err := ev.subset(a, b)
			if op == "<" || op == ">" {
				sub = sub && len(a) < len(b)
			}
			return sub, err
		}
	}
	return false, fmt.Errorf("%s is not supported between %s and %s", op, typeName(x), typeName(y))
}

func cmpOrdered[T int64 | float64](a, b T) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

func (ev *evaluator) contains(container, x Value) (bool, error) {
	switch c := container.(type) {
	case string:
		s, ok := x.(string)
		if !ok {
			return false, fmt.Errorf("'in <string>' requires a string on the left, not %s", typeName(x))
		}
		return strings.Contains(c, s), nil
	case []Value:
		return ev.seqContains(c, x)
	case Tuple:
		return ev.seqContains(c, x)
	case Set:
		return ev.seqContains(c, x)
	case map[string]Value:
		s, ok := x.(string)
		if !ok {
			return false, nil
		}
		_, in := c[s]
		return in, nil
	case Object:
		s, ok := x.(string)
		if !ok {
			return false, nil
		}
		_, in := c.Get(s)
		return in, nil
	}
	return false, fmt.Errorf("argument of type %s is not iterable", typeName(container))
}

func (ev *evaluator) seqContains(c []Value, x Value) (bool, error) {
	for _, v := range c {
		if ev.equal(v, x) {
			return true, nil
		}
	}
	return false, ev.step()
}

func index(x, i Value) (Value, error) {
	switch c := x.(type) {
	case []Value:
		n, err := intIndex(i, len(c))
		if err != nil {
			return nil, fmt.Errorf("list %w", err)
		}
		return normalize(c[n])
	case Tuple:
		n, err := intIndex(i, len(c))
		if err != nil {
			return nil, fmt.Errorf("tuple %w", err)
		}
		return normalize(c[n])
	case string:
		if !utf8.ValidString(c) || !isASCII(c) {
			r := []rune(c)
			n, err := intIndex(i, len(r))
			if err != nil {
				return nil, fmt.Errorf("string %w", err)
			}
			return string(r[n]), nil
		}
		n, err := intIndex(i, len(c))
		if err != nil {
			return nil, fmt.Errorf("string %w", err)
		}
		return c[n : n+1], nil
	case map[string]Value, Object:
		k, ok := i.(string)
		if !ok {
			return nil, fmt.Errorf("key %s: only string keys are supported", describe(i))
		}
		v, ok := get(x, k)
		if !ok {
			return nil, fmt.Errorf("key %q not found", k)
		}
		return normalize(v)
	}
	return nil, fmt.Errorf("%s is not subscriptable", describe(x))
}

func get(x Value, k string) (Value, bool) {
	switch c := x.(type) {
	case map[string]Value:
		v, ok := c[k]
		return v, ok
	case Object:
		return c.Get(k)
	}
	return nil, false
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			return false
		}
	}
	return true
}

func intIndex(i Value, n int) (int, error) {
	k, ok := i.(int64)
	if b, isBool := i.(bool); isBool {
		k, ok = 0, true
		if b {
			k = 1
		}
	}
	if !ok {
		return 0, fmt.Errorf("indices must be integers, not %s", typeName(i))
	}
	if k < 0 {
		k += int64(n)
	}
	if k < 0 || k >= int64(n) {
		return 0, fmt.Errorf("index out of range")
	}
	return int(k), nil
}

func (ev *evaluator) slice(n *sliceNode) (Value, error) {
	x, err := ev.eval(n.x)
	if err != nil {
		return nil, err
	}
	var length int
	var runes []rune
	switch c := x.(type) {
	case []Value:
		length = len(c)
	case Tuple:
		length = len(c)
	case string:
		if err := ev.weigh(c); err != nil {
			return nil, err
		}
		if isASCII(c) {
			length = len(c)
		} else {
			runes = []rune(c)
			length = len(runes)
		}
	default:
		return nil, fmt.Errorf("%s cannot be sliced", describe(x))
	}
	bound := func(b node, def int) (int, error) {
		if b == nil {
			return def, nil
		}
		v, err := ev.eval(b)
		if err != nil {
			return 0, err
		}
		if v == nil {
			return def, nil
		}
		k, ok := v.(int64)
		if !ok {
			return 0, fmt.Errorf("slice indices must be integers or None, not %s", typeName(v))
		}
		if k < 0 {
			k += int64(length)
		}
		return int(min(max(k, 0), int64(length))), nil
	}
	lo, err := bound(n.lo, 0)
	if err != nil {
		return nil, err
	}
	hi, err := bound(n.hi, length)
	if err != nil {
		return nil, err
	}
	hi = max(hi, lo)
	switch c := x.(type) {
	case []Value:
		if err := ev.newList(hi - lo); err != nil {
			return nil, err
		}
		return append([]Value{}, c[lo:hi]...), nil
	case Tuple:
		if err := ev.newList(hi - lo); err != nil {
			return nil, err
		}
		return append(Tuple{}, c[lo:hi]...), nil
	case string:
		if runes != nil {
			return string(runes[lo:hi]), nil
		}
		return c[lo:hi], nil
	}
	return nil, nil
}

func attr(x Value, name string) (Value, error) {
	switch x.(type) {
	case map[string]Value, Object:
		v, ok := get(x, name)
		if !ok {
			return nil, fmt.Errorf("object has no attribute %q", name)
		}
		return normalize(v)
	case nil:
		return nil, fmt.Errorf("attribute %q of None: the value is None (an optional graph query match that did not match?)", name)
	}
	if _, ok := stringMethods[name]; ok {
		return nil, fmt.Errorf("method %s must be called", name)
	}
	return nil, fmt.Errorf("%s has no attribute %q", typeName(x), name)
}

func (ev *evaluator) args(ns []node) ([]Value, error) {
	out := make([]Value, len(ns))
	for i, n := range ns {
		v, err := ev.eval(n)
		if err != nil {
			return nil, err
		}
		out[i] = v
	}
	return out, nil
}

func (ev *evaluator) call(n *callNode) (Value, error) {
	args, err := ev.args(n.args)
	if err != nil {
		return nil, err
	}
	if v, ok, err := ev.callMore(n, args); ok {
		return v, err
	}
	x := args[0]
	if s, ok := x.(string); ok {
		if err := ev.weigh(s); err != nil {
			return nil, err
		}
	}
	switch n.fn {
	case "int":
		return toInt(x)
	case "float":
		return toFloat(x)
	case "str":
		var b strings.Builder
		if s, ok := x.(string); ok {
			return s, nil
		}
		if !writeRepr(&b, x, MaxStringLen) {
			return nil, fmt.Errorf("str(): result exceeds the limit of %d bytes: %w", MaxStringLen, errLimit)
		}
		if err := ev.charge(b.Len()); err != nil {
			return nil, err
		}
		return b.String(), nil
	case "len":
		switch c := x.(type) {
		case string:
			return int64(utf8.RuneCountInString(c)), nil
		case []Value:
			return int64(len(c)), nil
		case Tuple:
			return int64(len(c)), nil
		case Set:
			return int64(len(c)), nil
		case map[string]Value:
			return int64(len(c)), nil
		}
		return nil, fmt.Errorf("len(): %s has no length", describe(x))
	case "speed_to_bits":
		bits, ok := SpeedToBits(x)
		if ok {
			return bits, nil
		}
		if n.hasDeft {
			return ev.eval(n.deflt)
		}
		return nil, fmt.Errorf("functions.speed_to_bits(): cannot read %s as a speed such as '10G' (give default= to use a fallback)", describe(x))
	}
	return nil, fmt.Errorf("internal error: unknown function %s", n.fn)
}

// SpeedToBits converts a link speed to bits per second, as
// functions.speed_to_bits does: '10G' is 10000000000, '100M' 100000000,
// '1T' 10^12, '2.5G' 2500000000; the unit letter is K, M, G or T (either
// case, optionally followed by "bps" or "b"); a bare number or a numeric
// value is taken as bits per second already. ok is false for anything else
// (None, the empty string, 'auto').
func SpeedToBits(v Value) (int64, bool) {
	v, err := normalize(v)
	if err != nil {
		return 0, false
	}
	switch x := v.(type) {
	case int64:
		return x, x >= 0
	case float64:
		if x < 0 || x >= math.MaxInt64 || math.IsNaN(x) {
			return 0, false
		}
		return int64(x), true
	case string:
		s := strings.TrimSpace(x)
		low := strings.ToLower(s)
		low = strings.TrimSuffix(strings.TrimSuffix(low, "bps"), "b")
		mult := 1.0
		if low != "" {
			switch low[len(low)-1] {
			case 'k':
				mult = 1e3
			case 'm':
				mult = 1e6
			case 'g':
				mult = 1e9
			case 't':
				mult = 1e12
			}
			if mult != 1 {
				low = low[:len(low)-1]
			}
		}
		f, err := strconv.ParseFloat(strings.TrimSpace(low), 64)
		if err != nil || f < 0 || math.IsNaN(f) || math.IsInf(f, 0) || f*mult >= math.MaxInt64 {
			return 0, false
		}
		return int64(math.Round(f * mult)), true
	}
	return 0, false
}

func toInt(x Value) (Value, error) {
	switch v := x.(type) {
	case bool:
		if v {
			return int64(1), nil
		}
		return int64(0), nil
	case int64:
		return v, nil
	case float64:
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return nil, fmt.Errorf("int(): cannot convert %v to an integer", v)
		}
		t := math.Trunc(v)
		if t < math.MinInt64 || t >= math.MaxInt64 {
			return nil, fmt.Errorf("int(): %v is out of the 64-bit range", v)
		}
		return int64(t), nil
	case string:
		s := strings.TrimSpace(v)
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return nil, fmt.Errorf("int(): invalid literal %q", v)
		}
		return n, nil
	}
	return nil, fmt.Errorf("int(): cannot convert %s", describe(x))
}

func toFloat(x Value) (Value, error) {
	switch v := x.(type) {
	case bool, int64, float64:
		_, f, _, _ := number(v)
		return f, nil
	case string:
		s := strings.ToLower(strings.TrimSpace(v))
		switch strings.TrimLeft(s, "+-") {
		case "inf", "infinity", "nan":
		default:
			if strings.ContainsAny(s, "xp_") || s == "" {
				return nil, fmt.Errorf("float(): invalid literal %q", v)
			}
		}
		f, err := strconv.ParseFloat(s, 64)
		if err != nil {
			return nil, fmt.Errorf("float(): invalid literal %q", v)
		}
		return f, nil
	}
	return nil, fmt.Errorf("float(): cannot convert %s", describe(x))
}

func (ev *evaluator) method(n *methodNode) (Value, error) {
	recv, err := ev.eval(n.recv)
	if err != nil {
		return nil, err
	}
	s, ok := recv.(string)
	if !ok {
		return nil, fmt.Errorf("%s has no method %s() (string methods only)", describe(recv), n.name)
	}
	args, err := ev.args(n.args)
	if err != nil {
		return nil, err
	}
	if err := ev.weigh(s); err != nil {
		return nil, err
	}
	if err := ev.weigh(args...); err != nil {
		return nil, err
	}
	str := func(i int) (string, error) {
		a, ok := args[i].(string)
		if !ok {
			return "", fmt.Errorf("%s(): argument %d must be a string, not %s", n.name, i+1, typeName(args[i]))
		}
		return a, nil
	}
	switch n.name {
	case "lower", "upper":
		// The result is at most 3 times the input, itself bounded.
		r := strings.ToUpper(s)
		if n.name == "lower" {
			r = strings.ToLower(s)
		}
		if err := ev.newString(len(r)); err != nil {
			return nil, err
		}
		return r, nil
	case "strip":
		if len(args) == 0 || args[0] == nil {
			return strings.TrimSpace(s), nil
		}
		chars, err := str(0)
		if err != nil {
			return nil, err
		}
		return strings.Trim(s, chars), nil
	case "startswith", "endswith":
		prefixes := []Value{args[0]}
		if t, ok := args[0].(Tuple); ok { // any of a tuple of strings, as in Python
			prefixes = t
		}
		for _, p := range prefixes {
			a, ok := p.(string)
			if !ok {
				return nil, fmt.Errorf("%s(): argument must be a string or a tuple of strings, not %s", n.name, typeName(p))
			}
			if n.name == "startswith" && strings.HasPrefix(s, a) || n.name == "endswith" && strings.HasSuffix(s, a) {
				return true, nil
			}
		}
		return false, nil
	case "split":
		return ev.splitStr("split", s, args, false)
	case "join":
		items, err := ev.iterate(args[0])
		if err != nil {
			return nil, fmt.Errorf("join(): argument must be an iterable of strings, not %s", typeName(args[0]))
		}
		total := 0
		parts := make([]string, len(items))
		for i, it := range items {
			p, ok := it.(string)
			if !ok {
				return nil, fmt.Errorf("join(): item %d must be a string, not %s", i, typeName(it))
			}
			parts[i] = p
			total += len(p) + len(s)
		}
		if err := ev.newString(total); err != nil {
			return nil, err
		}
		return strings.Join(parts, s), nil
	case "replace":
		old, err := str(0)
		if err != nil {
			return nil, err
		}
		repl, err := str(1)
		if err != nil {
			return nil, err
		}
		count := -1
		if len(args) == 3 {
			c, ok := args[2].(int64)
			if !ok {
				return nil, fmt.Errorf("replace(): count must be an int, not %s", typeName(args[2]))
			}
			if c >= 0 && c < int64(MaxStringLen) {
				count = int(c)
			}
		}
		k := strings.Count(s, old)
		if count >= 0 && count < k {
			k = count
		}
		if err := ev.newString(len(s) + k*(len(repl)-len(old))); err != nil {
			return nil, err
		}
		return strings.Replace(s, old, repl, count), nil
	}
	if v, ok, err := ev.moreMethod(n.name, s, args); ok {
		return v, err
	}
	return nil, fmt.Errorf("internal error: unknown method %s", n.name)
}

// writeRepr writes Python's repr of v to b, stopping (and returning false)
// once b holds more than limit bytes.
func writeRepr(b *strings.Builder, v Value, limit int) bool {
	if b.Len() > limit {
		return false
	}
	v = mustNorm(v)
	switch x := v.(type) {
	case nil:
		b.WriteString("None")
	case bool:
		if x {
			b.WriteString("True")
		} else {
			b.WriteString("False")
		}
	case int64:
		b.WriteString(strconv.FormatInt(x, 10))
	case float64:
		b.WriteString(formatFloat(x))
	case string:
		b.WriteString(reprString(x))
	case []Value:
		b.WriteByte('[')
		for i, e := range x {
			if i > 0 {
				b.WriteString(", ")
			}
			if !writeRepr(b, e, limit) {
				return false
			}
		}
		b.WriteByte(']')
	case Tuple:
		b.WriteByte('(')
		for i, e := range x {
			if i > 0 {
				b.WriteString(", ")
			}
			if !writeRepr(b, e, limit) {
				return false
			}
		}
		if len(x) == 1 {
			b.WriteByte(',')
		}
		b.WriteByte(')')
	case Set:
		if len(x) == 0 {
			b.WriteString("set()")
			break
		}
		b.WriteByte('{')
		for i, e := range x {
			if i > 0 {
				b.WriteString(", ")
			}
			if !writeRepr(b, e, limit) {
				return false
			}
		}
		b.WriteByte('}')
	case map[string]Value:
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		b.WriteByte('{')
		for i, k := range keys {
			if i > 0 {
				b.WriteString(", ")
			}
			b.WriteString(reprString(k))
			b.WriteString(": ")
			if !writeRepr(b, x[k], limit) {
				return false
			}
		}
		b.WriteByte('}')
	default:
		b.WriteString("<object>")
	}
	return b.Len() <= limit
}

// formatFloat renders a float as Python's repr: shortest round-trip digits,
// fixed notation for exponents -5..15 with at least one decimal, else
// scientific.
func formatFloat(f float64) string {
	switch {
	case math.IsNaN(f):
		return "nan"
	case math.IsInf(f, 1):
		return "inf"
	case math.IsInf(f, -1):
		return "-inf"
	}
	e := strconv.FormatFloat(f, 'e', -1, 64)
	exp, _ := strconv.Atoi(e[strings.IndexByte(e, 'e')+1:])
	if exp < -4 || exp >= 16 {
		return e
	}
	s := strconv.FormatFloat(f, 'f', -1, 64)
	if !strings.ContainsAny(s, ".") {
		s += ".0"
	}
	return s
}

// reprString quotes a string as Python's repr does for printable text.
func reprString(s string) string {
	q := byte('\'')
	if strings.ContainsRune(s, '\'') && !strings.ContainsRune(s, '"') {
		q = '"'
	}
	var b strings.Builder
	b.WriteByte(q)
	for _, r := range s {
		switch {
		case r == '\\':
			b.WriteString(`\\`)
		case r == rune(q):
			b.WriteByte('\\')
			b.WriteByte(q)
		case r == '\n':
			b.WriteString(`\n`)
		case r == '\t':
			b.WriteString(`\t`)
		case r == '\r':
			b.WriteString(`\r`)
		case r < 0x20 || r == 0x7f:
			fmt.Fprintf(&b, `\x%02x`, r)
		default:
			b.WriteRune(r)
		}
	}
	b.WriteByte(q)
	return b.String()
}
