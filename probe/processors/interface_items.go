package processors

import (
	"slices"
	"sort"

	"github.com/probe-agent/probe-agent/probe"
)

// interfaceItems keeps a counter source's output stages laid out like the
// tick's batch: one item per (interface, system_id). The mapping itself is
// shared through the tick's item cache; the stages are laid out again only
// when it changes, so a steady tick indexes slices.
//
// A source whose items carry extra keys (additional properties such as
// "group") or whose graph query was resolved (only some interfaces are
// items) gets a layout of its own; slot still indexes the shared mapping,
// which the previous tick's counters follow, and out the output stages.
type interfaceItems struct {
	current *probe.InterfaceItems
	slot    []int32 // batch index -> shared item, -1 for a duplicate pair
	out     []int32 // batch index -> output item, -1 when not an item; slot itself without keys
	keys    *sourceKeys
}

// sourceKeys is the item layout of a source with extra keys or resolved
// items.
type sourceKeys struct {
	names    []string // the output stage's keys, sorted
	ifPos    int      // position of "interface" in names, -1 without
	sysPos   int      // position of "system_id"
	extraPos []int    // position in names of each of resolved.Keys (or of extra)
	resolved *probe.SourceItems
	empty    []string // extra key values of an item without a resolution
}

// newSourceKeys declares the item keys of a source processor: base (e.g.
// interface and system_id) plus its additional properties, sorted together,
// and takes the graph query's resolution when there is one. It returns nil
// when the plain (interface, system_id) layout applies.
func newSourceKeys(b *probe.Build, base ...string) *sourceKeys {
	extra := extraKeys(b)
	if len(extra) == 0 && b.Resolved == nil {
		return nil
	}
	if b.Resolved != nil {
		extra = b.Resolved.Keys
	}
	names := append(slices.Clone(base), extra...)
	sort.Strings(names)
	names = slices.Compact(names)
	k := &sourceKeys{names: names, ifPos: slices.Index(names, "interface"), sysPos: slices.Index(names, "system_id"), resolved: b.Resolved}
	for _, e := range extra {
		k.extraPos = append(k.extraPos, slices.Index(names, e))
	}
	k.empty = make([]string, len(extra))
	return k
}

// itemProps gives an item's key values, and whether the source has it as an
// item at all.
func (k *sourceKeys) itemProps(systemID, iface string) ([]string, bool) {
	values := k.empty
	if k.resolved != nil {
		v, ok := k.resolved.Lookup(systemID, iface)
		if !ok {
			return nil, false
		}
		values = v
	}
	props := make([]string, len(k.names))
	if k.ifPos >= 0 {
		props[k.ifPos] = iface
	}
	if k.sysPos >= 0 {
		props[k.sysPos] = systemID
	}
	for i, pos := range k.extraPos {
		if i < len(values) && props[pos] == "" {
			props[pos] = values[i]
		}
	}
	return props, true
}

// outputKeys is the key list of the source's output stages.
func (m *interfaceItems) outputKeys() []string {
	if m.keys == nil {
		return []string{"interface", "system_id"}
	}
	return m.keys.names
}

// sync lays out the stages when the batch's set of interfaces changed.
func (m *interfaceItems) sync(t *probe.Tick, outs ...*probe.Stage) {
	items := t.Items.For(t.Counters)
	if items == m.current {
		return
	}
	m.current, m.slot = items, items.Slot
	if m.keys == nil {
		for _, st := range outs {
			if st != nil {
				st.SetInterfaceLayout(items)
			}
		}
		m.out = items.Slot
		return
	}
	m.out = slices.Grow(m.out[:0], len(items.Slot))[:len(items.Slot)]
	var props [][]string
	for i := range t.Counters.Interfaces {
		m.out[i] = -1
		if items.Slot[i] < 0 {
			continue
		}
		ifc := &t.Counters.Interfaces[i]
		p, ok := m.keys.itemProps(ifc.SystemID, ifc.Name)
		if !ok {
			continue
		}
		m.out[i] = int32(len(props))
		props = append(props, p)
	}
	for _, st := range outs {
		if st != nil {
			st.SetLayout(props)
		}
	}
}
