package probe

import (
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"sort"
	"sync"
	"time"

	"github.com/probe-agent/probe-agent/collectors"
)

// Spec describes a processor type: what the introspection API shows about it
// and how to build an instance. Each processor file registers one Spec.
type Spec struct {
	Name        string
	Label       string
	Description string
	// Aliases are older or GUI-derived names accepted in documents and
	// normalised to Name.
	Aliases []string
	Inputs  map[string]Port
	Outputs map[string]Port
	// Schema describes the properties; it must be a closed object.
	Schema *Schema
	// CentralOnly marks processors whose data exists only on the central
	// system (Apstra's telemetry services); a device cannot evaluate them.
	CentralOnly bool
	// New builds the processor for one probe from validated properties and
	// typed inputs, declaring its outputs. It reports problems through b.
	New func(b *Build) (Processor, error)
}

// Port describes one input or output of a processor type. The input name
// "*" stands for any number of inputs with arbitrary names.
type Port struct {
	Required bool
	Types    []StageType
}

// MarshalJSON renders the port as the introspection API does.
func (p Port) MarshalJSON() ([]byte, error) {
	type typ struct {
		Keys           []string `json:"keys"`
		PossibleValues any      `json:"possible_values"`
		Type           string   `json:"type"`
	}
	out := struct {
		Required bool  `json:"required"`
		Types    []typ `json:"types"`
	}{Required: p.Required, Types: []typ{}}
	for _, t := range p.Types {
		var pv any
		if t.Kind == DiscreteState {
			pv = []string{}
		}
		out.Types = append(out.Types, typ{Keys: []string{}, PossibleValues: pv, Type: t.String()})
	}
	return json.Marshal(out)
}

func (p Port) accepts(t StageType) bool {
	for _, a := range p.Types {
		if a == t {
			return true
		}
	}
	return false
}

// MarshalJSON renders the processor description in the introspection format.
func (s *Spec) MarshalJSON() ([]byte, error) {
	ins, outs := s.Inputs, s.Outputs
	if ins == nil {
		ins = map[string]Port{}
	}
	return json.Marshal(struct {
		Description string          `json:"description"`
		Inputs      map[string]Port `json:"inputs"`
		Outputs     map[string]Port `json:"outputs"`
		Label       string          `json:"label"`
		Name        string          `json:"name"`
		Schema      *Schema         `json:"schema"`
		CentralOnly bool            `json:"central_only,omitempty"`
	}{s.Description, ins, outs, s.Label, s.Name, s.Schema, s.CentralOnly})
}

// Processor is a built processor of one probe instance.
type Processor interface {
	// Eval reads the processor's input stages and writes its outputs for one
	// tick.
	Eval(t *Tick) error
}

// Tick is the context of one evaluation.
type Tick struct {
	// Seq increases by one per tick of an instance.
	Seq uint64
	// Time is the sample time of the tick; processors never read the clock.
	Time time.Time
	// Counters is the interface counter batch of this tick, or nil.
	Counters *collectors.Batch
	// Items shares the interface-to-item mapping of Counters and the
	// previous tick's counters between the counter sources of all probes
	// evaluated on it; the caller calls Items.Advance after the last probe.
	// When nil, Instance.Tick uses the instance's own cache.
	Items *ItemCache
}

var (
	catalogMu sync.RWMutex
	catalog   = map[string]*Spec{}
	aliases   = map[string]string{}
)

// Register adds a processor type to the catalog; processor files call it
// from init. It panics on a duplicate name, a programming error.
func Register(s *Spec) {
	catalogMu.Lock()
	defer catalogMu.Unlock()
	if _, dup := catalog[s.Name]; dup {
		panic("probe: processor registered twice: " + s.Name)
	}
	if s.Schema == nil || !s.Schema.ClosedObject {
		panic("probe: processor " + s.Name + " needs a closed object schema")
	}
	catalog[s.Name] = s
	for _, a := range s.Aliases {
		aliases[a] = s.Name
	}
}

// Lookup finds a processor type by its API name or an alias.
func Lookup(name string) (*Spec, bool) {
	catalogMu.RLock()
	defer catalogMu.RUnlock()
	if s, ok := catalog[name]; ok {
		return s, true
	}
	if n, ok := aliases[name]; ok {
		return catalog[n], true
	}
	return nil, false
}

