package query

import (
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/probe-agent/probe-agent/probe/expr"
)

// MaxLen is the longest query accepted, in bytes; MaxDepth bounds the
// nesting of match, optional and having.
const (
	MaxLen   = 64 << 10
	MaxDepth = 32
)

// SyntaxError is a query that does not parse: Pos is the byte offset of
// the problem in Src.
type SyntaxError struct {
	Src string
	Pos int
	Msg string
}

// LineCol returns the 1-based line and column of the error.
func (e *SyntaxError) LineCol() (int, int) {
	line, col := 1, 1
	for i := 0; i < e.Pos && i < len(e.Src); i++ {
		if e.Src[i] == '\n' {
			line, col = line+1, 1
		} else {
			col++
		}
	}
	return line, col
}

func (e *SyntaxError) Error() string {
	line, col := e.LineCol()
	if strings.Contains(e.Src, "\n") {
		return fmt.Sprintf("graph query: line %d, column %d: %s", line, col, e.Msg)
	}
	return fmt.Sprintf("graph query: column %d: %s", col, e.Msg)
}

// Query is a parsed graph query. It is immutable and safe for concurrent
// use; Match runs it against a graph.
type Query struct {
	src  string
	root *matchPat
	// slots names every node variable; anonymous nodes have "".
	slots   []string
	visible []int // the named slots a row shows, in order of appearance
	types   []string
	rels    []string
	// unsupported lists where() bodies the expression evaluator refused.
	unsupported []error
}

// String returns the query's source.
func (q *Query) String() string { return q.src }

// Vars lists the variables a result row binds, in order of first
// appearance (nodes named inside having() are not part of rows).
func (q *Query) Vars() []string {
	out := make([]string, len(q.visible))
	for i, s := range q.visible {
		out[i] = q.slots[s]
	}
	return out
}

// NodeTypes lists the node types the query names, sorted.
func (q *Query) NodeTypes() []string { return q.types }

// Unsupported lists the where() bodies that parse as a query but that the
// expression evaluator cannot run; matching such a query fails with the
// same error.
func (q *Query) Unsupported() []error { return q.unsupported }

type op int

const (
	opEq op = iota
	opNe
	opIn
	opNotIn
	opNotNone
	opIsNone
	opGt
	opGe
	opLt
	opLe
)

type cond struct {
	key  string
	op   op
	vals []any
}

type nodePat struct {
	pos   int
	typ   string
	slot  int
	conds []cond
}

type step struct {
	out bool
	rel string
}

type pathPat struct {
	nodes []nodePat
	steps []step // steps[i] joins nodes[i] and nodes[i+1]
	cons  []*constraint
}

type matchPat struct {
	items       []*item
	cons        []*constraint
	distinct    []int
	hasDistinct bool
}

type item struct {
	path     *pathPat
	match    *matchPat
	optional *item
}

type consKind int

const (
	consDifferent consKind = iota
	consWhere
	consHaving
)

type constraint struct {
	kind  consKind
	pos   int
	names []string
	slots []int
	// where
	body     *expr.Expr
	err      error
	identity int // 0: evaluate body; 1: params are the same node; -1: different nodes
	// deferred marks a path's constraint that reads variables bound
	// outside the path: the enclosing match checks it.
	deferred bool
	// having
	sub             *item
	atLeast, atMost int
}

type parser struct {
	src    string
	toks   []token
	i      int
	depth  int
	having int
	q      *Query
	bySlot map[string]int
	pend   []*constraint // constraints whose names resolve at the end
	paths  []*pathPat
	distQ  []*distinctRef
	types  map[string]bool
	rels   map[string]bool
}

type distinctRef struct {
	m     *matchPat
	names []string
	pos   int
}

