package processors

import "github.com/probe-agent/probe-agent/probe"

func init() {
	probe.Register(&probe.Spec{
		Name:  "anomaly",
		Label: "Anomaly",
		Description: `Anomaly Processor (AOS 2.x-3.0 style).

Raises an anomaly for every input item in the "true" state and clears it when
the item returns to "false" or disappears. The output mirrors the input. The
anomaly carries the actual value and the range or state the upstream checker
tested. Newer probes set raise_anomaly on the checker instead.`,
		Inputs:  map[string]probe.Port{"in": {Required: true, Types: []probe.StageType{probe.DS, probe.DSS}}},
		Outputs: map[string]probe.Port{"out": {Required: true, Types: []probe.StageType{probe.DS, probe.DSS}}},
		Schema:  probe.Merge(streamingProps(), graphQueryProps()),
		New: func(b *probe.Build) (probe.Processor, error) {
			in := b.Input("in")
			p := &anomalyProc{in: in, out: b.Output("out", in.Type, in.Stage.Keys)}
			p.out.PossibleValues = in.Stage.PossibleValues
			p.out.RaisesAnomalies = true
			return p, nil
		},
	})
}

type anomalyProc struct {
	in  *probe.Input
	out *probe.Stage
}

func (p *anomalyProc) Eval(*probe.Tick) error {
	st := p.in.Stage
	p.out.Mirror(st)
	for i := 0; i < st.Len(); i++ {
		if !st.Valid(i) {
			p.out.Invalidate(i)
			continue
		}
		p.out.SetEvidence(i, st.EvidenceOf(i))
		p.out.SetStr(i, p.in.Str(i))
	}
	return nil
}
