package probe

import "maps"

// SourceItems is what resolving a source processor's graph query gives one
// device: the items the query selects, by (system_id, interface), each with
// the values of the processor's extra item keys (the additional properties
// such as "group" or "description", in the order of Keys). A controller, or
// probectl simulate --topology, builds it; a device without one treats every
// local interface as an item and leaves the extra keys empty.
type SourceItems struct {
	// Keys names the extra item keys, sorted; Values of each item follow it.
	Keys  []string
	items map[[2]string][]string
	order [][2]string
}

// NewSourceItems starts an empty resolution with the given extra keys.
func NewSourceItems(keys []string) *SourceItems {
	return &SourceItems{Keys: keys, items: map[[2]string][]string{}}
}

// Add records an item. The same (system_id, interface) twice is one item,
// as Apstra merges duplicate query matches: the first match's values win.
// values must align with Keys.
func (s *SourceItems) Add(systemID, iface string, values []string) {
	k := [2]string{systemID, iface}
	if _, dup := s.items[k]; dup {
		return
	}
	s.items[k] = values
	s.order = append(s.order, k)
}

// Lookup returns an item's extra key values, and whether the query selects it.
func (s *SourceItems) Lookup(systemID, iface string) ([]string, bool) {
	v, ok := s.items[[2]string{systemID, iface}]
	return v, ok
}

// Len is the number of items.
func (s *SourceItems) Len() int { return len(s.order) }

// Each calls fn for every item in the order they were added.
func (s *SourceItems) Each(fn func(systemID, iface string, values []string)) {
	for _, k := range s.order {
		fn(k[0], k[1], s.items[k])
	}
}

// Resolution maps source processor names to their resolved items.
type Resolution map[string]*SourceItems

// Resolve returns a plan whose instances take their source items from r
// (for the processors r names) instead of every local interface. The plan
// itself is not changed.
func (p *Plan) Resolve(r Resolution) *Plan {
	q := *p
	q.resolution = maps.Clone(r)
	return &q
}
