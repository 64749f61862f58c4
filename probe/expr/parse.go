package expr

import (
	"fmt"
	"slices"
	"strings"
)

// AST nodes. Each is evaluated by (*evaluator).eval.
type (
	node any

	litNode   struct{ v Value }
	nameNode  struct{ name string }
	unaryNode struct {
		op string // "-" or "+"
		x  node
	}
	binNode struct {
		op   string // + - * / // %
		x, y node
	}
	boolNode struct {
		and  bool
		x, y node
	}
	notNode     struct{ x node }
	compareNode struct {
		ops []string // == != < <= > >= in "not in" is "is not"
		xs  []node   // len(ops)+1 operands
	}
	condNode  struct{ then, cond, els node }
	listNode  struct{ elems []node }
	tupleNode struct{ elems []node }
	setNode   struct{ elems []node }
	dictNode  struct{ keys, vals []node }
	indexNode struct{ x, i node }
	sliceNode struct{ x, lo, hi node } // lo, hi may be nil
	attrNode  struct {
		x    node
		name string
	}
	callNode struct {
		fn      string // a key of builtinFuncs, or speed_to_bits
		args    []node
		deflt   node // default= of speed_to_bits, min and max
		hasDeft bool
		reverse node // reverse= of sorted
	}
	methodNode struct {
		recv node
		name string
		args []node
	}
	compNode struct {
		kind    compKind
		key     node // dict comprehensions: the key; elem is the value
		elem    node
		clauses []compClause
	}
	compClause struct {
		isFor bool
		v     string // loop variable (for)
		x     node   // iterable (for) or condition (if)
	}
)

// compKind is what a comprehension builds.
type compKind int

const (
	compList compKind = iota // [e for ...]
	compGen                  // f(e for ...): a generator as a call's only argument, evaluated as a list
	compSet                  // {e for ...}
	compDict                 // {k: v for ...}
)

// builtin is what a call to a built-in function may pass.
type builtin struct {
	min, max int      // positional arguments
	iterable bool     // its argument may be a generator expression
	keywords []string // keyword arguments it takes
}

// Functions and methods an expression may call.
var (
	builtinFuncs = map[string]builtin{
		"int": {min: 1, max: 1}, "str": {min: 1, max: 1}, "float": {min: 1, max: 1}, "len": {min: 1, max: 1},
		"bool": {max: 1}, "abs": {min: 1, max: 1}, "round": {min: 1, max: 2},
		"sum": {min: 1, max: 2, iterable: true},
		"min": {min: 1, max: MaxListLen, iterable: true, keywords: []string{"default"}},
		"max": {min: 1, max: MaxListLen, iterable: true, keywords: []string{"default"}},
		"any": {min: 1, max: 1, iterable: true}, "all": {min: 1, max: 1, iterable: true},
		"sorted": {min: 1, max: 1, iterable: true, keywords: []string{"reverse"}},
		"list":   {max: 1, iterable: true}, "set": {max: 1, iterable: true}, "tuple": {max: 1, iterable: true},
	}
	// stringMethods maps each method to its minimum and maximum arguments.
	stringMethods = map[string][2]int{
		"split": {0, 2}, "join": {1, 1}, "replace": {2, 3}, "strip": {0, 1},
		"lower": {0, 0}, "upper": {0, 0}, "startswith": {1, 1}, "endswith": {1, 1},
		"partition": {1, 1}, "rpartition": {1, 1}, "find": {1, 3}, "rfind": {1, 3}, "count": {1, 3},
		"lstrip": {0, 1}, "rstrip": {0, 1}, "rsplit": {0, 2}, "title": {0, 0}, "capitalize": {0, 0},
		"isdigit": {0, 0},
	}
	allowedCalls = "int(), str(), float(), bool(), len(), abs(), round(), sum(), min(), max(), any(), all(), " +
		"sorted(), list(), set(), tuple(), functions.speed_to_bits() and the string methods " +
		"split, rsplit, join, replace, strip, lstrip, rstrip, lower, upper, title, capitalize, " +
		"startswith, endswith, partition, rpartition, find, rfind, count, isdigit"
	// statements and other Python keywords that have no place in an expression.
	forbiddenKeywords = map[string]bool{
		"import": true, "from": true, "def": true, "class": true, "return": true, "yield": true,
		"del": true, "global": true, "nonlocal": true, "assert": true, "with": true, "as": true,
		"try": true, "except": true, "finally": true, "raise": true, "while": true, "pass": true,
		"break": true, "continue": true, "async": true, "await": true, "elif": true,
	}
)

