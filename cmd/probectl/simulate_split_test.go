package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestSimulateSplitReproducesGoldens evaluates every golden simulation
// again with --split (edge part per system_id, central part on what crosses
// the cut) and requires the very same output, byte for byte.
func TestSimulateSplitReproducesGoldens(t *testing.T) {
	type sim struct{ probe, counters, golden string }
	sims := []sim{
		{"testdata/seed_probe.json", "testdata/balanced.jsonl", "seed_balanced.json"},
		{"testdata/seed_probe.json", "testdata/imbalance.jsonl", "seed_imbalance_each_tick.jsonl"},
	}
	files, err := filepath.Glob(filepath.Join(probesDir, "*.json"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no probes in %s: %v", probesDir, err)
	}
	for _, f := range files {
		name := strings.TrimSuffix(filepath.Base(f), ".json")
		sims = append(sims, sim{f, filepath.Join(probesDir, name+".counters.jsonl"), "probes/" + name + ".each_tick.jsonl"})
	}
	for _, s := range sims {
		t.Run(s.golden, func(t *testing.T) {
			args := []string{"simulate", "--probe", s.probe, "--counters", s.counters, "--split"}
			if strings.HasSuffix(s.golden, ".jsonl") {
				args = append(args, "--each-tick")
			}
			out, code := run(t, args...)
			if code != 0 {
				t.Fatalf("exit %d: %s", code, out)
			}
			want, err := os.ReadFile(filepath.Join("testdata", "golden", s.golden))
			if err != nil {
				t.Fatal(err)
			}
			if out != string(want) {
				t.Errorf("--split output differs from %s:\n%s", s.golden, diffLines(string(want), out))
			}
		})
	}
}

// TestSimulateSplitTopology: with items from the probe's graph queries, the
// split evaluation prints what the whole one does.
func TestSimulateSplitTopology(t *testing.T) {
	args := []string{"simulate", "--probe", "testdata/seed_probe.json", "--counters", "testdata/topology_counters.jsonl", "--topology", leafSpineLab, "--each-tick"}
	whole, code := run(t, args...)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, whole)
	}
	split, code := run(t, append(args, "--split")...)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, split)
	}
	if split != whole {
		t.Errorf("--split differs:\n%s", diffLines(whole, split))
	}
}
