package fabric

import (
	"bytes"
	"encoding/json"
	"flag"
	"image/png"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	_ "github.com/probe-agent/probe-agent/probe/processors" // the processor catalog
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

func tinyRun(t *testing.T, devices, ports int) []Result {
	t.Helper()
	probes, err := Probes("../..")
	if err != nil {
		t.Fatal(err)
	}
	res, err := Run(Config{Shape: Shape{Devices: devices, Ports: ports}}, probes)
	if err != nil {
		t.Fatal(err)
	}
	return res
}

// TestPushdownAgainstRaw runs the benchmark on tiny fabrics and checks
// what does not depend on timing: pushdown brings fewer bytes and messages
// to the centre, one message per device; raw one per item that changed;
// both modes compute the same fabric-wide value and raise the anomaly in
// the interval the counters changed (one later with an early centre).
func TestPushdownAgainstRaw(t *testing.T) {
	for _, shape := range []Shape{{Devices: 4, Ports: 4}, {Devices: 3, Ports: 8}} {
		res := tinyRun(t, shape.Devices, shape.Ports)
		pairs, err := Pairs(res)
		if err != nil {
			t.Fatal(err)
		}
		if len(pairs) != 3 {
			t.Fatalf("%d probe results, want 3", len(pairs))
		}
		for _, p := range pairs {
			name := p.Push.Probe
			t.Run(name, func(t *testing.T) {
				// hot are the ports whose rate is steady after the change
				// (leaf1's uplinks for ECMP, one server port for the seed).
				wantItems, hot := shape.Devices*shape.Ports, 1
				if name == "ECMP fabric-wide" {
					wantItems, hot = shape.Devices*4, 4
				}
				for _, r := range []Result{p.Push, p.Raw} {
					if r.Items != wantItems {
						t.Errorf("%s: %d items, want %d", r.Mode, r.Items, wantItems)
					}
					if r.LatencyTicks != 0 || r.LatencyTicksEarly != 1 {
						t.Errorf("%s: anomaly at k+%d (early centre k+%d), want k+0 and k+1", r.Mode, r.LatencyTicks, r.LatencyTicksEarly)
					}
				}
				if p.BytesRatio() <= 1 || p.MessagesRatio() <= 1 {
					t.Errorf("raw/pushdown: bytes %.2f, messages %.2f, want both > 1 (push %d B in %d, raw %d B in %d)",
						p.BytesRatio(), p.MessagesRatio(), p.Push.Bytes, p.Push.Messages, p.Raw.Bytes, p.Raw.Messages)
				}
				if p.Push.Messages != shape.Devices {
					t.Errorf("pushdown: %d messages per interval, want one per device (%d)", p.Push.Messages, shape.Devices)
				}
				// Every item changes every tick but the hot ports, which
				// are steady after the change.
				if p.Raw.Messages > p.Raw.Items || p.Raw.Messages < p.Raw.Items-hot {
					t.Errorf("raw: %d messages per interval for %d items", p.Raw.Messages, p.Raw.Items)
				}
				if per := p.Raw.Bytes / p.Raw.Messages; per < 60 || per > 300 {
					t.Errorf("raw: %d bytes per framed ProbeMessage", per)
				}
				if per := p.Push.Bytes / p.Push.Messages; per < 60 || per > 1000 {
					t.Errorf("pushdown: %d bytes per StageBatch", per)
				}
				// Raw values travel as float32: agree to its precision.
				if d := math.Abs(p.Push.Aggregate - p.Raw.Aggregate); d > 1e-6*math.Abs(p.Push.Aggregate) || p.Push.Aggregate == 0 {
					t.Errorf("central value: pushdown %g, raw %g", p.Push.Aggregate, p.Raw.Aggregate)
				}
			})
		}
	}
}

// TestGolden pins the deterministic numbers of a 4x4 run (bytes,
// messages, items, latency in ticks, the central values); go test
// -update rewrites testdata/tiny.golden.json.
func TestGolden(t *testing.T) {
	res := tinyRun(t, 4, 4)
	for i := range res {
		res[i].CentralCPU, res[i].EdgeMax, res[i].Latency = 0, 0, 0
	}
	got, err := json.MarshalIndent(res, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	got = append(got, '\n')
	path := filepath.Join("testdata", "tiny.golden.json")
	if *update {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (go test -update writes it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("results differ from %s (go test -update rewrites it):\n%s", path, got)
	}
}

// TestTableAndPlot checks the table has a row per probe and fabric with
// both modes, and the plot is a PNG with lines in both modes' colours.
func TestTableAndPlot(t *testing.T) {
	res := append(tinyRun(t, 2, 4), tinyRun(t, 8, 4)...)
	var table bytes.Buffer
	if err := WriteTable(&table, res); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(table.String()), "\n")
	if len(lines) != 2+6 {
		t.Fatalf("table has %d lines, want a header, a rule and 6 rows:\n%s", len(lines), table.String())
	}
	if !strings.Contains(lines[2], "| seed imbalance | 2 x 4 | 8 |") || !strings.Contains(lines[7], "| east/west total | 8 x 4 | 32 |") {
		t.Errorf("unexpected rows:\n%s", table.String())
	}
	var buf bytes.Buffer
	if err := WritePNG(&buf, res); err != nil {
		t.Fatal(err)
	}
	img, err := png.Decode(&buf)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]int{}
	b := img.Bounds()
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			r, g, bl, _ := img.At(x, y).RGBA()
			switch [3]uint8{uint8(r >> 8), uint8(g >> 8), uint8(bl >> 8)} {
			case [3]uint8{colPushdown.R, colPushdown.G, colPushdown.B}:
				seen[Pushdown]++
			case [3]uint8{colRaw.R, colRaw.G, colRaw.B}:
				seen[Raw]++
			}
		}
	}
	if seen[Pushdown] < 100 || seen[Raw] < 100 {
		t.Errorf("plot pixels per mode colour: %v, want lines of both", seen)
	}
	if _, err := Pairs(res[:1]); err == nil {
		t.Error("Pairs of a pushdown result without its raw one: no error")
	}
}

func TestRunRefusesBadConfig(t *testing.T) {
	probes, err := Probes("../..")
	if err != nil {
		t.Fatal(err)
	}
	for _, cfg := range []Config{{Shape: Shape{Devices: 0, Ports: 4}}, {Shape: Shape{Devices: 2, Ports: 4}, Ticks: 4, ChangeAt: 1}, {Shape: Shape{Devices: 2, Ports: 4}, Ticks: 4, ChangeAt: 4}} {
		if _, err := Run(cfg, probes); err == nil || !strings.Contains(err.Error(), "want devices and ports >= 1") {
			t.Errorf("%+v: error %v", cfg, err)
		}
	}
	if _, err := Probes("/nonexistent"); err == nil || !strings.Contains(err.Error(), "seed_probe.json") {
		t.Errorf("missing probe documents: error %v", err)
	}
}