type parser struct {
	src   string
	toks  []token
	i     int
	depth int
	// genAt is the token index where a parenthesized generator
	// expression may start: the start of an argument of a function that
	// takes an iterable, max((x for x in xs), default=0).
	genAt int
}

func (p *parser) peek() token { return p.toks[p.i] }

func (p *parser) next() token {
	t := p.toks[p.i]
	if t.kind != tkEOF {
		p.i++
	}
	return t
}

func (p *parser) isOp(op string) bool {
	t := p.peek()
	return t.kind == tkOp && t.text == op
}

func (p *parser) isKeyword(kw string) bool {
	t := p.peek()
	return t.kind == tkName && t.text == kw
}

func (p *parser) errAt(pos int, format string, args ...any) error {
	return &SyntaxError{Src: p.src, Pos: pos, Msg: fmt.Sprintf(format, args...)}
}

func (p *parser) expectOp(op string) error {
	if p.isOp(op) {
		p.next()
		return nil
	}
	return p.unexpected(fmt.Sprintf("expected %q", op))
}

// unexpected explains the token at hand, naming constructs that are not
// allowed rather than only saying "syntax error".
func (p *parser) unexpected(want string) error {
	t := p.peek()
	if t.kind == tkOp {
		switch t.text {
		case "=":
			return p.errAt(t.pos, "assignment is not allowed (use == to compare)")
		case ":=":
			return p.errAt(t.pos, "assignment (:=) is not allowed")
		case ";":
			return p.errAt(t.pos, "statements are not allowed, only one expression")
		case "**":
			return p.errAt(t.pos, "operator ** is not allowed")
		case "@", "&", "|", "^", "~", "<<", ">>", "->":
			return p.errAt(t.pos, "operator %s is not allowed", t.text)
		}
	}
	if t.kind == tkName {
		if msg := keywordMessage(t.text); msg != "" {
			return p.errAt(t.pos, "%s", msg)
		}
	}
	return p.errAt(t.pos, "%s, found %s", want, t)
}

func keywordMessage(name string) string {
	switch {
	case name == "lambda":
		return "lambda is not allowed"
	case forbiddenKeywords[name]:
		return fmt.Sprintf("%q is not allowed: only a single expression is evaluated", name)
	}
	return ""
}

func (p *parser) enter() error {
	p.depth++
	if p.depth > MaxDepth {
		return p.errAt(p.peek().pos, "expression nested too deeply (more than %d levels)", MaxDepth)
	}
	return nil
}

func (p *parser) leave() { p.depth-- }

// test := or_test ['if' or_test 'else' test]
func (p *parser) test() (node, error) {
	if err := p.enter(); err != nil {
		return nil, err
	}
	defer p.leave()
	if p.isKeyword("lambda") {
		return nil, p.unexpected("")
	}
	x, err := p.orTest()
	if err != nil {
		return nil, err
	}
	if !p.isKeyword("if") {
		return x, nil
	}
	p.next()
	c, err := p.orTest()
	if err != nil {
		return nil, err
	}
	if !p.isKeyword("else") {
		return nil, p.unexpected(`expected "else" in conditional expression`)
	}
	p.next()
	e, err := p.test()
	if err != nil {
		return nil, err
	}
	return &condNode{then: x, cond: c, els: e}, nil
}

func (p *parser) orTest() (node, error) {
	x, err := p.andTest()
	for err == nil && p.isKeyword("or") {
		p.next()
		var y node
		if y, err = p.andTest(); err == nil {
			x = &boolNode{x: x, y: y}
		}
	}
	return x, err
}

func (p *parser) andTest() (node, error) {
	x, err := p.notTest()
	for err == nil && p.isKeyword("and") {
		p.next()
		var y node
		if y, err = p.notTest(); err == nil {
			x = &boolNode{and: true, x: x, y: y}
		}
	}
	return x, err
}

