package probe

import (
	"fmt"
	"strings"
)

// Kind is what the values of a stage are.
type Kind uint8

// Value kinds.
const (
	Number Kind = iota
	DiscreteState
	Text
)

func (k Kind) String() string {
	switch k {
	case Number:
		return "number"
	case DiscreteState:
		return "discrete state"
	}
	return "text"
}

// StageType is one of the twelve IBA stage types: a value kind, whether the
// stage is a set of keyed items or a single item, and whether each item is a
// time series.
type StageType struct {
	Kind       Kind
	Set        bool
	TimeSeries bool
}

// Frequently used stage types.
var (
	N     = StageType{Kind: Number}
	NS    = StageType{Kind: Number, Set: true}
	NTS   = StageType{Kind: Number, TimeSeries: true}
	NSTS  = StageType{Kind: Number, Set: true, TimeSeries: true}
	DS    = StageType{Kind: DiscreteState}
	DSS   = StageType{Kind: DiscreteState, Set: true}
	DSTS  = StageType{Kind: DiscreteState, TimeSeries: true}
	DSSTS = StageType{Kind: DiscreteState, Set: true, TimeSeries: true}
	T     = StageType{Kind: Text}
	TS    = StageType{Kind: Text, Set: true}
	TTS   = StageType{Kind: Text, TimeSeries: true}
	TSTS  = StageType{Kind: Text, Set: true, TimeSeries: true}
)

// AllStageTypes lists the twelve types in the order the seed names them.
var AllStageTypes = []StageType{N, NTS, NS, NSTS, T, TTS, TS, TSTS, DS, DSTS, DSS, DSSTS}

// String returns the lowercase abbreviation used in the API ("ns", "dssts").
func (t StageType) String() string {
	var s string
	switch t.Kind {
	case Number:
		s = "n"
	case DiscreteState:
		s = "ds"
	default:
		s = "t"
	}
	if t.Set {
		s += "s"
	}
	if t.TimeSeries {
		s += "ts"
	}
	return s
}

// ParseStageType parses an abbreviation such as "nsts".
func ParseStageType(s string) (StageType, error) {
	for _, t := range AllStageTypes {
		if t.String() == strings.ToLower(s) {
			return t, nil
		}
	}
	return StageType{}, fmt.Errorf("unknown stage type %q", s)
}

// WithSet returns t as a set or single-item type.
func (t StageType) WithSet(set bool) StageType { t.Set = set; return t }

// WithTimeSeries returns t with or without time series.
func (t StageType) WithTimeSeries(ts bool) StageType { t.TimeSeries = ts; return t }

// WithKind returns t with another value kind.
func (t StageType) WithKind(k Kind) StageType { t.Kind = k; return t }

// MarshalText makes stage types print as their abbreviation in JSON.
func (t StageType) MarshalText() ([]byte, error) { return []byte(t.String()), nil }
