package processors

import (
	"math"

	"github.com/probe-agent/probe-agent/probe"
)

func init() {
	probe.Register(&probe.Spec{
		Name:  "ratio",
		Label: "Ratio",
		Description: `Ratio Processor.

Outputs numerator x multiplier / denominator for each numerator item;
multiplier is a positive number or constant expression, 100 by default, which
gives a percentage. The denominator is the item
of the denominator input paired with the numerator item, or, when that input
is not connected, the denominator property (a non-zero number or constant
expression). When both are given the input is used and the property ignored
(validation warns). Pairing: with significant_keys every item is projected to
those keys and the output is keyed by them; without (or with an empty list)
both inputs must have the same keys, which then key the output; inputs with
different keys and no significant_keys give an empty output (validation
warns). Items without a partner are dropped. Two items of one input with the
same projected keys (a one-to-many pairing) put the probe in the error state
until the duplicate goes away. Division is in floating point, without integer
truncation. A zero denominator item gives NaN for that item, not an error; NaN
propagates. A pair where either item has no value has no value. Inputs are N
or NS; time series are rejected (reduce them first). The output is N when all
inputs are single items, NS otherwise.`,
		Inputs: map[string]probe.Port{
			"numerator":   {Required: true, Types: numberNowTypes},
			"denominator": {Types: numberNowTypes},
		},
		Outputs: map[string]probe.Port{"out": {Required: true, Types: []probe.StageType{probe.N, probe.NS}}},
		Schema: probe.Merge(streamingProps(), graphQueryProps(), significantKeysProps(), map[string]*probe.Schema{
			"denominator": probe.Prop("number", "string", "null").Def(nil).
				Desc("Constant denominator, a non-zero number or expression; used when the denominator input is not connected."),
			"multiplier": probe.Prop("number", "string").Def(100).
				Desc("Positive factor applied to the numerator before dividing; a number or expression."),
		}),
		New: newRatio,
	})
}

type ratio struct {
	pair *pairJoin
	out  *probe.Stage
	mult float64
	// den is the constant denominator when there is no denominator input.
	den      float64
	denInput bool
}

func newRatio(b *probe.Build) (probe.Processor, error) {
	var cfg struct {
		SignificantKeys []string `json:"significant_keys"`
		Denominator     any      `json:"denominator"`
		Multiplier      any      `json:"multiplier"`
	}
	if err := b.Decode(&cfg); err != nil {
		return nil, err
	}
	ins := []*probe.Input{b.Input("numerator")}
	p := &ratio{}
	if den := b.Input("denominator"); den != nil {
		ins = append(ins, den)
		p.denInput = true
		if cfg.Denominator != nil {
			b.Warn("the denominator input is connected, so properties.denominator (%v) is ignored", cfg.Denominator)
		}
	} else {
		d, ok := numberProp(b, "denominator", cfg.Denominator)
		switch {
		case b.Failed():
		case !ok:
			b.Errorf("properties.denominator", "needed when the denominator input is not connected")
		case d == 0 || math.IsNaN(d) || math.IsInf(d, 0):
			b.Errorf("properties.denominator", "must be a non-zero finite number, got %v", d)
		}
		p.den = d
	}
	if m, ok := numberProp(b, "multiplier", cfg.Multiplier); ok {
		if !(m > 0) || math.IsInf(m, 0) {
			b.Errorf("properties.multiplier", "must be a positive finite number, got %v", m)
		}
		p.mult = m
	}
	p.pair = newPairJoin(b, ins, cfg.SignificantKeys)
	if b.Failed() {
		return nil, nil
	}
	p.out = b.Output("out", probe.StageType{Kind: probe.Number, Set: anySet(ins)}, p.pair.keys)
	return p, nil
}

func (p *ratio) Eval(*probe.Tick) error {
	if err := p.pair.sync(p.out); err != nil {
		return err
	}
	num := p.pair.ins[0]
	for r := 0; r < p.pair.n; r++ {
		if !p.pair.valid(r) {
			p.out.Invalidate(r)
			continue
		}
		den := p.den
		if p.denInput {
			den = p.pair.ins[1].Num(p.pair.item(r, 1))
		}
		v := math.NaN()
		if den != 0 {
			v = num.Num(p.pair.item(r, 0)) * p.mult / den
		}
		p.out.SetNum(r, v)
	}
	return nil
}
