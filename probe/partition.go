package probe

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
)

// Side is where a processor of a split probe runs.
type Side string

// Sides.
const (
	// Edge processors run on every device, on that device's items.
	Edge Side = "edge"
	// Central processors run once, on what crosses the cut.
	Central Side = "central"
	// SplitSide marks a grouping processor cut in two: a partial-state
	// output on every device and a merge in the centre.
	SplitSide Side = "split"
)

// Crossing kinds.
const (
	// CrossPartial is a partial-state stage: one item per group per device.
	CrossPartial = "partial"
	// CrossItems is a stage shipped item by item, because a central
	// processor needs its items (a holistic processor, or one that also
	// reads a central stage).
	CrossItems = "items"
)

// Crossing is a stage that crosses the cut: every device streams it to the
// centre as StageUpdates.
type Crossing struct {
	// Stage is its name in both parts.
	Stage string
	Kind  string
	// From is the edge processor producing it; To the central processors
	// reading it.
	From string
	To   []string
	// Partial is the partial state of a CrossPartial stage.
	Partial *PartialSpec `json:",omitempty"`
	Type    StageType
	Keys    []string
	Columns []Column
	// Reason says why a CrossItems stage is shipped item by item.
	Reason string `json:",omitempty"`
}

// Split is a probe cut between the devices and the centre: the edge part
// every device evaluates on its own items, the central part evaluated on
// what the devices stream, and the stages that cross.
type Split struct {
	Probe      *Plan
	DeviceKeys []string
	// Edge and Central are the two parts as validated plans (nil for an
	// empty part); EdgeDoc and CentralDoc the probe documents a controller
	// pushes and evaluates. Both keep the probe's id, label and dialect, so
	// anomalies and item ids are the same as the whole probe's.
	Edge, Central       *Plan
	EdgeDoc, CentralDoc []byte
	// Sides gives each processor of the probe its side.
	Sides     map[string]Side
	Crossings []Crossing
	// Notes explain fallbacks (stages shipped item by item).
	Notes []string
}

// EdgeOnly reports whether nothing crosses the cut: the probe runs
// entirely on the devices, and the centre only collects their anomalies.
func (s *Split) EdgeOnly() bool { return s.Central == nil }

// PartialSuffix names the partial-state stage of a split grouping's output.
const PartialSuffix = ".partial"

