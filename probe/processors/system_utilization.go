package processors

import (
	"github.com/probe-agent/probe-agent/collectors"
	"github.com/probe-agent/probe-agent/probe"
)

func init() {
	props := sourceProps()
	delete(props, "interface")
	probe.Register(&probe.Spec{
		Name:  "system_utilization",
		Label: "System Utilization",
		Description: `System Utilization Processor.

Source processor: the device's own CPU and memory utilisation in percent, from
the system sample of the collector batch (/proc/stat and /proc/meminfo on
Linux). Two outputs, each NS with one item per system keyed by system_id:
  cpu     busy CPU time / total CPU time x 100 over the interval between two
          samples (all CPUs together; idle and iowait count as not busy); an
          item has a value from its second sample on, and a sample whose CPU
          time went backwards (a reboot) re-bases instead of reporting
  memory  (MemTotal - MemAvailable) / MemTotal x 100, from the first sample
Both outputs are optional, but at least one must be connected. Separate
outputs rather than one stage keyed by resource let each get its own
threshold. Apstra's own System Utilization processor is not documented in
detail (its GUI name also reads "Interface Counters Utilization Per System");
these semantics and port names are ours. Until graph queries are resolved on
the device the only item is the device itself; graph_query, system_id and
additional properties (extra item keys) are kept for the controller.`,
		Outputs: map[string]probe.Port{
			"cpu":    {Types: []probe.StageType{probe.NS}},
			"memory": {Types: []probe.StageType{probe.NS}},
		},
		Schema: func() *probe.Schema {
			s := probe.Merge(streamingProps(), props)
			s.AdditionalProperties = probe.Prop("string").Desc("Additional item key, an expression over graph query variables.")
			return s
		}(),
		New: newSystemUtilization,
	})
}

type systemUtilization struct {
	cpu, memory *probe.Stage
	systemID    string
	laidOut     bool
	prev        collectors.SystemSample // last valid sample, for the CPU delta
}

func newSystemUtilization(b *probe.Build) (probe.Processor, error) {
	checkExpressions(b, "system_id")
	for _, k := range extraKeys(b) {
		b.Warn("property %q is an expression over graph query variables; it becomes an item key once graph queries are resolved and is ignored until then", k)
	}
	p := &systemUtilization{
		cpu:    b.Output("cpu", probe.NS, []string{"system_id"}),
		memory: b.Output("memory", probe.NS, []string{"system_id"}),
	}
	if p.cpu == nil && p.memory == nil {
		b.Errorf("outputs", "system_utilization needs at least one output (cpu, memory)")
		return nil, nil
	}
	return p, nil
}

func (p *systemUtilization) Eval(t *probe.Tick) error {
	if t.Counters == nil || t.Counters.System == nil || !t.Counters.System.Valid {
		return nil
	}
	s := t.Counters.System
	if !p.laidOut || s.SystemID != p.systemID {
		// A new system is a new item: nothing carries over.
		p.systemID, p.laidOut, p.prev = s.SystemID, true, collectors.SystemSample{}
		for _, st := range []*probe.Stage{p.cpu, p.memory} {
			if st != nil {
				st.SetLayout([][]string{{s.SystemID}})
			}
		}
	}
	if p.cpu != nil {
		if pct, ok := CPUPercent(p.prev, *s); ok {
			p.cpu.SetNum(0, pct)
		}
	}
	if p.memory != nil {
		if pct, ok := MemoryPercent(*s); ok {
			p.memory.SetNum(0, pct)
		}
	}
	p.prev = *s
	return nil
}

// CPUPercent is the busy share of CPU time between two samples, in percent.
// ok is false without a previous sample, when no CPU time passed, or when
// the counters went backwards.
func CPUPercent(prev, cur collectors.SystemSample) (float64, bool) {
	if !prev.Valid || !cur.Valid || cur.CPUTotal <= prev.CPUTotal || cur.CPUBusy < prev.CPUBusy {
		return 0, false
	}
	busy := cur.CPUBusy - prev.CPUBusy
	total := cur.CPUTotal - prev.CPUTotal
	return min(float64(busy)/float64(total)*100, 100), true
}

// MemoryPercent is the share of memory in use, in percent; ok is false when
// the total is unknown.
func MemoryPercent(s collectors.SystemSample) (float64, bool) {
	if !s.Valid || s.MemTotal == 0 || s.MemAvailable > s.MemTotal {
		return 0, false
	}
	return float64(s.MemTotal-s.MemAvailable) / float64(s.MemTotal) * 100, true
}
