package probe

import (
	"fmt"
	"slices"
	"sort"
	"time"

	"github.com/probe-agent/probe-agent/collectors"
)

// SplitRun evaluates a split probe in one process the way devices and a
// controller do across the network: one edge Instance per device, each on
// that device's counters, and the central Instance fed with the stages
// that cross the cut as StageUpdates. probectl simulate --split and the
// split-equals-whole tests use it; it is also the reference for what a
// controller must do per tick.
type SplitRun struct {
	Split   *Split
	Central *Instance

	devices  []string // sorted
	edges    map[string]*edgeDevice
	template *Instance // an edge instance without devices, for empty stages
	update   StageUpdate
	encoded  []byte
	sources  []string // the edge part's source stages
	// centralBatch is the centre's (empty) counter batch.
	centralBatch collectors.Batch
	centralItems ItemCache
	// Crossed is the number of items that crossed the cut in the last tick
	// and CrossedBytes their size as encoded StageUpdates; Raw is the
	// number of items of the edge part's source stages over all devices,
	// what a central-only evaluation would have to receive instead.
	Crossed, CrossedBytes, Raw int
}

type edgeDevice struct {
	// raw and crossed are the device's share of Raw and Crossed.
	raw, crossed int
	inst         *Instance
	items        ItemCache
	batch        collectors.Batch
	names        []string // interface names of the last batch, for its Layout
	layout       uint64
}

// NewSplitRun prepares the evaluation of s; devices are added as they
// appear in Tick's batches or with AddDevice.
func NewSplitRun(s *Split) (*SplitRun, error) {
	r := &SplitRun{Split: s, edges: map[string]*edgeDevice{}}
	if s.Central != nil {
		inst, err := NewInstance(s.Central)
		if err != nil {
			return nil, err
		}
		r.Central = inst
	}
	if s.Edge != nil {
		inst, err := NewInstance(s.Edge)
		if err != nil {
			return nil, err
		}
		r.template = inst
		for _, pp := range s.Edge.procs {
			if len(pp.doc.Inputs) == 0 {
				for _, port := range sortedKeys(pp.doc.Outputs) {
					r.sources = append(r.sources, pp.doc.Outputs[port])
				}
			}
		}
	}
	return r, nil
}

// AddDevice adds a device (it evaluates the edge part from the next tick,
// with no items until its counters arrive).
func (r *SplitRun) AddDevice(name string) error {
	if _, ok := r.edges[name]; ok || r.Split.Edge == nil {
		return nil
	}
	inst, err := NewInstance(r.Split.Edge)
	if err != nil {
		return err
	}
	r.edges[name] = &edgeDevice{inst: inst}
	i, _ := slices.BinarySearch(r.devices, name)
	r.devices = slices.Insert(r.devices, i, name)
	return nil
}

// DeviceTick is one device's share of a tick's Raw and Crossed items.
type DeviceTick struct {
	Device       string `json:"device"`
	RawItems     int    `json:"raw_items"`
	CrossedItems int    `json:"crossing_items"`
}

// DeviceTicks returns each device's items in the last tick, devices sorted.
func (r *SplitRun) DeviceTicks() []DeviceTick {
	out := make([]DeviceTick, len(r.devices))
	for i, name := range r.devices {
		d := r.edges[name]
		out[i] = DeviceTick{Device: name, RawItems: d.raw, CrossedItems: d.crossed}
	}
	return out
}

// AddDevicesOf adds every device that has interfaces in any of batches.
// A controller pushes a probe's edge part to every device at once; adding
// them all before the first tick does the same, which matters for the
// processors whose periods start at their first tick (periodic_average,
// traffic_monitor's average_period): a device whose part started later
// would close its periods at other times than the whole probe does.
func (r *SplitRun) AddDevicesOf(batches []collectors.Batch) error {
	for i := range batches {
		for j := range batches[i].Interfaces {
			if err := r.AddDevice(batches[i].Interfaces[j].SystemID); err != nil {
				return err
			}
		}
	}
	return nil
}

