package expr

import (
	"fmt"
	"math"
	"slices"
	"strconv"
)

// The built-in functions added for real probes: bool, abs, round, sum, min,
// max, any, all, sorted, list, set and tuple (int, str, float and len are in
// eval.go). Each item they visit costs a step.

// callMore evaluates n when it is one of the functions here, reporting false
// otherwise.
func (ev *evaluator) callMore(n *callNode, args []Value) (Value, bool, error) {
	switch n.fn {
	case "bool":
		return len(args) == 1 && truthy(args[0]), true, nil
	case "abs":
		v, err := absValue(args[0])
		return v, true, err
	case "round":
		var nd Value
		if len(args) == 2 {
			nd = args[1]
		}
		v, err := round(args[0], nd)
		return v, true, err
	case "list", "tuple", "set":
		var xs []Value
		if len(args) == 1 {
			var err error
			if xs, err = ev.iterate(args[0]); err != nil {
				return nil, true, err
			}
		}
		if n.fn == "set" {
			v, err := ev.newSet(xs)
			return v, true, err
		}
		if err := ev.newList(len(xs)); err != nil {
			return nil, true, err
		}
		if n.fn == "tuple" {
			return append(Tuple{}, xs...), true, nil
		}
		return append([]Value{}, xs...), true, nil
	case "sum", "any", "all", "sorted":
		xs, err := ev.iterate(args[0])
		if err != nil {
			return nil, true, err
		}
		v, err := ev.reduce(n, xs, args[1:])
		return v, true, err
	case "min", "max":
		xs := args
		if len(args) == 1 {
			var err error
			if xs, err = ev.iterate(args[0]); err != nil {
				return nil, true, err
			}
		}
		v, err := ev.extreme(n, xs)
		return v, true, err
	}
	return nil, false, nil
}

// reduce is sum, any, all and sorted over the items xs.
func (ev *evaluator) reduce(n *callNode, xs, rest []Value) (Value, error) {
	switch n.fn {
	case "sum":
		// Left to right, as Python before 3.12 (which compensates float
		// rounding) and so Apstra's Python.
		var acc Value = int64(0)
		if len(rest) == 1 {
			if _, ok := rest[0].(string); ok {
				return nil, fmt.Errorf("sum() can't sum strings [use ''.join(seq) instead]")
			}
			acc = rest[0]
		}
		for _, x := range xs {
			if err := ev.step(); err != nil {
				return nil, err
			}
			v, err := ev.binary("+", acc, mustNorm(x))
			if err != nil {
				return nil, err
			}
			acc = v
		}
		return acc, nil
	case "any", "all":
		want := n.fn == "any"
		for _, x := range xs {
			if err := ev.step(); err != nil {
				return nil, err
			}
			if truthy(mustNorm(x)) == want {
				return want, nil
			}
		}
		return !want, nil
	}
	// sorted: stable, and stable in reverse too (equal items keep their
	// order), as Python's.
	if err := ev.newList(len(xs)); err != nil {
		return nil, err
	}
	out := make([]Value, len(xs))
	for i, x := range xs {
		out[i] = mustNorm(x)
	}
	op := "<"
	if n.reverse != nil {
		r, err := ev.eval(n.reverse)
		if err != nil {
			return nil, err
		}
		if truthy(r) {
			op = ">"
		}
	}
	var sortErr error
	slices.SortStableFunc(out, func(a, b Value) int {
		if sortErr != nil {
			return 0
		}
		less, err := ev.compare(op, a, b)
		if err != nil {
			sortErr = err
			return 0
		}
		if less {
			return -1
		}
		return 1
	})
	if sortErr != nil {
		return nil, sortErr
	}
	return out, nil
}

// extreme is min and max: the first smallest or largest item.
func (ev *evaluator) extreme(n *callNode, xs []Value) (Value, error) {
	if len(xs) == 0 {
		if n.hasDeft {
			return ev.eval(n.deflt)
		}
		return nil, fmt.Errorf("%s() arg is an empty sequence", n.fn)
	}
	op := "<"
	if n.fn == "max" {
		op = ">"
	}
	best := mustNorm(xs[0])
	for _, x := range xs[1:] {
		x = mustNorm(x)
		better, err := ev.compare(op, x, best)
		if err != nil {
			return nil, err
		}
		if better {
			best = x
		}
	}
	return best, nil
}

func absValue(x Value) (Value, error) {
	i, f, isInt, ok := number(x)
	switch {
	case !ok:
		return nil, fmt.Errorf("bad operand type for abs(): '%s'", typeName(x))
	case isInt && i == math.MinInt64:
		return nil, fmt.Errorf("integer overflow in abs(%d)", i)
	case isInt && i < 0:
		return -i, nil
	case isInt:
		return i, nil
	}
	return math.Abs(f), nil
}

// round is Python 3's round(x[, ndigits]): halves go to the even
// neighbour; without ndigits (or with None) the result is an int, with
// ndigits it has x's type.
func round(x, ndigits Value) (Value, error) {
	i, f, isInt, ok := number(x)
	if !ok {
		return nil, fmt.Errorf("type %s doesn't define __round__ method", typeName(x))
	}
	if ndigits == nil {
		if isInt {
			return i, nil
		}
		return floatToInt(math.RoundToEven(f))
	}
	nd, isInt2, _, ok := numArg(ndigits)
	if !ok || !isInt2 {
		return nil, fmt.Errorf("'%s' object cannot be interpreted as an integer", typeName(ndigits))
	}
	if isInt {
		return roundInt(i, nd)
	}
	switch {
	case math.IsNaN(f) || math.IsInf(f, 0) || nd > 330:
		return f, nil
	case nd >= 0:
		// The shortest decimal that rounds correctly: strconv rounds the
		// exact binary value half to even, as CPython's round does.
		r, _ := strconv.ParseFloat(strconv.FormatFloat(f, 'f', int(nd), 64), 64)
		return r, nil
	case nd < -308:
		return math.Copysign(0, f), nil
	}
	p := math.Pow(10, float64(-nd))
	r := math.RoundToEven(f/p) * p
	if math.IsInf(r, 0) {
		return nil, fmt.Errorf("rounded value too large to represent")
	}
	return r, nil
}

// roundInt rounds an int to a negative number of digits, half to even.
func roundInt(i, nd int64) (Value, error) {
	if nd >= 0 {
		return i, nil
	}
	if nd < -18 {
		return int64(0), nil
	}
	p := int64(1)
	for range -nd {
		p *= 10
	}
	q, r := i/p, i%p
	if r < 0 { // floor division
		q--
		r += p
	}
	if 2*r > p || 2*r == p && q%2 != 0 {
		q++
	}
	return intOp("*", q, p)
}