func (p *parser) notTest() (node, error) {
	if !p.isKeyword("not") {
		return p.comparison()
	}
	if err := p.enter(); err != nil {
		return nil, err
	}
	defer p.leave()
	p.next()
	x, err := p.notTest()
	if err != nil {
		return nil, err
	}
	return &notNode{x: x}, nil
}

func (p *parser) compareOp() (string, bool) {
	t := p.peek()
	switch {
	case t.kind == tkOp && (t.text == "==" || t.text == "!=" || t.text == "<" || t.text == "<=" || t.text == ">" || t.text == ">="):
		p.next()
		return t.text, true
	case t.kind == tkName && t.text == "in":
		p.next()
		return "in", true
	case t.kind == tkName && t.text == "not" && p.toks[p.i+1].kind == tkName && p.toks[p.i+1].text == "in":
		p.next()
		p.next()
		return "not in", true
	case t.kind == tkName && t.text == "is":
		p.next()
		if p.isKeyword("not") {
			p.next()
			return "is not", true
		}
		return "is", true
	}
	return "", false
}

func (p *parser) comparison() (node, error) {
	x, err := p.arith()
	if err != nil {
		return nil, err
	}
	var cmp *compareNode
	for {
		op, ok := p.compareOp()
		if !ok {
			break
		}
		y, err := p.arith()
		if err != nil {
			return nil, err
		}
		if cmp == nil {
			cmp = &compareNode{xs: []node{x}}
		}
		cmp.ops = append(cmp.ops, op)
		cmp.xs = append(cmp.xs, y)
	}
	if cmp == nil {
		return x, nil
	}
	return cmp, nil
}

func (p *parser) arith() (node, error) {
	x, err := p.term()
	for err == nil && (p.isOp("+") || p.isOp("-")) {
		op := p.next().text
		var y node
		if y, err = p.term(); err == nil {
			x = &binNode{op: op, x: x, y: y}
		}
	}
	return x, err
}

func (p *parser) term() (node, error) {
	x, err := p.factor()
	for err == nil && (p.isOp("*") || p.isOp("/") || p.isOp("//") || p.isOp("%")) {
		op := p.next().text
		var y node
		if y, err = p.factor(); err == nil {
			x = &binNode{op: op, x: x, y: y}
		}
	}
	return x, err
}

func (p *parser) factor() (node, error) {
	if !p.isOp("-") && !p.isOp("+") {
		return p.power()
	}
	if err := p.enter(); err != nil {
		return nil, err
	}
	defer p.leave()
	op := p.next().text
	x, err := p.factor()
	if err != nil {
		return nil, err
	}
	// Fold a negative literal so that -9223372036854775808 is not needed
	// and constants stay constants.
	if l, ok := x.(*litNode); ok && op == "-" {
		switch v := l.v.(type) {
		case int64:
			return &litNode{v: -v}, nil
		case float64:
			return &litNode{v: -v}, nil
		}
	}
	return &unaryNode{op: op, x: x}, nil
}

func (p *parser) power() (node, error) {
	x, err := p.primary()
	if err == nil && p.isOp("**") {
		return nil, p.unexpected("")
	}
	return x, err
}

// primary := atom trailer*
func (p *parser) primary() (node, error) {
	start := p.peek()
	x, err := p.atom()
	if err != nil {
		return nil, err
	}
	for {
		switch {
		case p.isOp("."):
			p.next()
			t := p.next()
			if t.kind != tkName {
				return nil, p.errAt(t.pos, "expected an attribute name after \".\", found %s", t)
			}
			if strings.HasPrefix(t.text, "__") {
				return nil, p.errAt(t.pos, "attribute %s is not allowed (dunder attributes)", t.text)
			}
			if p.isOp("(") {
				if x, err = p.methodCall(x, t); err != nil {
					return nil, err
				}
				continue
			}
			if n, ok := x.(*nameNode); ok && n.name == "functions" {
				return nil, p.errAt(t.pos, "functions.%s must be called; the only function available is functions.speed_to_bits(speed, default=0)", t.text)
			}
			x = &attrNode{x: x, name: t.text}
		case p.isOp("["):
			if x, err = p.subscript(x); err != nil {
				return nil, err
			}
		case p.isOp("("):
			n, ok := x.(*nameNode)
			if !ok {
				return nil, p.errAt(p.peek().pos, "calling this value is not allowed; allowed calls: %s", allowedCalls)
			}
			if x, err = p.funcCall(n.name, start.pos); err != nil {
				return nil, err
			}
		default:
			if n, ok := x.(*nameNode); ok {
				// Only the original four: a graph query may well name a
				// node "set" or "max", and such a name must still read it.
				if n.name == "int" || n.name == "str" || n.name == "float" || n.name == "len" {
					return nil, p.errAt(start.pos, "%s is a function; call it as %s(...)", n.name, n.name)
				}
				if n.name == "functions" {
					return nil, p.errAt(start.pos, "functions can only be used as functions.speed_to_bits(...)")
				}
			}
			return x, nil
		}
	}
}

