package processors

import (
	"bytes"
	"encoding/json"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/probe-agent/probe-agent/probe"
)

func logicalDoc(props string, n int, srcs ...string) string {
	ins := map[string]string{}
	for i := 1; i <= n; i++ {
		ins["in"+string(rune('0'+i))] = "s" + string(rune('0'+i))
	}
	return probeDoc("logic", append(srcs, pairProc("logic", "logical", ins, map[string]string{"out": "out"}, props))...)
}

func TestLogicalAndOr(t *testing.T) {
	const k0, k1, k2 = "system_id=leaf1,interface=eth0", "system_id=leaf1,interface=eth1", "system_id=leaf1,interface=eth2"
	srcs := []string{feedSrc("s1", "lg.1", "dss"), feedSrc("s2", "lg.2", "dss"), feedSrc("s3", "lg.3", "dss")}
	steps := func(want func(and, or string) string) []pairStep {
		return []pairStep{
			{name: "empty inputs", feeds: map[string][]feedItem{"lg.1": nil, "lg.2": nil, "lg.3": nil},
				want: map[string]map[string]any{"out": {}}},
			{name: "truth table over three inputs",
				feeds: map[string][]feedItem{
					"lg.1": {state("leaf1", "eth0", "true"), state("leaf1", "eth1", "true"), state("leaf1", "eth2", "false")},
					"lg.2": {state("leaf1", "eth2", "false"), state("leaf1", "eth1", "false"), state("leaf1", "eth0", "true")},
					"lg.3": {state("leaf1", "eth0", "true"), state("leaf1", "eth1", "true"), state("leaf1", "eth2", "false")}},
				want: map[string]map[string]any{"out": {k0: want("true", "true"), k1: want("false", "true"), k2: want("false", "false")}}},
			{name: "eth1 missing from in3 is dropped; eth2 not a boolean has no value",
				feeds: map[string][]feedItem{
					"lg.3": {state("leaf1", "eth0", "true"), state("leaf1", "eth2", "up")}},
				want: map[string]map[string]any{"out": {k0: want("true", "true")}}},
			{name: "an input item without a value gives none",
				feeds: map[string][]feedItem{
					"lg.3": {{Props: []string{"leaf1", "eth0"}, Missing: true}, state("leaf1", "eth2", "true")}},
				want: map[string]map[string]any{"out": {k2: want("false", "true")}}},
		}
	}
	t.Run("and", func(t *testing.T) {
		runPairSteps(t, logicalDoc(`{"operation": "and"}`, 3, srcs...), steps(func(and, _ string) string { return and }))
	})
	t.Run("or", func(t *testing.T) {
		runPairSteps(t, logicalDoc(`{"operation": "or"}`, 3, srcs...), steps(func(_, or string) string { return or }))
	})
}

func TestLogicalSignificantKeysAndAnomalies(t *testing.T) {
	doc := logicalDoc(`{"operation": "or", "significant_keys": ["system_id"], "raise_anomaly": true}`, 2,
		feedSrc("s1", "lg.sk.1", "dss", "system_id", "interface"), feedSrc("s2", "lg.sk.2", "dss", "system_id"))
	h := runPairSteps(t, doc, []pairStep{
		{name: "per system",
			feeds: map[string][]feedItem{
				"lg.sk.1": {state("leaf1", "eth0", "false"), state("leaf2", "eth0", "false")},
				"lg.sk.2": {{Props: []string{"leaf1"}, Str: "true"}, {Props: []string{"leaf2"}, Str: "false"}}},
			want: map[string]map[string]any{"out": {"system_id=leaf1": "true", "system_id=leaf2": "false"}}},
	})
	if got, want := h.anomalyKeys(), []string{"out:system_id=leaf1"}; !slices.Equal(got, want) {
		t.Errorf("anomalies %q, want %q", got, want)
	}
	setFeed("lg.sk.1", state("leaf1", "eth0", "false"), state("leaf1", "eth1", "true"))
	if err := h.tickErr(0); err == nil || !strings.Contains(err.Error(), `of input "in1" (stage "s1") both have key {system_id="leaf1"}`) {
		t.Fatalf("tick error %v, want the one-to-many error", err)
	}
	if st, _ := h.inst.State(); st != probe.StateError {
		t.Fatalf("state %q, want error", st)
	}
	setFeed("lg.sk.1", state("leaf1", "eth1", "false"), state("leaf2", "eth0", "true"))
	h.tick(nil, 0)
	assertValues(t, h, "out", map[string]any{"system_id=leaf1": "true", "system_id=leaf2": "true"})
	if st, _ := h.inst.State(); st != probe.StateOperational {
		t.Fatalf("state %q after the duplicate went away, want operational", st)
	}
}

