package probe

import (
	"fmt"
	"maps"
	"runtime"
	"slices"
	"sort"
	"strings"
	"time"
)

// State is a probe's lifecycle state, as the REST API reports it.
type State string

// Probe states.
const (
	StateCreated     State = "created"
	StateOperational State = "operational"
	StateError       State = "error"
)

// Instance is a running probe: its stages, processor state and anomalies.
// It is not safe for concurrent use; the agent serialises ticks and reads.
type Instance struct {
	Plan *Plan

	procs     []runProc
	stages    map[string]*Stage
	order     []*Stage // stages in creation (evaluation) order
	meta      map[string]StageDoc
	anomalies *anomalyTracker
	// items is the counter sources' cache when a tick brings none.
	items    ItemCache
	ownTick  Tick
	warnings []string

	seq     uint64
	now     time.Time
	state   State
	lastErr string
	// acct is the instance's share of the stage-data memory budget;
	// dropped is its count of samples dropped early at the last tick.
	acct    *account
	dropped uint64
	// stopped is set when a budget refused a layout in the middle of an
	// evaluation: the processors' state may no longer match their stages,
	// so the instance is not evaluated again (the probe is applied anew).
	stopped string
}

type runProc struct {
	name string
	p    Processor
}

// NewInstance creates the running state of a validated plan.
//
// The instance's stage data is charged to the plan's memory budget (the
// Options it was compiled with); Release gives it back.
func NewInstance(p *Plan) (*Instance, error) {
	var probs Problems
	budget := p.memory
	if budget == nil {
		budget = NewMemoryBudget(p.limits.StageMemory)
	}
	inst := instantiate(p, reporter{probe: p.Doc.Label, list: &probs}, budget)
	if err := probs.Err(); err != nil {
		inst.acct.release()
		return nil, err
	}
	// An instance dropped without Release still gives its memory back,
	// once collected.
	runtime.AddCleanup(inst, (*account).release, inst.acct)
	return inst, nil
}

// Release gives the memory the instance's stage data holds back to its
// budget. Call it when the probe is taken out of service; the instance
// is not to be evaluated afterwards.
func (inst *Instance) Release() { inst.acct.release() }

// Usage is what the instance holds against its budgets and what they
// refused it so far.
func (inst *Instance) Usage() Usage {
	return Usage{StageBytes: inst.acct.used.Load(), SamplesDropped: inst.acct.dropped.Load(), LayoutsRefused: inst.acct.layouts.Load()}
}

// Limits are the budgets the instance was validated and runs with.
func (inst *Instance) Limits() Limits { return inst.Plan.limits }

// instantiate builds every processor in order, inferring stage types. It is
// shared by validation (which reports, with no budget: nothing is refused)
// and NewInstance (which then cannot fail on a validated plan).
func instantiate(p *Plan, rep reporter, budget *MemoryBudget) *Instance {
	inst := &Instance{
		Plan:   p,
		stages: map[string]*Stage{},
		meta:   map[string]StageDoc{},
		state:  StateCreated,
		acct:   &account{budget: budget, limits: p.limits},
	}
	for _, sd := range p.Doc.Stages {
		inst.meta[sd.Name] = sd
	}
	for _, pp := range p.procs {
		if pp.invalid {
			continue
		}
		r := rep.forProcessor(pp.doc.Name)
		b := &Build{
			ProbeID:    p.ID,
			ProbeLabel: p.Doc.Label,
			Dialect:    p.Doc.Dialect,
			Name:       pp.doc.Name,
			Type:       pp.spec.Name,
			Props:      cloneJSON(pp.props).(map[string]any),
			Resolved:   p.resolution[pp.doc.Name],
			inputs:     map[string]*Input{},
			outputs:    pp.doc.Outputs,
			inst:       inst,
			rep:        r,
		}
		ready := true
		for _, port := range slices.Sorted(maps.Keys(pp.doc.Inputs)) {
			ref := pp.doc.Inputs[port]
			st, ok := inst.stages[ref.Stage]
			if !ok {
				ready = false // the producer failed; already reported
				continue
			}
			col, ok := st.ColumnIndex(ref.Column)
			if !ok {
				r.addf("inputs."+port+".column", "stage %q has no column %q (columns: %s)", ref.Stage, ref.Column, columnNames(st))
				ready = false
				continue
			}
			in := &Input{Port: port, Stage: st, Column: col, Type: st.Type.WithKind(st.Columns[col].Kind)}
			spec, ok := pp.spec.Inputs[port]
			if !ok {
				spec = pp.spec.Inputs["*"]
			}
			if !spec.accepts(in.Type) && !acceptsPartial(pp, in.Type) {
				r.addf("inputs."+port, "stage %q is of type %s, but %s accepts %s", ref.Stage, in.Type, pp.spec.Name, typeList(spec.Types))
				ready = false
				continue
			}
			b.inputs[port] = in
		}
		if !ready {
			continue
		}
		built := len(inst.order)
		proc, err := build(pp.spec, b)
		if err != nil {
			r.addf("", "%v", err)
			continue
		}
		if b.failed || proc == nil {
			continue
		}
		checkSeriesBudget(inst.order[built:], pp.spec.Schema.Properties["max_samples"] != nil, p.limits, r)
		inst.procs = append(inst.procs, runProc{name: pp.doc.Name, p: proc})
	}
	for _, sd := range p.Doc.Stages {
		st, ok := inst.stages[sd.Name]
		if !ok || sd.Units.Columns == nil {
			continue
		}
		for _, col := range slices.Sorted(maps.Keys(sd.Units.Columns)) {
			if _, ok := st.ColumnIndex(col); !ok {
				rep.addf(fmt.Sprintf("stages[%q].units.%s", sd.Name, col), "stage has no column %q (columns: %s)", col, columnNames(st))
			}
		}
	}
	inst.anomalies = newAnomalyTracker(inst)
	return inst
}

