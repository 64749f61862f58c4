package processors

import (
	"os"
	"testing"
	"time"

	"github.com/probe-agent/probe-agent/collectors"
	"github.com/probe-agent/probe-agent/collectors/system"
	"github.com/probe-agent/probe-agent/probe"
)

// fixtureSample parses a /proc fixture of collectors/system.
func fixtureSample(t *testing.T, dir string) collectors.SystemSample {
	t.Helper()
	root := "../../collectors/system/testdata/" + dir + "/"
	stat, err := os.ReadFile(root + "stat")
	if err != nil {
		t.Fatal(err)
	}
	mem, err := os.ReadFile(root + "meminfo")
	if err != nil {
		t.Fatal(err)
	}
	s := collectors.SystemSample{SystemID: "leaf1", Valid: true}
	if s.CPUBusy, s.CPUTotal, err = system.ParseStat(stat); err != nil {
		t.Fatal(err)
	}
	if s.MemTotal, s.MemAvailable, err = system.ParseMeminfo(mem); err != nil {
		t.Fatal(err)
	}
	return s
}

func TestSystemUtilization(t *testing.T) {
	base := fixtureSample(t, "modern")    // busy 52477 of 106486 jiffies
	old := fixtureSample(t, "old-kernel") // 400 MB of 1000 MB used (estimated)
	later := base
	later.CPUBusy += 250
	later.CPUTotal += 1000
	later.MemAvailable = later.MemTotal / 4
	memBase := float64(base.MemTotal-base.MemAvailable) / float64(base.MemTotal) * 100
	rebooted := later
	rebooted.CPUBusy, rebooted.CPUTotal = 10, 100
	afterReboot := rebooted
	afterReboot.CPUBusy, afterReboot.CPUTotal = 60, 200
	spine := afterReboot
	spine.SystemID = "spine1"
	invalid := later
	invalid.Valid = false

	steps := []struct {
		name     string
		sample   *collectors.SystemSample
		cpu, mem map[string]any
	}{
		{"first sample: memory only", &base, map[string]any{}, map[string]any{"system_id=leaf1": memBase}},
		{"no system sample: unchanged", nil, map[string]any{}, map[string]any{"system_id=leaf1": memBase}},
		{"invalid sample: unchanged", &invalid, map[string]any{}, map[string]any{"system_id=leaf1": memBase}},
		{"second sample: cpu from the delta", &later, map[string]any{"system_id=leaf1": 25.0}, map[string]any{"system_id=leaf1": 75.0}},
		{"counters went backwards: re-base", &rebooted, map[string]any{"system_id=leaf1": 25.0}, map[string]any{"system_id=leaf1": 75.0}},
		{"after the re-base", &afterReboot, map[string]any{"system_id=leaf1": 50.0}, map[string]any{"system_id=leaf1": 75.0}},
		{"another system id is a new item", &spine, map[string]any{}, map[string]any{"system_id=spine1": 75.0}},
		{"old kernel estimate of available memory", &old, map[string]any{}, map[string]any{"system_id=leaf1": 40.0}},
	}
	h := newHarness(t, probeDoc("sys", `{"name": "su", "type": "system_utilization", "outputs": {"cpu": "cpu", "memory": "mem"}, "properties": {}}`))
	for _, s := range steps {
		h.tick(&collectors.Batch{System: s.sample}, time.Second)
		assertValues(t, h, "cpu", s.cpu)
		assertValues(t, h, "mem", s.mem)
		if t.Failed() {
			t.Fatalf("after step %q", s.name)
		}
	}
	h.tick(nil, time.Second) // no batch at all
}

func TestCPUAndMemoryPercent(t *testing.T) {
	s := func(busy, total uint64) collectors.SystemSample {
		return collectors.SystemSample{CPUBusy: busy, CPUTotal: total, Valid: true}
	}
	cpu := []struct {
		name      string
		prev, cur collectors.SystemSample
		want      float64
		ok        bool
	}{
		{"half busy", s(100, 200), s(150, 300), 50, true},
		{"idle", s(100, 200), s(100, 300), 0, true},
		{"no time passed", s(100, 200), s(100, 200), 0, false},
		{"total went backwards", s(100, 200), s(100, 150), 0, false},
		{"busy went backwards", s(100, 200), s(50, 300), 0, false},
		{"no previous sample", collectors.SystemSample{}, s(1, 2), 0, false},
	}
	for _, tt := range cpu {
		t.Run("cpu/"+tt.name, func(t *testing.T) {
			if got, ok := CPUPercent(tt.prev, tt.cur); got != tt.want || ok != tt.ok {
				t.Errorf("CPUPercent = %v, %v; want %v, %v", got, ok, tt.want, tt.ok)
			}
		})
	}
	mem := []struct {
		name         string
		total, avail uint64
		want         float64
		ok           bool
	}{
		{"quarter used", 1000, 750, 25, true},
		{"unknown total", 0, 0, 0, false},
		{"available above total", 100, 200, 0, false},
	}
	for _, tt := range mem {
		t.Run("memory/"+tt.name, func(t *testing.T) {
			got, ok := MemoryPercent(collectors.SystemSample{MemTotal: tt.total, MemAvailable: tt.avail, Valid: true})
			if got != tt.want || ok != tt.ok {
				t.Errorf("MemoryPercent = %v, %v; want %v, %v", got, ok, tt.want, tt.ok)
			}
		})
	}
}

func TestSystemUtilizationValidation(t *testing.T) {
	tests := []struct {
		name, outputs, props, field, msg string
	}{
		{"no output", `{}`, ``, "outputs", "at least one output"},
		{"unknown output", `{"disk": "d"}`, ``, "outputs.disk", "has no output"},
		{"interface is not a property", `{"cpu": "c"}`, `"interface": "intf.if_name"`, "", ""},
		{"additional property not a string", `{"cpu": "c"}`, `"role": 1`, "properties.role", "expected string"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			doc := probeDoc("bad", `{"name": "su", "type": "system_utilization", "outputs": `+tt.outputs+`, "properties": {`+tt.props+`}}`)
			plan, probs := probe.CompileJSON([]byte(doc))
			if tt.field == "" { // accepted as an additional property, with a warning
				if len(probs) > 0 || len(plan.Warnings) != 1 {
					t.Fatalf("problems %v, warnings %v; want none and one", probs, plan.Warnings)
				}
				return
			}
			assertProblem(t, probs, "su", tt.field, tt.msg)
		})
	}
}