func TestLogicalInputColumnsAndAlias(t *testing.T) {
	cols := `{"name": "s1", "type": "pairing_columns_source", "outputs": {"out": "s1"}, "properties": {"feed": "lg.col.1"}}`
	doc := strings.Replace(logicalDoc(`{"operation": "and", "input_columns": {"in1": "alt"}}`, 2, cols, feedSrc("s2", "lg.col.2", "dss")),
		`"type": "logical"`, `"type": "logical_operator"`, 1)
	runPairSteps(t, doc, []pairStep{{name: "reads alt of in1",
		feeds: map[string][]feedItem{
			"lg.col.1": {{Props: []string{"leaf1", "eth0"}, Str: "false", Num: 1}, {Props: []string{"leaf1", "eth1"}, Str: "true", Num: 0}},
			"lg.col.2": {state("leaf1", "eth0", "true"), state("leaf1", "eth1", "true")}},
		want: map[string]map[string]any{"out": {"system_id=leaf1,interface=eth0": "true", "system_id=leaf1,interface=eth1": "false"}}}})

	// The 4.x input syntax can name the column too; both together must agree.
	doc4x := probeDoc("logic", cols, feedSrc("s2", "f", "dss"), `{"name": "logic", "type": "logical", "inputs": {"in1": {"stage": "s1", "column": "alt"}, "in2": {"stage": "s2", "column": "value"}}, "outputs": {"out": "out"}, "properties": {"operation": "or", "input_columns": {"in1": "alt"}}}`)
	if _, probs := probe.CompileJSON([]byte(doc4x)); len(probs) > 0 {
		t.Errorf("agreeing columns: %v", probs)
	}
	spec, _ := probe.Lookup("logical_operator")
	if spec == nil || spec.Name != "logical" {
		t.Errorf("logical_operator resolves to %v, want logical", spec)
	}
}

func TestLogicalValidation(t *testing.T) {
	d1, d2 := feedSrc("s1", "f", "dss"), feedSrc("s2", "f", "dss")
	cols := `{"name": "s1", "type": "pairing_columns_source", "outputs": {"out": "s1"}, "properties": {"feed": "f"}}`
	runProblemCases(t, []problemCase{
		{"xor is not supported", logicalDoc(`{"operation": "xor"}`, 2, d1, d2), "logic", "properties.operation", `"xor" is not one of ["and","or"]`},
		{"upper case is not accepted", logicalDoc(`{"operation": "AND"}`, 2, d1, d2), "logic", "properties.operation", "is not one of"},
		{"operation missing", logicalDoc(`{}`, 2, d1, d2), "logic", "properties.operation", "required"},
		{"one input only", logicalDoc(`{"operation": "or"}`, 1, d1), "logic", "inputs.in2", "required input missing"},
		{"in_1 naming is not logical's", probeDoc("logic", d1, d2, pairProc("logic", "logical", map[string]string{"in1": "s1", "in_2": "s2"}, map[string]string{"out": "out"}, `{"operation": "or"}`)),
			"logic", "inputs.in_2", `logical has no input "in_2"`},
		{"in9 is beyond the declared ports", probeDoc("logic", d1, d2, pairProc("logic", "logical", map[string]string{"in1": "s1", "in2": "s2", "in9": "s2"}, map[string]string{"out": "out"}, `{"operation": "or"}`)),
			"logic", "inputs.in9", `logical has no input "in9"`},
		{"number input rejected", logicalDoc(`{"operation": "or"}`, 2, d1, feedSrc("s2", "f", "ns")), "logic", "inputs.in2", "is of type ns"},
		{"time-series input rejected", logicalDoc(`{"operation": "or"}`, 2, d1, feedSrc("s2", "f", "dssts")), "logic", "inputs.in2", "is of type dssts"},
		{"input_columns for an unconnected port", logicalDoc(`{"operation": "or", "input_columns": {"in3": "value"}}`, 2, d1, d2), "logic", "properties.input_columns.in3", `no input "in3" is connected`},
		{"input_columns names a missing column", logicalDoc(`{"operation": "or", "input_columns": {"in2": "state"}}`, 2, d1, d2), "logic", "properties.input_columns.in2", `stage "s2" has no column "state"`},
		{"input_columns value not a string", logicalDoc(`{"operation": "or", "input_columns": {"in2": 1}}`, 2, d1, d2), "logic", "properties.input_columns.in2", "expected string"},
		{"input_columns conflicts with the input's column",
			probeDoc("logic", cols, d2, `{"name": "logic", "type": "logical", "inputs": {"in1": {"stage": "s1", "column": "alt"}, "in2": {"stage": "s2", "column": "value"}}, "outputs": {"out": "out"}, "properties": {"operation": "or", "input_columns": {"in1": "value"}}}`),
			"logic", "properties.input_columns.in1", `conflicts with column "alt"`},
		{"significant key missing from in2", logicalDoc(`{"operation": "or", "significant_keys": ["interface"]}`, 2, d1, feedSrc("s2", "f", "dss", "system_id")),
			"logic", "properties.significant_keys[0]", `input stage "s2" has no property "interface"`},
	})
}

