package processors

import (
	"github.com/probe-agent/probe-agent/collectors"
	"github.com/probe-agent/probe-agent/probe"
)

// interfaceItems maps a collector batch's interfaces to the items of the
// output stages of a counter source (if_counter, traffic_monitor): one item
// per (interface, system_id), keyed in that order. The mapping is rebuilt
// only when the batch's layout changes, so a steady tick indexes slices.
type interfaceItems struct {
	layout uint64
	slot   []int32 // batch index -> item, -1 for a duplicate pair
}

// sync rebuilds the mapping and the stages' items when the batch's set of
// interfaces changed.
func (m *interfaceItems) sync(batch *collectors.Batch, outs ...*probe.Stage) {
	if batch.Layout != 0 && batch.Layout == m.layout && len(m.slot) == len(batch.Interfaces) {
		return
	}
	m.slot = make([]int32, len(batch.Interfaces))
	seen := make(map[[2]string]int32, len(batch.Interfaces))
	// One backing array for every item's keys: two strings per interface.
	flat := make([]string, 0, 2*len(batch.Interfaces))
	props := make([][]string, 0, len(batch.Interfaces))
	for i := range batch.Interfaces {
		ifc := &batch.Interfaces[i]
		k := [2]string{ifc.Name, ifc.SystemID}
		if _, dup := seen[k]; dup {
			m.slot[i] = -1
			continue
		}
		seen[k] = int32(len(props))
		m.slot[i] = int32(len(props))
		flat = append(flat, ifc.Name, ifc.SystemID)
		props = append(props, flat[len(flat)-2:len(flat):len(flat)])
	}
	for _, st := range outs {
		if st != nil {
			st.SetLayout(props)
		}
	}
	m.layout = batch.Layout
}
