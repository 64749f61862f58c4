package query

import (
	"fmt"
	"math"
	"slices"
	"strings"

	"github.com/probe-agent/probe-agent/probe/expr"
	"github.com/probe-agent/probe-agent/topology"
)

// Result is what a query matched: one row per match, each binding the
// query's variables to nodes (nil for an optional part that did not
// match). Each row is what Apstra's query API and probes call a
// query_result entry.
type Result struct {
	Vars []string
	// Warnings says why a query may match less than expected on this graph:
	// node or relationship types it names that the graph has none of
	// (overlay objects a topology file cannot describe), said once.
	Warnings []string

	g     *topology.Graph
	slots []int
	rows  []row
}

// Len is the number of rows.
func (r *Result) Len() int { return len(r.rows) }

// Row returns row i: the node bound to each of Vars (nil when unbound).
func (r *Result) Row(i int) []*topology.Node {
	out := make([]*topology.Node, len(r.slots))
	for j, s := range r.slots {
		out[j] = r.node(r.rows[i][s])
	}
	return out
}

// Get returns the node variable name binds in row i, nil when it is not a
// variable of the result or is unbound.
func (r *Result) Get(i int, name string) *topology.Node {
	j := slices.Index(r.Vars, name)
	if j < 0 {
		return nil
	}
	return r.node(r.rows[i][r.slots[j]])
}

func (r *Result) node(idx int32) *topology.Node {
	if idx < 0 {
		return nil
	}
	return r.g.Nodes()[idx]
}

// RowJSON renders row i as the query API does: {"var": {"id", "type",
// ...properties}}, null for an unbound variable.
func (r *Result) RowJSON(i int) map[string]any {
	m := make(map[string]any, len(r.slots))
	for j, s := range r.slots {
		if n := r.node(r.rows[i][s]); n != nil {
			m[r.Vars[j]] = topology.NodeJSON(n)
		} else {
			m[r.Vars[j]] = nil
		}
	}
	return m
}

// Env returns row i as an expression environment: each variable is a node
// object whose attributes are its properties (None when unset).
func (r *Result) Env(i int) expr.Env { return rowEnv{r: r, i: i} }

type rowEnv struct {
	r *Result
	i int
}

func (e rowEnv) Lookup(name string) (expr.Value, bool) {
	j := slices.Index(e.r.Vars, name)
	if j < 0 {
		return nil, false
	}
	n := e.r.node(e.r.rows[e.i][e.r.slots[j]])
	if n == nil {
		return nil, true
	}
	return NodeObject{n}, true
}

// NodeObject is a graph node as the expression evaluator sees it: a.b reads
// property b, and a property the node does not have is None, as an unset
// attribute of an Apstra graph node is.
type NodeObject struct{ N *topology.Node }

// Get implements expr.Object.
func (o NodeObject) Get(key string) (expr.Value, bool) { return o.N.Get(key), true }

// MaxRows bounds the rows one step of a match may produce, so that a query
// joining unrelated paths (a cross product) fails instead of exhausting
// memory.
const MaxRows = 1 << 20

// row holds one node index per slot, -1 when unbound.
type row []int32

type matcher struct {
	q *Query
	g *topology.Graph
	// err is the first evaluation error (a where body that failed).
	err error
}

// Match runs the query against g.
func (q *Query) Match(g *topology.Graph) (*Result, error) {
	for _, e := range q.unsupported {
		return nil, e
	}
	m := &matcher{q: q, g: g}
	start := make(row, len(q.slots))
	for i := range start {
		start[i] = -1
	}
	rows := m.evalMatch(q.root, []row{start})
	if m.err != nil {
		return nil, m.err
	}
	res := &Result{Vars: q.Vars(), g: g, slots: q.visible, rows: rows}
	var missing []string
	for _, t := range q.types {
		if !g.HasType(t) {
			missing = append(missing, t)
		}
	}
	if len(missing) > 0 {
		w := fmt.Sprintf("node types not in this topology (a topology file cannot describe them): %s", strings.Join(missing, ", "))
		if len(rows) == 0 {
			w += "; the query matches nothing"
		}
		res.Warnings = append(res.Warnings, w)
	}
	var missingRels []string
	for _, r := range q.rels {
		if !g.HasRelationshipType(r) {
			missingRels = append(missingRels, r)
		}
	}
	if len(missingRels) > 0 && len(missing) == 0 {
		w := fmt.Sprintf("relationship types not in this topology: %s", strings.Join(missingRels, ", "))
		if len(rows) == 0 {
			w += "; the query matches nothing"
		}
		res.Warnings = append(res.Warnings, w)
	}
	return res, nil
}

