package agent

import (
	"strings"
	"testing"

	"github.com/probe-agent/probe-agent/probe"
)

// TestConfigDialect: the dialect key sets how documents without dialect
// evidence are read, and a bad value is refused with the key named.
func TestConfigDialect(t *testing.T) {
	base := Defaults()
	base.Dialect = "3.x"
	if err := base.validate(nil); err != nil {
		t.Fatal(err)
	}
	if got := base.ProbeOptions().DefaultDialect; got != probe.Dialect3x {
		t.Errorf("ProbeOptions dialect %q, want 3.x", got)
	}
	bad := Defaults()
	bad.Dialect = "2.x"
	if err := bad.validate(nil); err == nil || !strings.Contains(err.Error(), "dialect") || !strings.Contains(err.Error(), `unknown dialect "2.x"`) {
		t.Errorf("bad dialect: %v", err)
	}

	// String inputs and no other evidence: seed by default, 3.x when the
	// configuration says so (range then marks the anomalous region).
	doc := []byte(`{"label": "d", "processors": [
		{"name": "c", "type": "if_counter", "outputs": {"out": "rates"}, "properties": {"counter_type": "rx_error_packets"}},
		{"name": "r", "type": "range_check", "inputs": {"in": "rates"}, "outputs": {"out": "bad"}, "properties": {"range": {"min": 1}}}]}`)
	m := NewManager(quietLog(), nil, nil)
	plan, _, probs := m.compile(doc, "")
	if len(probs) > 0 || plan.Doc.Dialect != probe.DialectSeed {
		t.Fatalf("default: dialect %v, problems %v", plan, probs)
	}
	m.SetProbeOptions(base.ProbeOptions())
	plan, _, probs = m.compile(doc, "")
	if len(probs) > 0 || plan.Doc.Dialect != probe.Dialect3x || !plan.Doc.Dialect.AnomalousRanges() {
		t.Fatalf("configured 3.x: dialect %v, problems %v", plan.Doc.Dialect, probs)
	}
}
