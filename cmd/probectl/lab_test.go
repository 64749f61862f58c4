package main

import (
	"encoding/json"
	"strings"
	"testing"
)

// TestLabCommandErrors covers the lab commands that need no namespaces:
// the plan, and the errors a user meets first.
func TestLabCommandErrors(t *testing.T) {
	out, code := run(t, "lab", "plan", leafSpineLab, "--port-base", "30000")
	if code != 0 {
		t.Fatalf("lab plan: exit %d: %s", code, out)
	}
	var plan struct {
		Lab   string `json:"lab"`
		Nodes []struct {
			Netns string `json:"netns"`
			Agent *struct {
				Control string `json:"control"`
			} `json:"agent"`
		} `json:"nodes"`
	}
	if err := json.Unmarshal([]byte(out), &plan); err != nil {
		t.Fatalf("lab plan output is not JSON: %v", err)
	}
	if plan.Lab != "leaf-spine-linux" || len(plan.Nodes) != 14 || plan.Nodes[0].Netns != "plab.leaf-spine-linux.spine1" || plan.Nodes[0].Agent.Control != "127.0.0.1:30000" {
		t.Errorf("lab plan: %+v", plan)
	}
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"lab", "traffic", t.TempDir(), "--from", "server1", "--to", "server3", "--rate", "1M"}, "no state.json: is the lab up"},
		{[]string{"lab", "traffic", t.TempDir(), "--flow", "server1,server3"}, "no state.json"},
		{[]string{"lab", "plan", "testdata/seed_probe.json"}, "seed_probe.json"},
		{[]string{"lab", "up", "nonexistent.clab.yml"}, "no such file"},
	}
	for _, tc := range tests {
		out, code := run(t, tc.args...)
		if code == 0 || !strings.Contains(out, tc.want) {
			t.Errorf("%v: exit %d, %q; want an error containing %q", tc.args, code, out, tc.want)
		}
	}
}
