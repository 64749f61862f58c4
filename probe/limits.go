package probe

import (
	"fmt"
	"math"
	"sync/atomic"
)

// Limits are the resource budgets that keep probes from taking the device
// down with them: a probe is refused at validation when it asks for more
// than a budget allows, and a running probe is never given more than the
// budgets grant (what is refused is counted and the probe's status says
// so). Zero fields take the defaults; docs/probes.md ("Limits") explains
// them and the agent's configuration sets them (limits:).
type Limits struct {
	// SamplesPerSeries bounds every time series: an accumulate's
	// max_samples must be at most this, and set (0 means unbounded, the
	// HardMaxSamples a series can hold at most, refused unless this is
	// HardMaxSamples); a series that arrives whole (stage_input) is cut
	// to it.
	SamplesPerSeries int
	// ItemsPerStage bounds the items of one stage; a layout with more is
	// refused at run time (the probe goes to the error state).
	ItemsPerStage int
	// ProcessorsPerProbe bounds the processors of one document.
	ProcessorsPerProbe int
	// ProbesPerAgent bounds the probes an agent runs (all origins); the
	// agent's probe set enforces it, the engine only carries it.
	ProbesPerAgent int
	// StageMemory bounds, in bytes, the memory the stage data of all the
	// probes sharing a MemoryBudget holds: item columns and time series.
	StageMemory int64
}

// The default budgets, sized for a switch: 4,000 interfaces with a few
// items each, an hour of once-a-second history per series, and stage data
// that stays a small share of a control plane with 8 GB or more (the
// whole agent with ten ordinary probes at 4,000 interfaces holds under
// 24 MiB).
const (
	// DefaultSamplesPerSeries is 68 minutes of a value that changes every
	// second; 64 KiB per number series.
	DefaultSamplesPerSeries = 4096
	// DefaultItemsPerStage is four times a 16,000-interface switch's
	// interfaces, or 4,000 interfaces times 16 queues.
	DefaultItemsPerStage = 65536
	// DefaultProcessorsPerProbe is twice the largest Apstra reference
	// probes.
	DefaultProcessorsPerProbe = 64
	// DefaultProbesPerAgent is ten times what a fabric's probes put on one
	// device.
	DefaultProbesPerAgent = 1000
	// DefaultStageMemory is 128 MiB: five times the whole agent's memory
	// with the ten-probe set at 4,000 interfaces.
	DefaultStageMemory = 128 << 20
)

// DefaultLimits returns the default budgets.
func DefaultLimits() Limits {
	return Limits{
		SamplesPerSeries:   DefaultSamplesPerSeries,
		ItemsPerStage:      DefaultItemsPerStage,
		ProcessorsPerProbe: DefaultProcessorsPerProbe,
		ProbesPerAgent:     DefaultProbesPerAgent,
		StageMemory:        DefaultStageMemory,
	}
}

// WithDefaults returns l with its zero fields set to the defaults.
func (l Limits) WithDefaults() Limits {
	d := DefaultLimits()
	if l.SamplesPerSeries == 0 {
		l.SamplesPerSeries = d.SamplesPerSeries
	}
	if l.ItemsPerStage == 0 {
		l.ItemsPerStage = d.ItemsPerStage
	}
	if l.ProcessorsPerProbe == 0 {
		l.ProcessorsPerProbe = d.ProcessorsPerProbe
	}
	if l.ProbesPerAgent == 0 {
		l.ProbesPerAgent = d.ProbesPerAgent
	}
	if l.StageMemory == 0 {
		l.StageMemory = d.StageMemory
	}
	return l
}

// Check reports the first budget that cannot be used, naming its
// configuration key (limits.*).
func (l Limits) Check() error {
	switch {
	case l.SamplesPerSeries < 0 || l.SamplesPerSeries > HardMaxSamples:
		return fmt.Errorf("limits.samples_per_series: %d is not between 1 and %d (0 for the default, %d)", l.SamplesPerSeries, HardMaxSamples, DefaultSamplesPerSeries)
	case l.ItemsPerStage < 0:
		return fmt.Errorf("limits.items_per_stage: %d is negative (0 for the default, %d)", l.ItemsPerStage, DefaultItemsPerStage)
	case l.ProcessorsPerProbe < 0:
		return fmt.Errorf("limits.processors_per_probe: %d is negative (0 for the default, %d)", l.ProcessorsPerProbe, DefaultProcessorsPerProbe)
	case l.ProbesPerAgent < 0:
		return fmt.Errorf("limits.probes_per_agent: %d is negative (0 for the default, %d)", l.ProbesPerAgent, DefaultProbesPerAgent)
	case l.StageMemory < 0:
		return fmt.Errorf("limits.stage_memory: %d is negative (0 for the default, %s)", l.StageMemory, FormatBytes(DefaultStageMemory))
	}
	return nil
}