func (m *matcher) evalMatch(mp *matchPat, in []row) []row {
	rows := in
	for _, it := range mp.items {
		rows = m.evalItem(it, rows)
		if len(rows) == 0 {
			return nil
		}
	}
	// Constraints of the match, and those of its paths that read variables
	// bound only by a later path.
	var kept []row
	for _, r := range rows {
		if m.check(mp.cons, r) && m.checkDeferred(mp, r) {
			kept = append(kept, r)
		}
	}
	if mp.hasDistinct {
		kept = m.distinct(kept, mp.distinct)
	}
	return kept
}

func (m *matcher) checkDeferred(mp *matchPat, r row) bool {
	for _, it := range mp.items {
		if it.path == nil {
			continue
		}
		for _, c := range it.path.cons {
			if c.deferred && !m.holds(c, r) {
				return false
			}
		}
	}
	return true
}

func (m *matcher) evalItem(it *item, in []row) []row {
	switch {
	case it.path != nil:
		var out []row
		for _, r := range in {
			out = m.extendPath(it.path, r, out)
		}
		return out
	case it.match != nil:
		return m.evalMatch(it.match, in)
	}
	// optional: a left join.
	var out []row
	for _, r := range in {
		got := m.evalItem(it.optional, []row{r})
		if len(got) == 0 {
			out = append(out, r)
		} else {
			out = append(out, got...)
		}
	}
	return out
}

// visit is one node of a path in the order the walk binds them: idx, and
// how it is reached from the previously bound neighbour from (-1 for the
// anchor).
type visit struct {
	idx, from int
	useOut    bool
	rel       string
}

// plan orders a path's nodes for a walk: from the first node already bound
// by the row, else from the node with the fewest candidates, outwards.
func (m *matcher) plan(p *pathPat, r row) []visit {
	anchor := -1
	for i, np := range p.nodes {
		if r[np.slot] >= 0 {
			anchor = i
			break
		}
	}
	if anchor < 0 {
		best := math.MaxFloat64
		for i, np := range p.nodes {
			n := float64(len(m.g.Nodes()))
			if np.typ != "" {
				n = float64(len(m.g.NodesOfType(np.typ)))
			}
			n /= float64(1 + 4*len(np.conds))
			if n < best {
				best, anchor = n, i
			}
		}
	}
	order := []visit{{idx: anchor, from: -1}}
	for i := anchor + 1; i < len(p.nodes); i++ {
		st := p.steps[i-1] // nodes[i-1] -st-> nodes[i]
		order = append(order, visit{idx: i, from: i - 1, useOut: st.out, rel: st.rel})
	}
	for i := anchor - 1; i >= 0; i-- {
		st := p.steps[i] // nodes[i] -st-> nodes[i+1], walked backwards
		order = append(order, visit{idx: i, from: i + 1, useOut: !st.out, rel: st.rel})
	}
	return order
}

func (m *matcher) extendPath(p *pathPat, r row, out []row) []row {
	order := m.plan(p, r)
	work := slices.Clone(r)
	bound := make([]*topology.Node, len(p.nodes))
	var walk func(k int)
	try := func(k int, n *topology.Node) {
		np := &p.nodes[order[k].idx]
		if !nodeMatches(np, n) {
			return
		}
		s := np.slot
		prev := work[s]
		if prev >= 0 && prev != int32(n.Index()) {
			return
		}
		work[s] = int32(n.Index())
		bound[order[k].idx] = n
		walk(k + 1)
		work[s] = prev
	}
	walk = func(k int) {
		if m.err != nil {
			return
		}
		if k == len(order) {
			if m.checkLocal(p.cons, work) {
				if len(out) >= MaxRows {
					m.err = fmt.Errorf("the query matches more than %d rows", MaxRows)
					return
				}
				out = append(out, slices.Clone(work))
			}
			return
		}
		v := order[k]
		if v.from < 0 {
			np := &p.nodes[v.idx]
			if s := work[np.slot]; s >= 0 {
				try(k, m.g.Nodes()[s])
				return
			}
			cands := m.g.Nodes()
			if np.typ != "" {
				cands = m.g.NodesOfType(np.typ)
			}
			for _, n := range cands {
				try(k, n)
			}
			return
		}
		from := bound[v.from]
		edges := from.In()
		if v.useOut {
			edges = from.Out()
		}
		for _, e := range edges {
			if v.rel == "" || e.Rel == v.rel {
				try(k, e.Peer)
			}
		}
	}
	walk(0)
	return out
}

func nodeMatches(np *nodePat, n *topology.Node) bool {
	if np.typ != "" && n.Type != np.typ {
		return false
	}
	for i := range np.conds {
		if !condMatches(&np.conds[i], n) {
			return false
		}
	}
	return true
}

