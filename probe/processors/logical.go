package processors

import (
	"fmt"
	"sort"
	"strconv"
	"strings"

	"github.com/probe-agent/probe-agent/probe"
)

// logicalMaxInputs is the number of input ports logical declares (in1 ..
// in8). More inputs can be combined by chaining logical processors.
const logicalMaxInputs = 8

func init() {
	inputs := map[string]probe.Port{}
	for i := 1; i <= logicalMaxInputs; i++ {
		inputs[fmt.Sprintf("in%d", i)] = probe.Port{Required: i <= 2, Types: []probe.StageType{probe.DS, probe.DSS}}
	}
	columns := probe.Prop("object").Def(map[string]any{}).
		Desc(`Column to read per input, e.g. {"in1": "value"}; by default the column the input names ("value").`)
	columns.AdditionalProperties = probe.Prop("string")
	s := probe.Merge(streamingProps(), graphQueryProps(), anomalyProps(), significantKeysProps(), map[string]*probe.Schema{
		"operation": probe.Prop("string").OneOf("and", "or").
			Desc(`"and": "true" when every input is "true"; "or": "true" when any input is "true".`),
		"input_columns": columns,
	})
	s.Required = []string{"operation"}
	probe.Register(&probe.Spec{
		Name:    "logical",
		Label:   "Logical Operator",
		Aliases: []string{"logical_operator"},
		Description: `Logical Operator Processor.

Combines two to eight discrete-state inputs, in1 .. in8 (in1 and in2 are
required; chain processors for more), whose values are "true" or "false".
operation "and" outputs "true" when every paired input item is "true",
operation "or" when any is; only and/or are accepted, the operations seen in
Apstra probes. input_columns optionally picks the column read from each input,
as {"in1": "<column>"}. Items are paired by their keys: with significant_keys
every item is projected to those keys and the output is keyed by them; without
(or with an empty list, as Apstra exports write) all inputs must have the same
keys, which then key the output; inputs with different keys and no
significant_keys give an empty output (validation warns). Items without a
partner in every input are dropped. Two items of one input with the same
projected keys (a one-to-many pairing) put the probe in the error state until
the duplicate goes away. An output item has no value when an input item has
none or has a value other than "true" or "false". Inputs are DS or DSS; time
series are rejected. The output is DS when all inputs are single items, DSS
otherwise. With raise_anomaly every "true" item raises an anomaly. Also
accepted as logical_operator.`,
		Inputs:  inputs,
		Outputs: map[string]probe.Port{"out": {Required: true, Types: []probe.StageType{probe.DS, probe.DSS}}},
		Schema:  s,
		New:     newLogical,
	})
}

type logical struct {
	pair *pairJoin
	out  *probe.Stage
	cols []int // column read from each input
	and  bool
}

func newLogical(b *probe.Build) (probe.Processor, error) {
	var cfg struct {
		Operation       string            `json:"operation"`
		SignificantKeys []string          `json:"significant_keys"`
		InputColumns    map[string]string `json:"input_columns"`
		Raise           bool              `json:"raise_anomaly"`
	}
	if err := b.Decode(&cfg); err != nil {
		return nil, err
	}
	if cfg.Operation != "and" && cfg.Operation != "or" {
		return nil, nil // the schema has reported it
	}
	ins := b.Inputs() // sorted by port name: in1 .. in8
	p := &logical{and: cfg.Operation == "and", cols: make([]int, len(ins))}
	for j, in := range ins {
		p.cols[j] = in.Column
	}
	ports := make([]string, 0, len(cfg.InputColumns))
	for port := range cfg.InputColumns {
		ports = append(ports, port)
	}
	sort.Strings(ports)
	for _, port := range ports {
		field := "properties.input_columns." + port
		j := -1
		for k, in := range ins {
			if in.Port == port {
				j = k
			}
		}
		if j < 0 {
			b.Errorf(field, "no input %q is connected", port)
			continue
		}
		in, name := ins[j], cfg.InputColumns[port]
		c, ok := in.Stage.ColumnIndex(name)
		switch {
		case !ok:
			b.Errorf(field, "stage %q has no column %q (columns: %s)", in.Stage.Name, name, logicalColumnNames(in.Stage))
		case in.Stage.Columns[c].Kind != probe.DiscreteState:
			b.Errorf(field, "column %q of stage %q is %s, logical needs discrete states", name, in.Stage.Name, in.Stage.Columns[c].Kind)
		case in.Column != 0 && in.Column != c:
			b.Errorf(field, "column %q conflicts with column %q chosen in inputs.%s", name, in.Stage.Columns[in.Column].Name, port)
		default:
			p.cols[j] = c
		}
	}
	p.pair = newPairJoin(b, ins, cfg.SignificantKeys)
	if b.Failed() {
		return nil, nil
	}
	p.out = b.Output("out", probe.StageType{Kind: probe.DiscreteState, Set: anySet(ins)}, p.pair.keys)
	p.out.RaisesAnomalies = cfg.Raise
	return p, nil
}

func logicalColumnNames(st *probe.Stage) string {
	names := make([]string, len(st.Columns))
	for i, c := range st.Columns {
		names[i] = c.Name
	}
	return strings.Join(names, ", ")
}

func (p *logical) Eval(*probe.Tick) error {
	if err := p.pair.sync(p.out); err != nil {
		return err
	}
	ev := probe.Evidence{Kind: probe.DiscreteState, State: "true", Anomalous: true}
rows:
	for r := 0; r < p.pair.n; r++ {
		result := p.and
		for j, in := range p.pair.ins {
			i := p.pair.item(r, j)
			if !in.Stage.Valid(i) {
				p.out.Invalidate(r)
				continue rows
			}
			var v bool
			switch in.Stage.Str(i, p.cols[j]) {
			case "true":
				v = true
			case "false":
			default:
				p.out.Invalidate(r)
				continue rows
			}
			if p.and {
				result = result && v
			} else {
				result = result || v
			}
		}
		ev.Actual.Str = strconv.FormatBool(result)
		p.out.SetCheck(r, result, ev)
	}
	return nil
}
