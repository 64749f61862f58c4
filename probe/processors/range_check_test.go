package processors

import (
	"github.com/probe-agent/probe-agent/probe"

	"encoding/json"
	"math"
	"strings"
	"testing"
	"time"
)

func rangeProbe(feed, srcType, inputSyntax, props string) string {
	in := `"src"`
	if inputSyntax == "4.x" {
		in = `{"stage": "src", "column": "value"}`
	}
	return probeDoc("range", source(feed, srcType),
		`{"name": "chk", "type": "range_check", "inputs": {"in": `+in+`}, "outputs": {"out": "chk"}, "properties": {`+props+`}}`)
}

func TestRangeCheckPolarity(t *testing.T) {
	values := []feedItem{item("a", "e1", 0), item("a", "e2", 1), item("a", "e3", 5), item("a", "e4", 10), item("a", "e5", 11), item("a", "e6", math.NaN())}
	tests := []struct {
		name, dialect, props string
		want                 map[string]any
	}{
		{"seed: range is expected, outside is anomalous", "seed", `"range": {"min": 1, "max": 10}`, map[string]any{
			"system_id=a,interface=e1": "true", "system_id=a,interface=e2": "false", "system_id=a,interface=e3": "false",
			"system_id=a,interface=e4": "false", "system_id=a,interface=e5": "true", "system_id=a,interface=e6": "false"}},
		{"4.x: range is anomalous, bounds inclusive", "4.x", `"range": {"min": 1, "max": 10}`, map[string]any{
			"system_id=a,interface=e1": "false", "system_id=a,interface=e2": "true", "system_id=a,interface=e3": "true",
			"system_id=a,interface=e4": "true", "system_id=a,interface=e5": "false", "system_id=a,interface=e6": "false"}},
		{"4.x: open upper bound", "4.x", `"range": {"min": 10}`, map[string]any{
			"system_id=a,interface=e1": "false", "system_id=a,interface=e2": "false", "system_id=a,interface=e3": "false",
			"system_id=a,interface=e4": "true", "system_id=a,interface=e5": "true", "system_id=a,interface=e6": "false"}},
		{"seed: NaN anomalous with raise_on_nan", "seed", `"range": {"max": 5}, "raise_on_nan": true`, map[string]any{
			"system_id=a,interface=e1": "false", "system_id=a,interface=e2": "false", "system_id=a,interface=e3": "false",
			"system_id=a,interface=e4": "true", "system_id=a,interface=e5": "true", "system_id=a,interface=e6": "true"}},
		{"expression bounds", "4.x", `"range": {"min": "2 * 5"}`, map[string]any{
			"system_id=a,interface=e1": "false", "system_id=a,interface=e2": "false", "system_id=a,interface=e3": "false",
			"system_id=a,interface=e4": "true", "system_id=a,interface=e5": "true", "system_id=a,interface=e6": "false"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			feed := "range-" + tt.name
			h := newHarness(t, rangeProbe(feed, "ns", tt.dialect, tt.props))
			setFeed(feed, values...)
			h.tick(nil, time.Second)
			assertValues(t, h, "chk", tt.want)
		})
	}
}