// Parse parses a graph query in Apstra's query language (see
// docs/topology.md for what is supported).
func Parse(src string) (*Query, error) {
	if len(src) > MaxLen {
		return nil, &SyntaxError{Src: src, Pos: MaxLen, Msg: fmt.Sprintf("query longer than %d bytes", MaxLen)}
	}
	toks, err := lex(src)
	if err != nil {
		se := err.(*SyntaxError)
		se.Src = src
		return nil, se
	}
	p := &parser{src: src, toks: toks, q: &Query{src: src}, bySlot: map[string]int{}, types: map[string]bool{}, rels: map[string]bool{}}
	if p.peek().kind == tkEOF {
		return nil, p.errAt(0, "empty query: expected node(...) or match(...)")
	}
	it, err := p.chain(false)
	if err != nil {
		return nil, err
	}
	if t := p.peek(); t.kind != tkEOF {
		return nil, p.errAt(t.pos, "expected end of query or .method(...), found %s", t.describe())
	}
	root := it.match
	if root == nil {
		root = &matchPat{items: []*item{it}}
	}
	p.q.root = root
	if err := p.resolveNames(); err != nil {
		return nil, err
	}
	for t := range p.types {
		p.q.types = append(p.q.types, t)
	}
	slices.Sort(p.q.types)
	for r := range p.rels {
		p.q.rels = append(p.q.rels, r)
	}
	slices.Sort(p.q.rels)
	return p.q, nil
}

func (p *parser) errAt(pos int, format string, args ...any) error {
	return &SyntaxError{Src: p.src, Pos: pos, Msg: fmt.Sprintf(format, args...)}
}

func (p *parser) peek() token  { return p.toks[p.i] }
func (p *parser) peek2() token { return p.toks[min(p.i+1, len(p.toks)-1)] }
func (p *parser) next() token {
	t := p.toks[p.i]
	if t.kind != tkEOF {
		p.i++
	}
	return t
}

func (p *parser) isPunct(s string) bool { t := p.peek(); return t.kind == tkPunct && t.text == s }

func (p *parser) expect(s, what string) (token, error) {
	t := p.peek()
	if t.kind != tkPunct || t.text != s {
		return t, p.errAt(t.pos, "expected '%s' %s, found %s", s, what, t.describe())
	}
	return p.next(), nil
}

// slotFor returns the slot of a named variable, creating it; "" makes an
// anonymous slot.
func (p *parser) slotFor(name string) int {
	if name != "" {
		if s, ok := p.bySlot[name]; ok {
			return s
		}
	}
	s := len(p.q.slots)
	p.q.slots = append(p.q.slots, name)
	if name != "" {
		p.bySlot[name] = s
		if p.having == 0 {
			p.q.visible = append(p.q.visible, s)
		}
	}
	return s
}

// chain parses node(...)..., match(...)... or (inside a match)
// optional(...).
func (p *parser) chain(inMatch bool) (*item, error) {
	p.depth++
	defer func() { p.depth-- }()
	t := p.peek()
	if p.depth > MaxDepth {
		return nil, p.errAt(t.pos, "nesting deeper than %d", MaxDepth)
	}
	if t.kind != tkIdent {
		return nil, p.errAt(t.pos, "expected node(...), match(...) or optional(...), found %s", t.describe())
	}
	switch t.text {
	case "node":
		p.next()
		return p.path()
	case "match":
		p.next()
		return p.match()
	case "optional":
		if !inMatch {
			return nil, p.errAt(t.pos, "optional(...) is only allowed as an argument of match(...)")
		}
		p.next()
		if _, err := p.expect("(", "after optional"); err != nil {
			return nil, err
		}
		inner, err := p.chain(false)
		if err != nil {
			return nil, err
		}
		if _, err := p.expect(")", "to close optional("); err != nil {
			return nil, err
		}
		return &item{optional: inner}, nil
	}
	return nil, p.errAt(t.pos, "expected node(...), match(...) or optional(...), found %s", t.describe())
}

var pathMethods = "out, in_, node, where, ensure_different, having, distinct, select"