// Partition cuts a validated plan between devices and the centre. A device
// is identified by the values of deviceKeys (default system_id). A
// processor runs at the edge when every item it outputs depends on one
// device only: a source whose items carry the device keys, a per-item
// processor (RegisterPlacement) of edge stages, a grouping whose group_by
// includes the device keys. A grouping across devices with a partial state
// (RegisterPartial) is split: each device outputs the partial state per
// group (grouped by the device keys too, so partials carry their device),
// the centre merges and finishes. Everything downstream of a central stage
// is central; an edge stage a central processor reads other than through a
// partial crosses item by item (the fallback for holistic processors, and
// said so in Notes). Partition is pure: it reads the plan and builds two
// new ones.
func Partition(p *Plan, deviceKeys []string) (*Split, error) {
	if len(deviceKeys) == 0 {
		deviceKeys = []string{"system_id"}
	}
	for _, pp := range p.procs {
		if pp.invalid || pp.spec == nil {
			return nil, fmt.Errorf("probe %q: processor %q is not valid; validate the probe first", p.Doc.Label, pp.doc.Name)
		}
	}
	graph := p.StageGraph()
	info := map[string]*StageInfo{}
	for i := range graph {
		info[graph[i].Name] = &graph[i]
	}
	hasDeviceKeys := func(stage string) bool {
		st, ok := info[stage]
		if !ok {
			return false
		}
		for _, k := range deviceKeys {
			if !slices.Contains(st.Keys, k) {
				return false
			}
		}
		return true
	}
	s := &Split{Probe: p, DeviceKeys: slices.Clone(deviceKeys), Sides: map[string]Side{}}
	edgeStage := map[string]bool{}
	for _, pp := range p.procs {
		outs := sortedKeys(pp.doc.Outputs)
		allOut := func(f func(string) bool) bool {
			for _, port := range outs {
				if !f(pp.doc.Outputs[port]) {
					return false
				}
			}
			return true
		}
		allInEdge := true
		for _, port := range sortedKeys(pp.doc.Inputs) {
			allInEdge = allInEdge && edgeStage[pp.doc.Inputs[port].Stage]
		}
		side := Central
		switch {
		case len(pp.doc.Inputs) == 0:
			if !pp.spec.CentralOnly && allOut(hasDeviceKeys) {
				side = Edge
			}
		case !allInEdge:
		case PlacementOf(pp.spec.Name) == PlacePerItem:
			if allOut(hasDeviceKeys) {
				side = Edge
			}
		case PlacementOf(pp.spec.Name) == PlaceGrouping:
			side = SplitSide
			if groupBy := stringList(pp.props["group_by"]); containsAll(groupBy, deviceKeys) {
				side = Edge
			}
		}
		if side == Central && len(pp.doc.Inputs) == 0 && !pp.spec.CentralOnly {
			var keys []string
			for _, port := range outs {
				keys = append(keys, "["+strings.Join(info[pp.doc.Outputs[port]].Keys, ", ")+"]")
			}
			s.Notes = append(s.Notes, fmt.Sprintf("source %q (%s) runs centrally: its items (keys %s) do not carry the device keys [%s], so no device can evaluate it on its own data", pp.doc.Name, pp.spec.Name, strings.Join(keys, ", "), strings.Join(deviceKeys, ", ")))
		}
		s.Sides[pp.doc.Name] = side
		if side == Edge {
			for _, port := range outs {
				edgeStage[pp.doc.Outputs[port]] = true
			}
		}
	}

	var edgeProcs, centralProcs []map[string]any
	var crossInputs []map[string]any
	crossed := map[string]int{} // stage -> index in Crossings
	for _, pp := range p.procs {
		switch s.Sides[pp.doc.Name] {
		case Edge:
			edgeProcs = append(edgeProcs, processorJSON(pp.doc, nil, nil))
		case SplitSide:
			ps, _ := PartialOf(pp.spec.Name)
			out := pp.doc.Outputs["out"]
			partial := out + PartialSuffix
			if _, taken := info[partial]; taken {
				return nil, fmt.Errorf("probe %q: processor %q: stage name %q for its partial state is taken", p.Doc.Label, pp.doc.Name, partial)
			}
			groupBy := stringList(pp.props["group_by"])
			keys := slices.Clone(deviceKeys)
			for _, k := range groupBy {
				if !slices.Contains(keys, k) {
					keys = append(keys, k)
				}
			}
			edgeProps := cloneJSON(pp.doc.Properties).(map[string]any)
			edgeProps["partial"], edgeProps["group_by"] = PartialOutput, anyList(keys)
			edgeProcs = append(edgeProcs, processorJSON(pp.doc, edgeProps, map[string]string{"out": partial}))
			cols := ps.StageColumns()
			crossInputs = append(crossInputs, stageInputJSON(partial, NS, keys, cols,
				fmt.Sprintf("partial state %s of processor %q from every device", ps, pp.doc.Name)))
			mergeProps := cloneJSON(pp.doc.Properties).(map[string]any)
			mergeProps["partial"] = PartialMerge
			merge := processorJSON(pp.doc, mergeProps, nil)
			merge["inputs"] = map[string]any{"in": inputJSON(InputRef{Stage: partial, Column: "value", Object: pp.doc.Inputs["in"].Object})}
			centralProcs = append(centralProcs, merge)
			psCopy := ps
			crossed[partial] = len(s.Crossings)
			s.Crossings = append(s.Crossings, Crossing{Stage: partial, Kind: CrossPartial, From: pp.doc.Name, To: []string{pp.doc.Name},
				Partial: &psCopy, Type: NS, Keys: keys, Columns: cols})
		case Central:
			for _, port := range sortedKeys(pp.doc.Inputs) {
				in := pp.doc.Inputs[port].Stage
				if !edgeStage[in] {
					continue
				}
				if k, ok := crossed[in]; ok {
					if !slices.Contains(s.Crossings[k].To, pp.doc.Name) {
						s.Crossings[k].To = append(s.Crossings[k].To, pp.doc.Name)
					}
					continue
				}
				st := info[in]
				reason := fmt.Sprintf("processor %q (%s) reads it", pp.doc.Name, pp.spec.Name)
				allInEdge := true
				for _, p := range pp.doc.Inputs {
					allInEdge = allInEdge && edgeStage[p.Stage]
				}
				switch {
				case !allInEdge:
					reason += " and also reads a central stage"
				case PlacementOf(pp.spec.Name) == PlaceWhole:
					reason += " and has no partial state (not decomposable): its input crosses item by item"
				default:
					reason += " and its output items do not carry the device keys"
				}
				s.Notes = append(s.Notes, fmt.Sprintf("stage %q crosses item by item: %s", in, reason))
				crossed[in] = len(s.Crossings)
				s.Crossings = append(s.Crossings, Crossing{Stage: in, Kind: CrossItems, From: st.Producer, To: []string{pp.doc.Name},
					Type: st.Type, Keys: st.Keys, Columns: st.Columns, Reason: reason})
				si := stageInputJSON(in, st.Type, st.Keys, st.Columns, fmt.Sprintf("items of stage %q from every device", in))
				if st.Type.Kind == DiscreteState {
					props := si["properties"].(map[string]any)
					props["possible_values"] = anyList(st.PossibleValues)
					if st.StateCodes != nil {
						props["state_codes"] = st.StateCodes
					}
				}
				crossInputs = append(crossInputs, si)
			}
			centralProcs = append(centralProcs, processorJSON(pp.doc, nil, nil))
		}
	}
	centralProcs = append(crossInputs, centralProcs...)

	var err error
	if len(edgeProcs) > 0 {
		// "export": what each device streams to the centre after a tick;
		// present even when empty, which marks a part a controller pushed
		// (the device then forwards its anomalies too).
		export := []any{}
		for _, c := range s.Crossings {
			export = append(export, c.Stage)
		}
		if s.EdgeDoc, s.Edge, err = partDocument(p, "edge", edgeProcs, func(st string) bool { return edgeStage[st] }, map[string]any{"export": export}); err != nil {
			return nil, err
		}
	}
	if len(centralProcs) > 0 {
		central := func(st string) bool { _, c := crossed[st]; return !edgeStage[st] || c }
		if s.CentralDoc, s.Central, err = partDocument(p, "central", centralProcs, central, nil); err != nil {
			return nil, err
		}
	}
	// Sources keep the items their graph queries resolved to: an edge
	// instance on one device takes that device's, a central source all.
	if p.resolution != nil {
		if s.Edge != nil {
			s.Edge = s.Edge.Resolve(p.resolution)
		}
		if s.Central != nil {
			s.Central = s.Central.Resolve(p.resolution)
		}
	}
	return s, nil
}

