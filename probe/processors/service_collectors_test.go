package processors

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/probe-agent/probe-agent/probe"
)

// collectorStage compiles a one-processor probe and returns its output stage.
func collectorStage(t *testing.T, typ, outputs, props string) (*probe.Plan, *probe.Instance) {
	t.Helper()
	doc := probeDoc("c", fmt.Sprintf(`{"name": "c", "type": %q, "outputs": %s, "properties": {%s}}`, typ, outputs, props))
	plan, probs := probe.CompileJSON([]byte(doc))
	if len(probs) > 0 {
		t.Fatalf("problems:\n%v", probs)
	}
	inst, err := probe.NewInstance(plan)
	if err != nil {
		t.Fatal(err)
	}
	return plan, inst
}

func TestServiceCollectorTypes(t *testing.T) {
	const ospfMap = `"value_map": {"0": "Attempt", "1": "Full", "2": "Down"}`
	tests := []struct {
		name, typ, outputs, props string
		stage                     string
		wantType                  probe.StageType
		wantKeys                  []string
		wantStates                []string
	}{
		{"extensible dynamic number", "extensible_data_collector", `{"out": "o"}`,
			`"service_name": "System_Uptime", "data_type": "dynamic number", "Device_Profile": "str(DP.label)", "keys": []`,
			"o", probe.NS, []string{"system_id", "Device_Profile"}, nil},
		{"extensible dynamic discrete state: value_map values are the states", "extensible_data_collector", `{"out": "o"}`,
			`"service_name": "OSPF", "data_type": "dynamic discrete state", ` + ospfMap,
			"o", probe.DSS, []string{"system_id"}, []string{"Attempt", "Down", "Full"}},
		{"extensible per-column value_map", "extensible_data_collector", `{"out": "o"}`,
			`"service_name": "Flap", "data_type": "dynamic", "value_map": {"value": {"0": "unknown", "1": "flapping"}}`,
			"o", probe.DSS, []string{"system_id"}, []string{"flapping", "unknown"}},
		{"extensible text, keys first then others sorted", "extensible_data_collector", `{"out": "o"}`,
			`"service_name": "OS_Version", "data_type": "text", "keys": ["Target", "Source"], "Source": "a.x", "Target": "b.x", "Rack": "r.label"`,
			"o", probe.TS, []string{"system_id", "Target", "Source", "Rack"}, nil},
		{"extensible bare static without value_map is a number", "extensible_data_collector", `{"out": "o"}`,
			`"service_name": "s", "data_type": "static"`, "o", probe.NS, []string{"system_id"}, nil},
		{"extensible table_dss", "extensible_data_collector", `{"out": "o"}`,
			`"service_name": "s", "data_type": "table_dss", ` + ospfMap, "o", probe.DSS, []string{"system_id"}, []string{"Attempt", "Down", "Full"}},
		{"generic dss", "generic_data_collector", `{"out": "o"}`,
			`"service_name": "s", "data_type": "dss", "key": "intf.if_name", "value_map": {"0": "missing", "1": "forwarding"}`,
			"o", probe.DSS, []string{"system_id", "key"}, []string{"forwarding", "missing"}},
		{"generic default ns", "generic_data_collector", `{"out": "o"}`,
			`"service_name": "s", "role": "link.role"`, "o", probe.NS, []string{"system_id", "role"}, nil},
		{"service interface", "service_data_collector", `{"out": "o"}`,
			`"service_name": "interface", "key": "intf.if_name"`, "o", probe.DSS, []string{"system_id", "interface"}, []string{"up", "down"}},
		{"service bgp", "service_data_collector", `{"out": "o"}`,
			`"service_name": "bgp", "peer": "p.label"`, "o", probe.DSS,
			[]string{"system_id", "source_ip", "source_asn", "dest_ip", "dest_asn", "vrf_name", "address_family", "peer"}, []string{"up", "down"}},
		{"service hostname", "service_data_collector", `{"out": "o"}`,
			`"service_name": "hostname"`, "o", probe.TS, []string{"system_id", "hostname_type"}, nil},
		{"service custom with data_type", "service_data_collector", `{"out": "o"}`,
			`"service_name": "custom", "data_type": "ts"`, "o", probe.TS, []string{"system_id"}, nil},
		{"evpn type 3", "evpn_type3", `{"out": "o"}`,
			`"service_name": "evpn3", "monitored_vns": "'*'"`, "o", probe.DSSTS, []string{"system_id", "monitored_vns"}, routeStates},
		{"evpn type 5", "evpn_type5", `{"out": "o"}`, `"service_input": "''"`, "o", probe.DSSTS, []string{"system_id"}, routeStates},
		{"vxlan floodlist routes", "vxlan_floodlist", `{"routes": "r", "missing": "m"}`, `"service_interval": 120`, "r", probe.DSS, []string{"system_id"}, routeStates},
		{"vxlan floodlist missing", "vxlan_floodlist", `{"routes": "r", "missing": "m"}`, ``, "m", probe.NS, []string{"system_id"}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			plan, inst := collectorStage(t, tt.typ, tt.outputs, tt.props)
			st, ok := inst.Stage(tt.stage)
			if !ok {
				t.Fatalf("no stage %q", tt.stage)
			}
			if st.Type != tt.wantType {
				t.Errorf("type %s, want %s", st.Type, tt.wantType)
			}
			if strings.Join(st.Keys, ",") != strings.Join(tt.wantKeys, ",") {
				t.Errorf("keys %q, want %q", st.Keys, tt.wantKeys)
			}
			if strings.Join(st.PossibleValues, ",") != strings.Join(tt.wantStates, ",") {
				t.Errorf("possible values %q, want %q", st.PossibleValues, tt.wantStates)
			}
			if c := plan.CentralOnly(); len(c) != 1 || c[0] != "c" {
				t.Errorf("central-only processors %v, want [c]", c)
			}
			err := inst.Tick(&probe.Tick{Time: t0})
			if err == nil || !strings.Contains(err.Error(), "central-only") {
				t.Errorf("running it on a device: error %v, want a central-only error", err)
			}
			if state, msg := inst.State(); state != probe.StateError || !strings.Contains(msg, `processor "c"`) {
				t.Errorf("state %s %q, want error naming the processor", state, msg)
			}
		})
	}
}

