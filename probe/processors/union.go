package processors

import (
	"fmt"

	"github.com/probe-agent/probe-agent/probe"
)

func init() {
	setTypes := []probe.StageType{probe.NS, probe.DSS, probe.TS}
	probe.Register(&probe.Spec{
		Name:  "union",
		Label: "Union",
		Description: `Union Processor.

Merges the items of all inputs into one stage. Inputs have free names (the
documentation uses in_1, in_2, ...), at least one, and must hold values of one
kind: all NS, all DSS or all TS; time series are rejected. With
significant_keys every item is projected to those keys and the output is keyed
by them; without (or with an empty list) all inputs must have the same keys,
which then key the output; inputs with different keys and no significant_keys
give an empty output (validation warns). A key tuple that appears twice,
within one input or across inputs, is a one-to-many error that puts the probe
in the error state until the duplicate goes away. Values are carried
unchanged (an item without a value stays without one). Output items follow
the inputs in port-name order, then each input's item order.`,
		Inputs:  map[string]probe.Port{"*": {Required: true, Types: setTypes}},
		Outputs: map[string]probe.Port{"out": {Required: true, Types: setTypes}},
		Schema:  probe.Merge(streamingProps(), graphQueryProps(), significantKeysProps()),
		New:     newUnion,
	})
}

type union struct {
	pair *pairing
	out  *probe.Stage
	// src and idx name, per output item, the input and its item.
	src, idx []int32
}

func newUnion(b *probe.Build) (probe.Processor, error) {
	var cfg struct {
		SignificantKeys []string `json:"significant_keys"`
	}
	if err := b.Decode(&cfg); err != nil {
		return nil, err
	}
	ins := b.Inputs()
	if len(ins) == 0 {
		return nil, nil // checkPorts has reported it
	}
	for _, in := range ins[1:] {
		if in.Type.Kind != ins[0].Type.Kind {
			b.Errorf("inputs."+in.Port, "stage %q holds %s values but input %q (stage %q) holds %s; union needs inputs of one kind",
				in.Stage.Name, in.Type.Kind, ins[0].Port, ins[0].Stage.Name, ins[0].Type.Kind)
		}
	}
	p := &union{pair: newPairing(b, ins, cfg.SignificantKeys)}
	if b.Failed() {
		return nil, nil
	}
	p.out = b.Output("out", probe.StageType{Kind: ins[0].Type.Kind, Set: true}, p.pair.keys)
	return p, nil
}

func (p *union) sync() error {
	if !p.pair.changed() {
		return p.pair.err
	}
	p.src, p.idx = p.src[:0], p.idx[:0]
	var props [][]string
	if !p.pair.disjoint {
		seen := map[string]int{}
		for j, in := range p.pair.ins {
			for i := 0; i < in.Stage.Len(); i++ {
				tuple := p.pair.project(j, i)
				k := joinProps(tuple)
				if o, dup := seen[k]; dup {
					p.pair.err = p.duplicateError(int(p.src[o]), int(p.idx[o]), j, i, tuple)
					p.src, p.idx = p.src[:0], p.idx[:0]
					p.out.SetLayout(nil)
					return p.pair.err
				}
				seen[k] = len(props)
				p.src = append(p.src, int32(j))
				p.idx = append(p.idx, int32(i))
				props = append(props, tuple)
			}
		}
	}
	p.out.SetLayout(props)
	return nil
}

func (p *union) duplicateError(ja, ia, jb, ib int, tuple []string) error {
	if ja == jb {
		return p.pair.duplicateError(ja, ia, ib)
	}
	a, b := p.pair.ins[ja], p.pair.ins[jb]
	return fmt.Errorf("one-to-many union: item {%s} of input %q (stage %q) and item {%s} of input %q (stage %q) both have %s; significant_keys must identify at most one item across all inputs",
		describeKeys(a.Stage.Keys, a.Stage.Props(ia)), a.Port, a.Stage.Name,
		describeKeys(b.Stage.Keys, b.Stage.Props(ib)), b.Port, b.Stage.Name, p.pair.describeTuple(tuple))
}

func (p *union) Eval(*probe.Tick) error {
	if err := p.sync(); err != nil {
		return err
	}
	for o := range p.src {
		copyValue(p.out, o, p.pair.ins[p.src[o]], int(p.idx[o]))
	}
	return nil
}
