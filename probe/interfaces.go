package probe

import "github.com/probe-agent/probe-agent/collectors"

// InterfaceItems maps a counter batch's interfaces to the items of counter
// sources (if_counter, traffic_monitor): one item per (interface,
// system_id), keyed in that order, duplicates dropped.
type InterfaceItems struct {
	Layout uint64
	// Slot gives, per batch interface, its item index, or -1 for a
	// duplicate (interface, system_id) pair.
	Slot  []int32
	props [][]string
	keys  []string
}

// NewInterfaceItems builds the mapping for a batch.
func NewInterfaceItems(b *collectors.Batch) *InterfaceItems {
	m := &InterfaceItems{Layout: b.Layout, Slot: make([]int32, len(b.Interfaces))}
	seen := make(map[[2]string]int32, len(b.Interfaces))
	// One backing array for every item's keys: two strings per interface.
	flat := make([]string, 0, 2*len(b.Interfaces))
	for i := range b.Interfaces {
		ifc := &b.Interfaces[i]
		k := [2]string{ifc.Name, ifc.SystemID}
		if _, dup := seen[k]; dup {
			m.Slot[i] = -1
			continue
		}
		seen[k] = int32(len(m.props))
		m.Slot[i] = int32(len(m.props))
		flat = append(flat, ifc.Name, ifc.SystemID)
		p := flat[len(flat)-2 : len(flat) : len(flat)]
		m.props = append(m.props, p)
		m.keys = append(m.keys, joinKey(p))
	}
	return m
}

// SetInterfaceLayout gives the stage one item per mapped interface,
// sharing the mapping's keys.
func (s *Stage) SetInterfaceLayout(m *InterfaceItems) { s.relayout(m.props, m.keys) }

// ItemCache keeps the interface mapping of the current batch layout, so that
// every counter source of every probe evaluated on the same batches shares
// one copy of the item keys instead of building its own.
type ItemCache struct {
	items *InterfaceItems
}

// For returns the mapping of b, rebuilt only when b's layout changed (and
// every time for a batch with an unknown layout, 0).
func (c *ItemCache) For(b *collectors.Batch) *InterfaceItems {
	if c == nil || c.items == nil || b.Layout == 0 || c.items.Layout != b.Layout || len(c.items.Slot) != len(b.Interfaces) {
		m := NewInterfaceItems(b)
		if c != nil {
			c.items = m
		}
		return m
	}
	return c.items
}
