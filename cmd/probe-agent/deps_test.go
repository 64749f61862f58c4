package main

import (
	"os/exec"
	"strings"
	"testing"
)

// TestBinaryLeavesOutHeavyPackages guards the agent's memory footprint: on
// a switch most of the static binary is resident, so every package linked
// in is RSS (docs/PERFORMANCE.md). These are linked only by mistake: ygot,
// goyang and go-cmp (the gNMI collector decodes with a table; ygot checks
// that table in tests), and x/net/trace with html/template (kept out of
// gRPC by the grpcnotrace tag the Makefile and packages build with).
func TestBinaryLeavesOutHeavyPackages(t *testing.T) {
	out, err := exec.Command("go", "list", "-tags", "grpcnotrace", "-deps", ".").CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	forbidden := []string{
		"github.com/openconfig/ygot/",
		"github.com/openconfig/goyang/",
		"github.com/google/go-cmp/",
		"github.com/golang/glog",
		"golang.org/x/net/trace",
		"html/template",
		"github.com/probe-agent/probe-agent/collectors/gnmi/oc",
	}
	for _, pkg := range strings.Fields(string(out)) {
		for _, f := range forbidden {
			if pkg == strings.TrimSuffix(f, "/") || strings.HasPrefix(pkg, f) {
				t.Errorf("probe-agent links %s; see the comment above for why it must not", pkg)
			}
		}
	}
}
