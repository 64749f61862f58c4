package processors

import (
	"github.com/probe-agent/probe-agent/probe"
)

func init() {
	probe.Register(&probe.Spec{
		Name:  "subtract",
		Label: "Subtract",
		Description: `Subtract Processor.

Pairs the items of inputs minuend and subtrahend by their keys and outputs
minuend - subtrahend for each pair. With significant_keys every item is
projected to those keys before pairing and the output is keyed by them;
without (or with an empty list) both inputs must have the same keys, which
then key the output; inputs with different keys and no significant_keys give
an empty output (validation warns). Items without a partner are dropped. Two
items of one input with the same projected keys (a one-to-many pairing) put
the probe in the error state until the duplicate goes away. A pair where
either item has no value has no value; NaN propagates. Inputs are N or NS;
time series are rejected (reduce them first). The output is N when both
inputs are single items, NS otherwise.`,
		Inputs: map[string]probe.Port{
			"minuend":    {Required: true, Types: numberNowTypes},
			"subtrahend": {Required: true, Types: numberNowTypes},
		},
		Outputs: map[string]probe.Port{"out": {Required: true, Types: []probe.StageType{probe.N, probe.NS}}},
		Schema:  probe.Merge(streamingProps(), graphQueryProps(), significantKeysProps()),
		New:     newSubtract,
	})
}

type subtract struct {
	pair *pairJoin
	out  *probe.Stage
}

func newSubtract(b *probe.Build) (probe.Processor, error) {
	var cfg struct {
		SignificantKeys []string `json:"significant_keys"`
	}
	if err := b.Decode(&cfg); err != nil {
		return nil, err
	}
	ins := []*probe.Input{b.Input("minuend"), b.Input("subtrahend")}
	p := &subtract{pair: newPairJoin(b, ins, cfg.SignificantKeys)}
	if b.Failed() {
		return nil, nil
	}
	p.out = b.Output("out", probe.StageType{Kind: probe.Number, Set: anySet(ins)}, p.pair.keys)
	return p, nil
}

func (p *subtract) Eval(*probe.Tick) error {
	if err := p.pair.sync(p.out); err != nil {
		return err
	}
	m, s := p.pair.ins[0], p.pair.ins[1]
	for r := 0; r < p.pair.n; r++ {
		if !p.pair.valid(r) {
			p.out.Invalidate(r)
			continue
		}
		p.out.SetNum(r, m.Num(p.pair.item(r, 0))-s.Num(p.pair.item(r, 1)))
	}
	return nil
}
