// Package processors holds the IBA processor catalog: one file per processor
// type, each registering its Spec (introspection text, ports, property
// schema, builder) with probe.Register from init. Import it for its side
// effect wherever probes are compiled.
package processors

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/probe-agent/probe-agent/probe"
	"github.com/probe-agent/probe-agent/probe/expr"
)

// Stage type lists accepted by ports.
var (
	numberTypes      = []probe.StageType{probe.N, probe.NS, probe.NTS, probe.NSTS}
	numberNowTypes   = []probe.StageType{probe.N, probe.NS}
	stateTypes       = []probe.StageType{probe.DS, probe.DSS, probe.DSTS, probe.DSSTS}
	singleOrSetTypes = func(k probe.Kind) []probe.StageType {
		return []probe.StageType{{Kind: k}, {Kind: k, Set: true}}
	}
)

// streamingProps is the property every processor has.
func streamingProps() map[string]*probe.Schema {
	return map[string]*probe.Schema{
		"enable_streaming": probe.Prop("boolean").Def(false).
			Desc("Stream every change of the output stages on the perfmon channel."),
	}
}

// graphQueryProps is graph_query as non-source processors take it: a list of
// queries whose results parameterise expressions.
func graphQueryProps() map[string]*probe.Schema {
	return map[string]*probe.Schema{
		"graph_query": probe.Prop("array", "string").Def([]any{}).Of(probe.Prop("string")).
			Desc("Graph queries whose results expressions can read as query_result."),
	}
}

// anomalyProps are the properties of checkers that can raise anomalies.
func anomalyProps() map[string]*probe.Schema {
	return map[string]*probe.Schema{
		"raise_anomaly": probe.Prop("boolean").Def(false).
			Desc("Raise an anomaly for every output item whose value is \"true\"."),
		"anomaly_retention_duration": probe.Prop("integer").Def(86400).Min(0).
			Desc("Seconds to keep anomaly history (accepted for compatibility)."),
		"anomaly_retention_size": probe.Prop("integer").Def(1073741824).Min(0).
			Desc("Bytes of anomaly history to keep (accepted for compatibility)."),
		"enable_anomaly_logging": probe.Prop("boolean").Def(false).
			Desc("Log anomaly history (accepted for compatibility)."),
		"anomalous_node_id_property_name": probe.Prop("string", "null").Def(nil).
			Desc("Item key whose value names the graph node the anomaly attaches to."),
	}
}

// checkerType is the output type of a checker reading a stage of type in.
func checkerType(in probe.StageType) probe.StageType {
	return probe.StageType{Kind: probe.DiscreteState, Set: in.Set}
}

// numberProp reads a numeric property that may be a literal number or, in
// the 4.x dialect, an expression string such as "60 * 15". Only constant
// expressions are accepted: one that reads context or graph query results
// is a validation error naming the names it needs.
func numberProp(b *probe.Build, field string, v any) (float64, bool) {
	switch x := v.(type) {
	case nil:
		return 0, false
	case string:
		f, err := evalNumber(x)
		if err != nil {
			b.Errorf("properties."+field, "%v", err)
			return 0, false
		}
		return f, true
	}
	f, err := strconv.ParseFloat(fmt.Sprint(v), 64)
	if err != nil {
		b.Errorf("properties."+field, "expected a number, got %v", v)
		return 0, false
	}
	return f, true
}

// evalNumber evaluates a constant numeric expression with the safe
// expression evaluator (probe/expr). An expression that reads names fails
// with an *expr.NotConstantError saying which names and who resolves them.
func evalNumber(src string) (float64, error) {
	return expr.Number(src)
}

// keyIndexes resolves property names against an input stage's keys,
// reporting unknown names on field.
func keyIndexes(b *probe.Build, field string, in *probe.Input, names []string) []int {
	idx := make([]int, 0, len(names))
	for i, n := range names {
		found := -1
		for k, key := range in.Stage.Keys {
			if key == n {
				found = k
			}
		}
		if found < 0 {
			b.Errorf(fmt.Sprintf("properties.%s[%d]", field, i), "input stage %q has no property %q (properties: %s)", in.Stage.Name, n, strings.Join(in.Stage.Keys, ", "))
			continue
		}
		idx = append(idx, found)
	}
	return idx
}

// perItem keeps processor state aligned with a stage's items, carrying each
// item's state across layout changes by key so that a new or vanished
// interface does not reset every other item.
type perItem[T any] struct {
	layout uint64
	keys   []string
	vals   []T
}

func (p *perItem[T]) sync(st *probe.Stage) []T {
	if p.layout == st.Layout() && len(p.vals) == st.Len() {
		return p.vals
	}
	old := make(map[string]T, len(p.keys))
	for i, k := range p.keys {
		old[k] = p.vals[i]
	}
	// The stage's key slice is replaced, never modified, on a layout
	// change: keeping it costs nothing and remembers the old keys.
	p.keys = st.ItemKeys()
	p.vals = make([]T, len(p.keys))
	for i, k := range p.keys {
		p.vals[i] = old[k]
	}
	p.layout = st.Layout()
	return p.vals
}