// args parses a call's arguments: positional ones, then keyword ones of
// the names in keywords; with genOK a generator expression may be the only
// argument.
func (p *parser) args(keywords []string, genOK bool) ([]node, map[string]node, error) {
	if err := p.enter(); err != nil {
		return nil, nil, err
	}
	defer p.leave()
	if err := p.expectOp("("); err != nil {
		return nil, nil, err
	}
	var args []node
	var kw map[string]node
	for !p.isOp(")") {
		t := p.peek()
		if t.kind == tkName && p.toks[p.i+1].kind == tkOp && p.toks[p.i+1].text == "=" {
			if !slices.Contains(keywords, t.text) || kw[t.text] != nil {
				return nil, nil, p.errAt(t.pos, "keyword argument %s= is not allowed here", t.text)
			}
			p.next()
			p.next()
			v, err := p.test()
			if err != nil {
				return nil, nil, err
			}
			if kw == nil {
				kw = map[string]node{}
			}
			kw[t.text] = v
		} else {
			if kw != nil {
				return nil, nil, p.errAt(t.pos, "positional argument after keyword argument")
			}
			if p.isOp("*") || p.isOp("**") {
				return nil, nil, p.errAt(t.pos, "argument unpacking is not allowed")
			}
			saved := p.genAt
			if genOK {
				p.genAt = p.i
			}
			a, err := p.test()
			p.genAt = saved
			if err != nil {
				return nil, nil, err
			}
			if p.isKeyword("for") {
				if !genOK || len(args) > 0 {
					return nil, nil, p.errAt(p.peek().pos, "generator expressions are not supported here; use a list comprehension [...]")
				}
				c, err := p.comprehension(a)
				if err != nil {
					return nil, nil, err
				}
				c.kind = compGen
				if !p.isOp(")") {
					return nil, nil, p.errAt(p.peek().pos, "a generator expression must be the only argument (or be parenthesized, which is not supported)")
				}
				a = c
			}
			args = append(args, a)
		}
		if !p.isOp(",") {
			break
		}
		p.next()
	}
	if err := p.expectOp(")"); err != nil {
		return nil, nil, err
	}
	return args, kw, nil
}

func (p *parser) funcCall(name string, pos int) (node, error) {
	fn, ok := builtinFuncs[name]
	if !ok {
		if strings.HasPrefix(name, "__") {
			return nil, p.errAt(pos, "name %s is not allowed (dunder names)", name)
		}
		return nil, p.errAt(pos, "call to %s() is not allowed; allowed calls: %s", name, allowedCalls)
	}
	args, kw, err := p.args(fn.keywords, fn.iterable)
	if err != nil {
		return nil, err
	}
	switch {
	case (name == "min" || name == "max") && len(args) == 0:
		return nil, p.errAt(pos, "%s expected at least 1 argument, got 0", name)
	case fn.min == 1 && fn.max == 1 && len(args) != 1:
		return nil, p.errAt(pos, "%s() takes exactly 1 argument here, got %d", name, len(args))
	case len(args) < fn.min || len(args) > fn.max:
		return nil, p.errAt(pos, "%s() takes %d to %d arguments, got %d", name, fn.min, fn.max, len(args))
	case kw["default"] != nil && len(args) > 1:
		return nil, p.errAt(pos, "cannot specify a default for %s() with multiple positional arguments", name)
	}
	return &callNode{fn: name, args: args, deflt: kw["default"], hasDeft: kw["default"] != nil, reverse: kw["reverse"]}, nil
}

