package main

import (
	"fmt"
	"strings"

	"github.com/probe-agent/probe-agent/probe"
)

// didYouMean returns ` (did you mean "x"?)` for the candidate closest to
// name when it is close enough to be a typo, else "".
func didYouMean(name string, candidates []string) string {
	best, bestD := "", -1
	for _, c := range candidates {
		d := editDistance(strings.ToLower(name), strings.ToLower(c))
		if bestD < 0 || d < bestD {
			best, bestD = c, d
		}
	}
	// A third of the name, at least one edit: "std_deb" and "stdev" find
	// std_dev; "foo" finds nothing.
	if bestD < 0 || bestD > max(1, len(name)/3) {
		return ""
	}
	return fmt.Sprintf(" (did you mean %q?)", best)
}

// editDistance is the engine's Levenshtein distance (probe.EditDistance).
func editDistance(a, b string) int { return probe.EditDistance(a, b) }
