package bus

import (
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/probe-agent/probe-agent/probe"
	"github.com/probe-agent/probe-agent/probe/processors"
)

// MergeUpdates merges several devices' stage updates of one probe into the
// updates a single device named as would send: how a pod-level controller
// speaks for its pod to a fabric-level one, which is exact because the
// partial states are mergeable (merge is associative). A partial-state
// stage (probe.PartialSuffix, keyed by the device key then the group) gets
// one item per group: moments (n, mean, m2, sum, min, max) merged by
// processors.Moments.Merge, counts (total, matched) added; its device key
// becomes as. Any other crossing stage is shipped item by item, so its
// items are the union of the devices' (devices in name order). Updates
// are numbered seq and timed at.
func MergeUpdates(as string, seq uint64, at time.Time, ups []*probe.StageUpdate) ([]*probe.StageUpdate, error) {
	byStage := map[string][]*probe.StageUpdate{}
	for _, u := range ups {
		byStage[u.Stage] = append(byStage[u.Stage], u)
	}
	stages := make([]string, 0, len(byStage))
	for s := range byStage {
		stages = append(stages, s)
	}
	sort.Strings(stages)
	var out []*probe.StageUpdate
	for _, s := range stages {
		list := byStage[s]
		sort.Slice(list, func(i, j int) bool { return list[i].Device < list[j].Device })
		first := list[0]
		m := &probe.StageUpdate{Device: as, Probe: first.Probe, Stage: s, Time: at, Seq: seq, Type: first.Type,
			Keys: first.Keys, Columns: first.Columns}
		for _, u := range list {
			if !slices.Equal(u.Keys, first.Keys) || !slices.Equal(u.Columns, first.Columns) || u.Type != first.Type {
				return nil, fmt.Errorf("stage %q: device %q's update has another shape than device %q's", s, u.Device, first.Device)
			}
			m.Generation = max(m.Generation, u.Generation)
		}
		if strings.HasSuffix(s, probe.PartialSuffix) && !first.Type.TimeSeries && len(first.Keys) > 0 {
			if err := mergePartial(m, list); err != nil {
				return nil, fmt.Errorf("stage %q: %w", s, err)
			}
		} else {
			for _, u := range list {
				m.Items = append(m.Items, u.Items...)
			}
		}
		out = append(out, m)
	}
	return out, nil
}

// mergePartial merges partial-state items by group (the key values after
// the device key).
func mergePartial(m *probe.StageUpdate, list []*probe.StageUpdate) error {
	col := map[string]int{}
	for i, c := range m.Columns {
		if c.Kind != probe.Number {
			return fmt.Errorf("column %q is not a number: not a partial state", c.Name)
		}
		col[c.Name] = i
	}
	moments := false
	for _, name := range []string{"mean", "m2", "sum", "min", "max"} {
		if _, ok := col[name]; ok {
			moments = true
		}
	}
	type group struct {
		props []string
		mo    processors.Moments
		sums  []float64
		valid bool
	}
	var order []string
	groups := map[string]*group{}
	for _, u := range list {
		for _, it := range u.Items {
			key := strings.Join(it.Props[1:], "\x1f")
			g, ok := groups[key]
			if !ok {
				g = &group{props: append([]string{m.Device}, it.Props[1:]...), sums: make([]float64, len(m.Columns))}
				groups[key] = g
				order = append(order, key)
			}
			if !it.Valid {
				continue
			}
			g.valid = true
			if moments {
				o := processors.Moments{N: it.Values[0].Num}
				set := func(name string, f *float64) {
					if i, ok := col[name]; ok {
						*f = it.Values[i].Num
					}
				}
				set("mean", &o.Mean)
				set("m2", &o.M2)
				set("sum", &o.Sum)
				set("min", &o.Min)
				set("max", &o.Max)
				g.mo.Merge(o)
				continue
			}
			for i := range m.Columns {
				g.sums[i] += it.Values[i].Num
			}
		}
	}
	for _, key := range order {
		g := groups[key]
		it := probe.UpdateItem{Props: g.props, Valid: g.valid, Values: make([]probe.Value, len(m.Columns))}
		if moments {
			fields := map[string]float64{"value": g.mo.N, "mean": g.mo.Mean, "m2": g.mo.M2, "sum": g.mo.Sum, "min": g.mo.Min, "max": g.mo.Max}
			for name, i := range col {
				it.Values[i].Num = fields[name]
			}
		} else {
			for i := range m.Columns {
				it.Values[i].Num = g.sums[i]
			}
		}
		m.Items = append(m.Items, it)
	}
	return nil
}
