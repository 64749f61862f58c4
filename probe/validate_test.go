package probe_test

import (
	"encoding/json"
	"os"
	"strings"
	"testing"

	"github.com/probe-agent/probe-agent/probe"
	_ "github.com/probe-agent/probe-agent/probe/processors"
)

func readFile(t testing.TB, name string) []byte {
	t.Helper()
	data, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

func TestSeedProbeValidates(t *testing.T) {
	plan, probs := probe.CompileJSON(readFile(t, "testdata/seed_probe.json"))
	if len(probs) > 0 {
		t.Fatalf("seed probe: %v", probs)
	}
	if plan.Doc.Dialect != probe.DialectSeed {
		t.Errorf("dialect = %s, want seed", plan.Doc.Dialect)
	}
	inst, err := probe.NewInstance(plan)
	if err != nil {
		t.Fatal(err)
	}
	// Stage types are inferred through the DAG, as the seed's inspection
	// examples show.
	want := map[string]string{
		"server_tx_bytes_output":    "ns",
		"std_dev_output":            "n",
		"std_dev_output_in_range":   "ds",
		"server_traffic_imbalanced": "ds",
	}
	for name, typ := range want {
		st, ok := inst.Stage(name)
		if !ok {
			t.Errorf("no stage %q", name)
			continue
		}
		if st.Type.String() != typ {
			t.Errorf("stage %q type = %s, want %s", name, st.Type, typ)
		}
	}
	st, _ := inst.Stage("server_tx_bytes_output")
	if st.Meta.Units.Value != "Bps" || st.Meta.Description != "Collect server tx_bytes" {
		t.Errorf("stage metadata not applied: %+v", st.Meta)
	}
}

func Test4xDialectValidates(t *testing.T) {
	plan, probs := probe.CompileJSON(readFile(t, "testdata/dialect4x_probe.json"))
	if len(probs) > 0 {
		t.Fatalf("4.x probe: %v", probs)
	}
	if plan.Doc.Dialect != probe.Dialect4x {
		t.Errorf("dialect = %s, want 4.x", plan.Doc.Dialect)
	}
	if plan.ID != "errors-4x" {
		t.Errorf("id = %q, want the document's", plan.ID)
	}
}

func TestBothInputSyntaxesAreTheSameProbe(t *testing.T) {
	seed := `{"label": "p", "processors": [
		{"name": "c", "type": "if_counter", "outputs": {"out": "s1"}, "properties": {"counter_type": "tx_bytes"}},
		{"name": "m", "type": "max", "inputs": {"in": "s1"}, "outputs": {"out": "s2"}}]}`
	newer := strings.Replace(seed, `{"in": "s1"}`, `{"in": {"stage": "s1", "column": "value"}}`, 1)
	for _, doc := range []string{seed, newer} {
		plan, probs := probe.CompileJSON([]byte(doc))
		if len(probs) > 0 {
			t.Fatalf("%s: %v", doc, probs)
		}
		inst, _ := probe.NewInstance(plan)
		st, _ := inst.Stage("s2")
		if st.Type != probe.N {
			t.Errorf("max output type = %s, want n", st.Type)
		}
	}
}

// TestValidationProblems covers every class of validation error; each must
// name the probe, the processor and the field.
func TestValidationProblems(t *testing.T) {
	counter := `{"name": "c", "type": "if_counter", "outputs": {"out": "rates"}, "properties": {"counter_type": "tx_bytes"}}`
	tests := []struct {
		name      string
		doc       string
		processor string
		field     string
		message   string
	}{
		{"missing label", `{"processors": []}`, "", "label", "required"},
		{"unknown processor type", `{"label": "p", "processors": [{"name": "x", "type": "frobnicate", "outputs": {"out": "s"}}]}`,
			"x", "type", `unknown processor type "frobnicate"`},
		{"mistyped processor type", `{"label": "p", "processors": [{"name": "x", "type": "std_deb", "outputs": {"out": "s"}}]}`,
			"x", "type", `unknown processor type "std_deb" (did you mean "std_dev"?)`},
		{"unknown property", `{"label": "p", "processors": [` + counter + `, {"name": "s", "type": "std_dev", "inputs": {"in": "rates"}, "outputs": {"out": "o"}, "properties": {"dof": 1}}]}`,
			"s", "properties.dof", "unknown property"},
		{"wrong property type", `{"label": "p", "processors": [` + counter + `, {"name": "s", "type": "std_dev", "inputs": {"in": "rates"}, "outputs": {"out": "o"}, "properties": {"ddof": "one"}}]}`,
			"s", "properties.ddof", "expected integer"},
		{"property not in enum", `{"label": "p", "processors": [{"name": "c", "type": "if_counter", "outputs": {"out": "r"}, "properties": {"counter_type": "tx_potatoes"}}]}`,
			"c", "properties.counter_type", "is not one of"},
		{"required property missing", `{"label": "p", "processors": [{"name": "c", "type": "if_counter", "outputs": {"out": "r"}}]}`,
			"c", "properties.counter_type", "required property missing"},
		{"missing required input", `{"label": "p", "processors": [{"name": "s", "type": "std_dev", "outputs": {"out": "o"}}]}`,
			"s", "inputs.in", "required input missing"},
		{"missing required output", `{"label": "p", "processors": [{"name": "c", "type": "if_counter", "properties": {"counter_type": "tx_bytes"}}]}`,
			"c", "outputs.out", "required output missing"},
		{"unknown input port", `{"label": "p", "processors": [` + counter + `, {"name": "s", "type": "std_dev", "inputs": {"in": "rates", "extra": "rates"}, "outputs": {"out": "o"}}]}`,
			"s", "inputs.extra", `has no input "extra"`},
		{"input naming an unproduced stage", `{"label": "p", "processors": [` + counter + `, {"name": "s", "type": "std_dev", "inputs": {"in": "ratez"}, "outputs": {"out": "o"}}]}`,
			"s", "inputs.in", `stage "ratez" is not produced by any processor (did you mean "rates"?)`},
		{"stage produced twice", `{"label": "p", "processors": [` + counter + `, {"name": "c2", "type": "if_counter", "outputs": {"out": "rates"}, "properties": {"counter_type": "rx_bytes"}}]}`,
			"c2", "outputs.out", `stage "rates" is already produced by processor "c"`},
		{"cycle", `{"label": "p", "processors": [{"name": "a", "type": "max", "inputs": {"in": "sb"}, "outputs": {"out": "sa"}}, {"name": "b", "type": "max", "inputs": {"in": "sa"}, "outputs": {"out": "sb"}}]}`,
			"a", "inputs", `cycle among processors "a", "b"`},
		{"input type not accepted", `{"label": "p", "processors": [` + counter + `, {"name": "r", "type": "range_check", "inputs": {"in": "rates"}, "outputs": {"out": "chk"}, "properties": {"range": {"max": 1}}}, {"name": "s", "type": "std_dev", "inputs": {"in": "chk"}, "outputs": {"out": "o"}}]}`,
			"s", "inputs.in", `stage "chk" is of type dss, but std_dev accepts n, ns, nts, nsts`},
		{"stage metadata for an unknown stage", `{"label": "p", "processors": [` + counter + `], "stages": [{"name": "ratse", "units": "Bps"}]}`,
			"", "stages[0].name", `metadata for stage "ratse", which no processor produces (did you mean "rates"?)`},
		{"mixed dialects", `{"label": "p", "processors": [` + counter + `, {"name": "m", "type": "max", "inputs": {"in": "rates"}, "outputs": {"out": "o"}}, {"name": "n", "type": "min", "inputs": {"in": {"stage": "rates", "column": "value"}}, "outputs": {"out": "o2"}}]}`,
			"", "processors", `conflicting dialect evidence: processor "m" input "in" names a stage (AOS 3.x and earlier), but processor "n" input "in" is a {"stage", "column"} object (AOS 4.x)`},
		{"legacy anomaly processor with raise_anomaly", `{"label": "p", "processors": [` + counter + `, {"name": "r", "type": "range_check", "inputs": {"in": "rates"}, "outputs": {"out": "o"}, "properties": {"range": {"min": 1}, "raise_anomaly": true}}, {"name": "a", "type": "anomaly", "inputs": {"in": "o"}, "outputs": {"out": "o2"}}]}`,
			"", "processors", `conflicting dialect evidence: processor "r" sets raise_anomaly (AOS 3.1), but processor "a" is of type anomaly (AOS 3.0 and earlier)`},
		{"inline stage named by the output port", `{"label": "p", "processors": [{"name": "c", "type": "if_counter", "outputs": {"out": "r"}, "properties": {"counter_type": "tx_bytes"}, "stages": [{"name": "x", "units": "pps"}]}]}`,
			"c", "stages[0].name", `stage "x" is not an output of this processor (outputs: out: "r")`},
		{"unknown column", `{"label": "p", "processors": [` + counter + `, {"name": "m", "type": "max", "inputs": {"in": {"stage": "rates", "column": "total"}}, "outputs": {"out": "o"}}]}`,
			"m", "inputs.in.column", `stage "rates" has no column "total"`},
		{"group_by on a missing property", `{"label": "p", "processors": [` + counter + `, {"name": "s", "type": "sum", "inputs": {"in": "rates"}, "outputs": {"out": "o"}, "properties": {"group_by": ["rack"]}}]}`,
			"s", "properties.group_by[0]", `input stage "rates" has no property "rack"`},
		{"range without bounds", `{"label": "p", "processors": [` + counter + `, {"name": "r", "type": "range_check", "inputs": {"in": "rates"}, "outputs": {"out": "o"}, "properties": {"range": {}}}]}`,
			"r", "properties.range", "needs min, max or both"},
		{"avg needs a time series", `{"label": "p", "processors": [` + counter + `, {"name": "r", "type": "range_check", "inputs": {"in": "rates"}, "outputs": {"out": "o"}, "properties": {"range": {"min": 1}, "property": "avg"}}]}`,
			"r", "properties.property", "needs a time-series input"},
		{"inline stages (pre-2.3)", `{"label": "p", "processors": [{"name": "c", "type": "if_counter", "outputs": {"out": "r"}, "properties": {"counter_type": "tx_bytes"}, "stages": [{"name": "out", "units": "pps"}]}]}`,
			"c", "stages[0].name", `"out" is the processor's output name, the pre-2.3 form (no longer supported since Apstra 2.3); name the stage by its label, "r"`},
		{"bad input reference", `{"label": "p", "processors": [` + counter + `, {"name": "m", "type": "max", "inputs": {"in": {"stage": "rates", "col": "value"}}, "outputs": {"out": "o"}}]}`,
			"m", "inputs.in", `unknown field "col"`},
		{"duplicate processor name", `{"label": "p", "processors": [` + counter + `, {"name": "c", "type": "if_counter", "outputs": {"out": "other"}, "properties": {"counter_type": "rx_bytes"}}]}`,
			"c", "name", "same name"},
		{"units for an unknown column", `{"label": "p", "processors": [` + counter + `], "stages": [{"name": "rates", "units": {"value": "Bps", "total_count": ""}}]}`,
			"", `stages["rates"].units.total_count`, `stage has no column "total_count"`},
		{"unknown dialect", `{"label": "p", "dialect": "2.x", "processors": []}`, "", "dialect", `unknown dialect "2.x" (known: seed or 3.0, 3.x or 3.1-3.3, 4.x)`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, probs := probe.CompileJSON([]byte(tt.doc))
			for _, p := range probs {
				if p.Processor == tt.processor && p.Field == tt.field && strings.Contains(p.Message, tt.message) {
					if tt.name != "missing label" && p.Probe != "p" {
						t.Errorf("problem does not name the probe: %+v", p)
					}
					return
				}
			}
			t.Errorf("want a problem on processor %q field %q containing %q; got:\n%v", tt.processor, tt.field, tt.message, probs)
		})
	}
}