// osVersionComplianceLogical is the logical processor of Apstra 4.2.1's
// OS_Version_Compliance probe (Juniper-SE/Apstra_IBA_Probes,
// release_4.2.1/OS_Version_Compliance/Content/probes/os-version-compliance.json),
// verbatim.
const osVersionComplianceLogical = `{
            "name": "Switches_Out_Of_Compliance",
            "type": "logical",
            "properties": {
                "significant_keys": [],
                "enable_streaming": false,
                "operation": "or"
            },
            "inputs": {
                "in2": {
                    "stage": "Switches_Running_Excluded_Versions",
                    "column": "value"
                },
                "in1": {
                    "stage": "Switches_Running_Non_Hardened_Versions",
                    "column": "value"
                }
            },
            "outputs": {
                "out": "Switches_Out_Of_Compliance"
            }
        }`

// TestLogicalOSVersionCompliance runs the exported logical processor with
// test sources in place of its upstream state_check stages (DSS keyed by
// system_id and the collector's Hostname key): the empty significant_keys
// Apstra writes must pair by the inputs' keys, not collapse every item.
func TestLogicalOSVersionCompliance(t *testing.T) {
	const corpus = "../../../shared/corpus/apstra-4.2.1-probes/os-version-compliance.json"
	if raw, err := os.ReadFile(corpus); err == nil {
		var probeDoc struct{ Processors []json.RawMessage }
		if err := json.Unmarshal(raw, &probeDoc); err != nil {
			t.Fatal(err)
		}
		found := false
		for _, p := range probeDoc.Processors {
			var buf, want bytes.Buffer
			_ = json.Compact(&buf, p)
			_ = json.Compact(&want, []byte(osVersionComplianceLogical))
			found = found || buf.String() == want.String()
		}
		if !found {
			t.Errorf("the logical processor of %s differs from osVersionComplianceLogical", corpus)
		}
	}
	src := func(stage string) string {
		return `{"name": "` + stage + `", "type": "stage_input", "inputs": {}, "outputs": {"out": "` + stage + `"}, "properties": {"source": "osv.` + stage + `", "stage_type": "dss", "keys": ["system_id", "Hostname"]}}`
	}
	doc := probeDoc("OS Version Compliance Check", src("Switches_Running_Excluded_Versions"), src("Switches_Running_Non_Hardened_Versions"), osVersionComplianceLogical)
	plan, probs := probe.CompileJSON([]byte(doc))
	if len(probs) > 0 {
		t.Fatalf("does not validate:\n%v", probs)
	}
	if plan.Doc.Dialect != probe.Dialect4x || len(plan.Warnings) != 0 {
		t.Errorf("dialect %q, warnings %q; want 4.x and none", plan.Doc.Dialect, plan.Warnings)
	}
	sw := func(sys, host, v string) feedItem { return feedItem{Props: []string{sys, host}, Str: v} }
	runPairSteps(t, doc, []pairStep{{name: "or of the two checks",
		feeds: map[string][]feedItem{
			"osv.Switches_Running_Excluded_Versions":     {sw("S1", "leaf1", "true"), sw("S2", "leaf2", "false"), sw("S3", "spine1", "false")},
			"osv.Switches_Running_Non_Hardened_Versions": {sw("S1", "leaf1", "false"), sw("S2", "leaf2", "true"), sw("S3", "spine1", "false")}},
		want: map[string]map[string]any{"Switches_Out_Of_Compliance": {
			"system_id=S1,Hostname=leaf1": "true", "system_id=S2,Hostname=leaf2": "true", "system_id=S3,Hostname=spine1": "false"}}}})
}

func BenchmarkLogical10k(b *testing.B) { benchTicks(b, pairingBenchDocs(10000)["logical"]) }
