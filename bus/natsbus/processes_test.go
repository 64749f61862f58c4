package natsbus_test

import (
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/probe-agent/probe-agent/bus/bustest"
	"github.com/probe-agent/probe-agent/collectors/replay"
)

// TestHierarchyProcesses: the two levels of TestHierarchyThroughJetStream
// as real processes: four probe-agent processes replaying a recording
// (the replay collector reading a file, one recorded tick per 100 ms
// interval, looping), two pod-level probe-controller processes publishing
// upward and a fabric-level one, all on the embedded server over
// loopback. Nothing is driven tick by tick here: the recording's heavy
// phase (leaf2, in pod1, sending four times as much) comes round every
// loop, and the fabric level's alerts receiver must hear it raised and
// cleared in turn, each raise carrying the single-level reference's
// std_dev, and nothing else.
func TestHierarchyProcesses(t *testing.T) {
	if testing.Short() {
		t.Skip("builds probe-agent and probe-controller")
	}
	ts := startServer(t, nil)
	lab, err := filepath.Abs("../../containerlab/fanin-nats")
	if err != nil {
		t.Fatal(err)
	}
	const id = "seed-server-imbalance"
	bin := t.TempDir()
	build := exec.Command("go", "build", "-tags", "grpcnotrace", "-o", bin+"/", "../../cmd/probe-agent", "../../cmd/probe-controller")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}

	// The recording and its single-level reference: 10 balanced ticks,
	// 10 with leaf2 heavy, 10 balanced (the loop's reset then starts
	// every rate again, on balanced counters).
	const phase = 10
	f, err := bustest.NewFleet(filepath.Join(lab, "probes.d", "seed_probe.json"), 4, []string{id}, nil)
	if err != nil {
		t.Fatal(err)
	}
	for k := range 3 * phase {
		rate := bustest.Balanced
		if k >= phase && k < 2*phase {
			rate = bustest.Heavy("leaf2", 4)
		}
		if _, err := f.Tick(rate); err != nil {
			t.Fatal(err)
		}
	}
	heavy := f.RefResults[id][phase+1]
	if math.IsNaN(heavy) || heavy <= 100 || f.RefResults[id][phase+2] != heavy {
		t.Fatalf("reference: %v", f.RefResults[id])
	}

	alertsAddr, alerts := bustest.AlertsReceiver(t)

	logs := t.TempDir()
	// run starts a process; at cleanup it gets SIGTERM and is waited for.
	// Its output goes to a log file, shown if the test fails.
	run := func(name string, args ...string) {
		logf, err := os.Create(filepath.Join(logs, name+".log"))
		if err != nil {
			t.Fatal(err)
		}
		cmd := exec.Command(args[0], args[1:]...)
		cmd.Stdout, cmd.Stderr = logf, logf
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			_ = cmd.Process.Signal(syscall.SIGTERM)
			_ = cmd.Wait()
			logf.Close()
			if t.Failed() {
				out, _ := os.ReadFile(logf.Name())
				t.Logf("%s:\n%s", name, tail(string(out), 30))
			}
		})
	}
	write := func(name, content string) string {
		p := filepath.Join(t.TempDir(), name)
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	controllerYAML := func(bp, member, topo, extra string) string {
		return fmt.Sprintf(`blueprint_id: %s
topology: {file: %q, interface_names: node}
agents: {defaults: {insecure: true}}
api: {listen: ""}
state_dir: %q
probes_dir: %q
interval: 100ms
staleness: 30
max_missing_share: 0
log_level: debug
fanin:
  member_id: %s
  push_config: false
  nats: {urls: [%q], lease_ttl: 1s}
%s`, bp, topo, t.TempDir(), filepath.Join(lab, "probes.d"), member, ts.url(), extra)
	}
	run("fabric", filepath.Join(bin, "probe-controller"), "run", "--config", write("fabric.yaml", controllerYAML("fabric", "fabric-ctl",
		filepath.Join(lab, "hierarchy.clab.yml"), fmt.Sprintf("  devices: [pod1, pod2]\nstreaming: [{type: alerts, address: %q, sequenced: true}]\n", alertsAddr))))
	for _, pod := range []string{"pod1", "pod2"} {
		run(pod, filepath.Join(bin, "probe-controller"), "run", "--config", write(pod+".yaml", controllerYAML(pod, pod+"-ctl",
			filepath.Join(lab, "hierarchy", pod+".clab.yml"), "upward: {blueprint: fabric}\n")))
	}
	for _, dev := range f.Devices {
		pod := "pod1"
		if dev == "leaf3" || dev == "leaf4" {
			pod = "pod2"
		}
		dir := t.TempDir()
		doc, err := f.EdgeDoc(id, dev)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.MkdirAll(filepath.Join(dir, "probes"), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, "probes", "seed.json"), doc, 0o644); err != nil {
			t.Fatal(err)
		}
		rec, err := os.Create(filepath.Join(dir, "recording.jsonl"))
		if err != nil {
			t.Fatal(err)
		}
		for i := range f.Counters[dev] {
			if err := replay.WriteBatch(rec, &f.Counters[dev][i]); err != nil {
				t.Fatal(err)
			}
		}
		rec.Close()
		yml := fmt.Sprintf("system_id: %s\nblueprint_id: %s\ninterval: 100ms\ncollector: {type: replay, replay: {file: %q, pace: interval}}\napi: {listen: \"\"}\nprobes_dir: %q\nstate_dir: %q\nstreaming:\n  - {type: nats, address: '127.0.0.1:%d'}\n",
			dev, pod, rec.Name(), filepath.Join(dir, "probes"), filepath.Join(dir, "state"), portOf(ts.srv))
		run(dev, filepath.Join(bin, "probe-agent"), "run", "--config", write(dev+".yaml", yml))
	}

	// Two loops of the recording's anomaly: raised with the reference's
	// value, then cleared, in turn.
	const want = 4
	var got []string
	deadline := time.After(60 * time.Second)
	for len(got) < want {
		select {
		case m := <-alerts:
			a := m.GetAlert()
			pa := a.GetProbeAlert()
			if pa.GetProbeId() != id {
				continue
			}
			if a.GetRaised() {
				if v := pa.GetActualFloat(); math.Abs(float64(v)-heavy) > 1e-3*heavy {
					t.Fatalf("raised with %v, the reference's imbalance is %v", v, heavy)
				}
			}
			if raise := len(got)%2 == 0; a.GetRaised() != raise {
				t.Fatalf("alerts %v then raised=%v: not raised and cleared in turn", got, a.GetRaised())
			}
			got = append(got, fmt.Sprintf("%v:%s", a.GetRaised(), pa.GetStageName()))
		case <-deadline:
			t.Fatalf("fabric level's alerts %v, want %d raised and cleared in turn", got, want)
		}
	}
}

func tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
