package processors

import (
	"github.com/probe-agent/probe-agent/probe"
)

// interfaceItems keeps a counter source's output stages laid out like the
// tick's batch: one item per (interface, system_id). The mapping itself is
// shared through the tick's item cache; the stages are laid out again only
// when it changes, so a steady tick indexes slices.
type interfaceItems struct {
	current *probe.InterfaceItems
	slot    []int32 // batch index -> item, -1 for a duplicate pair
}

// sync lays out the stages when the batch's set of interfaces changed.
func (m *interfaceItems) sync(t *probe.Tick, outs ...*probe.Stage) {
	items := t.Items.For(t.Counters)
	if items == m.current {
		return
	}
	for _, st := range outs {
		if st != nil {
			st.SetInterfaceLayout(items)
		}
	}
	m.current, m.slot = items, items.Slot
}
