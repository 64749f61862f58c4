package api

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/probe-agent/probe-agent/agent"
	"github.com/probe-agent/probe-agent/collectors"
)

// noDataCollector is a source whose stream is down from the start.
type noDataCollector struct{}

func (noDataCollector) Collect(context.Context, *collectors.Batch) error {
	return fmt.Errorf("%w: gnmi target 10.0.0.1:6030: connection refused", collectors.ErrNoData)
}
func (noDataCollector) Close() error { return nil }

// TestNotReadyWithoutData: /readyz is 503 with the collector's reason
// while it has no data, and /metrics says so.
func TestNotReadyWithoutData(t *testing.T) {
	cfg := testConfig(t)
	ticks := make(chan time.Time)
	a, err := agent.New(cfg, agent.Options{Stdout: &bytes.Buffer{}, Collector: noDataCollector{}, Ticks: ticks})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Error(err)
		}
	}()
	ticks <- time.Now() // the first (skipped) step is done once this is taken
	ticks <- time.Now()

	s := NewServer(a, cfg, nil, nil)
	// A stage answers without items while there is no data.
	if _, err := a.Manager().Create(readFile(t, "../testdata/seed_streaming.json")); err != nil {
		t.Fatal(err)
	}
	rec := httptest.NewRecorder()
	s.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/api/blueprints/"+cfg.BlueprintID+"/probes/seed-streaming/stages/server_tx_bytes_output", nil))
	if body := rec.Body.String(); rec.Code != http.StatusOK || !strings.Contains(body, `"values":[]`) || !strings.Contains(body, `"no_data":{"reason":"collector has no data: `) {
		t.Errorf("stage while no data: %d %s", rec.Code, body)
	}
	rec = httptest.NewRecorder()
	s.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/readyz", nil))
	if rec.Code != http.StatusServiceUnavailable || !strings.Contains(rec.Body.String(), "collector has no data: no data from the collector: gnmi target 10.0.0.1:6030: connection refused") {
		t.Errorf("/readyz: %d %s", rec.Code, rec.Body)
	}
	rec = httptest.NewRecorder()
	s.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	for _, want := range []string{"probe_agent_collector_has_data 0", "probe_agent_collector_errors_total 0", "probe_agent_stage_values_withheld 1"} {
		if !strings.Contains(rec.Body.String(), want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}
	if !strings.Contains(rec.Body.String(), "probe_agent_collector_no_data_ticks_total ") || strings.Contains(rec.Body.String(), "probe_agent_collector_no_data_ticks_total 0\n") {
		t.Errorf("/metrics does not count the ticks without data")
	}
}