// FormatBytes writes n bytes the way limits.stage_memory is written
// ("128MiB", "1.5GiB", "4096B").
func FormatBytes(n int64) string {
	const (
		kib = 1 << 10
		mib = 1 << 20
		gib = 1 << 30
	)
	// tenths: n is a whole number of tenths of unit, so one decimal is
	// exact (gib/10 is not a whole number of bytes: n%(gib/10) would say
	// no to 1 GiB itself).
	tenths := func(unit int64) bool {
		return n%unit == 0 || (n <= math.MaxInt64/10 && (n*10)%unit == 0)
	}
	switch {
	case n >= gib && tenths(gib):
		return trimFloat(float64(n)/gib) + "GiB"
	case n >= mib && tenths(mib):
		return trimFloat(float64(n)/mib) + "MiB"
	case n >= kib && n%kib == 0:
		return trimFloat(float64(n)/kib) + "KiB"
	case n >= mib:
		return fmt.Sprintf("%.1fMiB", float64(n)/mib)
	}
	return fmt.Sprintf("%dB", n)
}

func trimFloat(f float64) string {
	if f == float64(int64(f)) {
		return fmt.Sprintf("%d", int64(f))
	}
	return fmt.Sprintf("%.1f", f)
}

// MemoryBudget is the memory the stage data of many instances shares (an
// agent has one for all its probes): instances take from it as their
// stages and series grow, give back as they shrink, and return what they
// hold when released. It is safe for concurrent use.
type MemoryBudget struct {
	limit   atomic.Int64
	used    atomic.Int64
	refused atomic.Uint64
}

// NewMemoryBudget makes a budget of limit bytes.
func NewMemoryBudget(limit int64) *MemoryBudget {
	b := &MemoryBudget{}
	b.limit.Store(limit)
	return b
}

// SetLimit changes the budget (a configuration reload). Lowering it under
// what is used refuses growth until enough is given back; nothing held is
// taken away.
func (b *MemoryBudget) SetLimit(limit int64) { b.limit.Store(limit) }

// Limit is the budget in bytes.
func (b *MemoryBudget) Limit() int64 { return b.limit.Load() }

// Used is what the instances hold, in bytes.
func (b *MemoryBudget) Used() int64 { return b.used.Load() }

// Refused counts the requests for memory the budget refused.
func (b *MemoryBudget) Refused() uint64 { return b.refused.Load() }

func (b *MemoryBudget) take(n int64) bool {
	for {
		u := b.used.Load()
		if u+n > b.limit.Load() {
			b.refused.Add(1)
			return false
		}
		if b.used.CompareAndSwap(u, u+n) {
			return true
		}
	}
}

// account is one instance's share of a MemoryBudget and its counts of
// what its budgets refused. A nil account (stages outside an instance)
// grants everything and counts nothing.
type account struct {
	budget *MemoryBudget // nil: counted but never refused (validation)
	limits Limits
	used   atomic.Int64
	// dropped counts samples dropped before their time because the budget
	// refused a series room; layouts counts layouts refused.
	dropped  atomic.Uint64
	layouts  atomic.Uint64
	released atomic.Bool
}

func (a *account) take(n int64) bool {
	if a == nil || a.released.Load() {
		return true
	}
	if a.budget != nil && !a.budget.take(n) {
		return false
	}
	a.used.Add(n)
	return true
}

// force charges memory that is already allocated or too small to refuse.
func (a *account) force(n int64) {
	if a == nil || a.released.Load() {
		return
	}
	if a.budget != nil {
		a.budget.used.Add(n)
	}
	a.used.Add(n)
}

func (a *account) give(n int64) {
	if a == nil || a.released.Load() || n == 0 {
		return
	}
	if a.budget != nil {
		a.budget.used.Add(-n)
	}
	a.used.Add(-n)
}

func (a *account) noteDropped(k int) {
	if a != nil {
		a.dropped.Add(uint64(k))
	}
}

// release gives back everything the instance holds; later charges are
// not counted (a released instance is not evaluated again).
func (a *account) release() {
	if a.released.Swap(true) {
		return
	}
	if n := a.used.Swap(0); a.budget != nil {
		a.budget.used.Add(-n)
	}
}

// samplesPerSeries is the bound of a series whose stage says limit (0:
// none).
func (a *account) samplesPerSeries(limit int) int {
	max := HardMaxSamples
	if a != nil && a.limits.SamplesPerSeries > 0 {
		max = min(a.limits.SamplesPerSeries, HardMaxSamples)
	}
	if limit <= 0 || limit > max {
		return max
	}
	return limit
}