func TestRangeCheckRaisesAndClearsAnomalies(t *testing.T) {
	h := newHarness(t, rangeProbe("range-anom", "ns", "4.x", `"range": {"min": 100}, "raise_anomaly": true`))
	setFeed("range-anom", item("a", "e1", 150), item("a", "e2", 10))
	h.tick(nil, time.Second)
	if got := h.anomalyKeys(); strings.Join(got, ";") != "chk:system_id=a,interface=e1" {
		t.Fatalf("anomalies = %v", got)
	}
	a := h.inst.Anomalies()[0]
	raw, _ := json.Marshal(a)
	var m map[string]any
	_ = json.Unmarshal(raw, &m)
	if m["actual"].(map[string]any)["value"] != 150.0 || m["anomalous"].(map[string]any)["value_min"] != 100.0 {
		t.Errorf("4.x anomaly JSON lacks actual/anomalous: %s", raw)
	}
	ident := m["identity"].(map[string]any)
	if ident["stage_name"] != "chk" || ident["probe_label"] != "range" || len(ident["properties"].([]any)) != 2 {
		t.Errorf("4.x identity: %s", raw)
	}
	if tr := h.inst.Transitions(); len(tr) != 1 || !tr[0].Raised {
		t.Errorf("transitions after raise = %+v", tr)
	}

	// The actual value changes while anomalous: no new transition, evidence updated.
	setFeed("range-anom", item("a", "e1", 170), item("a", "e2", 10))
	h.tick(nil, time.Second)
	if tr := h.inst.Transitions(); len(tr) != 0 {
		t.Errorf("transition on a value change within the anomalous range: %+v", tr)
	}
	if got := h.inst.Anomalies()[0].Evidence.Actual.Num; got != 170 {
		t.Errorf("anomaly actual = %v, want 170", got)
	}

	// Back in range: cleared.
	setFeed("range-anom", item("a", "e1", 50), item("a", "e2", 10))
	h.tick(nil, time.Second)
	if got := h.anomalyKeys(); len(got) != 0 {
		t.Fatalf("anomalies after recovery = %v", got)
	}
	if tr := h.inst.Transitions(); len(tr) != 1 || tr[0].Raised {
		t.Errorf("transitions after clear = %+v", tr)
	}

	// Raised again, then the item disappears: cleared, not forgotten.
	setFeed("range-anom", item("a", "e1", 500))
	h.tick(nil, time.Second)
	setFeed("range-anom", item("a", "e2", 1))
	h.tick(nil, time.Second)
	if got := h.anomalyKeys(); len(got) != 0 {
		t.Fatalf("anomaly of a vanished item still raised: %v", got)
	}
	if tr := h.inst.Transitions(); len(tr) != 1 || tr[0].Raised || tr[0].Props[1] != "e1" {
		t.Errorf("vanished item's anomaly not cleared: %+v", tr)
	}
}

func TestRangeCheckOnTimeSeries(t *testing.T) {
	tests := []struct {
		property string
		want     string
	}{
		{"sample_count", "true"}, // 3 samples in [3, 3]
		{"sum", "false"},         // 1+2+3 = 6 not in [3, 3]
		{"avg", "false"},         // 2
		{"value", "true"},        // last sample 3
	}
	for _, tt := range tests {
		t.Run(tt.property, func(t *testing.T) {
			feed := "range-ts-" + tt.property
			h := newHarness(t, rangeProbe(feed, "nsts", "4.x", `"range": {"min": 3, "max": 3}, "property": "`+tt.property+`"`))
			for _, v := range []float64{1, 2, 3} {
				setFeed(feed, item("a", "e1", v))
				h.tick(nil, time.Second)
			}
			assertValues(t, h, "chk", map[string]any{"system_id=a,interface=e1": tt.want})
		})
	}
}

func TestSeedAnomalyJSON(t *testing.T) {
	doc := probeDoc("seedanom", source("seedanom", "ns"),
		`{"name": "sd", "type": "std_dev", "inputs": {"in": "src"}, "outputs": {"out": "sd"}, "properties": {"group_by": []}}`,
		`{"name": "rc", "type": "range_check", "inputs": {"in": "sd"}, "outputs": {"out": "rc"}, "properties": {"range": {"max": 100}}}`,
		`{"name": "an", "type": "anomaly", "inputs": {"in": "rc"}, "outputs": {"out": "imbalanced"}}`)
	h := newHarness(t, doc)
	setFeed("seedanom", item("a", "e1", 0), item("a", "e2", 202))
	h.tick(nil, time.Second)
	as := h.inst.Anomalies()
	if len(as) != 1 {
		t.Fatalf("anomalies = %d, want 1", len(as))
	}
	raw, _ := json.Marshal(as[0])
	var m map[string]any
	_ = json.Unmarshal(raw, &m)
	want := map[string]any{"value_int": 101.0}
	if a := m["actual"].(map[string]any); a["value_int"] != want["value_int"] {
		t.Errorf("actual = %v, want %v", a, want)
	}
	if e := m["expected"].(map[string]any); e["value_int"] != 100.0 {
		t.Errorf("expected = %v, want value_int 100", e)
	}
	ident := m["identity"].(map[string]any)
	if ident["stage_id"] != "imbalanced" || ident["anomaly_type"] != "probe" || m["severity"] != "critical" {
		t.Errorf("identity = %s", raw)
	}
	if p, ok := ident["properties"].(map[string]any); !ok || len(p) != 0 {
		t.Errorf("properties of an N stage's anomaly = %v, want {}", ident["properties"])
	}
	// The range_check itself raises nothing without raise_anomaly.
	for _, a := range as {
		if a.Stage == "rc" {
			t.Errorf("range_check without raise_anomaly raised %+v", a)
		}
	}
}

