package agent

import (
	"fmt"
	"strings"

	"github.com/probe-agent/probe-agent/limits"
	"github.com/probe-agent/probe-agent/probe"
)

// LimitsConfig is the limits: section, the resource budgets of probes
// (docs/probes.md, "Limits"): the engine's, shared with the controller
// (limits.Config), and how many probes the agent runs. 0 or absent takes
// the engine's default.
type LimitsConfig struct {
	limits.Config `yaml:",inline"`
	// ProbesPerAgent bounds the probes the agent runs, from every origin
	// (probes_dir, REST, controllers); default 1000.
	ProbesPerAgent int `yaml:"probes_per_agent"`
}

// Engine returns the budgets as the engine takes them (zero fields stay
// zero: the engine's defaults).
func (c LimitsConfig) Engine() probe.Limits { return c.Config.Engine(c.ProbesPerAgent) }

// check reports budgets that cannot be used, by key.
func (c LimitsConfig) check(bad func(key, format string, args ...any)) {
	if err := c.Engine().Check(); err != nil {
		key, msg, _ := strings.Cut(err.Error(), ": ")
		bad(key, "%s", msg)
	}
}

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
