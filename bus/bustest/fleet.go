// Package bustest is a fleet of devices for fan-in tests of any broker:
// copies of the seed probe (cmd/probectl/testdata/seed_probe.json) split
// into edge and central parts, one real agent.Exports per device turning
// each evaluation into bus records, and a reference central part fed with
// every partial directly (what one controller computes), so a test can
// check that records that went through a broker and several members give
// the same results and anomalies.
package bustest

import (
	"encoding/json"
	"fmt"
	"math"
	"os"
	"sort"
	"strings"
	"time"

	"github.com/probe-agent/probe-agent/agent"
	"github.com/probe-agent/probe-agent/bus"
	"github.com/probe-agent/probe-agent/collectors"
	"github.com/probe-agent/probe-agent/probe"
	_ "github.com/probe-agent/probe-agent/probe/processors" // the processor catalog
)

// T0 is the sample time of tick 0.
var T0 = time.Unix(1_700_000_000, 0).UTC()

// Ports are each device's interfaces.
var Ports = []string{"eth1", "eth2", "eth3", "eth4"}

// Fleet is N devices evaluating the edge parts of some probes.
type Fleet struct {
	Blueprint string
	Devices   []string
	Probes    []string
	splits    map[string]*probe.Split
	devs      []*device
	// ref is the reference central part of each probe.
	ref map[string]*probe.Instance
	// RefTransitions are the reference's anomaly transitions, per probe,
	// as "tick:raised|cleared:stage:item" in order.
	RefTransitions map[string][]string
	// Counters are each device's counters at every tick so far (what an
	// agent's collector would read), RefResults the reference's result
	// of each probe at every tick (NaN while it has none).
	Counters   map[string][]collectors.Batch
	RefResults map[string][]float64
	tick       int
}

type device struct {
	name    string
	edges   map[string]*probe.Instance
	ex      *agent.Exports
	sub     *agent.ExportStream
	items   probe.ItemCache
	batch   collectors.Batch
	total   map[string]uint64
	session string
}

// NewFleet makes devices leaf1..leafN and probes with the given ids, each
// a copy of the seed probe whose range_check max is the probe's entry in
// maxes (the seed's 100 when maxes is shorter).
func NewFleet(seedFile string, devices int, ids []string, maxes []float64) (*Fleet, error) {
	data, err := os.ReadFile(seedFile)
	if err != nil {
		return nil, err
	}
	f := &Fleet{Blueprint: "bp-test", Probes: ids, splits: map[string]*probe.Split{}, ref: map[string]*probe.Instance{}, RefTransitions: map[string][]string{},
		Counters: map[string][]collectors.Batch{}, RefResults: map[string][]float64{}}
	for i := range devices {
		f.Devices = append(f.Devices, fmt.Sprintf("leaf%d", i+1))
	}
	for i, id := range ids {
		var doc map[string]any
		if err := json.Unmarshal(data, &doc); err != nil {
			return nil, fmt.Errorf("%s: %w", seedFile, err)
		}
		doc["id"] = id
		if i < len(maxes) {
			for _, p := range doc["processors"].([]any) {
				pm := p.(map[string]any)
				if pm["type"] == "range_check" {
					pm["properties"].(map[string]any)["range"] = map[string]any{"max": maxes[i]}
				}
			}
		}
		b, _ := json.Marshal(doc)
		plan, probs := probe.CompileJSON(b)
		if len(probs) > 0 {
			return nil, fmt.Errorf("probe %s: %v", id, probs)
		}
		split, err := probe.Partition(plan, nil)
		if err != nil {
			return nil, fmt.Errorf("probe %s: %w", id, err)
		}
		f.splits[id] = split
		ref, err := probe.NewInstance(split.Central)
		if err != nil {
			return nil, err
		}
		f.ref[id] = ref
	}
	for _, name := range f.Devices {
		d := &device{name: name, edges: map[string]*probe.Instance{}, ex: agent.NewExports(), total: map[string]uint64{}}
		d.session = d.ex.Session()
		d.sub, _ = d.ex.Subscribe(16)
		for _, id := range ids {
			doc, _, err := f.splits[id].EdgeFor(name)
			if err != nil {
				return nil, err
			}
			plan, probs := probe.CompileJSON(doc)
			if len(probs) > 0 {
				return nil, fmt.Errorf("probe %s edge for %s: %v", id, name, probs)
			}
			inst, err := probe.NewInstance(plan)
			if err != nil {
				return nil, err
			}
			d.edges[id] = inst
		}
		f.devs = append(f.devs, d)
	}
	return f, nil
}

