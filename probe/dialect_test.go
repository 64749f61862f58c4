package probe_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/probe-agent/probe-agent/probe"
)

// TestDialectDetection decides the dialect of documents carrying each kind
// of evidence, with both defaults, and refuses contradictions.
func TestDialectDetection(t *testing.T) {
	const (
		counter   = `{"name": "c", "type": "if_counter", "outputs": {"out": "rates"}, "properties": {"counter_type": "rx_error_packets"}}`
		strRange  = `{"name": "r", "type": "range_check", "inputs": {"in": "rates"}, "outputs": {"out": "bad"}, "properties": {"range": {"min": 1}}}`
		strRaise  = `{"name": "r", "type": "range_check", "inputs": {"in": "rates"}, "outputs": {"out": "bad"}, "properties": {"range": {"min": 1}, "raise_anomaly": true}}`
		objRange  = `{"name": "r", "type": "range_check", "inputs": {"in": {"stage": "rates", "column": "value"}}, "outputs": {"out": "bad"}, "properties": {"range": {"min": 1}}}`
		legacy    = `{"name": "a", "type": "anomaly", "inputs": {"in": "bad"}, "outputs": {"out": "alarm"}}`
		legacyObj = `{"name": "a", "type": "anomaly", "inputs": {"in": {"stage": "bad", "column": "value"}}, "outputs": {"out": "alarm"}}`
		tagged    = `{"name": "c", "type": "if_counter", "outputs": {"out": "rates"}, "properties": {"counter_type": "rx_error_packets", "query_tag_filter": {"filter": {}, "operation": "and"}}}`
		edc       = `{"name": "e", "type": "extensible_data_collector", "outputs": {"out": "svc"}, "properties": {"service_name": "x", "data_type": "ns"}}`
		edcUse    = `{"name": "s", "type": "sum", "inputs": {"in": "svc"}, "outputs": {"out": "total"}}`
	)
	doc := func(extra string, procs ...string) string {
		return `{"label": "d"` + extra + `, "processors": [` + strings.Join(procs, ", ") + `]}`
	}
	tests := []struct {
		name     string
		doc      string
		def      probe.Dialect
		want     probe.Dialect
		reason   string // part of the reason, or of the error when want is ""
		explicit bool
	}{
		{"seed: string inputs and the anomaly processor", doc("", counter, strRange, legacy), "", probe.DialectSeed, `processor "a" is of type anomaly (AOS 3.0 and earlier)`, false},
		{"3.x: string inputs and raise_anomaly", doc("", counter, strRaise), "", probe.Dialect3x, `processor "r" sets raise_anomaly (AOS 3.1)`, false},
		{"4.x: object inputs", doc("", counter, objRange), "", probe.Dialect4x, `processor "r" input "in" is a {"stage", "column"} object`, false},
		{"4.x: query_tag_filter without inputs", doc("", tagged), "", probe.Dialect4x, "query_tag_filter (AOS 4.0)", false},
		{"string inputs alone: the seed default", doc("", counter, strRange), "", probe.DialectSeed, "seed by default (allowed: seed, 3.x)", false},
		{"string inputs alone: a 4.x default gives the nearest, 3.x", doc("", counter, strRange), probe.Dialect4x, probe.Dialect3x, "3.x by default (allowed: seed, 3.x)", false},
		{"no evidence: the default", doc("", counter), probe.Dialect4x, probe.Dialect4x, "no evidence", false},
		{"no evidence: seed when no default is given", doc("", counter), "", probe.DialectSeed, "no evidence", false},
		{"dialect field wins over evidence", doc(`, "dialect": "3.0"`, counter, strRaise), "", probe.DialectSeed, `"dialect": "3.0"`, true},
		{"dialect 3.1 alias", doc(`, "dialect": "3.1"`, counter, strRange), "", probe.Dialect3x, `"dialect": "3.1"`, true},
		{"conflict: object inputs and the anomaly processor", doc("", counter, objRange, legacyObj), "", "", `processor "a" is of type anomaly (AOS 3.0 and earlier)`, false},
		{"conflict: string inputs and a 4.0 processor", doc("", edc, edcUse), "", "", `processor "s" input "in" names a stage (AOS 3.x and earlier), but processor "e" is of type extensible_data_collector (AOS 4.0)`, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d, probs := probe.ParseDocumentWith([]byte(tt.doc), probe.Options{DefaultDialect: tt.def})
			if tt.want == "" {
				if len(probs) != 1 || probs[0].Field != "processors" || !strings.Contains(probs[0].Message, "conflicting dialect evidence") || !strings.Contains(probs[0].Message, tt.reason) {
					t.Fatalf("want one conflict naming %q, got %v", tt.reason, probs)
				}
				return
			}
			if len(probs) > 0 {
				t.Fatal(probs)
			}
			if d.Dialect != tt.want || d.DialectExplicit != tt.explicit || !strings.Contains(d.DialectReason, tt.reason) {
				t.Errorf("dialect %s (explicit %v) because %q; want %s (explicit %v) with %q", d.Dialect, d.DialectExplicit, d.DialectReason, tt.want, tt.explicit, tt.reason)
			}
		})
	}
}

