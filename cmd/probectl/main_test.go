package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite golden files")

// run executes probectl in-process with args and returns stdout and the
// exit code.
func run(t *testing.T, args ...string) (string, int) {
	t.Helper()
	cmd := newRootCmd()
	var out bytes.Buffer
	cmd.SetOut(&out)
	cmd.SetErr(&out)
	cmd.SetArgs(args)
	err := cmd.Execute()
	var ee exitError
	switch {
	case errors.As(err, &ee):
		return out.String(), ee.code
	case err != nil:
		return out.String() + err.Error(), 2
	}
	return out.String(), 0
}

func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", "golden", name)
	if *update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if got != string(want) {
		t.Errorf("output differs from %s (go test -update rewrites it):\n%s", path, diffLines(string(want), got))
	}
}

func diffLines(want, got string) string {
	w, g := strings.Split(want, "\n"), strings.Split(got, "\n")
	for i := 0; i < len(w) || i < len(g); i++ {
		var wl, gl string
		if i < len(w) {
			wl = w[i]
		}
		if i < len(g) {
			gl = g[i]
		}
		if wl != gl {
			return "first difference at line " + itoa(i+1) + ":\n want: " + wl + "\n  got: " + gl
		}
	}
	return ""
}

func itoa(i int) string { b, _ := json.Marshal(i); return string(b) }

// TestSimulateSeedProbe runs the seed's example probe end to end: balanced
// traffic gives a small std_dev and no anomaly; imbalanced traffic raises
// one with the right actual and expected values; it clears when traffic
// balances again.
func TestSimulateSeedProbe(t *testing.T) {
	out, code := run(t, "simulate", "--probe", "testdata/seed_probe.json", "--counters", "testdata/balanced.jsonl")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, out)
	}
	golden(t, "seed_balanced.json", out)
	var final struct {
		Stages    map[string]map[string]any `json:"stages"`
		Anomalies []map[string]any          `json:"anomalies"`
	}
	if err := json.Unmarshal([]byte(out), &final); err != nil {
		t.Fatal(err)
	}
	if v := final.Stages["std_dev_output"]["value"]; v != 0.0 || len(final.Anomalies) != 0 {
		t.Errorf("balanced: std_dev %v, anomalies %v", v, final.Anomalies)
	}

	out, code = run(t, "simulate", "--probe", "testdata/seed_probe.json", "--counters", "testdata/imbalance.jsonl", "--each-tick")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, out)
	}
	golden(t, "seed_imbalance_each_tick.jsonl", out)
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 7 {
		t.Fatalf("want one line per tick (7), got %d", len(lines))
	}
	wantStd := []any{nil, 0.0, 0.0, 100.0, 150.0, 150.0, 0.0}
	wantRaised := []bool{false, false, false, false, true, true, false}
	for i, line := range lines {
		var tick struct {
			Stages    map[string]map[string]any `json:"stages"`
			Anomalies []struct {
				Actual   map[string]any `json:"actual"`
				Expected map[string]any `json:"expected"`
				Identity map[string]any `json:"identity"`
			} `json:"anomalies"`
		}
		if err := json.Unmarshal([]byte(line), &tick); err != nil {
			t.Fatalf("tick %d: %v", i, err)
		}
		if got := tick.Stages["std_dev_output"]["value"]; got != wantStd[i] {
			t.Errorf("tick %d: std_dev %v, want %v", i, got, wantStd[i])
		}
		if raised := len(tick.Anomalies) == 1; raised != wantRaised[i] {
			t.Errorf("tick %d: anomalies %v, want raised=%v", i, tick.Anomalies, wantRaised[i])
			continue
		}
		if wantRaised[i] {
			a := tick.Anomalies[0]
			if a.Actual["value_int"] != 150.0 || a.Expected["value_int"] != 100.0 || a.Identity["stage_id"] != "server_traffic_imbalanced" {
				t.Errorf("tick %d: anomaly %+v", i, a)
			}
		}
	}
}

func TestValidateCommand(t *testing.T) {
	out, code := run(t, "validate", "testdata/seed_probe.json", "../../probe/testdata/dialect4x_probe.json")
	if code != 0 || !strings.Contains(out, "valid (dialect seed: ") || !strings.Contains(out, "valid (dialect 4.x: ") {
		t.Errorf("exit %d:\n%s", code, out)
	}
	bad := filepath.Join(t.TempDir(), "bad.json")
	if err := os.WriteFile(bad, []byte(`{"label": "b", "processors": [{"name": "s", "type": "std_dev", "inputs": {"in": "nowhere"}, "outputs": {"out": "o"}}]}`), 0o644); err != nil {
		t.Fatal(err)
	}
	out, code = run(t, "validate", "testdata/seed_probe.json", bad)
	if code != 1 {
		t.Errorf("invalid file: exit %d, want 1", code)
	}
	if !strings.Contains(out, `probe "b": processor "s": inputs.in: stage "nowhere" is not produced by any processor`) {
		t.Errorf("error list lacks the located problem:\n%s", out)
	}
}

func TestProcessorsCommand(t *testing.T) {
	out, code := run(t, "processors", "std_dev")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, out)
	}
	var spec map[string]any
	if err := json.Unmarshal([]byte(out), &spec); err != nil {
		t.Fatal(err)
	}
	if spec["name"] != "std_dev" || spec["schema"] == nil || spec["inputs"] == nil {
		t.Errorf("std_dev introspection: %s", out)
	}
	out, code = run(t, "processors")
	var all []map[string]any
	if err := json.Unmarshal([]byte(out), &all); err != nil || code != 0 || len(all) < 11 {
		t.Fatalf("catalog: exit %d, %d entries, %v", code, len(all), err)
	}
	if _, code := run(t, "processors", "nope"); code == 0 {
		t.Error("unknown processor type accepted")
	}
}

func TestSimulateErrors(t *testing.T) {
	dir := t.TempDir()
	counters := filepath.Join(dir, "c.jsonl")
	if err := os.WriteFile(counters, []byte("{\"ts\": 1, \"system_id\": \"a\", \"interface\": \"e\", \"counters\": {\"tx_bytes\": 1}}\n{\"ts\": 2, \"system_id\": \"a\", \"interface\": \"e\", \"counters\": {\"tx_bytes\": -5}}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	out, code := run(t, "simulate", "--probe", "testdata/seed_probe.json", "--counters", counters)
	if code == 0 || !strings.Contains(out, "line 2: counters.tx_bytes") {
		t.Errorf("bad counter line: exit %d, %s", code, out)
	}
}