func containsAll(set, want []string) bool {
	for _, w := range want {
		if !slices.Contains(set, w) {
			return false
		}
	}
	return true
}

func stringList(v any) []string {
	list, _ := v.([]any)
	out := make([]string, 0, len(list))
	for _, x := range list {
		if s, ok := x.(string); ok {
			out = append(out, s)
		}
	}
	return out
}

func anyList(ss []string) []any {
	out := make([]any, len(ss))
	for i, s := range ss {
		out[i] = s
	}
	return out
}

func inputJSON(ref InputRef) any {
	if ref.Object || (ref.Column != "" && ref.Column != "value") {
		return map[string]any{"stage": ref.Stage, "column": ref.Column}
	}
	return ref.Stage
}

// processorJSON renders a processor document, with other properties and
// outputs when given.
func processorJSON(pd *ProcessorDoc, props map[string]any, outputs map[string]string) map[string]any {
	if props == nil {
		props = pd.Properties
	}
	if outputs == nil {
		outputs = pd.Outputs
	}
	m := map[string]any{"name": pd.Name, "type": pd.Type, "outputs": outputs, "properties": props}
	if len(pd.Inputs) > 0 {
		ins := map[string]any{}
		for port, ref := range pd.Inputs {
			ins[port] = inputJSON(ref)
		}
		m["inputs"] = ins
	}
	return m
}