// condMatches tests one property matcher. A system's role also answers to
// its aliases (topology.RoleAliases: a generic server is role='server'
// for the seed's query): a positive matcher needs one of the values to
// match, a negative one (ne, not_in) none.
func condMatches(c *cond, n *topology.Node) bool {
	v := n.Get(c.key)
	ok := condValue(c, v)
	if c.key != "role" {
		return ok
	}
	aliases := topology.RoleAliases(n)
	switch c.op {
	case opNe, opNotIn:
		for _, a := range aliases {
			ok = ok && condValue(c, a)
		}
	default:
		for _, a := range aliases {
			ok = ok || condValue(c, a)
		}
	}
	return ok
}

func condValue(c *cond, v any) bool {
	switch c.op {
	case opEq:
		return equal(v, c.vals[0])
	case opNe:
		return !equal(v, c.vals[0])
	case opIn:
		for _, x := range c.vals {
			if equal(v, x) {
				return true
			}
		}
		return false
	case opNotIn:
		for _, x := range c.vals {
			if equal(v, x) {
				return false
			}
		}
		return true
	case opNotNone:
		return v != nil
	case opIsNone:
		return v == nil
	}
	a, aok := number(v)
	b, bok := number(c.vals[0])
	if !aok || !bok {
		as, aok := v.(string)
		bs, bok := c.vals[0].(string)
		if !aok || !bok {
			return false
		}
		a, b = float64(strings.Compare(as, bs)), 0
	}
	switch c.op {
	case opGt:
		return a > b
	case opGe:
		return a >= b
	case opLt:
		return a < b
	}
	return a <= b
}

func number(v any) (float64, bool) {
	switch x := v.(type) {
	case int64:
		return float64(x), true
	case int:
		return float64(x), true
	case float64:
		return x, true
	}
	return 0, false
}

func equal(a, b any) bool {
	if x, ok := number(a); ok {
		y, ok := number(b)
		return ok && x == y
	}
	switch x := a.(type) {
	case nil:
		return b == nil
	case string:
		y, ok := b.(string)
		return ok && x == y
	case bool:
		y, ok := b.(bool)
		return ok && x == y
	}
	return false
}

// checkLocal applies a path's own constraints at the path's end; the
// deferred ones wait for the enclosing match.
func (m *matcher) checkLocal(cons []*constraint, r row) bool {
	for _, c := range cons {
		if !c.deferred && !m.holds(c, r) {
			return false
		}
	}
	return true
}

// check applies a match's constraints to a row.
func (m *matcher) check(cons []*constraint, r row) bool {
	for _, c := range cons {
		if !m.holds(c, r) {
			return false
		}
	}
	return true
}

func (m *matcher) holds(c *constraint, r row) bool {
	switch c.kind {
	case consDifferent:
		for i, a := range c.slots {
			for _, b := range c.slots[i+1:] {
				if r[a] >= 0 && r[a] == r[b] {
					return false
				}
			}
		}
		return true
	case consHaving:
		n := len(m.evalItem(c.sub, []row{r}))
		return (c.atLeast < 0 || n >= c.atLeast) && (c.atMost < 0 || n <= c.atMost)
	}
	if c.identity != 0 {
		a, b := r[c.slots[0]], r[c.slots[1]]
		return (a == b) == (c.identity > 0)
	}
	env := expr.MapEnv{}
	for i, name := range c.names {
		if idx := r[c.slots[i]]; idx >= 0 {
			env[name] = NodeObject{m.g.Nodes()[idx]}
		} else {
			env[name] = nil
		}
	}
	v, err := c.body.Eval(env)
	if err != nil {
		if m.err == nil {
			m.err = fmt.Errorf("where(lambda %s: ...): %w", strings.Join(c.names, ", "), err)
		}
		return false
	}
	return truthy(v)
}

// truthy is Python's truth value of an expression result.
func truthy(v any) bool { return expr.Truthy(v) }

// distinct keeps the first row of each combination of the given slots (all
// named variables when none are given).
func (m *matcher) distinct(rows []row, slots []int) []row {
	if len(slots) == 0 {
		for s, name := range m.q.slots {
			if name != "" {
				slots = append(slots, s)
			}
		}
	}
	seen := map[string]bool{}
	var out []row
	key := make([]byte, 0, 4*len(slots))
	for _, r := range rows {
		key = key[:0]
		for _, s := range slots {
			v := r[s]
			key = append(key, byte(v), byte(v>>8), byte(v>>16), byte(v>>24))
		}
		if seen[string(key)] {
			continue
		}
		seen[string(key)] = true
		out = append(out, r)
	}
	return out
}
