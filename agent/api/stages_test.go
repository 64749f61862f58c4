package api

import (
	"net/http"
	"strconv"
	"testing"

	dto "github.com/prometheus/client_model/go"
)

// series returns family name's metrics as label maps with their values.
func series(f *dto.MetricFamily) []map[string]string {
	var out []map[string]string
	for _, m := range f.GetMetric() {
		l := map[string]string{}
		for _, lp := range m.GetLabel() {
			l[lp.GetName()] = lp.GetValue()
		}
		l["="] = formatValue(m.GetGauge().GetValue())
		out = append(out, l)
	}
	return out
}

func formatValue(v float64) string { return strconv.FormatFloat(v, 'f', -1, 64) }

// TestStageMetrics: every streamed stage is a gauge family per probe and
// stage on /metrics, parsed by the Prometheus text parser: numbers as
// values, discrete states as a state label, item keys as labels; stages
// without enable_streaming are not there.
func TestStageMetrics(t *testing.T) {
	e := newEnv(t, testConfig(t))
	e.want(e.do("POST", e.bp+"/probes", readFile(t, "../testdata/seed_streaming.json")), http.StatusCreated, "POST")
	e.steps(5) // std_dev 150: the anomaly is raised
	fams := e.scrape()

	std := fams["probe_stage_seed_streaming_std_dev_output"]
	if std == nil || std.GetType() != dto.MetricType_GAUGE {
		t.Fatalf("no gauge family for std_dev_output: %v", std)
	}
	got := series(std)
	if len(got) != 1 || got[0]["="] != "150" || got[0]["probe_id"] != "seed-streaming" || got[0]["probe_label"] != "server_tx_bytes" || got[0]["stage"] != "std_dev_output" {
		t.Errorf("std_dev_output series: %v", got)
	}
	anom := fams["probe_stage_seed_streaming_server_traffic_imbalanced"]
	if anom == nil {
		t.Fatal("no family for the anomaly stage")
	}
	if got := series(anom); len(got) != 1 || got[0]["state"] != "true" || got[0]["="] != "1" {
		t.Errorf("anomaly stage series: %v", got)
	}
	if fams["probe_stage_seed_streaming_server_tx_bytes_output"] != nil {
		t.Error("a stage without enable_streaming is exposed")
	}
	if v, ok := value(fams, "probe_agent_stage_values_withheld"); !ok || v != 0 {
		t.Errorf("probe_agent_stage_values_withheld = %v, %v", v, ok)
	}
}

// TestStageMetricsBounded: a stage with more items than
// api.stage_series_limit shows that many and counts the rest; item keys
// become labels.
func TestStageMetricsBounded(t *testing.T) {
	cfg := testConfig(t)
	cfg.API.StageSeriesLimit = 3
	e := newEnv(t, cfg)
	doc := `{"id": "rates", "label": "tx rates", "processors": [
	  {"name": "tx", "type": "if_counter", "outputs": {"out": "tx_bytes"}, "properties": {"counter_type": "tx_bytes", "enable_streaming": true}}],
	  "stages": [{"name": "tx_bytes", "units": "Bps", "description": "bytes sent per second"}]}`
	e.want(e.do("POST", e.bp+"/probes", []byte(doc)), http.StatusCreated, "POST")
	e.steps(3)
	fams := e.scrape()
	f := fams["probe_stage_rates_tx_bytes"]
	if f == nil {
		t.Fatal("no family probe_stage_rates_tx_bytes")
	}
	got := series(f)
	if len(got) != 3 {
		t.Errorf("%d series, want the limit, 3: %v", len(got), got)
	}
	for _, s := range got {
		if s["system_id"] == "" || s["interface"] == "" {
			t.Errorf("series without item key labels: %v", s)
		}
	}
	if v, ok := value(fams, "probe_agent_stage_series_omitted", "probe_id", "rates", "stage", "tx_bytes"); !ok || v != 1 {
		t.Errorf("omitted = %v, %v; want 1 (4 interfaces, limit 3)", v, ok)
	}
	if help := f.GetHelp(); help != `Stage "tx_bytes" of probe "tx rates" (number set), in Bps: bytes sent per second` {
		t.Errorf("help %q", help)
	}
}

func TestStageMetricNames(t *testing.T) {
	for _, tt := range []struct{ probe, stage, want string }{
		{"seed-streaming", "std_dev_output", "probe_stage_seed_streaming_std_dev_output"},
		{"7faca9c0-bbe8-49ff", "rx bps", "probe_stage_7faca9c0_bbe8_49ff_rx_bps"},
		{"é", "a.b", "probe_stage___a_b"},
	} {
		if got := StageMetricName(tt.probe, tt.stage); got != tt.want {
			t.Errorf("StageMetricName(%q, %q) = %q, want %q", tt.probe, tt.stage, got, tt.want)
		}
	}
	for key, want := range map[string]string{"interface": "interface", "stage": "key_stage", "state": "key_state", "1x": "key_1x", "a-b": "a_b"} {
		if got := itemLabel(key); got != want {
			t.Errorf("itemLabel(%q) = %q, want %q", key, got, want)
		}
	}
}
