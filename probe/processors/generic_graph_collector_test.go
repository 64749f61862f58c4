package processors

import (
	"strings"
	"testing"
	"time"

	"github.com/probe-agent/probe-agent/probe"
)

func TestGenericGraphCollector(t *testing.T) {
	tests := []struct {
		name, props string
		wantType    probe.StageType
		wantKeys    []string
	}{
		{"number", `"graph_query": "node('virtual_network', name='vn')", "value": "vn.vn_id", "vn": "vn.label"`, probe.NS, []string{"vn"}},
		{"discrete state", `"graph_query": ["node('system', name='s')"], "value": "s.deploy_mode", "data_type": "dss", "system": "s.label", "role": "s.role"`, probe.DSS, []string{"role", "system"}},
		{"text", `"graph_query": "node('system', name='s')", "value": "s.hostname", "data_type": "ts"`, probe.TS, []string{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			doc := probeDoc("g", `{"name": "g", "type": "generic_graph_collector", "outputs": {"out": "o"}, "properties": {`+tt.props+`}}`)
			plan, probs := probe.CompileJSON([]byte(doc))
			if len(probs) > 0 {
				t.Fatal(probs)
			}
			if len(plan.Warnings) != 1 || !strings.Contains(plan.Warnings[0], "needs a topology") {
				t.Errorf("warnings %q, want one about the topology", plan.Warnings)
			}
			if c := plan.CentralOnly(); len(c) != 0 {
				t.Errorf("central-only %v; the graph collector needs only the graph", c)
			}
			inst, err := probe.NewInstance(plan)
			if err != nil {
				t.Fatal(err)
			}
			st, _ := inst.Stage("o")
			if st.Type != tt.wantType || strings.Join(st.Keys, ",") != strings.Join(tt.wantKeys, ",") {
				t.Errorf("stage %s keyed %q, want %s keyed %q", st.Type, st.Keys, tt.wantType, tt.wantKeys)
			}
			h := &harness{t: t, inst: inst, now: t0}
			err = h.tickErr(time.Second)
			want := "generic_graph_collector needs a topology: graph queries are resolved by the controller"
			if err == nil || !strings.Contains(err.Error(), want) {
				t.Errorf("tick error %v, want %q", err, want)
			}
			if state, _ := inst.State(); state != probe.StateError {
				t.Errorf("state %s, want error", state)
			}
		})
	}
}

func TestGenericGraphCollectorValidation(t *testing.T) {
	tests := []struct{ name, props, field, msg string }{
		{"no value", `"graph_query": "node('system', name='s')"`, "properties.value", "required"},
		{"no graph query", `"value": "1"`, "properties.graph_query", "required"},
		{"empty graph query", `"graph_query": [], "value": "1"`, "properties.graph_query", "needs a graph query"},
		{"bad data_type", `"graph_query": "q", "value": "1", "data_type": "texts"`, "properties.data_type", "is not one of"},
		{"additional property not a string", `"graph_query": "q", "value": "1", "vlan": 10`, "properties.vlan", "expected string"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			doc := probeDoc("bad", `{"name": "g", "type": "generic_graph_collector", "outputs": {"out": "o"}, "properties": {`+tt.props+`}}`)
			_, probs := probe.CompileJSON([]byte(doc))
			assertProblem(t, probs, "g", tt.field, tt.msg)
		})
	}
}
