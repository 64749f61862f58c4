package processors

import (
	"github.com/probe-agent/probe-agent/probe"
)

func init() {
	probe.Register(&probe.Spec{
		Name:  "comparison",
		Label: "Comparison",
		Description: `Comparison Processor.

Pairs the items of inputs A and B by their keys and outputs, for each pair,
"true" when A operation B holds and "false" otherwise; operation is lt, le, eq,
ne, ge or gt. With significant_keys every item is projected to those keys
before pairing and the output is keyed by them; without (or with an empty
list) A and B must have the same keys, which then key the output; inputs with
different keys and no significant_keys give an empty output (validation warns).
Items without a partner are dropped. Two items of one input with the same
projected keys (a one-to-many pairing) put the probe in the error state until
the duplicate goes away. A pair where either item has no value has no value.
NaN compares as in IEEE 754 (and Python): every operation is false except ne.
Inputs are N or NS; time series are rejected (reduce them first). The output is
DS when both inputs are single items, DSS otherwise. With raise_anomaly every
"true" item raises an anomaly, whose actual value is A's.`,
		Inputs: map[string]probe.Port{
			"A": {Required: true, Types: numberNowTypes},
			"B": {Required: true, Types: numberNowTypes},
		},
		Outputs: map[string]probe.Port{"out": {Required: true, Types: []probe.StageType{probe.DS, probe.DSS}}},
		Schema:  comparisonSchema(),
		New:     newComparison,
	})
}

func comparisonSchema() *probe.Schema {
	s := probe.Merge(streamingProps(), graphQueryProps(), anomalyProps(), significantKeysProps(), map[string]*probe.Schema{
		"operation": probe.Prop("string").OneOf("lt", "le", "eq", "ne", "ge", "gt").
			Desc("How A is compared with B: A < B, A <= B, A == B, A != B, A >= B or A > B."),
	})
	s.Required = []string{"operation"}
	return s
}

type comparisonOp uint8

const (
	opLT comparisonOp = iota
	opLE
	opEQ
	opNE
	opGE
	opGT
)

var comparisonOps = map[string]comparisonOp{"lt": opLT, "le": opLE, "eq": opEQ, "ne": opNE, "ge": opGE, "gt": opGT}

func (op comparisonOp) holds(a, b float64) bool {
	switch op {
	case opLT:
		return a < b
	case opLE:
		return a <= b
	case opEQ:
		return a == b
	case opNE:
		return a != b
	case opGE:
		return a >= b
	}
	return a > b
}

type comparison struct {
	pair *pairJoin
	out  *probe.Stage
	op   comparisonOp
}

func newComparison(b *probe.Build) (probe.Processor, error) {
	var cfg struct {
		Operation       string   `json:"operation"`
		SignificantKeys []string `json:"significant_keys"`
		Raise           bool     `json:"raise_anomaly"`
	}
	if err := b.Decode(&cfg); err != nil {
		return nil, err
	}
	op, ok := comparisonOps[cfg.Operation]
	if !ok {
		return nil, nil // the schema has reported it
	}
	ins := []*probe.Input{b.Input("A"), b.Input("B")}
	p := &comparison{pair: newPairJoin(b, ins, cfg.SignificantKeys), op: op}
	if b.Failed() {
		return nil, nil
	}
	p.out = b.Output("out", probe.StageType{Kind: probe.DiscreteState, Set: anySet(ins)}, p.pair.keys)
	p.out.RaisesAnomalies = cfg.Raise
	return p, nil
}

func (p *comparison) Eval(*probe.Tick) error {
	if err := p.pair.sync(p.out); err != nil {
		return err
	}
	a, b := p.pair.ins[0], p.pair.ins[1]
	ev := probe.Evidence{Kind: probe.Number, Anomalous: true}
	for r := 0; r < p.pair.n; r++ {
		if !p.pair.valid(r) {
			p.out.Invalidate(r)
			continue
		}
		x, y := a.Num(p.pair.item(r, 0)), b.Num(p.pair.item(r, 1))
		ev.Actual.Num = x
		p.out.SetCheck(r, p.op.holds(x, y), ev)
	}
	return nil
}
