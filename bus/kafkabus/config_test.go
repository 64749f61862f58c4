package kafkabus

import "testing"

// TestDefaultGroupPerBlueprint: two blueprints on one cluster (the levels
// of a hierarchy) get distinct consumer groups unless told otherwise; one
// group would share the topic's partitions among both levels' members,
// each skipping the other's records.
func TestDefaultGroupPerBlueprint(t *testing.T) {
	for _, c := range []struct {
		blueprint, group, want string
	}{
		{"pod1", "", "probe-controller.pod1"},
		{"fabric", "", "probe-controller.fabric"},
		{"", "", "probe-controller"},
		{"pod1", "mine", "mine"},
	} {
		got := Config{Blueprint: c.blueprint, Group: c.group}.withDefaults().Group
		if got != c.want {
			t.Errorf("blueprint %q, group %q: default group %q, want %q", c.blueprint, c.group, got, c.want)
		}
	}
}