func (p *parser) methodCall(recv node, t token) (node, error) {
	if n, ok := recv.(*nameNode); ok && n.name == "functions" {
		if t.text != "speed_to_bits" {
			return nil, p.errAt(t.pos, "functions.%s() is not available; the only function is functions.speed_to_bits(speed, default=0)", t.text)
		}
		args, kw, err := p.args([]string{"default"}, false)
		if err != nil {
			return nil, err
		}
		deflt := kw["default"]
		if len(args) == 2 && deflt == nil {
			deflt, args = args[1], args[:1]
		}
		if len(args) != 1 {
			return nil, p.errAt(t.pos, "functions.speed_to_bits() takes a speed and an optional default, got %d arguments", len(args))
		}
		return &callNode{fn: "speed_to_bits", args: args, deflt: deflt, hasDeft: deflt != nil}, nil
	}
	lim, ok := stringMethods[t.text]
	if !ok {
		if strings.HasPrefix(t.text, "__") {
			return nil, p.errAt(t.pos, "attribute %s is not allowed (dunder attributes)", t.text)
		}
		return nil, p.errAt(t.pos, "method %s() is not allowed; allowed calls: %s", t.text, allowedCalls)
	}
	args, _, err := p.args(nil, t.text == "join")
	if err != nil {
		return nil, err
	}
	if len(args) < lim[0] || len(args) > lim[1] {
		return nil, p.errAt(t.pos, "%s", arityMessage(t.text, lim, len(args)))
	}
	return &methodNode{recv: recv, name: t.text, args: args}, nil
}

// arityMessage words a wrong argument count as Python does for fixed
// arities.
func arityMessage(name string, lim [2]int, got int) string {
	switch {
	case lim[1] == 0:
		return fmt.Sprintf("%s() takes no arguments (%d given)", name, got)
	case lim[0] == lim[1] && lim[0] == 1:
		return fmt.Sprintf("%s() takes exactly 1 argument (%d given)", name, got)
	case lim[0] == lim[1]:
		return fmt.Sprintf("%s() takes exactly %d arguments (%d given)", name, lim[0], got)
	}
	return fmt.Sprintf("%s() takes %d to %d arguments, got %d", name, lim[0], lim[1], got)
}

func (p *parser) subscript(x node) (node, error) {
	if err := p.enter(); err != nil {
		return nil, err
	}
	defer p.leave()
	p.next() // [
	var lo, hi node
	var err error
	if !p.isOp(":") {
		if lo, err = p.test(); err != nil {
			return nil, err
		}
		if p.isOp("]") {
			p.next()
			return &indexNode{x: x, i: lo}, nil
		}
		if p.isOp(",") {
			return nil, p.errAt(p.peek().pos, "tuple subscripts are not supported")
		}
	}
	if err := p.expectOp(":"); err != nil {
		return nil, err
	}
	if !p.isOp("]") {
		if hi, err = p.test(); err != nil {
			return nil, err
		}
	}
	if p.isOp(":") {
		return nil, p.errAt(p.peek().pos, "slice steps are not supported")
	}
	if err := p.expectOp("]"); err != nil {
		return nil, err
	}
	return &sliceNode{x: x, lo: lo, hi: hi}, nil
}

