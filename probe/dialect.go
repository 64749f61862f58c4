package probe

import (
	"fmt"
	"maps"
	"slices"
	"strings"
)

// dialectEvidence is one thing a document carries that only some dialects
// allow: an input written as a stage name or as an object, a legacy anomaly
// processor, a raise_anomaly property, a processor type or property that
// appeared in a given release.
type dialectEvidence struct {
	what string    // where it was seen, for messages
	in   []Dialect // the dialects it is compatible with
}

// processorEra lists processor types that exist only from a given release
// on, with that release (iba-reference §3.1).
var processorEra = map[string]struct {
	in    []Dialect
	since string
}{
	// The separate anomaly processor was replaced by raise_anomaly in 3.1.
	"anomaly":                   {[]Dialect{DialectSeed}, "AOS 3.0 and earlier"},
	"extensible_data_collector": {[]Dialect{Dialect4x}, "AOS 4.0"},
}

// propertyEra lists properties that exist only from a given release on.
var propertyEra = map[string]struct {
	in    []Dialect
	since string
}{
	// Checkers raise anomalies themselves from 3.1 on ("intuitive
	// thresholds" came with it).
	"raise_anomaly":    {[]Dialect{Dialect3x, Dialect4x}, "AOS 3.1"},
	"query_tag_filter": {[]Dialect{Dialect4x}, "AOS 4.0"},
}

// collectEvidence lists what the document's processors say about its
// dialect, in document order.
func collectEvidence(procs []ProcessorDoc) []dialectEvidence {
	var ev []dialectEvidence
	sawString, sawObject := false, false
	for _, p := range procs {
		for _, port := range slices.Sorted(maps.Keys(p.Inputs)) {
			in := p.Inputs[port]
			if in.Object && !sawObject {
				sawObject = true
				ev = append(ev, dialectEvidence{fmt.Sprintf("processor %q input %q is a {\"stage\", \"column\"} object (AOS 4.x)", p.Name, port), []Dialect{Dialect4x}})
			}
			if !in.Object && !sawString {
				sawString = true
				ev = append(ev, dialectEvidence{fmt.Sprintf("processor %q input %q names a stage (AOS 3.x and earlier)", p.Name, port), []Dialect{DialectSeed, Dialect3x}})
			}
		}
	}
	seenType := map[string]bool{}
	seenProp := map[string]bool{}
	for _, p := range procs {
		if era, ok := processorEra[p.Type]; ok && !seenType[p.Type] {
			seenType[p.Type] = true
			ev = append(ev, dialectEvidence{fmt.Sprintf("processor %q is of type %s (%s)", p.Name, p.Type, era.since), era.in})
		}
		for _, k := range slices.Sorted(maps.Keys(p.Properties)) {
			if era, ok := propertyEra[k]; ok && !seenProp[k] {
				seenProp[k] = true
				ev = append(ev, dialectEvidence{fmt.Sprintf("processor %q sets %s (%s)", p.Name, k, era.since), era.in})
			}
		}
	}
	return ev
}

// detectDialect decides a document's dialect from its evidence: the one
// dialect every piece of evidence allows; when several remain, fallback if
// it is one of them, else the one nearest to it; fallback when there is no
// evidence at all. It
// returns the reason in words, or an error naming two pieces of evidence
// that contradict each other.
func detectDialect(ev []dialectEvidence, fallback Dialect) (Dialect, string, error) {
	if len(ev) == 0 {
		return fallback, "no evidence in the document; the default dialect", nil
	}
	possible := slices.Clone(Dialects)
	var used []string
	for i, e := range ev {
		next := possible[:0:0]
		for _, d := range possible {
			if slices.Contains(e.in, d) {
				next = append(next, d)
			}
		}
		if len(next) == 0 {
			// Name the earlier evidence this one contradicts.
			for _, prev := range ev[:i] {
				if !overlaps(prev.in, e.in) {
					return "", "", fmt.Errorf("conflicting dialect evidence: %s, but %s; fix the document or set \"dialect\"", prev.what, e.what)
				}
			}
			return "", "", fmt.Errorf("conflicting dialect evidence: %s, which no dialect allows together with %s; fix the document or set \"dialect\"", e.what, strings.Join(used, "; "))
		}
		if len(next) < len(possible) {
			used = append(used, e.what)
		}
		possible = next
	}
	if len(used) == 0 {
		used = append(used, ev[0].what)
	}
	reason := strings.Join(used, "; ")
	if len(possible) == 1 {
		return possible[0], reason, nil
	}
	// Several remain: the default when allowed, else the allowed dialect
	// nearest to it (a 4.x default makes a string-input document 3.x).
	best := possible[0]
	for _, d := range possible {
		if distance(d, fallback) < distance(best, fallback) {
			best = d
		}
	}
	return best, reason + fmt.Sprintf("; %s by default (allowed: %s)", best, dialectList(possible)), nil
}

func distance(a, b Dialect) int {
	d := slices.Index(Dialects, a) - slices.Index(Dialects, b)
	if d < 0 {
		return -d
	}
	return d
}

func overlaps(a, b []Dialect) bool {
	for _, d := range a {
		if slices.Contains(b, d) {
			return true
		}
	}
	return false
}

func dialectList(ds []Dialect) string {
	s := make([]string, len(ds))
	for i, d := range ds {
		s[i] = string(d)
	}
	return strings.Join(s, ", ")
}