func TestServiceCollectorsAreCentralOnly(t *testing.T) {
	for _, name := range []string{"service_data_collector", "generic_data_collector", "extensible_data_collector", "evpn_type3", "evpn_type5", "vxlan_floodlist"} {
		spec, ok := probe.Lookup(name)
		if !ok {
			t.Fatalf("%s not registered", name)
		}
		if !spec.CentralOnly || !strings.Contains(spec.Description, "never\nproduces data on a device") {
			t.Errorf("%s: CentralOnly %v, description does not say it never produces data on a device", name, spec.CentralOnly)
		}
		if _, err := json.Marshal(spec); err != nil {
			t.Errorf("%s: introspection: %v", name, err)
		}
	}
}

// Downstream processors type-check against the collectors' outputs.
func TestServiceCollectorDownstream(t *testing.T) {
	doc := `{"label": "d", "processors": [
		{"name": "c", "type": "extensible_data_collector", "outputs": {"out": "alarms"},
		 "properties": {"service_name": "System_Alarms", "data_type": "dynamic discrete state", "value_map": {"1": "Major", "2": "Minor"}}},
		{"name": "n", "type": "extensible_data_collector", "outputs": {"out": "uptime"},
		 "properties": {"service_name": "System_Uptime", "data_type": "dynamic number"}},
		{"name": "r", "type": "range_check", "inputs": {"in": {"stage": "uptime", "column": "value"}}, "outputs": {"out": "rebooted"},
		 "properties": {"range": {"max": 60}}},
		{"name": "states", "type": "range_check", "inputs": {"in": {"stage": "alarms", "column": "value"}}, "outputs": {"out": "x"},
		 "properties": {"range": {"min": 2}}},
		{"name": "bad", "type": "std_dev", "inputs": {"in": {"stage": "alarms", "column": "value"}}, "outputs": {"out": "y"}}]}`
	_, probs := probe.CompileJSON([]byte(doc))
	assertProblem(t, probs, "bad", "inputs.in", "is of type dss")
}

func TestServiceCollectorValidation(t *testing.T) {
	tests := []struct {
		name, typ, props, field, msg string
	}{
		{"unknown data_type", "extensible_data_collector", `"service_name": "s", "data_type": "float"`, "properties.data_type", "is not one of"},
		{"generic has no text data_type", "generic_data_collector", `"service_name": "s", "data_type": "text"`, "properties.data_type", "is not one of"},
		{"missing service_name", "extensible_data_collector", `"data_type": "number"`, "properties.service_name", "required"},
		{"keys names no additional property", "extensible_data_collector", `"service_name": "s", "keys": ["Interface"]`, "properties.keys[0]", `"Interface" is not an additional property`},
		{"keys names a defined property", "extensible_data_collector", `"service_name": "s", "keys": ["service_name"]`, "properties.keys[0]", "not an additional property"},
		{"value_map value not a string", "extensible_data_collector", `"service_name": "s", "data_type": "dss", "value_map": {"0": 1}`, "properties.value_map.0", "expected a state name"},
		{"value_map column value not a string", "extensible_data_collector", `"service_name": "s", "data_type": "dss", "value_map": {"value": {"0": 1}}`, "properties.value_map.value.0", "expected a state name"},
		{"additional property not a string", "extensible_data_collector", `"service_name": "s", "Rack": 7`, "properties.Rack", "expected string"},
		{"execution_count of a wrong type", "extensible_data_collector", `"service_name": "s", "execution_count": true`, "properties.execution_count", "expected string or number"},
		{"service key clash", "service_data_collector", `"service_name": "interface", "interface": "intf.if_name"`, "properties.interface", "is a key of service"},
		{"evpn input of a wrong type", "evpn_type3", `"service_name": "s"`, "inputs.in", "is of type ts"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			procs := []string{fmt.Sprintf(`{"name": "c", "type": %q, "outputs": {"out": "o"}, "properties": {%s}}`, tt.typ, tt.props)}
			if tt.field == "inputs.in" {
				procs = []string{source("f", "ts"), fmt.Sprintf(`{"name": "c", "type": %q, "inputs": {"in": "src"}, "outputs": {"out": "o"}, "properties": {%s}}`, tt.typ, tt.props)}
			}
			_, probs := probe.CompileJSON([]byte(probeDoc("bad", procs...)))
			assertProblem(t, probs, "c", tt.field, tt.msg)
		})
	}
}
