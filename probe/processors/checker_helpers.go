package processors

import (
	"github.com/probe-agent/probe-agent/probe"
	"github.com/probe-agent/probe-agent/probe/expr"
)

// Helpers shared by set_count, match_count, match_perc, state_check,
// time_in_state_check and match_string.

// stringValueTypes are the stage types whose values are strings: discrete states
// and text, single or set, time series or not.
var stringValueTypes = []probe.StageType{
	probe.DS, probe.DSS, probe.DSTS, probe.DSSTS,
	probe.T, probe.TS, probe.TTS, probe.TSTS,
}

// unquoteOnce returns the string a property written in the quoted
// expression style ("'Full'", "\"Full\"") stands for, and any other value
// as written: the property is a literal that may carry one level of quotes.
func unquoteOnce(s string) string {
	e, err := expr.Parse(s)
	if err != nil || !e.Constant() {
		return s
	}
	if v, err := e.Eval(nil); err == nil {
		if str, ok := v.(string); ok {
			return str
		}
	}
	return s
}

// stringExpr is a string property resolved at build time.
type stringExpr struct {
	Value string
	// GraphDependent is set for a 4.x expression over graph query results
	// (query_result), which only the controller can evaluate.
	GraphDependent bool
}

// resolveStringExpr resolves a string-valued property. In the seed dialect it
// is a literal, taken as written. In the 4.x dialect it is an expression
// evaluated by probe/expr: a constant one ("'up'", "'a' + 'b'") must give a
// string; one that reads only query_result is accepted with a warning and
// marked graph-dependent (the controller resolves it); anything else (a bare
// word names a graph variable in Apstra; context would need per-item
// evaluation) is reported on field. ok is false when a problem was reported.
func resolveStringExpr(b *probe.Build, field, raw string) (stringExpr, bool) {
	if !b.Dialect.StringExpressions() {
		return stringExpr{Value: raw}, true
	}
	e, err := expr.Parse(raw)
	if err != nil {
		b.Errorf(field, "%v", err)
		return stringExpr{}, false
	}
	if names := e.Names(); len(names) == 1 && names[0] == "query_result" {
		b.Warn("%s %q is an expression over graph query results; the controller resolves it, a device reports an error until then", field, raw)
		return stringExpr{Value: raw, GraphDependent: true}, true
	}
	v, err := expr.String(raw)
	if err != nil {
		b.Errorf(field, "%v", err)
		return stringExpr{}, false
	}
	return stringExpr{Value: v}, true
}

// groupCounter counts the items of each group_by group of a string or any
// other input, reusing the grouping machinery for the item -> group mapping
// and the output layout. Only items with a value count, as in the numeric
// aggregates (an item without a value does not exist yet in Apstra's terms).
type groupCounter struct {
	g      *grouping
	tally  []groupTally
	ref    string
	useRef bool
}

type groupTally struct {
	total, matched int
}

// newGroupCounter declares the output of a counting processor: N with an
// empty group_by, NS otherwise, keyed by the group_by properties, with any
// extra columns. It returns nil when group_by names unknown properties.
func newGroupCounter(b *probe.Build, groupBy []string, extra ...probe.Column) *groupCounter {
	g := groupedOutput(b, b.Input("in"), groupBy, extra...)
	if g == nil {
		return nil
	}
	return &groupCounter{g: g}
}

// count tallies each group: total is the number of items with a value and
// matched, when a reference state is set, the number whose value (the last
// sample of a time series) equals it.
func (c *groupCounter) count() []groupTally {
	c.g.sync()
	if len(c.tally) != len(c.g.acc) {
		c.tally = make([]groupTally, len(c.g.acc))
	} else {
		clear(c.tally)
	}
	st := c.g.in.Stage
	for i := 0; i < st.Len(); i++ {
		if !st.Valid(i) {
			continue
		}
		t := &c.tally[c.g.group[i]]
		t.total++
		if c.useRef && c.g.in.Str(i) == c.ref {
			t.matched++
		}
	}
	return c.tally
}

// groupByProp is the group_by property of the counting processors.
func groupByProp() map[string]*probe.Schema {
	return map[string]*probe.Schema{
		"group_by": probe.Prop("array").Def([]any{}).Of(probe.Prop("string")).
			Desc("Properties to group by; empty means one group of everything."),
	}
}

// withRequired marks properties of a schema as required.
func withRequired(s *probe.Schema, names ...string) *probe.Schema {
	s.Required = append(s.Required, names...)
	return s
}