// Devices lists the devices, sorted.
func (r *SplitRun) Devices() []string { return r.devices }

// Edge returns a device's edge instance.
func (r *SplitRun) Edge(device string) (*Instance, bool) {
	d, ok := r.edges[device]
	if !ok {
		return nil, false
	}
	return d.inst, true
}

// Tick evaluates one tick: the interfaces of batch are dealt to their
// devices by system_id (the counters know no other device key), every
// device evaluates its edge part, their crossing stages are fed to the
// centre, and the centre evaluates. A device with no interfaces in batch
// evaluates an empty batch: its items have left.
func (r *SplitRun) Tick(t time.Time, batch *collectors.Batch) error {
	if r.Split.Edge != nil && !slices.Equal(r.Split.DeviceKeys, []string{"system_id"}) {
		return fmt.Errorf("probe %q: counters identify devices by system_id only, the split uses %v", r.Split.Probe.Doc.Label, r.Split.DeviceKeys)
	}
	if batch != nil {
		for i := range batch.Interfaces {
			if err := r.AddDevice(batch.Interfaces[i].SystemID); err != nil {
				return err
			}
		}
	}
	for _, d := range r.edges {
		d.batch.Time, d.batch.Interfaces = t, d.batch.Interfaces[:0]
	}
	if batch != nil {
		for i := range batch.Interfaces {
			if d := r.edges[batch.Interfaces[i].SystemID]; d != nil {
				d.batch.Interfaces = append(d.batch.Interfaces, batch.Interfaces[i])
			}
		}
	}
	r.Crossed, r.CrossedBytes, r.Raw = 0, 0, 0
	for _, name := range r.devices {
		d := r.edges[name]
		d.relayout()
		if err := d.inst.Tick(&Tick{Time: t, Counters: &d.batch, Items: &d.items}); err != nil {
			return fmt.Errorf("device %q: %w", name, err)
		}
		d.items.Advance(&d.batch, t)
		d.raw, d.crossed = 0, 0
		for _, name := range r.sources {
			if st, ok := d.inst.Stage(name); ok {
				d.raw += st.Len()
			}
		}
		r.Raw += d.raw
		if r.Central == nil {
			continue
		}
		for _, c := range r.Split.Crossings {
			st, ok := d.inst.Stage(c.Stage)
			if !ok {
				continue
			}
			UpdateOf(&r.update, st)
			r.update.Device, r.update.Probe = name, r.Split.Probe.ID
			r.Crossed += len(r.update.Items)
			d.crossed += len(r.update.Items)
			r.encoded = r.update.AppendBinary(r.encoded[:0])
			r.CrossedBytes += len(r.encoded)
			if err := r.Central.Feed(&r.update); err != nil {
				return err
			}
		}
	}
	if r.Central != nil {
		// The centre has no interfaces: a counter source placed there (a
		// probe whose items do not identify devices) sees an empty batch.
		r.centralBatch.Time = t
		if err := r.Central.Tick(&Tick{Time: t, Counters: &r.centralBatch, Items: &r.centralItems}); err != nil {
			return err
		}
	}
	return nil
}

// relayout gives the device's batch a new Layout when its interfaces
// changed, as a collector does.
func (d *edgeDevice) relayout() {
	same := len(d.names) == len(d.batch.Interfaces)
	for i := 0; same && i < len(d.names); i++ {
		same = d.names[i] == d.batch.Interfaces[i].Name
	}
	if !same || d.layout == 0 {
		d.names = d.names[:0]
		for i := range d.batch.Interfaces {
			d.names = append(d.names, d.batch.Interfaces[i].Name)
		}
		d.layout++
	}
	d.batch.Layout = d.layout
}