// Central implements bus.Parts.
func (f *Fleet) Central(id string) (*probe.Instance, []string, bool) {
	s, ok := f.splits[id]
	if !ok || s.Central == nil {
		return nil, nil, false
	}
	inst, err := probe.NewInstance(s.Central)
	if err != nil {
		return nil, nil, false
	}
	return inst, f.Devices, true
}

// Rate is the bytes per second an interface sends during a tick.
type Rate func(device, iface string) uint64

// Balanced sends 1,000 B/s everywhere.
func Balanced(string, string) uint64 { return 1000 }

// Heavy makes one device send factor times as much.
func Heavy(dev string, factor uint64) Rate {
	return func(d, _ string) uint64 {
		if d == dev {
			return 1000 * factor
		}
		return 1000
	}
}

// Tick evaluates the next tick on every device and returns every record
// the devices export (one per device and probe), and feeds the reference
// with the same partials and ticks it.
func (f *Fleet) Tick(rate Rate) ([]*bus.Record, error) {
	k := f.tick
	f.tick++
	at := T0.Add(time.Duration(k) * time.Second)
	var out []*bus.Record
	var all []*probe.StageUpdate
	for _, d := range f.devs {
		d.batch = collectors.Batch{Time: at, Layout: 1}
		for _, p := range Ports {
			key := p
			d.total[key] += rate(d.name, p)
			ifc := collectors.Interface{SystemID: d.name, Name: p}
			ifc.Set(collectors.TxBytes, d.total[key])
			d.batch.Interfaces = append(d.batch.Interfaces, ifc)
		}
		for _, id := range f.Probes {
			inst := d.edges[id]
			if err := inst.Tick(&probe.Tick{Time: at, Counters: &d.batch, Items: &d.items}); err != nil {
				return nil, fmt.Errorf("%s: %s: %w", d.name, id, err)
			}
			d.ex.Add(inst, d.name, 1)
		}
		cp := d.batch
		cp.Interfaces = append([]collectors.Interface(nil), d.batch.Interfaces...)
		f.Counters[d.name] = append(f.Counters[d.name], cp)
		d.items.Advance(&d.batch, at)
		d.ex.Flush(at)
		select {
		case b := <-d.sub.C:
			for _, r := range b.Records(f.Blueprint) {
				out = append(out, r)
				for _, raw := range r.Batch.Updates {
					u, err := probe.DecodeStageUpdate(raw)
					if err != nil {
						return nil, err
					}
					all = append(all, u)
				}
			}
		default:
			// Nothing exported (a first tick without rates yet).
		}
	}
	for _, id := range f.Probes {
		ref := f.ref[id]
		for _, u := range all {
			if u.Probe == id {
				if err := ref.Feed(u); err != nil {
					return nil, err
				}
			}
		}
		if err := ref.Tick(&probe.Tick{Time: at, Counters: &collectors.Batch{Time: at}}); err != nil {
			return nil, err
		}
		v, ok := Result(ref)
		if !ok {
			v = math.NaN()
		}
		f.RefResults[id] = append(f.RefResults[id], v)
		for _, t := range ref.Transitions() {
			f.RefTransitions[id] = append(f.RefTransitions[id], Transition(k, t.Raised, t.Stage, t.ItemID))
		}
	}
	return out, nil
}

// EdgeDoc is the edge part of probe id a controller would push to
// device (with its export list).
func (f *Fleet) EdgeDoc(id, device string) ([]byte, error) {
	doc, _, err := f.splits[id].EdgeFor(device)
	return doc, err
}

// Ticks is how many ticks the fleet evaluated.
func (f *Fleet) Ticks() int { return f.tick }

// Transition formats one anomaly transition as RefTransitions does.
func Transition(tick int, raised bool, stage, item string) string {
	s := "cleared"
	if raised {
		s = "raised"
	}
	return fmt.Sprintf("%d:%s:%s:%s", tick, s, stage, item)
}

// Result is a central instance's std_dev result (its first number), the
// value one tick's merge produced.
func Result(inst *probe.Instance) (float64, bool) {
	st, ok := inst.Stage("std_dev_output")
	if !ok || st.Len() == 0 || !st.Valid(0) {
		return 0, false
	}
	return st.Num(0, 0), true
}

// RefResult is the reference's current result for probe id.
func (f *Fleet) RefResult(id string) (float64, bool) { return Result(f.ref[id]) }

// Summary lists transitions sorted within each tick (their order inside a
// tick follows items, the same at both sides) for comparison.
func Summary(ts []string) string {
	c := append([]string(nil), ts...)
	sort.Strings(c)
	return strings.Join(c, "\n")
}