// TestDialectSemantics: what each dialect means for the processors.
func TestDialectSemantics(t *testing.T) {
	for _, tt := range []struct {
		d                                  probe.Dialect
		anomalous, expressions, objects, f bool
	}{
		{probe.DialectSeed, false, false, false, false},
		{probe.Dialect3x, true, true, false, true},
		{probe.Dialect4x, true, true, true, true},
	} {
		if tt.d.AnomalousRanges() != tt.anomalous || tt.d.StringExpressions() != tt.expressions || tt.d.ObjectInputs() != tt.objects || tt.d.AnomalyForm4x() != tt.f {
			t.Errorf("%s: anomalous ranges %v, expressions %v, object inputs %v, 3.1+ anomalies %v", tt.d, tt.d.AnomalousRanges(), tt.d.StringExpressions(), tt.d.ObjectInputs(), tt.d.AnomalyForm4x())
		}
	}
	for alias, want := range map[string]probe.Dialect{"seed": probe.DialectSeed, "3.0": probe.DialectSeed, "3.x": probe.Dialect3x, "3.3": probe.Dialect3x, "4.x": probe.Dialect4x, "4.2": probe.Dialect4x} {
		if got, err := probe.ParseDialect(alias); err != nil || got != want {
			t.Errorf("ParseDialect(%q) = %s, %v; want %s", alias, got, err, want)
		}
	}
	if _, err := probe.ParseDialect("2.x"); err == nil || !strings.Contains(err.Error(), "known: seed") {
		t.Errorf("ParseDialect(2.x) error %v", err)
	}
}

// TestInlineStageMetadata: stage metadata written inside a processor (the
// 2.3+ form, named by stage label) is merged into the probe's stages; the
// top-level entry wins where both give a field.
func TestInlineStageMetadata(t *testing.T) {
	d, probs := probe.ParseDocument([]byte(`{"label": "p", "processors": [
		{"name": "c", "type": "if_counter", "outputs": {"out": "rates"}, "properties": {"counter_type": "tx_bytes"},
		 "stages": [{"name": "rates", "units": "Bps", "description": "inline", "tags": ["a"]}]},
		{"name": "d", "type": "if_counter", "outputs": {"out": "other"}, "properties": {"counter_type": "rx_bytes"},
		 "stages": [{"name": "other", "units": "bps"}]}],
		"stages": [{"name": "rates", "description": "top"}]}`))
	if len(probs) > 0 {
		t.Fatal(probs)
	}
	byName := map[string]probe.StageDoc{}
	for _, sd := range d.Stages {
		byName[sd.Name] = sd
	}
	if r := byName["rates"]; r.Description != "top" || r.Units.Value != "Bps" || len(r.Tags) != 1 {
		t.Errorf("rates metadata %+v: want the top-level description and the inline units and tags", r)
	}
	if o := byName["other"]; o.Units.Value != "bps" {
		t.Errorf("other metadata %+v", o)
	}
}

// TestControllerExtensions: the "export" and "resolved" fields a controller
// writes into the part it pushes are read, checked against the probe, and
// the resolution reaches the sources.
func TestControllerExtensions(t *testing.T) {
	doc := `{"label": "p", "export": ["rates"], "resolved": {"c": {"keys": ["group"], "items": [
		{"system_id": "leaf1", "interface": "eth1", "values": ["spine"]}]}},
		"processors": [{"name": "c", "type": "if_counter", "outputs": {"out": "rates"}, "properties": {"counter_type": "tx_bytes", "group": "link.role"}}]}`
	plan, probs := probe.CompileJSON([]byte(doc))
	if len(probs) > 0 {
		t.Fatal(probs)
	}
	if len(plan.Doc.Export) != 1 || plan.Doc.Resolved["c"].Len() != 1 {
		t.Fatalf("export %v, resolved %v", plan.Doc.Export, plan.Doc.Resolved)
	}
	if v, ok := plan.Doc.Resolved["c"].Lookup("leaf1", "eth1"); !ok || v[0] != "spine" {
		t.Errorf("resolved item %v %v", v, ok)
	}
	round, err := json.Marshal(plan.Doc.Resolved["c"])
	if err != nil || !strings.Contains(string(round), `"values":["spine"]`) {
		t.Errorf("round trip %s %v", round, err)
	}
	for _, bad := range []struct{ doc, field, msg string }{
		{`{"label": "p", "export": ["nope"], "processors": []}`, "export[0]", `stage "nope", which no processor produces`},
		{`{"label": "p", "export": "rates", "processors": []}`, "export", "expected a list"},
		{`{"label": "p", "resolved": {"x": {"keys": ["a"], "items": [{"system_id": "s"}]}}, "processors": []}`, "resolved", "0 values for 1 keys"},
		{`{"label": "p", "resolved": {"x": {"keys": [], "items": []}}, "processors": []}`, "resolved", `processor "x", which the probe does not have`},
	} {
		_, probs := probe.CompileJSON([]byte(bad.doc))
		if len(probs) != 1 || probs[0].Field != bad.field || !strings.Contains(probs[0].Message, bad.msg) {
			t.Errorf("%s: want %s %q, got %v", bad.doc, bad.field, bad.msg, probs)
		}
	}
}

// TestJSONSyntaxErrorPosition: a broken document says where, by line and
// column, not by byte offset.
func TestJSONSyntaxErrorPosition(t *testing.T) {
	_, probs := probe.CompileJSON([]byte("{\n  \"label\": \"p\"\n  \"processors\": []\n}"))
	if len(probs) != 1 || !strings.Contains(probs[0].Message, "not valid JSON: line 3, column 3: invalid character") {
		t.Errorf("problems %v", probs)
	}
	_, probs = probe.CompileJSON([]byte(`["a list"]`))
	if len(probs) != 1 || !strings.Contains(probs[0].Message, "not a JSON object: line 1, column") {
		t.Errorf("problems %v", probs)
	}
}
