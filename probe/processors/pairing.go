package processors

import (
	"fmt"
	"sort"
	"strconv"
	"strings"

	"github.com/probe-agent/probe-agent/probe"
)

// This file holds what the multi-input processors (comparison, subtract,
// ratio, logical, union, set_comparison) share: pairing the items of several
// inputs by their keys.
//
// Each item is projected to the output keys: significant_keys when given,
// otherwise the keys the inputs have in common (they must have the same set
// of keys, possibly in another order; the output follows the first input's
// order; otherwise nothing pairs). An empty significant_keys means "not
// given", which is what Apstra exports write (os-version-compliance.json).
// Two items of one input with the same projected key tuple make the pairing
// one-to-many; Eval then returns an error naming the tuple, which puts the
// probe in the error state until the duplicate goes away.
//
// The pairing is rebuilt only when an input's Layout() changes; in between,
// Eval walks slices of item indexes and allocates nothing.

// significantKeysProps is the property every multi-input processor has.
func significantKeysProps() map[string]*probe.Schema {
	return map[string]*probe.Schema{
		"significant_keys": probe.Prop("array").Def([]any{}).Of(probe.Prop("string")).
			Desc("Keys to project every input item to before pairing; they become the output keys. " +
				"Empty: pair by the inputs' own keys, which must then be the same set."),
	}
}

// pairing projects the items of several inputs to the output keys.
type pairing struct {
	ins []*probe.Input
	// keys are the output keys: significant_keys, or the first input's keys.
	keys []string
	// proj holds, per input, the index in its stage's Keys of each output key.
	proj [][]int
	// disjoint is set when the inputs' key sets differ and significant_keys
	// is empty: no item pairs and every output stays empty.
	disjoint bool
	layouts  []uint64
	built    bool
	// err is the one-to-many error of the current layouts; Eval returns it
	// until a layout changes.
	err error
}

// newPairing resolves significant_keys (or the common keys) against every
// input, reporting a key missing from an input as a validation error on
// properties.significant_keys, and warning when the inputs' keys differ and
// no significant_keys are given.
func newPairing(b *probe.Build, ins []*probe.Input, significant []string) *pairing {
	p := &pairing{ins: ins, layouts: make([]uint64, len(ins)), proj: make([][]int, len(ins))}
	if len(significant) > 0 {
		seen := map[string]bool{}
		for i, k := range significant {
			if seen[k] {
				b.Errorf(fmt.Sprintf("properties.significant_keys[%d]", i), "%q is listed twice", k)
			}
			seen[k] = true
		}
		p.keys = significant
		for j, in := range ins {
			p.proj[j] = keyIndexes(b, "significant_keys", in, significant)
		}
		return p
	}
	p.keys = ins[0].Stage.Keys
	for _, in := range ins[1:] {
		if !sameKeySet(in.Stage.Keys, p.keys) {
			p.disjoint = true
		}
	}
	if p.disjoint {
		var sets []string
		for _, in := range ins {
			sets = append(sets, fmt.Sprintf("%s: [%s]", in.Port, strings.Join(in.Stage.Keys, ", ")))
		}
		b.Warn("inputs have different keys (%s) and significant_keys is empty: no items pair and the output stays empty; set significant_keys to the keys to pair on", strings.Join(sets, "; "))
		p.keys = nil
		return p
	}
	for j, in := range ins {
		p.proj[j] = make([]int, len(p.keys))
		for k, name := range p.keys {
			p.proj[j][k] = indexOf(in.Stage.Keys, name)
		}
	}
	return p
}

func indexOf(list []string, s string) int {
	for i, x := range list {
		if x == s {
			return i
		}
	}
	return -1
}

func sameKeySet(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	as := append([]string(nil), a...)
	bs := append([]string(nil), b...)
	sort.Strings(as)
	sort.Strings(bs)
	for i := range as {
		if as[i] != bs[i] {
			return false
		}
	}
	return true
}

// changed reports whether an input's layout changed since the last rebuild,
// and if so records the new layouts and clears the stored error.
func (p *pairing) changed() bool {
	if p.built {
		same := true
		for j, in := range p.ins {
			if in.Stage.Layout() != p.layouts[j] {
				same = false
				break
			}
		}
		if same {
			return false
		}
	}
	for j, in := range p.ins {
		p.layouts[j] = in.Stage.Layout()
	}
	p.built, p.err = true, nil
	return true
}