func TestAllProblemsReportedAtOnce(t *testing.T) {
	doc := `{"label": "many", "processors": [
		{"name": "a", "type": "nope", "outputs": {"out": "x"}},
		{"name": "b", "type": "std_dev", "inputs": {"in": "missing"}, "outputs": {"out": "y"}, "properties": {"ddof": -1, "bogus": 1}},
		{"name": "c", "type": "if_counter", "outputs": {"out": "y"}, "properties": {"counter_type": "tx_bytes"}}]}`
	_, probs := probe.CompileJSON([]byte(doc))
	if len(probs) < 5 {
		t.Fatalf("want at least 5 problems (type, input, ddof, bogus, duplicate stage), got %d:\n%v", len(probs), probs)
	}
}

func TestExportFieldsIgnored(t *testing.T) {
	doc := `{"label": "p", "id": "x", "state": "error", "probe_state": "x", "version": 7, "iba_unit": "u", "anomaly_count": 3,
		"last_error": {"message": "old"}, "predefined_probe": "", "task_state": "", "task_error": null, "host_node": null,
		"processors": [{"name": "c", "type": "if_counter", "outputs": {"out": "r"}, "properties": {"counter_type": "tx_bytes"}}],
		"stages": [{"name": "r", "units": {"value": "Bps"}, "retention_duration": 86400, "enable_metric_logging": false, "type": "table", "graph_annotation_properties": {}, "hidden_columns": []}]}`
	if _, probs := probe.CompileJSON([]byte(doc)); len(probs) > 0 {
		t.Fatal(probs)
	}
}