func (p *parser) atom() (node, error) {
	t := p.peek()
	switch t.kind {
	case tkInt:
		p.next()
		return &litNode{v: t.ival}, nil
	case tkFloat:
		p.next()
		return &litNode{v: t.fval}, nil
	case tkString:
		p.next()
		s := t.text
		for p.peek().kind == tkString { // implicit concatenation 'a' 'b'
			s += p.next().text
			if len(s) > MaxLen {
				return nil, p.errAt(t.pos, "string literal too long")
			}
		}
		return &litNode{v: s}, nil
	case tkName:
		switch t.text {
		case "True":
			p.next()
			return &litNode{v: true}, nil
		case "False":
			p.next()
			return &litNode{v: false}, nil
		case "None":
			p.next()
			return &litNode{v: nil}, nil
		case "and", "or", "not", "if", "else", "for", "in", "is", "lambda":
			return nil, p.unexpected("expected a value")
		}
		if msg := keywordMessage(t.text); msg != "" {
			return nil, p.errAt(t.pos, "%s", msg)
		}
		if strings.HasPrefix(t.text, "__") {
			return nil, p.errAt(t.pos, "name %s is not allowed (dunder names)", t.text)
		}
		p.next()
		return &nameNode{name: t.text}, nil
	case tkOp:
		switch t.text {
		case "(":
			if err := p.enter(); err != nil {
				return nil, err
			}
			defer p.leave()
			genOK := p.genAt == p.i
			p.next()
			if p.isOp(")") {
				p.next()
				return &tupleNode{}, nil
			}
			x, err := p.test()
			if err != nil {
				return nil, err
			}
			if p.isOp(",") {
				tup, err := p.tupleRest(x)
				if err != nil {
					return nil, err
				}
				if err := p.expectOp(")"); err != nil {
					return nil, err
				}
				return tup, nil
			}
			if p.isKeyword("for") {
				if !genOK {
					return nil, p.errAt(p.peek().pos, "generator expressions are not supported; use a list comprehension [...]")
				}
				c, err := p.comprehension(x)
				if err != nil {
					return nil, err
				}
				c.kind = compGen
				return c, p.expectOp(")")
			}
			if err := p.expectOp(")"); err != nil {
				return nil, err
			}
			return x, nil
		case "[":
			return p.list()
		case "{":
			return p.braces()
		}
	}
	return nil, p.unexpected("expected a value")
}

// tupleRest parses the ", b, c" (or the lone ",") that follows a tuple's
// first element, up to but not including what closes the tuple.
func (p *parser) tupleRest(first node) (node, error) {
	elems := []node{first}
	for p.isOp(",") {
		p.next()
		if p.isOp(")") || p.peek().kind == tkEOF {
			break // trailing comma: (a,) and a,
		}
		e, err := p.test()
		if err != nil {
			return nil, err
		}
		elems = append(elems, e)
	}
	return &tupleNode{elems: elems}, nil
}

func (p *parser) list() (node, error) {
	if err := p.enter(); err != nil {
		return nil, err
	}
	defer p.leave()
	p.next() // [
	var elems []node
	for !p.isOp("]") {
		e, err := p.test()
		if err != nil {
			return nil, err
		}
		if len(elems) == 0 && p.isKeyword("for") {
			c, err := p.comprehension(e)
			if err != nil {
				return nil, err
			}
			return c, p.expectOp("]")
		}
		elems = append(elems, e)
		if !p.isOp(",") {
			break
		}
		p.next()
	}
	if err := p.expectOp("]"); err != nil {
		return nil, err
	}
	return &listNode{elems: elems}, nil
}

// braces parses a dict or set display or comprehension: {}, {k: v, ...},
// {k: v for ...}, {e, ...}, {e for ...}.
func (p *parser) braces() (node, error) {
	if err := p.enter(); err != nil {
		return nil, err
	}
	defer p.leave()
	p.next() // {
	if p.isOp("}") {
		p.next()
		return &dictNode{}, nil
	}
	if p.isOp("**") || p.isOp("*") {
		return nil, p.errAt(p.peek().pos, "unpacking (%s) in a display is not allowed", p.peek().text)
	}
	first, err := p.test()
	if err != nil {
		return nil, err
	}
	if !p.isOp(":") { // a set
		if p.isKeyword("for") {
			c, err := p.comprehension(first)
			if err != nil {
				return nil, err
			}
			c.kind = compSet
			return c, p.expectOp("}")
		}
		elems := []node{first}
		for p.isOp(",") {
			p.next()
			if p.isOp("}") {
				break
			}
			e, err := p.test()
			if err != nil {
				return nil, err
			}
			elems = append(elems, e)
		}
		return &setNode{elems: elems}, p.expectOp("}")
	}
	p.next() // :
	v, err := p.test()
	if err != nil {
		return nil, err
	}
	if p.isKeyword("for") {
		c, err := p.comprehension(v)
		if err != nil {
			return nil, err
		}
		c.kind, c.key = compDict, first
		return c, p.expectOp("}")
	}
	d := &dictNode{keys: []node{first}, vals: []node{v}}
	for p.isOp(",") {
		p.next()
		if p.isOp("}") {
			break
		}
		if p.isOp("**") {
			return nil, p.errAt(p.peek().pos, "unpacking (**) in a display is not allowed")
		}
		k, err := p.test()
		if err != nil {
			return nil, err
		}
		if err := p.expectOp(":"); err != nil {
			return nil, err
		}
		v, err := p.test()
		if err != nil {
			return nil, err
		}
		d.keys, d.vals = append(d.keys, k), append(d.vals, v)
	}
	return d, p.expectOp("}")
}

