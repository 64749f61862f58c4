package probe

import (
	"slices"
	"strings"
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
	props []string // interface, system_id per item
	keys  []string
}

// Len is the number of items.
func (m *InterfaceItems) Len() int { return len(m.keys) }

// Key is item i's identity, as the counter sources' stages know it.
func (m *InterfaceItems) Key(i int) string { return m.keys[i] }

// PositionsIn gives, for each item of m, its position among the items of
// old, or -1 when old has no such item, reusing dst: what state kept by
// item follows across a change of the batch's interfaces. old may be nil.
func (m *InterfaceItems) PositionsIn(old *InterfaceItems, dst []int32) []int32 {
	var byKey map[string]int32
	if old != nil {
		byKey = make(map[string]int32, len(old.keys))
		for j, k := range old.keys {
			byKey[k] = int32(j)
		}
	}
	dst = slices.Grow(dst[:0], len(m.keys))[:len(m.keys)]
	for i, k := range m.keys {
		j, found := byKey[k]
		if !found {
			j = -1
		}
		dst[i] = j
	}
	return dst
}

// NewInterfaceItems builds the mapping for a batch.
func NewInterfaceItems(b *collectors.Batch) *InterfaceItems {
	n := len(b.Interfaces)
	m := &InterfaceItems{Layout: b.Layout, Slot: make([]int32, n)}
	// Duplicates found by sorting positions rather than with a map of the
	// pairs: a map for 4,000 interfaces is most of a megabyte of garbage
	// at every layout change.
	order := make([]int32, n)
	for i := range order {
		order[i] = int32(i)
	}
	pair := func(i int32) (string, string) { return b.Interfaces[i].Name, b.Interfaces[i].SystemID }
	slices.SortStableFunc(order, func(x, y int32) int {
		xn, xs := pair(x)
		yn, ys := pair(y)
		if c := strings.Compare(xn, yn); c != 0 {
			return c
		}
		return strings.Compare(xs, ys)
	})
	for k := 1; k < n; k++ {
		an, as := pair(order[k-1])
		bn, bs := pair(order[k])
		if an == bn && as == bs { // order[k] comes later in the batch
			m.Slot[order[k]] = -1
		}
	}
	items := 0
	for i := range m.Slot {
		if m.Slot[i] == 0 {
			items++
		}
	}
	m.props = make([]string, 0, 2*items)
	m.keys = make([]string, 0, items)
	for i := range b.Interfaces {
		if m.Slot[i] < 0 {
			continue
		}
		ifc := &b.Interfaces[i]
		m.Slot[i] = int32(len(m.keys))
		m.props = append(m.props, ifc.Name, ifc.SystemID)
		m.keys = append(m.keys, joinKey(m.props[len(m.props)-2:]))
	}
	return m
}

// SetInterfaceLayout gives the stage one item per mapped interface,
// sharing the mapping's keys.
func (s *Stage) SetInterfaceLayout(m *InterfaceItems) { s.relayout(m.props, 2, m.keys, 0) }

// ItemCache is what the counter sources (if_counter, traffic_monitor) of
// every probe evaluated on the same batches share: the interface-to-item
// mapping of the current batch layout, so that the item keys exist once,
// and the previous tick's counters, so that rates need one copy of the
// device's counters instead of one per probe, and only of the counters some
// probe uses. Instance.Tick gives a probe evaluated alone a cache of its
// own; whoever shares one across probes calls Advance once every probe has
// seen the batch.
type ItemCache struct {
	items *InterfaceItems

	// want collects the counters asked for (Want) since the last Advance.
	want collectors.CounterSet
	prev prevCounters
	// trans maps the items of transFor to prev's items when prev was
	// recorded with another mapping.
	trans    []int32
	transFor *InterfaceItems
}

// prevCounters is one recorded tick, by item of its mapping: only the
// counters wanted then are kept, one column each.
type prevCounters struct {
	items *InterfaceItems // nil before the first Advance
	at    time.Time
	// valid holds, per item, the counters reported and wanted then.
	valid []collectors.CounterSet
	gen   []uint64
	cols  [collectors.NumCounters][]uint64
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

// Want asks the next Advance to keep counter ctr: a counter source calls it
// on every tick for the counters it computes rates of.
func (c *ItemCache) Want(ctr collectors.Counter) { c.want |= 1 << ctr }

// Previous gives the counters the last Advance recorded, for the items of
// m (the current mapping), and their time; ok is false before the first
// Advance.
func (c *ItemCache) Previous(m *InterfaceItems) (p Previous, at time.Time, ok bool) {
	if c.prev.items == nil {
		return Previous{}, time.Time{}, false
	}
	p.prev = &c.prev
	if m != c.prev.items {
		if c.transFor != m {
			c.trans = m.PositionsIn(c.prev.items, c.trans)
			c.transFor = m
		}
		p.trans = c.trans
	}
	return p, c.prev.at, true
}

// Previous is the previous tick's counters seen from the current items.
type Previous struct {
	prev  *prevCounters
	trans []int32
}

// Counter returns the previous value of counter ctr of item i, when the
// item existed then with the same generation and reported the counter.
func (p Previous) Counter(i int, ctr collectors.Counter, gen uint64) (uint64, bool) {
	if p.trans != nil {
		if i = int(p.trans[i]); i < 0 {
			return 0, false
		}
	}
	if !p.prev.valid[i].Has(ctr) || p.prev.gen[i] != gen {
		return 0, false
	}
	return p.prev.cols[ctr][i], true
}

// Advance records the wanted counters of b, taken at at, as the previous
// sample for the next tick's rates. A batch no later than the recorded one
// is ignored, as the rates ignored it: a sample whose time does not advance
// carries no rate.
func (c *ItemCache) Advance(b *collectors.Batch, at time.Time) {
	if c.prev.items != nil && !at.After(c.prev.at) {
		return
	}
	m := c.For(b)
	n := len(m.keys)
	p := &c.prev
	p.items, p.at = m, at
	p.valid = slices.Grow(p.valid[:0], n)[:n]
	p.gen = slices.Grow(p.gen[:0], n)[:n]
	var wanted [collectors.NumCounters]collectors.Counter
	nw := 0
	for ctr := range collectors.NumCounters {
		if c.want.Has(ctr) {
			p.cols[ctr] = slices.Grow(p.cols[ctr][:0], n)[:n]
			wanted[nw] = ctr
			nw++
		} else {
			p.cols[ctr] = nil
		}
	}
	for i := range b.Interfaces {
		s := m.Slot[i]
		if s < 0 {
			continue
		}
		ifc := &b.Interfaces[i]
		p.valid[s] = ifc.Valid & c.want
		p.gen[s] = ifc.Generation
		for _, ctr := range wanted[:nw] {
			p.cols[ctr][s] = ifc.Counters[ctr]
		}
	}
	c.transFor, c.want = nil, 0
}
