package probe

import (
	"slices"
	"time"

	"github.com/probe-agent/probe-agent/collectors"
)

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

// ItemCache is what the counter sources (if_counter, traffic_monitor) of
// every probe evaluated on the same batches share: the interface-to-item
// mapping of the current batch layout, so that the item keys exist once,
// and the previous tick's counters, so that rates need one copy of the
// device's counters instead of one per probe. Instance.Tick gives a probe
// evaluated alone a cache of its own; whoever shares one across probes calls
// Advance once every probe has seen the batch.
type ItemCache struct {
	items *InterfaceItems

	prev       []collectors.Interface
	prevTime   time.Time
	prevLayout uint64
	// prevIdx maps the current batch's interfaces to prev when the layouts
	// differ; built once per batch, for the batch prevFor.
	prevIdx []int32
	prevFor *collectors.Batch
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

// Previous returns the counters recorded by the last Advance and their
// time, for computing rates over b: interface i of b was prev[i] when idx
// is nil (same layout), else prev[idx[i]], or absent when idx[i] < 0. prev
// is nil before the first Advance.
func (c *ItemCache) Previous(b *collectors.Batch) (prev []collectors.Interface, idx []int32, at time.Time) {
	if c.prev == nil {
		return nil, nil, time.Time{}
	}
	if b.Layout != 0 && b.Layout == c.prevLayout && len(b.Interfaces) == len(c.prev) {
		return c.prev, nil, c.prevTime
	}
	if c.prevFor != b || len(c.prevIdx) != len(b.Interfaces) {
		byName := make(map[[2]string]int32, len(c.prev))
		for j := len(c.prev) - 1; j >= 0; j-- { // the first of duplicates wins
			byName[[2]string{c.prev[j].Name, c.prev[j].SystemID}] = int32(j)
		}
		c.prevIdx = slices.Grow(c.prevIdx[:0], len(b.Interfaces))[:len(b.Interfaces)]
		for i := range b.Interfaces {
			j, ok := byName[[2]string{b.Interfaces[i].Name, b.Interfaces[i].SystemID}]
			if !ok {
				j = -1
			}
			c.prevIdx[i] = j
		}
		c.prevFor = b
	}
	return c.prev, c.prevIdx, c.prevTime
}

// Advance records b's counters, taken at at, as the previous sample for
// the next tick's rates. A batch no later than the recorded one is ignored,
// as the rates ignored it: a sample whose time does not advance carries no
// rate.
func (c *ItemCache) Advance(b *collectors.Batch, at time.Time) {
	if c.prev != nil && !at.After(c.prevTime) {
		return
	}
	c.prev = append(c.prev[:0], b.Interfaces...)
	if c.prev == nil {
		c.prev = []collectors.Interface{}
	}
	c.prevTime, c.prevLayout = at, b.Layout
	c.prevFor = nil
}
