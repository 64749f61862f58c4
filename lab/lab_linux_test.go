package lab

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
)

// rootLab plans leaf-spine-small under a name of its own (so a lab a user
// has up is not touched) and skips unless the test may build namespaces.
func rootLab(t *testing.T) (*Plan, Layout, string) {
	t.Helper()
	if testing.Short() {
		t.Skip("builds network namespaces and starts agents; not in -short")
	}
	if err := CheckPrivileges(); err != nil {
		t.Skipf("skipping: %v", err)
	}
	file, err := filepath.Abs("../containerlab/leaf-spine-small.clab.yml")
	if err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	name := fmt.Sprintf("labtest%d", os.Getpid())
	data = []byte(strings.Replace(string(data), "name: leaf-spine-small", "name: "+name, 1))
	// Below the ephemeral range, as DefaultPortBase, and apart from the e2e
	// fabric tests (10000-19999).
	p := planOf(t, data, file, Options{PortBase: 20000 + os.Getpid()%127*100})
	l := Layout{Dir: t.TempDir()}
	t.Cleanup(func() {
		if _, err := Down(p.Lab, l, time.Second); err != nil {
			t.Errorf("cleanup: %v", err)
		}
	})
	return p, l, file
}

// buildBinaries builds probe-agent (and probe-controller once it exists)
// into a temporary folder.
func buildBinaries(t *testing.T) string {
	t.Helper()
	bin := t.TempDir()
	pkgs := []string{"../cmd/probe-agent"}
	if _, err := os.Stat("../cmd/probe-controller"); err == nil {
		pkgs = append(pkgs, "../cmd/probe-controller")
	} else {
		t.Log("cmd/probe-controller does not exist yet: the controller part is skipped")
	}
	cmd := exec.Command("go", append([]string{"build", "-o", bin + "/"}, pkgs...)...)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// leftovers lists what of the lab still exists: namespaces with its
// prefix and processes naming its folder.
func leftovers(p *Plan, l Layout) []string {
	var out []string
	nss, _ := listNamespaces(p.Prefix)
	out = append(out, nss...)
	for _, pr := range labProcesses(l.Dir) {
		if pr.Alive() {
			out = append(out, fmt.Sprintf("pid %d %s", pr.PID, pr.Config))
		}
	}
	return out
}

// txBytes is the sum of the transmitted bytes of some interfaces of a
// node.
func txBytes(t *testing.T, p *Plan, node string, ifaces ...string) uint64 {
	t.Helper()
	h, err := netns.GetFromName(p.Node(node).Netns)
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	nh, err := netlink.NewHandleAt(h)
	if err != nil {
		t.Fatal(err)
	}
	defer nh.Close()
	var sum uint64
	for _, name := range ifaces {
		link, err := nh.LinkByName(name)
		if err != nil {
			t.Fatal(err)
		}
		sum += link.Attrs().Statistics.TxBytes
	}
	return sum
}

// TestLabUpTrafficDown builds leaf-spine-small, checks the namespaces,
// veths and addresses against the plan, that the agents answer ready, that
// UDP flows between racks cross the fabric at the asked rate, and that
// down leaves nothing behind.
func TestLabUpTrafficDown(t *testing.T) {
	p, l, file := rootLab(t)
	bin := buildBinaries(t)
	ctx := context.Background()
	st, err := Up(ctx, p, l, UpOptions{File: file, Bin: bin, Log: testWriter{t}})
	if err != nil {
		t.Fatal(err)
	}

	for _, n := range p.Nodes {
		links, err := NamespaceLinks(n.Netns)
		if err != nil {
			t.Fatalf("%s: %v", n.Netns, err)
		}
		if len(links) != len(n.Interfaces) {
			t.Errorf("%s: interfaces %v, want %d", n.Name, links, len(n.Interfaces))
		}
		for _, ifc := range n.Interfaces {
			addrs, ok := links[ifc.Name]
			if !ok {
				t.Errorf("%s: no interface %s", n.Name, ifc.Name)
				continue
			}
			if ifc.Address != "" && (len(addrs) != 1 || addrs[0] != ifc.Address) {
				t.Errorf("%s:%s addresses %v, want %s", n.Name, ifc.Name, addrs, ifc.Address)
			}
		}
	}
	wantProcs := len(p.Switches())
	if _, err := os.Stat(filepath.Join(bin, "probe-controller")); err == nil {
		wantProcs++
	}
	if len(st.Processes) != wantProcs {
		t.Fatalf("%d processes started, want %d", len(st.Processes), wantProcs)
	}
	// Ready means an agent evaluated a tick on its switch's namespace.
	deadline := time.Now().Add(20 * time.Second)
	for {
		nodes, _, err := Status(p, l)
		if err != nil {
			t.Fatal(err)
		}
		var notReady []string
		for _, n := range nodes {
			if !n.Present || n.Interfaces != n.Planned {
				t.Fatalf("%s: namespace present %v, %d of %d interfaces", n.Name, n.Present, n.Interfaces, n.Planned)
			}
			if n.Process != nil && !strings.HasPrefix(n.Process.Ready, "200") {
				notReady = append(notReady, n.Name+": "+n.Process.Ready)
			}
		}
		if len(notReady) == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("agents not ready: %v", notReady)
		}
		time.Sleep(100 * time.Millisecond) // polling daemons' readiness
	}

	// Two flows from rack1 to rack2 and one back: through leaf1's uplinks.
	const rate, duration = 20e6, 2 * time.Second
	before := txBytes(t, p, "leaf1", "eth1", "eth2")
	flows := []Flow{
		{From: "server1", To: "server3", Rate: rate},
		{From: "server2", To: "server4:eth1", Rate: rate / 2},
		{From: "server4", To: "server1", Rate: rate / 4},
	}
	res, err := RunFlows(ctx, p, flows, duration)
	if err != nil {
		t.Fatal(err)
	}
	var rack1to2 int64
	for i, r := range res {
		want := flows[i].Rate * duration.Seconds() / 8
		if r.SendErrors > 0 {
			t.Errorf("%s -> %s: %d send errors, last %s", r.Src, r.Dst, r.SendErrors, r.LastSendError)
		}
		if got := float64(r.RecvBytes); got < 0.9*want || got > 1.01*want {
			t.Errorf("%s -> %s: received %d bytes, want %.0f (rate x duration) within 10%%", r.Src, r.Dst, r.RecvBytes, want)
		}
		if r.RecvBytes > r.SentBytes {
			t.Errorf("%s -> %s: received %d > sent %d", r.Src, r.Dst, r.RecvBytes, r.SentBytes)
		}
		if i < 2 {
			rack1to2 += r.RecvBytes
		}
	}
	if up := txBytes(t, p, "leaf1", "eth1", "eth2") - before; up < uint64(rack1to2) {
		t.Errorf("leaf1's uplinks sent %d bytes, less than the %d that crossed to rack2: traffic did not go through the spines", up, rack1to2)
	}

	rep, err := Down(p.Lab, l, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Stopped) != wantProcs || len(rep.Namespaces) != len(p.Nodes) {
		t.Errorf("down stopped %d processes and deleted %d namespaces, want %d and %d", len(rep.Stopped), len(rep.Namespaces), wantProcs, len(p.Nodes))
	}
	if left := leftovers(p, l); len(left) > 0 {
		t.Errorf("left after down: %v", left)
	}
	if _, err := os.Stat(l.State()); !os.IsNotExist(err) {
		t.Errorf("state.json still there: %v", err)
	}
	if rep, err := Down(p.Lab, l, time.Second); err != nil || len(rep.Stopped)+len(rep.Namespaces) > 0 {
		t.Errorf("a second down: %+v %v, want nothing to do", rep, err)
	}
}