func (p *parser) path() (*item, error) {
	np, err := p.nodeArgs()
	if err != nil {
		return nil, err
	}
	path := &pathPat{nodes: []nodePat{np}}
	p.paths = append(p.paths, path)
	it := &item{path: path}
	for p.isPunct(".") {
		p.next()
		m := p.peek()
		if m.kind != tkIdent {
			return nil, p.errAt(m.pos, "expected a method name after '.' (%s), found %s", pathMethods, m.describe())
		}
		p.next()
		switch m.text {
		case "out", "in_":
			st, err := p.stepArgs(m.text == "out")
			if err != nil {
				return nil, err
			}
			path.steps = append(path.steps, st)
			if p.isPunct(".") && p.peek2().kind == tkIdent && p.peek2().text == "node" {
				p.next()
				p.next()
				np, err := p.nodeArgs()
				if err != nil {
					return nil, err
				}
				path.nodes = append(path.nodes, np)
			} else {
				path.nodes = append(path.nodes, nodePat{pos: m.pos, slot: p.slotFor("")})
			}
		case "node":
			return nil, p.errAt(m.pos, "expected .out(...) or .in_(...) between two nodes")
		case "where", "ensure_different", "having":
			c, err := p.constraintArgs(m)
			if err != nil {
				return nil, err
			}
			path.cons = append(path.cons, c)
		case "distinct", "select":
			// The rest of the chain applies to the path's rows as a whole.
			mp := &matchPat{items: []*item{it}}
			p.i -= 2 // back to the '.'
			if err := p.matchMethods(mp); err != nil {
				return nil, err
			}
			return &item{match: mp}, nil
		default:
			return nil, p.errAt(m.pos, "unknown method %q on a path (known: %s)", m.text, pathMethods)
		}
	}
	return it, nil
}

func (p *parser) match() (*item, error) {
	open, err := p.expect("(", "after match")
	if err != nil {
		return nil, err
	}
	m := &matchPat{}
	for !p.isPunct(")") {
		it, err := p.chain(true)
		if err != nil {
			return nil, err
		}
		m.items = append(m.items, it)
		if !p.isPunct(",") {
			break
		}
		p.next()
	}
	if _, err := p.expect(")", "to close match( or ',' between its paths"); err != nil {
		return nil, err
	}
	if len(m.items) == 0 {
		return nil, p.errAt(open.pos, "match() needs at least one path")
	}
	if err := p.matchMethods(m); err != nil {
		return nil, err
	}
	return &item{match: m}, nil
}

var matchMethodList = "where, ensure_different, having, distinct, select"

func (p *parser) matchMethods(m *matchPat) error {
	for p.isPunct(".") {
		p.next()
		t := p.peek()
		if t.kind != tkIdent {
			return p.errAt(t.pos, "expected a method name after '.' (%s), found %s", matchMethodList, t.describe())
		}
		p.next()
		switch t.text {
		case "where", "ensure_different", "having":
			c, err := p.constraintArgs(t)
			if err != nil {
				return err
			}
			m.cons = append(m.cons, c)
		case "distinct":
			names, err := p.distinctArgs()
			if err != nil {
				return err
			}
			m.hasDistinct = true
			p.distQ = append(p.distQ, &distinctRef{m: m, names: names, pos: t.pos})
		case "select":
			names, err := p.nameArgs("select")
			if err != nil {
				return err
			}
			if p.depth > 1 || p.having > 0 {
				// Only the outermost select shapes the rows; an inner one
				// does not hide variables the rest of the query joins on.
				continue
			}
			var vis []int
			for _, n := range names {
				s, ok := p.bySlot[n]
				if !ok {
					return p.errAt(t.pos, "select: unknown variable %q%s", n, p.known())
				}
				vis = append(vis, s)
			}
			p.q.visible = vis
		case "out", "in_", "node":
			return p.errAt(t.pos, ".%s(...) cannot follow match(...) or distinct(); start the path inside match(...)", t.text)
		default:
			return p.errAt(t.pos, "unknown method %q (known here: %s)", t.text, matchMethodList)
		}
	}
	return nil
}

func (p *parser) known() string {
	var names []string
	for _, n := range p.q.slots {
		if n != "" {
			names = append(names, n)
		}
	}
	if len(names) == 0 {
		return " (the query names no variables)"
	}
	return " (known: " + strings.Join(names, ", ") + ")"
}

