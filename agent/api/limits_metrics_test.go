package api

import (
	"net/http"
	"strings"
	"testing"
)

// TestLimitsMetrics: /metrics shows the stage-data budget and what the
// probes hold against it, and counts, per probe, the layouts a budget
// refused; the probe's state says why.
func TestLimitsMetrics(t *testing.T) {
	cfg := testConfig(t)
	cfg.Limits.ItemsPerStage = 1 // the recording has more interfaces
	cfg.Limits.StageMemory = 8 << 20
	e := newEnv(t, cfg)
	e.want(e.do("POST", e.bp+"/probes", withField(t, readFile(t, "testdata/seed_probe.json"), "id", "seed")), http.StatusCreated, "POST")
	e.steps(2)
	fams := e.scrape()
	if v, ok := value(fams, "probe_agent_stage_memory_limit_bytes"); !ok || v != 8<<20 {
		t.Errorf("stage memory limit %v (present %v), want %d", v, ok, 8<<20)
	}
	if v, ok := value(fams, "probe_agent_stage_memory_bytes"); !ok || v > 8<<20 {
		t.Errorf("stage memory %v (present %v), want at most the limit", v, ok)
	}
	if v, ok := value(fams, "probe_agent_stage_layouts_refused_total", "probe", "seed"); !ok || v != 2 {
		t.Errorf(`layouts refused{probe="seed"} = %v (present %v), want 2 (one a tick)`, v, ok)
	}
	if v, ok := value(fams, "probe_agent_probes", "state", "error"); !ok || v != 1 {
		t.Errorf(`probes{state="error"} = %v (%v)`, v, ok)
	}
	r := e.do("GET", e.bp+"/probes/seed", nil)
	if !strings.Contains(string(r.body), "limits.items_per_stage") {
		t.Errorf("the probe's status does not name the budget: %s", r.body)
	}
}