// Catalog lists every registered processor type, sorted by name.
func Catalog() []*Spec {
	catalogMu.RLock()
	defer catalogMu.RUnlock()
	out := make([]*Spec, 0, len(catalog))
	for _, s := range catalog {
		out = append(out, s)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// Input is a processor input bound to a stage column.
type Input struct {
	Port   string
	Stage  *Stage
	Column int
	// Type is the stage's type with the value kind of the chosen column.
	Type StageType
}

// Num reads the input's column of item i as a number.
func (in *Input) Num(i int) float64 { return in.Stage.Num(i, in.Column) }

// Str reads the input's column of item i as a string.
func (in *Input) Str(i int) string { return in.Stage.Str(i, in.Column) }

// Build is what a Spec's New receives: the processor's validated properties,
// its typed inputs, and a way to declare outputs and report problems.
type Build struct {
	ProbeID    string
	ProbeLabel string
	Dialect    Dialect
	// Name is the processor's instance name; Type its API type.
	Name  string
	Type  string
	Props map[string]any
	// Resolved is the source's items from its graph query, when a
	// controller resolved it; nil on a device on its own.
	Resolved *SourceItems

	inputs  map[string]*Input
	outputs map[string]string
	inst    *Instance
	rep     reporter
	failed  bool
}

// Input returns the input bound to port, or nil when it is not connected.
func (b *Build) Input(port string) *Input { return b.inputs[port] }

// Inputs returns every connected input, sorted by port name.
func (b *Build) Inputs() []*Input {
	out := make([]*Input, 0, len(b.inputs))
	for _, p := range slices.Sorted(maps.Keys(b.inputs)) {
		out = append(out, b.inputs[p])
	}
	return out
}

// Errorf reports a problem with a field of this processor (e.g.
// "properties.group_by") and marks the build failed.
func (b *Build) Errorf(field, format string, args ...any) {
	b.rep.addf(field, format, args...)
	b.failed = true
}

// Failed reports whether a problem was reported.
func (b *Build) Failed() bool { return b.failed }

// Decode copies the validated properties into a typed configuration struct
// (json field tags). Schema validation has already run, so a failure here is
// a mismatch between a schema and its struct.
func (b *Build) Decode(dst any) error {
	raw, err := json.Marshal(b.Props)
	if err != nil {
		return err
	}
	if err := json.Unmarshal(raw, dst); err != nil {
		return fmt.Errorf("properties: %w", err)
	}
	return nil
}

// Output declares the stage written to an output port and returns it, or
// nil when the port is not connected. The first column is always "value" of
// kind t.Kind; extra columns follow.
func (b *Build) Output(port string, t StageType, keys []string, extra ...Column) *Stage {
	name, ok := b.outputs[port]
	if !ok {
		return nil
	}
	st := &Stage{
		Name:     name,
		Type:     t,
		Keys:     keys,
		Columns:  append([]Column{{Name: "value", Kind: t.Kind}}, extra...),
		Producer: b.Name,
		Meta:     b.inst.meta[name],
	}
	if t.Kind == DiscreteState {
		st.PossibleValues = []string{"true", "false"}
	}
	if v, _ := b.Props["enable_streaming"].(bool); v {
		st.Streaming = true
	}
	if !t.Set {
		st.SetSingle()
	}
	b.inst.addStage(st)
	return st
}

// Consumer is a processor input that reads one of the stages a processor
// being built writes.
type Consumer struct {
	// Processor and Type are the consuming processor's name and type; Port
	// is its input, Column the column it reads ("value" unless given).
	Processor, Type, Port, Column string
	accepts                       Port
}

// Accepts tells whether the consumer's input takes a stage of type t.
func (c Consumer) Accepts(t StageType) bool { return c.accepts.accepts(t) }

// Consumers lists the processor inputs of the probe that read the stage on
// output port, in document order. Processors whose outputs are not known
// before they run (service collectors without a schema) use it to shape
// their stage the way the rest of the probe reads it.
func (b *Build) Consumers(port string) []Consumer {
	stage, ok := b.outputs[port]
	if !ok || b.inst == nil {
		return nil
	}
	var out []Consumer
	for _, pd := range b.inst.Plan.Doc.Processors {
		spec, ok := Lookup(pd.Type)
		if !ok {
			continue
		}
		for _, in := range slices.Sorted(maps.Keys(pd.Inputs)) {
			ref := pd.Inputs[in]
			if ref.Stage != stage {
				continue
			}
			p, ok := spec.Inputs[in]
			if !ok {
				p = spec.Inputs["*"]
			}
			out = append(out, Consumer{Processor: pd.Name, Type: spec.Name, Port: in, Column: ref.Column, accepts: p})
		}
	}
	return out
}

// WantedColumns lists the columns other than "value" that the probe expects
// on the stage of output port: those its consumers read and those its stage
// metadata gives units for, sorted.
func (b *Build) WantedColumns(port string) []string {
	stage, ok := b.outputs[port]
	if !ok {
		return nil
	}
	set := map[string]bool{}
	for _, c := range b.Consumers(port) {
		set[c.Column] = true
	}
	if b.inst != nil {
		for col := range b.inst.meta[stage].Units.Columns {
			set[col] = true
		}
	}
	delete(set, "value")
	delete(set, "")
	return slices.Sorted(maps.Keys(set))
}

// Connected tells whether output port is mapped to a stage.
func (b *Build) Connected(port string) bool {
	_, ok := b.outputs[port]
	return ok
}