// nodeArgs parses (type?, name=..., prop=matcher, ...).
func (p *parser) nodeArgs() (nodePat, error) {
	open, err := p.expect("(", "after node")
	if err != nil {
		return nodePat{}, err
	}
	np := nodePat{pos: open.pos, slot: -1}
	name := ""
	first := true
	for !p.isPunct(")") {
		t := p.peek()
		switch {
		case t.kind == tkString && first:
			p.next()
			np.typ = t.text
		case t.kind == tkIdent && p.peek2().kind == tkPunct && p.peek2().text == "=":
			p.next()
			p.next()
			switch t.text {
			case "type", "name":
				v := p.peek()
				if v.kind != tkString {
					return np, p.errAt(v.pos, "%s= expects a string, found %s", t.text, v.describe())
				}
				p.next()
				if t.text == "type" {
					np.typ = v.text
				} else {
					name = v.text
				}
			default:
				c, err := p.matcher(t.text)
				if err != nil {
					return np, err
				}
				np.conds = append(np.conds, c)
			}
		default:
			if t.kind == tkString {
				return np, p.errAt(t.pos, "the node type must be the first argument; other arguments are key=value")
			}
			return np, p.errAt(t.pos, "expected a node type string or key=value, found %s", t.describe())
		}
		first = false
		if !p.isPunct(",") {
			break
		}
		p.next()
	}
	if _, err := p.expect(")", "to close node("); err != nil {
		return np, err
	}
	if np.typ != "" {
		p.types[np.typ] = true
	}
	np.slot = p.slotFor(name)
	return np, nil
}

var matcherNames = "is_in, not_in, ne, eq, not_none, is_none, gt, ge, lt, le"

// matcher parses the value of prop=...: a literal (equality) or a matcher
// call.
func (p *parser) matcher(key string) (cond, error) {
	t := p.peek()
	if t.kind == tkIdent && p.peek2().kind == tkPunct && p.peek2().text == "(" {
		p.next()
		p.next()
		c := cond{key: key}
		var err error
		switch t.text {
		case "is_in", "not_in":
			c.op = opIn
			if t.text == "not_in" {
				c.op = opNotIn
			}
			c.vals, err = p.literalList()
		case "ne", "eq", "gt", "ge", "lt", "le":
			c.op = map[string]op{"ne": opNe, "eq": opEq, "gt": opGt, "ge": opGe, "lt": opLt, "le": opLe}[t.text]
			var v any
			v, err = p.literal()
			c.vals = []any{v}
		case "not_none", "is_none":
			c.op = opNotNone
			if t.text == "is_none" {
				c.op = opIsNone
			}
		default:
			return c, p.errAt(t.pos, "unknown matcher %s() for %s (known: %s)", t.text, key, matcherNames)
		}
		if err != nil {
			return c, err
		}
		if _, err := p.expect(")", "to close "+t.text+"("); err != nil {
			return c, err
		}
		return c, nil
	}
	v, err := p.literal()
	if err != nil {
		return cond{}, err
	}
	return cond{key: key, op: opEq, vals: []any{v}}, nil
}

func (p *parser) literal() (any, error) {
	t := p.next()
	switch t.kind {
	case tkString:
		return t.text, nil
	case tkInt:
		n, err := strconv.ParseInt(strings.ReplaceAll(t.text, "_", ""), 10, 64)
		if err != nil {
			return nil, p.errAt(t.pos, "bad integer %s", t.text)
		}
		return n, nil
	case tkFloat:
		f, err := strconv.ParseFloat(strings.ReplaceAll(t.text, "_", ""), 64)
		if err != nil {
			return nil, p.errAt(t.pos, "bad number %s", t.text)
		}
		return f, nil
	case tkIdent:
		switch t.text {
		case "True":
			return true, nil
		case "False":
			return false, nil
		case "None":
			return nil, nil
		}
		return nil, p.errAt(t.pos, "expected a value (string, number, True, False, None or a matcher such as not_none()), found %s", t.describe())
	}
	return nil, p.errAt(t.pos, "expected a value (string, number, True, False, None or a matcher such as not_none()), found %s", t.describe())
}

func (p *parser) literalList() ([]any, error) {
	if _, err := p.expect("[", "to start a list"); err != nil {
		return nil, err
	}
	var out []any
	for !p.isPunct("]") {
		v, err := p.literal()
		if err != nil {
			return nil, err
		}
		out = append(out, v)
		if !p.isPunct(",") {
			break
		}
		p.next()
	}
	if _, err := p.expect("]", "to close the list"); err != nil {
		return nil, err
	}
	return out, nil
}

