package main

import (
	"encoding/json"
	"image/png"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestBenchCommand runs probectl bench on a tiny fabric: JSON results for
// every probe in both modes, the Markdown table, the PNG, and clear errors.
func TestBenchCommand(t *testing.T) {
	out, err := runProbectl(t, "bench", "--root", "../..", "--devices", "2,3", "--ports", "4", "-o", "json")
	if err != nil {
		t.Fatal(err)
	}
	var res []struct {
		Probe    string `json:"probe"`
		Mode     string `json:"mode"`
		Devices  int    `json:"devices"`
		Bytes    int    `json:"bytes_per_interval"`
		Messages int    `json:"messages_per_interval"`
	}
	if err := json.Unmarshal([]byte(out), &res); err != nil {
		t.Fatalf("%v:\n%s", err, out)
	}
	if len(res) != 2*3*2 {
		t.Fatalf("%d results, want 2 fabrics x 3 probes x 2 modes", len(res))
	}
	for _, r := range res {
		if r.Mode == "pushdown" && r.Messages != r.Devices {
			t.Errorf("%s on %d devices: %d pushdown messages, want one per device", r.Probe, r.Devices, r.Messages)
		}
	}

	pngPath := filepath.Join(t.TempDir(), "load.png")
	out, err = runProbectl(t, "bench", "--root", "../..", "--devices", "2,4", "--ports", "2", "--png", pngPath)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(out, "| probe | N x M |") || !strings.Contains(out, "| ECMP fabric-wide | 4 x 2 | 16 |") {
		t.Errorf("table:\n%s", out)
	}
	f, err := os.Open(pngPath)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := png.Decode(f); err != nil {
		t.Errorf("--png: %v", err)
	}

	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{"bench", "-o", "xml"}, `-o: want markdown or json, not "xml"`},
		{[]string{"bench", "--root", "/nonexistent", "--devices", "2"}, "seed_probe.json"},
		{[]string{"bench", "--root", "../..", "--devices", "0"}, "0 devices: benchmark: want devices and ports >= 1"},
	} {
		if _, err := runProbectl(t, tt.args...); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%v: error %v, want %q", tt.args, err, tt.want)
		}
	}
}