// comprehension parses the for and if clauses after elem, up to the
// closing bracket, which the caller consumes.
func (p *parser) comprehension(elem node) (*compNode, error) {
	c := &compNode{elem: elem}
	for p.isKeyword("for") || p.isKeyword("if") {
		if p.next().text == "if" {
			cond, err := p.orTest()
			if err != nil {
				return nil, err
			}
			c.clauses = append(c.clauses, compClause{x: cond})
			continue
		}
		v := p.next()
		if v.kind != tkName || v.text == "in" || keywordMessage(v.text) != "" {
			return nil, p.errAt(v.pos, "expected a loop variable name after \"for\", found %s", v)
		}
		if strings.HasPrefix(v.text, "__") {
			return nil, p.errAt(v.pos, "name %s is not allowed (dunder names)", v.text)
		}
		if p.isOp(",") {
			return nil, p.errAt(p.peek().pos, "tuple loop variables are not supported")
		}
		if !p.isKeyword("in") {
			return nil, p.unexpected(`expected "in"`)
		}
		p.next()
		xs, err := p.orTest()
		if err != nil {
			return nil, err
		}
		c.clauses = append(c.clauses, compClause{isFor: true, v: v.text, x: xs})
	}
	return c, nil
}

// freeNames adds to out the names n reads from the environment, skipping
// comprehension variables bound around them.
func freeNames(n node, bound map[string]int, out map[string]bool) {
	switch n := n.(type) {
	case *nameNode:
		if bound[n.name] == 0 && n.name != "functions" {
			out[n.name] = true
		}
	case *unaryNode:
		freeNames(n.x, bound, out)
	case *binNode:
		freeNames(n.x, bound, out)
		freeNames(n.y, bound, out)
	case *boolNode:
		freeNames(n.x, bound, out)
		freeNames(n.y, bound, out)
	case *notNode:
		freeNames(n.x, bound, out)
	case *compareNode:
		for _, x := range n.xs {
			freeNames(x, bound, out)
		}
	case *condNode:
		freeNames(n.then, bound, out)
		freeNames(n.cond, bound, out)
		freeNames(n.els, bound, out)
	case *listNode:
		for _, x := range n.elems {
			freeNames(x, bound, out)
		}
	case *tupleNode:
		for _, x := range n.elems {
			freeNames(x, bound, out)
		}
	case *setNode:
		for _, x := range n.elems {
			freeNames(x, bound, out)
		}
	case *dictNode:
		for i := range n.keys {
			freeNames(n.keys[i], bound, out)
			freeNames(n.vals[i], bound, out)
		}
	case *indexNode:
		freeNames(n.x, bound, out)
		freeNames(n.i, bound, out)
	case *sliceNode:
		freeNames(n.x, bound, out)
		if n.lo != nil {
			freeNames(n.lo, bound, out)
		}
		if n.hi != nil {
			freeNames(n.hi, bound, out)
		}
	case *attrNode:
		freeNames(n.x, bound, out)
	case *callNode:
		for _, x := range n.args {
			freeNames(x, bound, out)
		}
		if n.deflt != nil {
			freeNames(n.deflt, bound, out)
		}
		if n.reverse != nil {
			freeNames(n.reverse, bound, out)
		}
	case *methodNode:
		freeNames(n.recv, bound, out)
		for _, x := range n.args {
			freeNames(x, bound, out)
		}
	case *compNode:
		// Python evaluates the first iterable outside the comprehension's
		// scope and everything else inside it.
		var pushed []string
		for _, c := range n.clauses {
			freeNames(c.x, bound, out)
			if c.isFor {
				bound[c.v]++
				pushed = append(pushed, c.v)
			}
		}
		if n.key != nil {
			freeNames(n.key, bound, out)
		}
		freeNames(n.elem, bound, out)
		for _, v := range pushed {
			bound[v]--
		}
	}
}