// Stages returns the stages of the probe as the whole probe has them:
// edge stages as the union of every device's items (also those that cross
// item by item: the devices' stages are the originals, with their possible
// values), central stages from the centre. Partial-state stages, internal
// to the split, are left out.
func (r *SplitRun) Stages() []*Stage {
	var out []*Stage
	for _, info := range r.Split.Probe.StageGraph() {
		atEdge := false
		if r.template != nil {
			_, atEdge = r.template.Stage(info.Name)
		}
		if !atEdge {
			if r.Central != nil {
				if st, ok := r.Central.Stage(info.Name); ok {
					out = append(out, st)
				}
			}
			continue
		}
		parts := []*Stage{}
		for _, name := range r.devices {
			if st, ok := r.edges[name].inst.Stage(info.Name); ok {
				parts = append(parts, st)
			}
		}
		if len(parts) == 0 {
			if st, ok := r.template.Stage(info.Name); ok {
				parts = append(parts, st)
			}
		}
		if len(parts) > 0 {
			out = append(out, UnionStages(parts))
		}
	}
	return out
}

// Anomalies returns the raised anomalies of every device and of the
// centre, in Instance.Anomalies order.
func (r *SplitRun) Anomalies() []*Anomaly {
	out := []*Anomaly{}
	for _, name := range r.devices {
		out = append(out, r.edges[name].inst.Anomalies()...)
	}
	if r.Central != nil {
		out = append(out, r.Central.Anomalies()...)
	}
	sort.SliceStable(out, func(i, j int) bool {
		if out[i].Stage != out[j].Stage {
			return out[i].Stage < out[j].Stage
		}
		return joinKey(out[i].Props) < joinKey(out[j].Props)
	})
	return out
}

// UnionStages builds one stage holding the items of parts, which are the
// same stage evaluated on different devices (same type, keys and columns),
// in order. Series are shared with the parts, not copied: the result is a
// read-only view for display and comparison.
func UnionStages(parts []*Stage) *Stage {
	f := parts[0]
	u := &Stage{
		Name: f.Name, Type: f.Type, Keys: f.Keys, Columns: f.Columns, PossibleValues: f.PossibleValues,
		Meta: f.Meta, MaxSamples: f.MaxSamples, MaxDuration: f.MaxDuration, Producer: f.Producer,
		Streaming: f.Streaming, RaisesAnomalies: f.RaisesAnomalies,
	}
	type at struct {
		st *Stage
		i  int
	}
	var items []at
	var props [][]string
	for _, p := range parts {
		for i := range p.Len() {
			items = append(items, at{p, i})
			props = append(props, p.Props(i))
		}
	}
	if !f.Type.Set {
		// A single-item stage on the edge holds one device's item; show
		// the first valid one.
		items, props = items[:0], props[:0]
		for _, p := range parts {
			if p.Len() == 1 && p.Valid(0) {
				items, props = append(items, at{p, 0}), append(props, []string{})
				break
			}
		}
		if len(items) == 0 {
			u.SetSingle()
			return u
		}
	}
	u.SetLayout(props)
	u.seq, u.now = f.seq, f.now
	for k, it := range items {
		u.meta[k] = it.st.meta[it.i]
		if it.st.nums != nil {
			if u.nums == nil {
				u.nums = make([]float64, len(items))
			}
			u.nums[k] = it.st.nums[it.i]
		}
		if it.st.strs != nil {
			if u.strs == nil {
				u.strs = newStrColumn(len(items), u.Type.Kind == DiscreteState)
			}
			u.strs.set(k, it.st.strs.get(it.i))
		}
		if it.st.series != nil {
			if u.series == nil {
				u.series = make([]*ring, len(items))
			}
			u.series[k] = it.st.series[it.i]
		}
		for c := 1; c < len(u.Columns); c++ {
			u.extra[k*(len(u.Columns)-1)+c-1] = it.st.ValueAt(it.i, c)
		}
	}
	return u
}
