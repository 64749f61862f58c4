package processors

import (
	"github.com/probe-agent/probe-agent/probe"
)

// Output ports of set_comparison; the names contain spaces, as in Apstra.
const (
	setAMinusB = "A - B"
	setBMinusA = "B - A"
	setAAndB   = "A & B"
)

func init() {
	setTypes := []probe.StageType{probe.NS, probe.DSS}
	probe.Register(&probe.Spec{
		Name:  "set_comparison",
		Label: "Set Comparison",
		Description: `Set Comparison Processor.

Compares the key sets of inputs A and B (NS or DSS; time series are rejected)
after projecting every item to significant_keys; values are not compared but
carried along. Output "A - B" holds A's items whose keys are not in B, "B - A"
B's items whose keys are not in A, and "A & B" the items in both, with A's
values; each output is keyed by the significant keys and has the kind of the
input it takes values from. Connect any of the three outputs (at least one).
A significant key missing from A or B is a validation error. Without (or with
an empty) significant_keys both inputs must have the same keys, which then key
the outputs; inputs with different keys and no significant_keys give empty
outputs (validation warns). Two items of one input with the same projected
keys are a one-to-many error that puts the probe in the error state until the
duplicate goes away. An item without a value stays without one.`,
		Inputs: map[string]probe.Port{
			"A": {Required: true, Types: setTypes},
			"B": {Required: true, Types: setTypes},
		},
		Outputs: map[string]probe.Port{
			setAMinusB: {Types: setTypes},
			setBMinusA: {Types: setTypes},
			setAAndB:   {Types: setTypes},
		},
		Schema: probe.Merge(streamingProps(), graphQueryProps(), significantKeysProps()),
		New:    newSetComparison,
	})
}

type setComparison struct {
	pair *pairing
	// aOnly, bOnly and both are the outputs (nil when not connected).
	aOnly, bOnly, both *probe.Stage
	// aOnlyIdx etc. hold, per output item, the input item it copies.
	aOnlyIdx, bOnlyIdx, bothIdx []int32
}

func newSetComparison(b *probe.Build) (probe.Processor, error) {
	var cfg struct {
		SignificantKeys []string `json:"significant_keys"`
	}
	if err := b.Decode(&cfg); err != nil {
		return nil, err
	}
	a, bIn := b.Input("A"), b.Input("B")
	p := &setComparison{pair: newPairing(b, []*probe.Input{a, bIn}, cfg.SignificantKeys)}
	if b.Failed() {
		return nil, nil
	}
	keys := p.pair.keys
	p.aOnly = b.Output(setAMinusB, probe.StageType{Kind: a.Type.Kind, Set: true}, keys)
	p.bOnly = b.Output(setBMinusA, probe.StageType{Kind: bIn.Type.Kind, Set: true}, keys)
	p.both = b.Output(setAAndB, probe.StageType{Kind: a.Type.Kind, Set: true}, keys)
	if p.aOnly == nil && p.bOnly == nil && p.both == nil {
		b.Errorf("outputs", "connect at least one of %q, %q and %q", setAMinusB, setBMinusA, setAAndB)
		return nil, nil
	}
	return p, nil
}

func (p *setComparison) sync() error {
	if !p.pair.changed() {
		return p.pair.err
	}
	p.aOnlyIdx, p.bOnlyIdx, p.bothIdx = p.aOnlyIdx[:0], p.bOnlyIdx[:0], p.bothIdx[:0]
	var aOnly, bOnly, both [][]string
	if !p.pair.disjoint {
		ia, err := p.pair.index(0)
		if err == nil {
			var ib map[string]int32
			if ib, err = p.pair.index(1); err == nil {
				a, b := p.pair.ins[0].Stage, p.pair.ins[1].Stage
				for i := 0; i < a.Len(); i++ {
					tuple := p.pair.project(0, i)
					if _, ok := ib[joinProps(tuple)]; ok {
						p.bothIdx = append(p.bothIdx, int32(i))
						both = append(both, tuple)
					} else {
						p.aOnlyIdx = append(p.aOnlyIdx, int32(i))
						aOnly = append(aOnly, tuple)
					}
				}
				for i := 0; i < b.Len(); i++ {
					tuple := p.pair.project(1, i)
					if _, ok := ia[joinProps(tuple)]; !ok {
						p.bOnlyIdx = append(p.bOnlyIdx, int32(i))
						bOnly = append(bOnly, tuple)
					}
				}
			}
		}
		if err != nil {
			p.pair.err = err
			p.aOnlyIdx, p.bOnlyIdx, p.bothIdx = p.aOnlyIdx[:0], p.bOnlyIdx[:0], p.bothIdx[:0]
			aOnly, bOnly, both = nil, nil, nil
		}
	}
	layOut(p.aOnly, aOnly)
	layOut(p.bOnly, bOnly)
	layOut(p.both, both)
	return p.pair.err
}

func (p *setComparison) Eval(*probe.Tick) error {
	if err := p.sync(); err != nil {
		return err
	}
	a, b := p.pair.ins[0], p.pair.ins[1]
	if p.aOnly != nil {
		for o, i := range p.aOnlyIdx {
			copyValue(p.aOnly, o, a, int(i))
		}
	}
	if p.bOnly != nil {
		for o, i := range p.bOnlyIdx {
			copyValue(p.bOnly, o, b, int(i))
		}
	}
	if p.both != nil {
		for o, i := range p.bothIdx {
			copyValue(p.both, o, a, int(i))
		}
	}
	return nil
}
