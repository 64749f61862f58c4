package expr

import (
	"fmt"
	"math"
	"strconv"
	"strings"
)

// Tuple is a Python tuple: a sequence like a list (len, in, index, slice,
// iteration, ==, +, *) that str() prints as ('a', 1) or (1,). It is a type
// of its own so that a tuple never equals a list, as in Python.
type Tuple []Value

// Set is a Python set, represented as its distinct elements in the order
// they were first seen (Python's own order depends on hashing). Elements
// are deduplicated by Python equality (1, 1.0 and True are one element) and
// must be hashable: None, bools, numbers, strings and tuples of those. A set
// iterates, prints ({1, 2}, set()), compares (== regardless of order, <= as
// subset) and tests membership; it cannot be indexed or sliced.
type Set []Value

// Items returns the elements of a list, tuple or set, for callers that take
// any of them as a sequence; ok is false for other values.
func Items(v Value) (elems []Value, ok bool) {
	switch x := v.(type) {
	case []Value:
		return x, true
	case Tuple:
		return x, true
	case Set:
		return x, true
	}
	return nil, false
}

// hashKey renders a hashable value as a string that is equal for values
// Python considers equal (1, 1.0, True), so that sets deduplicate in linear
// time. Lists, dicts, sets and objects are unhashable, as in Python.
func hashKey(b *strings.Builder, v Value) error {
	v = mustNorm(v)
	switch x := v.(type) {
	case nil:
		b.WriteByte('N')
	case bool, int64:
		i, _, _, _ := number(x)
		b.WriteByte('i')
		b.WriteString(strconv.FormatInt(i, 10))
	case float64:
		if x == math.Trunc(x) && x >= math.MinInt64 && x < math.MaxInt64 {
			b.WriteByte('i')
			b.WriteString(strconv.FormatInt(int64(x), 10))
		} else {
			b.WriteByte('f')
			b.WriteString(strconv.FormatUint(math.Float64bits(x), 16))
		}
	case string:
		b.WriteByte('s')
		b.WriteString(strconv.Itoa(len(x)))
		b.WriteByte(':')
		b.WriteString(x)
	case Tuple:
		b.WriteString("t")
		b.WriteString(strconv.Itoa(len(x)))
		b.WriteByte('(')
		for _, e := range x {
			if err := hashKey(b, e); err != nil {
				return err
			}
		}
		b.WriteByte(')')
	default:
		return fmt.Errorf("unhashable type: '%s'", typeName(v))
	}
	return nil
}

// setBuilder collects the distinct elements of a set being built.
type setBuilder struct {
	seen map[string]struct{}
	out  Set
	key  strings.Builder
}

// addToSet adds v to sb unless an equal element is already there.
func (ev *evaluator) addToSet(sb *setBuilder, v Value) error {
	if err := ev.step(); err != nil {
		return err
	}
	sb.key.Reset()
	if err := hashKey(&sb.key, v); err != nil {
		return err
	}
	k := sb.key.String()
	ev.steps += len(k) / 16 // building the key scanned v, as weigh charges
	if sb.seen == nil {
		sb.seen = map[string]struct{}{}
	}
	if _, dup := sb.seen[k]; dup {
		return nil
	}
	if len(sb.out) >= MaxListLen {
		return fmt.Errorf("set of more than %d items exceeds the limit: %w", MaxListLen, errLimit)
	}
	if err := ev.charge(16 + len(k)); err != nil {
		return err
	}
	sb.seen[k] = struct{}{}
	sb.out = append(sb.out, v)
	return nil
}

// newSet builds a set of the distinct values of vs.
func (ev *evaluator) newSet(vs []Value) (Set, error) {
	var sb setBuilder
	for _, v := range vs {
		if err := ev.addToSet(&sb, v); err != nil {
			return nil, err
		}
	}
	if sb.out == nil {
		sb.out = Set{}
	}
	return sb.out, nil
}

// seqCompare orders two lists or two tuples as Python does: by the first
// elements that differ, else by length.
func (ev *evaluator) seqCompare(op string, a, b []Value) (bool, error) {
	for i := 0; i < len(a) && i < len(b); i++ {
		if !ev.equal(a[i], b[i]) {
			return ev.compare(op, a[i], b[i])
		}
	}
	return ev.compare(op, int64(len(a)), int64(len(b)))
}

// subset reports whether every element of a is in b.
func (ev *evaluator) subset(a, b Set) (bool, error) {
	for _, x := range a {
		in, err := ev.contains(b, x)
		if err != nil || !in {
			return false, err
		}
	}
	return true, nil
}
