package agent

import (
	"fmt"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/probe-agent/probe-agent/probe"
)

// LimitsConfig is the limits: section, the resource budgets of probes
// (docs/probes.md, "Limits"); 0 or absent takes the engine's default.
type LimitsConfig struct {
	// SamplesPerSeries bounds every time series (accumulate max_samples);
	// default 4096.
	SamplesPerSeries int `yaml:"samples_per_series"`
	// ItemsPerStage bounds the items of one stage; default 65536.
	ItemsPerStage int `yaml:"items_per_stage"`
	// ProcessorsPerProbe bounds the processors of one probe; default 64.
	ProcessorsPerProbe int `yaml:"processors_per_probe"`
	// ProbesPerAgent bounds the probes the agent runs, from every origin
	// (probes_dir, REST, controllers); default 1000.
	ProbesPerAgent int `yaml:"probes_per_agent"`
	// StageMemory bounds the memory all probes' stage data holds
	// ("128MiB", "1GiB" or bytes); default 128MiB.
	StageMemory ByteSize `yaml:"stage_memory"`
}

// Engine returns the budgets as the engine takes them (zero fields stay
// zero: the engine's defaults).
func (c LimitsConfig) Engine() probe.Limits {
	return probe.Limits{
		SamplesPerSeries:   c.SamplesPerSeries,
		ItemsPerStage:      c.ItemsPerStage,
		ProcessorsPerProbe: c.ProcessorsPerProbe,
		ProbesPerAgent:     c.ProbesPerAgent,
		StageMemory:        int64(c.StageMemory),
	}
}

// check reports budgets that cannot be used, by key.
func (c LimitsConfig) check(bad func(key, format string, args ...any)) {
	if err := c.Engine().Check(); err != nil {
		key, msg, _ := strings.Cut(err.Error(), ": ")
		bad(key, "%s", msg)
	}
}

// ByteSize is a size in bytes written as a number of bytes or with a
// binary unit: "512KiB", "128MiB", "1GiB".
type ByteSize int64

var byteUnits = []struct {
	suffix string
	mult   int64
}{{"KiB", 1 << 10}, {"MiB", 1 << 20}, {"GiB", 1 << 30}, {"B", 1}}

// ParseByteSize reads a ByteSize.
func ParseByteSize(s string) (ByteSize, error) {
	s = strings.TrimSpace(s)
	mult := int64(1)
	num := s
	for _, u := range byteUnits {
		if strings.HasSuffix(s, u.suffix) {
			mult, num = u.mult, strings.TrimSpace(strings.TrimSuffix(s, u.suffix))
			break
		}
	}
	f, err := strconv.ParseFloat(num, 64)
	if err != nil || !(f >= 0 && f*float64(mult) <= 1<<62) { // NaN fails both
		return 0, fmt.Errorf("want a size such as 128MiB, 1GiB or a number of bytes, got %q", s)
	}
	return ByteSize(f * float64(mult)), nil
}

// UnmarshalYAML accepts an integer or a string with a unit.
func (b *ByteSize) UnmarshalYAML(n *yaml.Node) error {
	v, err := ParseByteSize(n.Value)
	if err != nil {
		return fmt.Errorf("line %d: %v", n.Line, err)
	}
	*b = v
	return nil
}

// String writes the size as limits.stage_memory is written.
func (b ByteSize) String() string { return probe.FormatBytes(int64(b)) }

// probeBudget is limits.probes_per_agent as the manager enforces it; 0
// (no bound) for a manager given no options, which only tests and tools
// build: the agent always sets its configuration's.
func (m *Manager) probeBudget() int {
	o := m.opts.Load()
	if o == nil {
		return 0
	}
	return o.Limits.WithDefaults().ProbesPerAgent
}

// admitProbes refuses a change that would make the agent run more than
// limits.probes_per_agent probes: others already running (that the
// change keeps) plus plans. The problem names the first probe past the
// budget.
func (m *Manager) admitProbes(others int, plans []*probe.Plan) error {
	budget := m.probeBudget()
	if budget == 0 || others+len(plans) <= budget {
		return nil
	}
	i := max(0, budget-others)
	plan := plans[i]
	return &ValidationError{Docs: []DocError{{Index: i, ID: plan.ID, Label: plan.Label(), Problems: probe.Problems{{
		Probe: plan.Label(), Field: "id",
		Message: fmt.Sprintf("the agent would run %d probes (%d already, %d here); the budget is %d probes per agent (limits.probes_per_agent)", others+len(plans), others, len(plans), budget),
	}}}}}
}

// releasing makes onRemove also give a retired probe's stage memory back
// to the budget the probes share.
func releasing(onRemove func(*probe.Instance)) func(*probe.Instance) {
	return func(inst *probe.Instance) {
		onRemove(inst)
		inst.Release()
	}
}

// StageMemory is the stage-data budget the manager's probes share.
func (m *Manager) StageMemory() *probe.MemoryBudget { return m.memory }