// stepArgs parses out(...)/in_(...): an optional relationship type,
// positional or as type=.
func (p *parser) stepArgs(out bool) (step, error) {
	st := step{out: out}
	if _, err := p.expect("(", "after out/in_"); err != nil {
		return st, err
	}
	t := p.peek()
	switch {
	case t.kind == tkString:
		p.next()
		st.rel = t.text
	case t.kind == tkIdent && t.text == "type" && p.peek2().text == "=":
		p.next()
		p.next()
		v := p.next()
		if v.kind != tkString {
			return st, p.errAt(v.pos, "type= expects a relationship type string, found %s", v.describe())
		}
		st.rel = v.text
	}
	if _, err := p.expect(")", "to close the relationship step (one relationship type string)"); err != nil {
		return st, err
	}
	if st.rel != "" {
		p.rels[st.rel] = true
	}
	return st, nil
}

// nameArgs parses ('a', 'b', ...) or (['a', 'b']).
func (p *parser) nameArgs(what string) ([]string, error) {
	if _, err := p.expect("(", "after "+what); err != nil {
		return nil, err
	}
	var names []string
	if p.isPunct("[") {
		vals, err := p.literalList()
		if err != nil {
			return nil, err
		}
		for _, v := range vals {
			s, ok := v.(string)
			if !ok {
				return nil, p.errAt(p.peek().pos, "%s: variable names must be strings", what)
			}
			names = append(names, s)
		}
	} else {
		for !p.isPunct(")") {
			t := p.next()
			if t.kind != tkString {
				return nil, p.errAt(t.pos, "%s: expected a variable name string, found %s", what, t.describe())
			}
			names = append(names, t.text)
			if !p.isPunct(",") {
				break
			}
			p.next()
		}
	}
	if _, err := p.expect(")", "to close "+what+"("); err != nil {
		return nil, err
	}
	return names, nil
}

// distinctArgs parses (), (['a', 'b']) or (names=['a', 'b']).
func (p *parser) distinctArgs() ([]string, error) {
	if p.peek2().kind == tkIdent && p.peek2().text == "names" {
		p.next()
		p.next()
		if _, err := p.expect("=", "after names"); err != nil {
			return nil, err
		}
		vals, err := p.literalList()
		if err != nil {
			return nil, err
		}
		var names []string
		for _, v := range vals {
			s, ok := v.(string)
			if !ok {
				return nil, p.errAt(p.peek().pos, "distinct: variable names must be strings")
			}
			names = append(names, s)
		}
		_, err = p.expect(")", "to close distinct(")
		return names, err
	}
	return p.nameArgs("distinct")
}

var identityBody = regexp.MustCompile(`^\s*([A-Za-z_][A-Za-z0-9_]*)\s*(!=|==|is not|is)\s*([A-Za-z_][A-Za-z0-9_]*)\s*$`)

func (p *parser) constraintArgs(m token) (*constraint, error) {
	c := &constraint{pos: m.pos}
	switch m.text {
	case "ensure_different":
		c.kind = consDifferent
		names, err := p.nameArgs("ensure_different")
		if err != nil {
			return nil, err
		}
		if len(names) < 2 {
			return nil, p.errAt(m.pos, "ensure_different needs at least two variable names")
		}
		c.names = names
	case "where":
		c.kind = consWhere
		if err := p.lambda(c); err != nil {
			return nil, err
		}
	case "having":
		c.kind = consHaving
		if _, err := p.expect("(", "after having"); err != nil {
			return nil, err
		}
		p.having++
		sub, err := p.chain(false)
		p.having--
		if err != nil {
			return nil, err
		}
		c.sub = sub
		c.atLeast, c.atMost = -1, -1
		for p.isPunct(",") {
			p.next()
			k := p.next()
			if k.kind != tkIdent || (k.text != "at_least" && k.text != "at_most") {
				return nil, p.errAt(k.pos, "having: expected at_least= or at_most=, found %s", k.describe())
			}
			if _, err := p.expect("=", "after "+k.text); err != nil {
				return nil, err
			}
			v := p.next()
			n, err := strconv.Atoi(v.text)
			if v.kind != tkInt || err != nil || n < 0 {
				return nil, p.errAt(v.pos, "having: %s expects a non-negative integer, found %s", k.text, v.describe())
			}
			if k.text == "at_least" {
				c.atLeast = n
			} else {
				c.atMost = n
			}
		}
		if c.atLeast < 0 && c.atMost < 0 {
			c.atLeast = 1
		}
		if _, err := p.expect(")", "to close having("); err != nil {
			return nil, err
		}
	}
	p.pend = append(p.pend, c)
	return c, nil
}