// TestRangeCheckContextBounds evaluates bounds over each item's keys, as
// Apstra's fault-tolerance templates do with context.<key>.
func TestRangeCheckContextBounds(t *testing.T) {
	doc := probeDoc("ctx", source("ctx", "ns", "system_id", "limit"),
		`{"name": "chk", "type": "range_check", "inputs": {"in": {"stage": "src", "column": "value"}}, "outputs": {"out": "chk"}, "properties": {"range": {"min": "int(context.limit) * 2"}, "raise_anomaly": true}}`)
	h := newHarness(t, doc)
	setFeed("ctx",
		feedItem{Props: []string{"a", "10"}, Num: 25}, // bound 20: anomalous
		feedItem{Props: []string{"b", "30"}, Num: 25}) // bound 60: fine
	h.tick(nil, time.Second)
	assertValues(t, h, "chk", map[string]any{"system_id=a,limit=10": "true", "system_id=b,limit=30": "false"})
	if as := h.inst.Anomalies(); len(as) != 1 || as[0].Evidence.Min != 20 {
		t.Errorf("anomaly evidence should carry the item's own bound 20: %+v", as)
	}
	// An item whose bound does not evaluate: no value, and the probe says why.
	setFeed("ctx", feedItem{Props: []string{"a", "10"}, Num: 25}, feedItem{Props: []string{"c", "lots"}, Num: 1})
	if err := h.tickErr(time.Second); err == nil || !strings.Contains(err.Error(), "system_id=c, limit=lots") {
		t.Fatalf("want an error naming the item, got %v", err)
	}
	if state, msg := h.inst.State(); state != "error" || !strings.Contains(msg, "chk") {
		t.Errorf("state %s %q", state, msg)
	}
	// Graph-dependent bounds are the controller's to resolve: the probe
	// validates with a warning, and a device says why it cannot run it.
	plan, probs := probe.CompileJSON([]byte(probeDoc("ctx2", source("ctx2", "ns"),
		`{"name": "chk", "type": "range_check", "inputs": {"in": "src"}, "outputs": {"out": "chk"}, "properties": {"range": {"max": "query_result[0]['ps'].values['max']"}}}`)))
	if len(probs) != 0 {
		t.Fatalf("graph-dependent bound refused: %v", probs)
	}
	if len(plan.Warnings) != 1 || !strings.Contains(plan.Warnings[0], "controller") {
		t.Errorf("warnings %q, want one naming the controller", plan.Warnings)
	}
	h2 := newHarness(t, probeDoc("ctx2", source("ctx2", "ns"),
		`{"name": "chk", "type": "range_check", "inputs": {"in": "src"}, "outputs": {"out": "chk"}, "properties": {"range": {"max": "query_result[0]['ps'].values['max']"}}}`))
	setFeed("ctx2", item("a", "e1", 1))
	if err := h2.tickErr(time.Second); err == nil || !strings.Contains(err.Error(), "resolved by the controller") {
		t.Errorf("want an error saying the controller resolves the bound, got %v", err)
	}
}
