package processors

import (
	"errors"

	"github.com/probe-agent/probe-agent/probe"
)

// errNeedsTopology is what generic_graph_collector's Eval returns until graph
// queries are resolved on the device.
var errNeedsTopology = errors.New("generic_graph_collector needs a topology: graph queries are resolved by the controller")

func init() {
	props := sourceProps()
	delete(props, "interface")
	delete(props, "system_id")
	probe.Register(&probe.Spec{
		Name:  "generic_graph_collector",
		Label: "Generic Graph Collector",
		Description: `Generic Graph Collector Processor.

Source processor whose items come from the graph alone, one per graph query
match (or per group with query_group_by): value is an expression over the
query variables (e.g. "1" or "vn.vlan") and each additional property an
expression giving an item key. data_type gives the output: ns or number ->
NS, dss or discrete state -> DSS, ts or text -> TS (Apstra 4.x exports write
the long names); items are keyed by the additional properties, sorted.
value_map (4.x) maps values to states for a DSS output, as in the service
collectors: an object, flat {"1": "up"} or per column; an empty object, as
exports write it, means none. No device
telemetry is involved, so it is not central-only, but it needs a topology:
until graph queries are resolved on the device, a probe using it validates
(with a warning) and goes to the error state when it runs.`,
		Outputs: map[string]probe.Port{"out": {Required: true, Types: []probe.StageType{probe.NS, probe.DSS, probe.TS}}},
		Schema: func() *probe.Schema {
			s := probe.Merge(streamingProps(), props, map[string]*probe.Schema{
				"value":     probe.Prop("string", "number").Desc("Expression giving the value of a query match."),
				"data_type": probe.Prop("string").Def("ns").OneOf("ns", "dss", "ts", "number", "discrete state", "text").Desc("Value type of the output."),
				"value_map": probe.Prop("object", "null").Def(nil).Desc("Value to state map for a discrete-state output, flat or per column {\"value\": {...}}."),
			})
			s.Required = []string{"graph_query", "value"}
			s.AdditionalProperties = probe.Prop("string").Desc("Additional item key, an expression over graph query variables.")
			return s
		}(),
		New: newGenericGraphCollector,
	})
}

func newGenericGraphCollector(b *probe.Build) (probe.Processor, error) {
	dt, _ := b.Props["data_type"].(string)
	kind, ok := DataTypeKind(dt)
	if !ok {
		b.Errorf("properties.data_type", "unknown data_type %q", dt)
		return nil, nil
	}
	if q := b.Props["graph_query"]; q == "" || isEmptyList(q) {
		b.Errorf("properties.graph_query", "needs a graph query: its matches are the items")
		return nil, nil
	}
	checkExpressions(b, "value")
	keys := collectorKeys(b, false)[1:] // no system_id: items come from the graph
	st := b.Output("out", probe.StageType{Kind: kind, Set: true}, keys)
	if kind == probe.DiscreteState {
		st.PossibleValues = valueMapStates(b) // nil without a map: whatever the value expression yields
		st.StateCodes = valueMapCodes(b)
	}
	b.Warn("%v; until then the probe goes to the error state when it runs", errNeedsTopology)
	return graphCollector{}, nil
}

type graphCollector struct{}

func (graphCollector) Eval(*probe.Tick) error { return errNeedsTopology }

func isEmptyList(v any) bool {
	l, ok := v.([]any)
	return ok && len(l) == 0
}