// lambda parses (lambda a, b: body): the body is handed, as text, to the
// expression evaluator, with the parameters bound to the query's nodes.
func (p *parser) lambda(c *constraint) error {
	if _, err := p.expect("(", "after where"); err != nil {
		return err
	}
	t := p.next()
	if t.kind != tkIdent || t.text != "lambda" {
		return p.errAt(t.pos, "where expects a lambda (lambda a, b: ...), found %s", t.describe())
	}
	for !p.isPunct(":") {
		n := p.next()
		if n.kind != tkIdent {
			return p.errAt(n.pos, "lambda: expected a parameter name or ':', found %s", n.describe())
		}
		c.names = append(c.names, n.text)
		if !p.isPunct(",") {
			break
		}
		p.next()
	}
	colon, err := p.expect(":", "after the lambda's parameters")
	if err != nil {
		return err
	}
	depth := 0
	start := colon.end
	for {
		t := p.peek()
		if t.kind == tkEOF {
			return p.errAt(t.pos, "unterminated where(lambda ...): expected ')'")
		}
		if t.kind == tkPunct {
			switch t.text {
			case "(", "[":
				depth++
			case "]":
				depth--
			case ")":
				if depth == 0 {
					body := p.src[start:t.pos]
					p.next()
					return p.compileBody(c, body, start)
				}
				depth--
			}
		}
		p.next()
	}
}

func (p *parser) compileBody(c *constraint, body string, pos int) error {
	if strings.TrimSpace(body) == "" {
		return p.errAt(pos, "empty lambda body")
	}
	if m := identityBody.FindStringSubmatch(body); m != nil && slices.Contains(c.names, m[1]) && slices.Contains(c.names, m[3]) {
		// Node identity (system != remote_system) is decided here: the
		// evaluator compares values, and two node objects are never equal
		// there.
		c.identity = -1
		if m[2] == "==" || m[2] == "is" {
			c.identity = 1
		}
		return nil
	}
	e, err := expr.Parse(body)
	if err != nil {
		c.err = fmt.Errorf("where(lambda %s: %s): %w", strings.Join(c.names, ", "), strings.TrimSpace(body), err)
		p.q.unsupported = append(p.q.unsupported, c.err)
		return nil
	}
	for _, n := range e.Names() {
		if !slices.Contains(c.names, n) {
			return p.errAt(pos, "the lambda body reads %q, which is not one of its parameters (%s)", n, strings.Join(c.names, ", "))
		}
	}
	c.body = e
	return nil
}

// resolveNames binds the variable names of constraints and distinct to
// slots once the whole query is read (a name may be defined after it is
// used).
func (p *parser) resolveNames() error {
	for _, c := range p.pend {
		for _, n := range c.names {
			s, ok := p.bySlot[n]
			if !ok {
				return p.errAt(c.pos, "unknown variable %q%s", n, p.known())
			}
			c.slots = append(c.slots, s)
		}
	}
	for _, path := range p.paths {
		for _, c := range path.cons {
			for _, s := range c.slots {
				if !slices.ContainsFunc(path.nodes, func(np nodePat) bool { return np.slot == s }) {
					c.deferred = true
				}
			}
		}
	}
	for _, d := range p.distQ {
		if len(d.names) == 0 {
			d.m.distinct = nil
			continue
		}
		for _, n := range d.names {
			s, ok := p.bySlot[n]
			if !ok {
				return p.errAt(d.pos, "distinct: unknown variable %q%s", n, p.known())
			}
			d.m.distinct = append(d.m.distinct, s)
		}
	}
	return nil
}