// project returns item i of input j projected to the output keys.
func (p *pairing) project(j, i int) []string {
	props := p.ins[j].Stage.Props(i)
	out := make([]string, len(p.proj[j]))
	for k, idx := range p.proj[j] {
		out[k] = props[idx]
	}
	return out
}

// index maps the projected key tuple of every item of input j to the item;
// two items with the same tuple are a one-to-many error.
func (p *pairing) index(j int) (map[string]int32, error) {
	st := p.ins[j].Stage
	m := make(map[string]int32, st.Len())
	for i := 0; i < st.Len(); i++ {
		k := joinProps(p.project(j, i))
		if prev, dup := m[k]; dup {
			return nil, p.duplicateError(j, int(prev), i)
		}
		m[k] = int32(i)
	}
	return m, nil
}

func (p *pairing) duplicateError(j, a, b int) error {
	in := p.ins[j]
	st := in.Stage
	return fmt.Errorf("one-to-many pairing: items {%s} and {%s} of input %q (stage %q) both have %s; significant_keys must identify at most one item per input",
		describeKeys(st.Keys, st.Props(a)), describeKeys(st.Keys, st.Props(b)), in.Port, st.Name, p.describeTuple(p.project(j, a)))
}

func (p *pairing) describeTuple(tuple []string) string {
	if len(p.keys) == 0 {
		return "no keys"
	}
	return "key {" + describeKeys(p.keys, tuple) + "}"
}

// describeKeys renders keys and values as system_id="leaf1", interface="eth0".
func describeKeys(keys, vals []string) string {
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = k + "=" + strconv.Quote(vals[i])
	}
	return strings.Join(parts, ", ")
}

// layOut gives an output stage one item per entry of props. A single-item
// output (N, DS) always holds its one item; without a row it has no value.
func layOut(st *probe.Stage, props [][]string) {
	if st == nil {
		return
	}
	if st.Type.Set {
		st.SetLayout(props)
		return
	}
	st.SetSingle()
	if len(props) == 0 {
		st.Invalidate(0)
	}
}

// pairJoin is the inner join of all inputs: one row per key tuple present in
// every input, in the order of the first input's items. Rows hold one item
// index per input.
type pairJoin struct {
	*pairing
	rows []int32 // len(ins) entries per row
	n    int
}

func newPairJoin(b *probe.Build, ins []*probe.Input, significant []string) *pairJoin {
	return &pairJoin{pairing: newPairing(b, ins, significant)}
}

// item returns the item of input j in row r.
func (p *pairJoin) item(r, j int) int { return int(p.rows[r*len(p.ins)+j]) }

// sync rebuilds the rows and lays out out when an input's layout changed. It
// returns the one-to-many error of the current layouts, if any.
func (p *pairJoin) sync(out *probe.Stage) error {
	if !p.changed() {
		return p.err
	}
	p.rows, p.n = p.rows[:0], 0
	var props [][]string
	if !p.disjoint {
		idx := make([]map[string]int32, len(p.ins))
		for j := range p.ins {
			m, err := p.index(j)
			if err != nil {
				p.err = err
				layOut(out, nil)
				return err
			}
			idx[j] = m
		}
		first := p.ins[0].Stage
		row := make([]int32, len(p.ins))
	items:
		for i := 0; i < first.Len(); i++ {
			tuple := p.project(0, i)
			k := joinProps(tuple)
			row[0] = int32(i)
			for j := 1; j < len(p.ins); j++ {
				x, ok := idx[j][k]
				if !ok {
					continue items
				}
				row[j] = x
			}
			p.rows = append(p.rows, row...)
			props = append(props, tuple)
			p.n++
		}
	}
	layOut(out, props)
	return nil
}

// valid reports whether every input item of row r has a value.
func (p *pairJoin) valid(r int) bool {
	for j, in := range p.ins {
		if !in.Stage.Valid(p.item(r, j)) {
			return false
		}
	}
	return true
}

// anySet reports whether one of the inputs is a set; the outputs of the
// joining processors are sets then, and single items otherwise.
func anySet(ins []*probe.Input) bool {
	for _, in := range ins {
		if in.Type.Set {
			return true
		}
	}
	return false
}

// copyValue copies the value of item i of in to item o of out, or
// invalidates it when the input item has none.
func copyValue(out *probe.Stage, o int, in *probe.Input, i int) {
	if !in.Stage.Valid(i) {
		out.Invalidate(o)
		return
	}
	if out.Type.Kind == probe.Number {
		out.SetNum(o, in.Num(i))
		return
	}
	out.SetStr(o, in.Str(i))
}
