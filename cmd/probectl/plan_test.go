package main

import (
	"encoding/json"
	"strings"
	"testing"
)

// TestPlanSeedProbe shows the seed probe's split: std_dev as an edge
// partial (n, mean, M2) per device, range_check and anomaly central; on 32
// devices x 48 ports, 32 items cross per tick instead of 1,536.
func TestPlanSeedProbe(t *testing.T) {
	out, code := run(t, "plan", "testdata/seed_probe.json", "--devices", "32", "--ports", "48")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, out)
	}
	golden(t, "plan_seed.txt", out)

	out, code = run(t, "plan", "testdata/seed_probe.json", "--devices", "32", "--ports", "48", "-o", "json")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, out)
	}
	var rep planReport
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatal(err)
	}
	sides := map[string]string{}
	for _, p := range rep.Processors {
		sides[p.Name] = p.Side
		if p.Name == "std" && p.Partial != "moments(n, mean, m2)" {
			t.Errorf("std_dev partial %q, want moments(n, mean, m2)", p.Partial)
		}
	}
	want := map[string]string{"server_tx_bytes": "edge", "std": "split", "server_imbalance": "central", "server_imbalance_anomaly": "central"}
	for name, side := range want {
		if sides[name] != side {
			t.Errorf("processor %q on %q, want %q", name, sides[name], side)
		}
	}
	if len(rep.Crossings) != 1 || rep.Crossings[0].Kind != "partial" || strings.Join(rep.Crossings[0].Columns, ",") != "value,mean,m2" {
		t.Errorf("crossings %+v", rep.Crossings)
	}
	if len(rep.Ticks) != 3 {
		t.Fatalf("ticks %+v", rep.Ticks)
	}
	for _, tk := range rep.Ticks {
		if tk.RawItems != 32*48 || tk.CrossingItems != 32 || tk.Devices != 32 {
			t.Errorf("tick %+v: want 1536 raw items, 32 crossing, 32 devices", tk)
		}
	}
	if len(rep.Edge) == 0 || len(rep.Central) == 0 {
		t.Errorf("plan lacks the edge or central document")
	}

	out, code = run(t, "plan", "testdata/seed_probe.json", "-o", "yaml")
	if code != 0 || !strings.Contains(out, "partial: moments(n, mean, m2)") {
		t.Errorf("yaml (exit %d):\n%s", code, out)
	}
}

func TestPlanEdgeOnlyAndErrors(t *testing.T) {
	out, code := run(t, "plan", probesDir+"/ecmp_imbalance.json", "--counters", probesDir+"/ecmp_imbalance.counters.jsonl")
	if code != 0 || !strings.Contains(out, "runs entirely on the devices") {
		t.Errorf("edge-only probe (exit %d):\n%s", code, out)
	}
	for _, args := range [][]string{
		{"plan", "testdata/seed_probe.json", "-o", "xml"},
		{"plan", "testdata/seed_probe.json", "--devices", "3"},
		{"plan", "testdata/missing.json"},
	} {
		if out, code := run(t, args...); code == 0 {
			t.Errorf("%v: exit 0:\n%s", args, out)
		}
	}
}

// TestPlanTopology resolves the seed probe on the leaf-spine lab: per
// device, its server-facing ports are the raw items and one partial
// crosses.
func TestPlanTopology(t *testing.T) {
	out, code := run(t, "plan", "testdata/seed_probe.json", "--topology", leafSpineLab, "-o", "json")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, out)
	}
	var rep planReport
	if err := json.Unmarshal([]byte(out[strings.Index(out, "{"):]), &rep); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	raw, crossing := 0, 0
	for _, d := range rep.Devices {
		if d.CrossedItems != 1 || d.RawItems == 0 {
			t.Errorf("device %+v: want its server ports and one partial", d)
		}
		raw += d.RawItems
		crossing += d.CrossedItems
	}
	if len(rep.Devices) != 4 || raw != 9 || crossing != 4 {
		t.Errorf("devices %+v: want 4 leaves, 9 server ports, 4 partials", rep.Devices)
	}
	if len(rep.EdgePerDevice) != 4 || !strings.Contains(string(rep.EdgePerDevice["leaf1"]), `"resolved"`) {
		t.Errorf("edge parts per device: %d, leaf1's:\n%s", len(rep.EdgePerDevice), rep.EdgePerDevice["leaf1"])
	}
	if out, code := run(t, "plan", "testdata/seed_probe.json", "--topology", leafSpineLab, "--devices", "2", "--ports", "2"); code == 0 {
		t.Errorf("--topology with --devices: exit 0\n%s", out)
	}
}
