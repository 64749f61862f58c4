package probe

import (
	"slices"
	"sync"
)

// Placement says how the output items of a processor type depend on its
// input items. The partitioner (Partition) reads it to decide which
// processors a device can evaluate on its own items and which need every
// device's data.
type Placement uint8

// Placements.
const (
	// PlaceWhole (the default for a type that declares nothing) is a
	// processor whose output may depend on any input item: it runs where
	// all of its input is, and a device-local input is shipped to it whole.
	// A holistic aggregate (a median, a distinct count) is one.
	PlaceWhole Placement = iota
	// PlacePerItem is a processor whose output item depends only on the
	// input items with the same key values (checkers, rates, averages over
	// time, joins by key).
	PlacePerItem
	// PlaceGrouping is a grouping processor with a mergeable partial state
	// (RegisterPartial): it groups its input by group_by and can be split
	// into a per-device partial and a central merge.
	PlaceGrouping
)

func (p Placement) String() string {
	switch p {
	case PlacePerItem:
		return "per item"
	case PlaceGrouping:
		return "grouping"
	}
	return "whole"
}

// PartialSpec describes the partial state of a grouping processor type: the
// family it belongs to and the columns of its partial-state stage. A
// partial stage is an NS stage keyed by the group (and the device); its
// "value" column holds Value and the columns after it hold Columns, all
// numbers, exactly as the partial state holds them (float64, so counts are
// exact up to 2^53).
type PartialSpec struct {
	// Family is the partial-state type: "moments" (numeric aggregates) or
	// "tallies" (counts).
	Family string
	// Value names what the "value" column holds ("n", "total").
	Value string
	// Columns are the further partial-state columns ("mean", "m2").
	Columns []string
}

// String renders the partial state as "moments(n, mean, m2)".
func (ps PartialSpec) String() string {
	s := ps.Family + "(" + ps.Value
	for _, c := range ps.Columns {
		s += ", " + c
	}
	return s + ")"
}

// StageColumns are the columns of a partial-state stage.
func (ps PartialSpec) StageColumns() []Column {
	cols := []Column{{Name: "value", Kind: Number}}
	for _, c := range ps.Columns {
		cols = append(cols, Column{Name: c, Kind: Number})
	}
	return cols
}

// Partial modes: the values of the "partial" property of grouping
// processors.
const (
	// PartialOutput makes a grouping processor write its partial state per
	// group instead of its value (the edge side of a split).
	PartialOutput = "output"
	// PartialMerge makes it read partial-state items from many devices,
	// merge them per group and write its value (the central side).
	PartialMerge = "merge"
)

var (
	placementMu sync.RWMutex
	placements  = map[string]Placement{}
	partials    = map[string]PartialSpec{}
)

// RegisterPlacement declares how a processor type's outputs depend on its
// inputs; processor files call it from init. Types that declare nothing are
// PlaceWhole, which is always correct, only never split.
func RegisterPlacement(typeName string, p Placement) {
	placementMu.Lock()
	defer placementMu.Unlock()
	placements[typeName] = p
}

// RegisterPartial declares a grouping processor type and its partial state.
func RegisterPartial(typeName string, ps PartialSpec) {
	placementMu.Lock()
	defer placementMu.Unlock()
	placements[typeName] = PlaceGrouping
	ps.Columns = slices.Clone(ps.Columns)
	partials[typeName] = ps
}

// PlacementOf returns what a processor type declared.
func PlacementOf(typeName string) Placement {
	placementMu.RLock()
	defer placementMu.RUnlock()
	return placements[typeName]
}

// PartialOf returns the partial state of a grouping processor type.
func PartialOf(typeName string) (PartialSpec, bool) {
	placementMu.RLock()
	defer placementMu.RUnlock()
	ps, ok := partials[typeName]
	return ps, ok
}

// acceptsPartial tells whether a processor in merge mode may read an input
// of type t: its input is then a partial-state stage, whatever the types the
// processor accepts for items.
func acceptsPartial(pp *planProc, t StageType) bool {
	if mode, _ := pp.props["partial"].(string); mode != PartialMerge {
		return false
	}
	if _, ok := PartialOf(pp.spec.Name); !ok {
		return false
	}
	return t == N || t == NS
}