// build calls a processor's builder, turning a panic into a problem: bad
// input must never crash the agent, even through a builder bug.
func build(spec *Spec, b *Build) (p Processor, err error) {
	defer func() {
		if r := recover(); r != nil {
			p, err = nil, fmt.Errorf("internal error building %s: %v", spec.Name, r)
		}
	}()
	return spec.New(b)
}

// eval runs one processor, turning a panic into an error: a processor bug
// puts its probe in the error state instead of taking the agent down.
func eval(p Processor, t *Tick) (err error) {
	defer func() {
		if r := recover(); r != nil {
			if le, ok := r.(*LimitError); ok {
				err = le // a budget refused a layout: not a bug
				return
			}
			err = fmt.Errorf("internal error: %v", r)
		}
	}()
	return p.Eval(t)
}

func (inst *Instance) addStage(st *Stage) {
	st.acct = inst.acct
	inst.stages[st.Name] = st
	inst.order = append(inst.order, st)
}

// Warn records a non-fatal finding (shown by probectl validate).
func (b *Build) Warn(format string, args ...any) {
	b.inst.warnings = append(b.inst.warnings, fmt.Sprintf("processor %q: %s", b.Name, fmt.Sprintf(format, args...)))
}

func columnNames(st *Stage) string {
	names := make([]string, len(st.Columns))
	for i, c := range st.Columns {
		names[i] = c.Name
	}
	return strings.Join(names, ", ")
}

func typeList(ts []StageType) string {
	names := make([]string, len(ts))
	for i, t := range ts {
		names[i] = t.String()
	}
	return strings.Join(names, ", ")
}

// ID is the probe id.
func (inst *Instance) ID() string { return inst.Plan.ID }

// State returns the probe state and the last error message.
func (inst *Instance) State() (State, string) { return inst.state, inst.lastErr }

// Seq is the sequence number of the last tick.
func (inst *Instance) Seq() uint64 { return inst.seq }

// Time is the time of the last tick.
func (inst *Instance) Time() time.Time { return inst.now }

// Stage returns a stage by name.
func (inst *Instance) Stage(name string) (*Stage, bool) {
	st, ok := inst.stages[name]
	return st, ok
}

// Stages returns every stage in evaluation order.
func (inst *Instance) Stages() []*Stage { return inst.order }

// StageNames returns the stage names, sorted.
func (inst *Instance) StageNames() []string {
	names := make([]string, 0, len(inst.stages))
	for n := range inst.stages {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// Tick evaluates every processor once. A processor error puts the probe in
// the error state (with a message naming the processor) and ends the tick;
// the next successful tick makes it operational again.
func (inst *Instance) Tick(t *Tick) error {
	// Transitions are per tick: a disabled probe has none, not the last ones
	// it had before it was disabled.
	inst.anomalies.resetTransitions()
	if inst.Plan.Doc.Disabled {
		return nil
	}
	if inst.stopped != "" {
		inst.state, inst.lastErr = StateError, inst.stopped
		return fmt.Errorf("probe %q: %s", inst.Plan.Doc.Label, inst.lastErr)
	}
	if err := inst.admitInterfaces(t); err != nil {
		return err
	}
	inst.seq++
	t.Seq = inst.seq
	if t.Items == nil && t.Counters != nil {
		// Evaluated alone: counter sources share this probe's own cache.
		inst.ownTick = *t
		inst.ownTick.Items = &inst.items
		t = &inst.ownTick
		defer inst.items.Advance(t.Counters, t.Time)
	}
	inst.now = t.Time
	for _, st := range inst.order {
		st.begin(inst.seq, t.Time)
	}
	for _, rp := range inst.procs {
		if err := eval(rp.p, t); err != nil {
			inst.state = StateError
			inst.lastErr = fmt.Sprintf("processor %q: %v", rp.name, err)
			if _, ok := err.(*LimitError); ok {
				inst.lastErr += "; the probe is stopped until it is applied again"
				inst.stopped = inst.lastErr
			}
			return fmt.Errorf("probe %q: %s", inst.Plan.Doc.Label, inst.lastErr)
		}
	}
	inst.state, inst.lastErr = StateOperational, ""
	if d := inst.acct.dropped.Load(); d != inst.dropped {
		// Still evaluating, with less history than asked for: say so
		// while it lasts.
		inst.dropped = d
		inst.lastErr = fmt.Sprintf("stage data at its memory budget of %s (limits.stage_memory): %d samples dropped before max_samples or total_duration would drop them", FormatBytes(inst.acct.budget.Limit()), d)
	}
	inst.anomalies.update(t.Time)
	return nil
}

// UpdateMetadata applies a document's metadata (label, description, tags,
// disabled, stage descriptions, tags and units) to a running instance
// without touching its processors or state. doc must describe the same
// processors, as a PATCH guarantees.
func (inst *Instance) UpdateMetadata(doc *Document) {
	old := inst.Plan.Doc
	d := *old
	d.Label, d.Description, d.Tags, d.Disabled = doc.Label, doc.Description, doc.Tags, doc.Disabled
	d.Stages, d.Raw = doc.Stages, doc.Raw
	plan := *inst.Plan
	plan.Doc = &d
	inst.Plan = &plan
	inst.meta = map[string]StageDoc{}
	for _, sd := range doc.Stages {
		inst.meta[sd.Name] = sd
	}
	for _, st := range inst.order {
		st.Meta = inst.meta[st.Name]
	}
}

// AnomalyCount is the number of currently raised anomalies.
func (inst *Instance) AnomalyCount() int { return inst.anomalies.count }
