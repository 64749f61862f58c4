package probe

import (
	"encoding/json"
	"fmt"
	"maps"
	"slices"
)

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

// resolvedJSON is the "resolved" extension of a document, as a controller
// writes it for one device.
type resolvedJSON struct {
	Keys  []string           `json:"keys"`
	Items []resolvedItemJSON `json:"items"`
}

type resolvedItemJSON struct {
	SystemID  string   `json:"system_id"`
	Interface string   `json:"interface,omitempty"`
	Values    []string `json:"values,omitempty"`
}

func parseResolution(raw json.RawMessage) (Resolution, error) {
	var m map[string]resolvedJSON
	if err := json.Unmarshal(raw, &m); err != nil {
		return nil, fmt.Errorf(`expected {"<processor>": {"keys": [...], "items": [{"system_id", "interface", "values"}]}}: %v`, err)
	}
	res := Resolution{}
	for _, name := range slices.Sorted(maps.Keys(m)) {
		r := m[name]
		si := NewSourceItems(r.Keys)
		for i, it := range r.Items {
			if len(it.Values) != len(r.Keys) {
				return nil, fmt.Errorf("%s.items[%d]: %d values for %d keys", name, i, len(it.Values), len(r.Keys))
			}
			si.Add(it.SystemID, it.Interface, it.Values)
		}
		res[name] = si
	}
	return res, nil
}

// MarshalJSON renders the items in the form of a document's "resolved"
// extension.
func (s *SourceItems) MarshalJSON() ([]byte, error) {
	out := resolvedJSON{Keys: s.Keys, Items: make([]resolvedItemJSON, 0, len(s.order))}
	if out.Keys == nil {
		out.Keys = []string{}
	}
	s.Each(func(sys, iface string, values []string) {
		out.Items = append(out.Items, resolvedItemJSON{SystemID: sys, Interface: iface, Values: values})
	})
	return json.Marshal(out)
}