// LimitError is a run-time refusal by one of the budgets: the layout of a
// stage that would have more items, or hold more memory, than granted.
type LimitError struct {
	// Budget is the configuration key of the budget (limits.*).
	Budget string
	Stage  string
	Detail string
}

func (e *LimitError) Error() string {
	return fmt.Sprintf("stage %q: %s (%s)", e.Stage, e.Detail, e.Budget)
}

// Usage is what an instance holds against its budgets and what they
// refused it.
type Usage struct {
	// StageBytes is the memory its stage data holds (item columns and
	// series), as charged to the budget.
	StageBytes int64
	// SamplesDropped counts samples dropped before max_samples or
	// total_duration would have dropped them, because the memory budget
	// refused a series room.
	SamplesDropped uint64
	// LayoutsRefused counts stage layouts refused for having more items
	// than limits.items_per_stage or needing more than limits.stage_memory.
	LayoutsRefused uint64
}

// checkProcessorBudget refuses a document with more processors than
// limits.processors_per_probe, naming the first processor past it.
func checkProcessorBudget(doc *Document, l Limits, rep reporter) {
	if len(doc.Processors) <= l.ProcessorsPerProbe {
		return
	}
	rep.forProcessor(doc.Processors[l.ProcessorsPerProbe].Name).addf("processors",
		"the probe has %d processors; the budget is %d processors per probe (limits.processors_per_probe)", len(doc.Processors), l.ProcessorsPerProbe)
}

// checkSeriesBudget refuses time-series stages a processor just declared
// whose max_samples is unbounded or over limits.samples_per_series. A
// stage fed whole from elsewhere (stage_input), or whose processor has no
// max_samples (service collectors), may leave it 0: its series are cut to
// the budget.
func checkSeriesBudget(stages []*Stage, hasMaxSamples bool, l Limits, r reporter) {
	for _, st := range stages {
		if !st.Type.TimeSeries {
			continue
		}
		switch {
		case st.MaxSamples == 0 && st.feed == nil && hasMaxSamples && l.SamplesPerSeries < HardMaxSamples:
			r.addf("properties.max_samples", "max_samples 0 means unbounded (%d, the most a series holds); the budget is %d samples per series (limits.samples_per_series)", HardMaxSamples, l.SamplesPerSeries)
		case st.MaxSamples > l.SamplesPerSeries:
			r.addf("properties.max_samples", "max_samples %d is over the budget of %d samples per series (limits.samples_per_series)", st.MaxSamples, l.SamplesPerSeries)
		}
	}
}

// checkMemoryBudget refuses a probe whose time series alone could hold
// more than limits.stage_memory for the items it is known to have (its
// resolved items, or a single one): a probe that can never run within
// the budget. How many items a device gives it is only known at run time,
// where the budget is enforced.
func checkMemoryBudget(p *Plan, inst *Instance, rep reporter) {
	items := 1
	for _, si := range p.resolution {
		items = max(items, si.Len())
	}
	var perItem int64
	for _, st := range inst.order {
		if !st.Type.TimeSeries {
			continue
		}
		per := int64(SampleBytes)
		if st.Type.Kind != Number {
			per += 8
		}
		perItem += int64(inst.acct.samplesPerSeries(st.MaxSamples)) * per
		if perItem*int64(items) > p.limits.StageMemory {
			rep.forProcessor(st.Producer).addf("properties.max_samples",
				"the time series up to stage %q can hold %s per item, %s for %d items; the budget is %s of stage data (limits.stage_memory)",
				st.Name, FormatBytes(perItem), FormatBytes(perItem*int64(items)), items, FormatBytes(p.limits.StageMemory))
			return
		}
	}
}

// partOptions are the options a part of p is compiled with: p's, with
// room for the stage_input processors the partitioner adds.
func (p *Plan) partOptions(processors int) Options {
	opts := p.opts
	opts.Limits = p.limits
	opts.Limits.ProcessorsPerProbe = max(opts.Limits.ProcessorsPerProbe, processors)
	return opts
}

// admitInterfaces refuses, before anything is evaluated, a tick whose
// counters have more interfaces than limits.items_per_stage: the stages
// of interface sources would have that many items. The probe is in error
// for the tick and evaluates again once the device is within the budget.
func (inst *Instance) admitInterfaces(t *Tick) error {
	limit := inst.acct.limits.ItemsPerStage
	if t.Counters == nil || limit <= 0 || len(t.Counters.Interfaces) <= limit {
		return nil
	}
	inst.acct.layouts.Add(1)
	inst.state = StateError
	inst.lastErr = fmt.Sprintf("the counters have %d interfaces; the budget is %d items per stage (limits.items_per_stage)", len(t.Counters.Interfaces), limit)
	return fmt.Errorf("probe %q: %s", inst.Plan.Doc.Label, inst.lastErr)
}
