package probe

import (
	"maps"
	"slices"
)

// StageInfo describes one stage of a plan's DAG: its type, keys and
// columns as type inference found them, the processor that produces it and
// the processors that read it.
type StageInfo struct {
	Name    string
	Type    StageType
	Keys    []string
	Columns []Column
	// PossibleValues and StateCodes are a discrete-state stage's states and
	// the numbers behind them, when its producer knows them.
	PossibleValues []string           `json:",omitempty"`
	StateCodes     map[string]float64 `json:",omitempty"`
	// Producer is the processor writing the stage; ProducerType its type.
	Producer     string
	ProducerType string
	// Consumers are the processors reading the stage, in evaluation order.
	Consumers []string
}

// StageGraph returns the typed stage graph of a validated plan, stages in
// evaluation order. It runs the plan's type inference again (no tick, no
// state beyond empty stages), so callers such as the partitioner can
// decide placement without an Instance of their own.
func (p *Plan) StageGraph() []StageInfo {
	var probs Problems
	inst := instantiate(p, reporter{probe: p.Doc.Label, list: &probs}, nil)
	typeOf := map[string]string{}
	for _, pp := range p.procs {
		typeOf[pp.doc.Name] = pp.doc.Type
		if pp.spec != nil {
			typeOf[pp.doc.Name] = pp.spec.Name
		}
	}
	out := make([]StageInfo, 0, len(inst.order))
	at := map[string]int{}
	for _, st := range inst.order {
		at[st.Name] = len(out)
		out = append(out, StageInfo{
			Name: st.Name, Type: st.Type, Keys: slices.Clone(st.Keys), Columns: slices.Clone(st.Columns),
			PossibleValues: slices.Clone(st.PossibleValues), StateCodes: maps.Clone(st.StateCodes),
			Producer: st.Producer, ProducerType: typeOf[st.Producer],
		})
	}
	for _, pp := range p.procs {
		for _, port := range sortedKeys(pp.doc.Inputs) {
			if i, ok := at[pp.doc.Inputs[port].Stage]; ok && !slices.Contains(out[i].Consumers, pp.doc.Name) {
				out[i].Consumers = append(out[i].Consumers, pp.doc.Name)
			}
		}
	}
	return out
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// Resolution returns the items the plan's sources were resolved to (Resolve,
// or the document's "resolved"), nil when none were.
func (p *Plan) Resolution() Resolution {
	if p.resolution == nil {
		return nil
	}
	return maps.Clone(p.resolution)
}
