package api

import (
	"encoding/json"
	"net"
	"regexp"
	"testing"

	"github.com/probe-agent/probe-agent/agent"
)

// TestGrafanaDashboardQueriesExist: docs/grafana-dashboard.json is valid
// JSON and every probe_agent_* metric its queries read is one /metrics
// serves (with a streaming receiver configured), so the dashboard cannot
// drift from the exposition.
func TestGrafanaDashboardQueriesExist(t *testing.T) {
	var dash struct {
		Panels []struct {
			Title   string `json:"title"`
			Targets []struct {
				Expr string `json:"expr"`
			} `json:"targets"`
		} `json:"panels"`
	}
	if err := json.Unmarshal(readFile(t, "../../docs/grafana-dashboard.json"), &dash); err != nil {
		t.Fatalf("docs/grafana-dashboard.json: %v", err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	cfg := testConfig(t)
	cfg.Streaming = []agent.StreamingEntry{{Type: "perfmon", Address: l.Addr().String()}}
	e := newEnv(t, cfg)
	e.steps(1)
	fams := e.scrape()
	name := regexp.MustCompile(`probe_agent_[a-z_]+`)
	stages := regexp.MustCompile(`__name__=~"probe_stage_\.\+"`)
	n := 0
	for _, p := range dash.Panels {
		if len(p.Targets) == 0 {
			t.Errorf("panel %q has no query", p.Title)
		}
		for _, tg := range p.Targets {
			for _, m := range name.FindAllString(tg.Expr, -1) {
				n++
				if fams[m] == nil {
					t.Errorf("panel %q reads %s, which /metrics does not serve", p.Title, m)
				}
			}
			if len(name.FindAllString(tg.Expr, -1)) == 0 && !stages.MatchString(tg.Expr) {
				t.Errorf("panel %q query %q reads neither probe_agent_* nor the stage families", p.Title, tg.Expr)
			}
		}
	}
	if n == 0 {
		t.Error("the dashboard reads no probe_agent_* metric")
	}
}
