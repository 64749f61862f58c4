package processors

import (
	"math"
	"slices"
	"sort"
	"strings"

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
Separate outputs rather than one stage keyed by resource let each get its own
threshold.
Apstra 4.x's form (the Device Traffic probe): inputs tx_bps, rx_bps,
tx_utilization and rx_utilization, each an interface stage (usually columns of
traffic_monitor's interface_counters_average), aggregated per system on output
out, NS keyed by system_id, with the columns
  aggregate_tx_bps, aggregate_rx_bps   sum over the system's interfaces
  aggregate_tx_utilization, aggregate_rx_utilization
                                       mean of the interfaces' utilisation
  max_ifc_tx_utilization, max_ifc_rx_utilization
                                       the busiest interface's utilisation
(value mirrors aggregate_tx_bps). A column whose input is not connected, or
whose system has no interface with a value, is null. Apstra does not document
how it aggregates utilisation; the mean and max are our reading of the column
names. Every output is optional, at least one must be connected, and out needs
at least one input. Apstra's own System Utilization processor is not documented in
detail (its GUI name also reads "Interface Counters Utilization Per System");
these semantics and port names are ours. Until graph queries are resolved on
the device the only item is the device itself; graph_query, system_id and
additional properties (extra item keys) are kept for the controller.`,
		Inputs: map[string]probe.Port{
			suTxBps:  {Types: []probe.StageType{probe.NS}},
			suRxBps:  {Types: []probe.StageType{probe.NS}},
			suTxUtil: {Types: []probe.StageType{probe.NS}},
			suRxUtil: {Types: []probe.StageType{probe.NS}},
		},
		Outputs: map[string]probe.Port{
			"cpu":    {Types: []probe.StageType{probe.NS}},
			"memory": {Types: []probe.StageType{probe.NS}},
			"out":    {Types: []probe.StageType{probe.NS}},
		},
		Schema: func() *probe.Schema {
			s := probe.Merge(streamingProps(), props)
			s.AdditionalProperties = probe.Prop("string").Desc("Additional item key, an expression over graph query variables.")
			return s
		}(),
		New: newSystemUtilization,
	})
}

// Input ports and output columns of the Apstra 4.x form.
const (
	suTxBps  = "tx_bps"
	suRxBps  = "rx_bps"
	suTxUtil = "tx_utilization"
	suRxUtil = "rx_utilization"
)

var suColumns = []string{
	"aggregate_tx_bps", "aggregate_rx_bps",
	"aggregate_tx_utilization", "aggregate_rx_utilization",
	"max_ifc_tx_utilization", "max_ifc_rx_utilization",
}

type systemUtilization struct {
	cpu, memory *probe.Stage
	systemID    string
	laidOut     bool
	prev        collectors.SystemSample // last valid sample, for the CPU delta
	agg         *systemAggregate
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
	p.agg = newSystemAggregate(b)
	if b.Failed() {
		return nil, nil
	}
	if p.cpu == nil && p.memory == nil && p.agg == nil {
		b.Errorf("outputs", "system_utilization needs at least one output (cpu, memory, or out with its inputs)")
		return nil, nil
	}
	return p, nil
}

func (p *systemUtilization) Eval(t *probe.Tick) error {
	if p.agg != nil {
		p.agg.eval()
	}
	if p.cpu == nil && p.memory == nil {
		return nil
	}
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

// systemAggregate is the Apstra 4.x form of system_utilization: interface
// rates and utilisations summed, averaged and maxed per system_id.
type systemAggregate struct {
	in      [4]*probe.Input // tx_bps, rx_bps, tx_utilization, rx_utilization; nil when not connected
	sysPos  [4]int          // position of system_id among each input's keys
	out     *probe.Stage
	layouts [4]uint64
	group   [4][]int32 // per input, item -> system index
	acc     []suAcc    // per system
}

type suAcc struct {
	sum    [2]float64 // tx, rx bps
	nBps   [2]int
	util   [2]float64 // sums of utilisation
	nUtil  [2]int
	maxU   [2]float64
	hasMax [2]bool
}

func newSystemAggregate(b *probe.Build) *systemAggregate {
	a := &systemAggregate{}
	connected := false
	for i, port := range []string{suTxBps, suRxBps, suTxUtil, suRxUtil} {
		in := b.Input(port)
		if in == nil {
			continue
		}
		pos := slices.Index(in.Stage.Keys, "system_id")
		if pos < 0 {
			b.Errorf("inputs."+port, "stage %q has no system_id key to aggregate by (keys: %s)", in.Stage.Name, strings.Join(in.Stage.Keys, ", "))
			continue
		}
		a.in[i], a.sysPos[i], connected = in, pos, true
	}
	cols := make([]probe.Column, len(suColumns))
	for i, c := range suColumns {
		cols[i] = probe.Column{Name: c, Kind: probe.Number}
	}
	a.out = b.Output("out", probe.NS, []string{"system_id"}, cols...)
	switch {
	case a.out == nil && connected:
		b.Errorf("outputs", "system_utilization with inputs needs its out output connected")
		return nil
	case a.out != nil && !connected:
		b.Errorf("inputs", "system_utilization's out output aggregates interface stages: connect at least one of tx_bps, rx_bps, tx_utilization, rx_utilization")
		return nil
	case a.out == nil:
		return nil
	}
	return a
}

// relayout maps every input item to its system, and lays out the output
// with one item per system, when an input's items changed.
func (a *systemAggregate) relayout() {
	changed := false
	for i, in := range a.in {
		if in != nil && in.Stage.Layout() != a.layouts[i] {
			changed = true
		}
	}
	if !changed && a.acc != nil {
		return
	}
	index := map[string]int32{}
	var systems [][]string
	for i, in := range a.in {
		if in == nil {
			continue
		}
		a.layouts[i] = in.Stage.Layout()
		st := in.Stage
		a.group[i] = slices.Grow(a.group[i][:0], st.Len())[:st.Len()]
		for k := 0; k < st.Len(); k++ {
			sys := st.Props(k)[a.sysPos[i]]
			g, ok := index[sys]
			if !ok {
				g = int32(len(systems))
				index[sys] = g
				systems = append(systems, []string{sys})
			}
			a.group[i][k] = g
		}
	}
	sort.Slice(systems, func(x, y int) bool { return systems[x][0] < systems[y][0] })
	for g, s := range systems {
		index[s[0]] = int32(g)
	}
	for i, in := range a.in {
		if in == nil {
			continue
		}
		for k := range a.group[i] {
			a.group[i][k] = index[in.Stage.Props(k)[a.sysPos[i]]]
		}
	}
	a.out.SetLayout(systems)
	a.acc = make([]suAcc, len(systems))
}

func (a *systemAggregate) eval() {
	a.relayout()
	clear(a.acc)
	for i, in := range a.in {
		if in == nil {
			continue
		}
		dir := i % 2 // tx, rx
		for k := 0; k < in.Stage.Len(); k++ {
			if !in.Stage.Valid(k) {
				continue
			}
			v := in.Num(k)
			if math.IsNaN(v) {
				continue
			}
			acc := &a.acc[a.group[i][k]]
			if i < 2 {
				acc.sum[dir] += v
				acc.nBps[dir]++
				continue
			}
			acc.util[dir] += v
			acc.nUtil[dir]++
			if !acc.hasMax[dir] || v > acc.maxU[dir] {
				acc.maxU[dir], acc.hasMax[dir] = v, true
			}
		}
	}
	nan := math.NaN()
	for g := range a.acc {
		acc := &a.acc[g]
		cols := [6]float64{nan, nan, nan, nan, nan, nan}
		for dir := 0; dir < 2; dir++ {
			if acc.nBps[dir] > 0 {
				cols[dir] = acc.sum[dir]
			}
			if acc.nUtil[dir] > 0 {
				cols[2+dir] = acc.util[dir] / float64(acc.nUtil[dir])
				cols[4+dir] = acc.maxU[dir]
			}
		}
		has := false
		for c, v := range cols {
			a.out.SetExtra(g, c+1, probe.Value{Num: v})
			has = has || !math.IsNaN(v)
		}
		if !has {
			a.out.Invalidate(g)
			continue
		}
		a.out.SetNum(g, cols[0]) // NaN (null) when tx_bps is not connected
	}
}
