package main

import (
	"os/exec"
	"strings"
	"testing"
)

// TestControllerLinksNoAgentCode keeps the controller a client of the
// agents: it reaches them through controlclient and the generated stubs,
// so it links neither the agent daemon nor its collectors (netlink needs
// Linux netlink sockets, gNMI a large dependency tree). agent/stream, the
// standalone Apstra-format streaming, is allowed.
func TestControllerLinksNoAgentCode(t *testing.T) {
	out, err := exec.Command("go", "list", "-tags", "grpcnotrace", "-deps", ".").CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	const mod = "github.com/probe-agent/probe-agent/"
	forbidden := []string{mod + "agent", mod + "collectors/netlink", mod + "collectors/gnmi"}
	allowed := []string{mod + "agent/stream"}
	found := 0
	for _, pkg := range strings.Fields(string(out)) {
		if pkg == mod+"controller" {
			found++
		}
	pkgs:
		for _, f := range forbidden {
			if pkg == f || strings.HasPrefix(pkg, f+"/") {
				for _, a := range allowed {
					if pkg == a || strings.HasPrefix(pkg, a+"/") {
						continue pkgs
					}
				}
				t.Errorf("probe-controller links %s", pkg)
			}
		}
	}
	if found == 0 {
		t.Error("go list does not show the controller package: the test lists the wrong binary")
	}
}