// TestLabDownAfterCrash loses state.json with the agents still running (a
// crashed probectl), and then with them killed too: down finds everything
// by the namespace prefix and the processes' command lines.
func TestLabDownAfterCrash(t *testing.T) {
	p, l, file := rootLab(t)
	bin := buildBinaries(t)
	for _, killFirst := range []bool{false, true} {
		st, err := Up(context.Background(), p, l, UpOptions{File: file, Bin: bin, NoController: true})
		if err != nil {
			t.Fatal(err)
		}
		if killFirst {
			for _, pr := range st.Processes {
				if err := syscall.Kill(pr.PID, syscall.SIGKILL); err != nil {
					t.Fatal(err)
				}
			}
		}
		if err := os.Remove(l.State()); err != nil {
			t.Fatal(err)
		}
		if _, err := Up(context.Background(), p, l, UpOptions{File: file, Bin: bin}); err == nil || !strings.Contains(err.Error(), "down first") {
			t.Errorf("up over a crashed lab: %v, want a refusal saying to run down", err)
		}
		rep, err := Down(p.Lab, l, 5*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		if len(rep.Namespaces) != len(p.Nodes) {
			t.Errorf("killed first %v: deleted %d namespaces, want %d", killFirst, len(rep.Namespaces), len(p.Nodes))
		}
		if !killFirst && len(rep.Stopped) != len(p.Switches()) {
			t.Errorf("found %d running agents without state.json, want %d", len(rep.Stopped), len(p.Switches()))
		}
		if left := leftovers(p, l); len(left) > 0 {
			t.Errorf("killed first %v: left after down: %v", killFirst, left)
		}
	}
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(b []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(b), "\n"))
	return len(b), nil
}
