package main

import (
	"os"
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

// TestReleaseFlagsSpareTheHotPaths checks packaging/release-flags: every
// package pattern built without inlining names packages the agent links (no
// stale entries), and none is on the per-tick paths.
func TestReleaseFlagsSpareTheHotPaths(t *testing.T) {
	raw, err := os.ReadFile("../../packaging/release-flags")
	if err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command("go", "list", "-tags", "grpcnotrace", "-deps", ".").CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	deps := strings.Fields(string(out))
	matches := func(pattern, pkg string) bool {
		if base, ok := strings.CutSuffix(pattern, "/..."); ok {
			return pkg == base || strings.HasPrefix(pkg, base+"/")
		}
		return pkg == pattern
	}
	hot := []string{"runtime", "github.com/probe-agent/probe-agent/probe", "github.com/probe-agent/probe-agent/probe/processors",
		"github.com/probe-agent/probe-agent/agent/stream", "github.com/probe-agent/probe-agent/collectors/netlink",
		"github.com/probe-agent/probe-agent/collectors/replay", "github.com/probe-agent/probe-agent/collectors/gnmi",
		"google.golang.org/protobuf/internal/impl", "google.golang.org/protobuf/proto", "strconv", "strings", "bytes",
		"encoding/binary", "math", "slices", "time", "sync", "golang.org/x/sys/unix", "regexp"}
	patterns := 0
	for _, line := range strings.Split(string(raw), "\n") {
		flag, ok := strings.CutPrefix(strings.TrimSpace(line), "-gcflags=")
		if !ok {
			continue
		}
		pattern, args, _ := strings.Cut(flag, "=")
		patterns++
		if args != "-l" {
			t.Errorf("%s: want only -l (no inlining), got %q", pattern, args)
		}
		n := 0
		for _, d := range deps {
			if matches(pattern, d) {
				n++
			}
		}
		if n == 0 {
			t.Errorf("%s matches no package probe-agent links: stale entry", pattern)
		}
		for _, h := range hot {
			if matches(pattern, h) {
				t.Errorf("%s covers %s, which is on the per-tick path", pattern, h)
			}
		}
	}
	if patterns == 0 {
		t.Error("no -gcflags patterns found in packaging/release-flags")
	}
}

// TestTopologyImportsNoNetworkCode keeps the topology, graph query and
// resolution packages pure: the controller, probectl's offline tools and
// tests share them, and none of them needs the network. (Package net itself
// is linked through probe's github.com/google/uuid, which reads MAC
// addresses for node ids; no socket, HTTP or gRPC code is.)
func TestTopologyImportsNoNetworkCode(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", "../../topology/...").CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	forbidden := []string{"net/http", "net/rpc", "crypto/tls", "google.golang.org/grpc", "golang.org/x/net", "github.com/probe-agent/probe-agent/agent",
		"github.com/probe-agent/probe-agent/collectors/netlink", "github.com/probe-agent/probe-agent/collectors/gnmi"}
	for _, pkg := range strings.Fields(string(out)) {
		for _, f := range forbidden {
			if pkg == f || strings.HasPrefix(pkg, f+"/") {
				t.Errorf("topology/... links %s", pkg)
			}
		}
	}
}
