package processors

import "github.com/probe-agent/probe-agent/probe"

// The processors whose output items each depend only on the input items
// with the same key values: on a split probe they run on the device that
// owns those items. The grouping processors declare their partial state
// where they are registered; every other type (the source processors, and
// anything not listed) is placed by the partitioner's rules for whole
// processors.
func init() {
	for _, name := range []string{
		"accumulate", "anomaly", "comparison", "logical", "match_string",
		"periodic_average", "periodic_change", "periodic_rate", "range_check",
		"ratio", "set_comparison", "state_check", "subtract",
		"time_in_state_check", "union",
	} {
		probe.RegisterPlacement(name, probe.PlacePerItem)
	}
}