func stageInputJSON(stage string, t StageType, keys []string, cols []Column, source string) map[string]any {
	columns := []any{}
	for _, c := range cols[1:] {
		kind := "number"
		switch c.Kind {
		case DiscreteState:
			kind = "discrete_state"
		case Text:
			kind = "text"
		}
		columns = append(columns, map[string]any{"name": c.Name, "kind": kind})
	}
	if !t.Set {
		keys = nil
	}
	return map[string]any{
		"name": stage, "type": "stage_input", "outputs": map[string]string{"out": stage},
		"properties": map[string]any{"source": source, "stage_type": t.String(), "keys": anyList(keys), "columns": columns},
	}
}

// partDocument writes one part of a split as a probe document and
// validates it; keep selects the stage metadata that belongs to the part,
// extra adds top-level fields.
func partDocument(p *Plan, part string, procs []map[string]any, keep func(stage string) bool, extra map[string]any) ([]byte, *Plan, error) {
	doc := p.Doc
	m := map[string]any{
		"id": p.ID, "label": doc.Label, "dialect": string(doc.Dialect), "processors": procs,
	}
	for k, v := range extra {
		m[k] = v
	}
	if doc.Description != "" {
		m["description"] = doc.Description
	}
	if len(doc.Tags) > 0 {
		m["tags"] = doc.Tags
	}
	if doc.Disabled {
		m["disabled"] = true
	}
	var stages []map[string]any
	for _, sd := range doc.Stages {
		if !keep(sd.Name) {
			continue
		}
		st := map[string]any{"name": sd.Name, "units": sd.Units}
		if sd.Description != "" {
			st["description"] = sd.Description
		}
		if len(sd.Tags) > 0 {
			st["tags"] = sd.Tags
		}
		stages = append(stages, st)
	}
	if len(stages) > 0 {
		m["stages"] = stages
	}
	data, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return nil, nil, fmt.Errorf("probe %q: %s part: %w", doc.Label, part, err)
	}
	plan, probs := CompileJSONWith(data, p.partOptions(len(procs)))
	if len(probs) > 0 {
		return nil, nil, fmt.Errorf("probe %q: %s part does not validate (a partitioner bug):\n%s", doc.Label, part, strings.TrimSpace(probs.Error()))
	}
	return data, plan, nil
}

// EdgeFor returns the edge part as pushed to one device: the edge
// document with, when the probe's sources were resolved on a topology, the
// device's own items in "resolved" (the items whose system_id is device),
// and its plan. Without a resolution every device gets EdgeDoc itself.
// Devices are named by their system_id.
func (s *Split) EdgeFor(device string) ([]byte, *Plan, error) {
	if s.Edge == nil {
		return nil, nil, fmt.Errorf("probe %q: nothing runs on the devices", s.Probe.Doc.Label)
	}
	res := s.Probe.resolution
	if res == nil {
		return s.EdgeDoc, s.Edge, nil
	}
	var m map[string]any
	if err := json.Unmarshal(s.EdgeDoc, &m); err != nil {
		return nil, nil, err
	}
	mine := map[string]*SourceItems{}
	for _, name := range sortedKeys(res) {
		if _, ok := s.Sides[name]; !ok || s.Sides[name] != Edge {
			continue
		}
		si := NewSourceItems(res[name].Keys)
		res[name].Each(func(sys, iface string, values []string) {
			if sys == device {
				si.Add(sys, iface, values)
			}
		})
		mine[name] = si
	}
	m["resolved"] = mine
	data, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return nil, nil, err
	}
	plan, probs := CompileJSONWith(data, s.Edge.opts)
	if len(probs) > 0 {
		return nil, nil, fmt.Errorf("probe %q: edge part for %q does not validate (a partitioner bug):\n%s", s.Probe.Doc.Label, device, strings.TrimSpace(probs.Error()))
	}
	return data, plan, nil
}