func TestDialectOverride(t *testing.T) {
	// With "dialect": "4.x", a seed-syntax probe gets 4.x range polarity.
	doc := `{"label": "p", "dialect": "4.x", "processors": [{"name": "c", "type": "if_counter", "outputs": {"out": "r"}, "properties": {"counter_type": "tx_bytes"}}]}`
	plan, probs := probe.CompileJSON([]byte(doc))
	if len(probs) > 0 || plan.Doc.Dialect != probe.Dialect4x {
		t.Fatalf("dialect %v, problems %v", plan.Doc.Dialect, probs)
	}
}

func TestIntrospectionShape(t *testing.T) {
	spec, ok := probe.Lookup("std_dev")
	if !ok {
		t.Fatal("std_dev not registered")
	}
	raw, err := json.Marshal(spec)
	if err != nil {
		t.Fatal(err)
	}
	var got map[string]any
	if err := json.Unmarshal(raw, &got); err != nil {
		t.Fatal(err)
	}
	schema := got["schema"].(map[string]any)
	if schema["additionalProperties"] != false || schema["type"] != "object" {
		t.Errorf("schema not closed: %s", raw)
	}
	props := schema["properties"].(map[string]any)
	for _, p := range []string{"ddof", "group_by", "enable_streaming"} {
		if _, ok := props[p]; !ok {
			t.Errorf("schema lacks %s", p)
		}
	}
	if d := props["enable_streaming"].(map[string]any)["default"]; d != false {
		t.Errorf("enable_streaming default = %v", d)
	}
	in := got["inputs"].(map[string]any)["in"].(map[string]any)
	if in["required"] != true || len(in["types"].([]any)) == 0 {
		t.Errorf("inputs shape: %v", in)
	}
	for _, alias := range []string{"in_range", "not_in_range"} {
		if s, ok := probe.Lookup(alias); !ok || s.Name != "range_check" {
			t.Errorf("alias %s does not resolve to range_check", alias)
		}
	}
}

func TestDefaultsApplied(t *testing.T) {
	doc := `{"label": "p", "processors": [{"name": "c", "type": "if_counter", "outputs": {"out": "r"}, "properties": {"counter_type": "tx_bytes"}},
		{"name": "s", "type": "std_dev", "inputs": {"in": "r"}, "outputs": {"out": "o"}}]}`
	plan, probs := probe.CompileJSON([]byte(doc))
	if len(probs) > 0 {
		t.Fatal(probs)
	}
	inst, _ := probe.NewInstance(plan)
	st, _ := inst.Stage("o")
	// std_dev's group_by defaults to ["system_id"], so the output is a set.
	if st.Type != probe.NS || len(st.Keys) != 1 || st.Keys[0] != "system_id" {
		t.Errorf("std_dev default group_by not applied: type %s keys %v", st.Type, st.Keys)
	}
}
