package processors

import (
	"fmt"
	"maps"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/probe-agent/probe-agent/probe"
	"github.com/probe-agent/probe-agent/probe/expr"
)

// Apstra's service collectors read device telemetry through Apstra's
// telemetry services (built-in services and custom collectors registered in
// the telemetry service registry). A device has neither, so these processors
// are central-only: validation accepts every property seen in Apstra's
// documentation and exported probes and types their outputs so that the
// processors downstream type-check, but they never produce data, and their
// Eval fails if a device is ever asked to run one.

const centralOnlyNote = `
Central-only: this processor needs Apstra's telemetry services and never
produces data on a device. probe-agent validates it, types its output so that
the processors after it type-check, and reports it as central-only; running it
on a device is an error.`

func init() {
	serviceData := collectorSpec{
		name:  "service_data_collector",
		label: "Service Data Collector",
		about: `Service Data Collector Processor.

Collects the data of a built-in telemetry service (service_name: interface,
lldp, bgp, hostname), one item per graph query match (or per group with
query_group_by), keyed by system_id, the service's own keys and any additional
properties. The output type follows the service (inferred, not documented per
service): interface and bgp give DSS of "up"/"down", lldp and hostname give TS,
any other service NS unless data_type says otherwise. Service keys: interface
and lldp "interface"; bgp "source_ip", "source_asn", "dest_ip", "dest_asn",
"vrf_name", "address_family"; hostname "hostname_type" (from the 6.x Service
Collector page).`,
		dataTypes: []any{"ns", "dss", "ts"},
		extra: map[string]*probe.Schema{
			"service_name": probe.Prop("string").Desc("Built-in service: interface, lldp, bgp or hostname."),
			"key":          probe.Prop("string").Desc("Expression giving the telemetry key of a query match."),
			"data_type":    probe.Prop("string", "null").Def(nil).OneOf("ns", "dss", "ts", nil).Desc("Value type, when the service does not imply one."),
		},
		required: []string{"service_name"},
	}
	generic := collectorSpec{
		name:  "generic_data_collector",
		label: "Generic Service Data Collector",
		about: `Generic Service Data Collector Processor.

Collects the data of a custom telemetry service (service_name), one item per
graph query match (or per group with query_group_by), keyed by system_id,
"key" when the key property is set, and any additional properties. data_type
gives the output: ns -> NS, dss -> DSS (value_map translates the service's
integers into states; its values are the possible states), ts -> TS.`,
		dataTypes: []any{"ns", "dss", "ts"},
		extra: map[string]*probe.Schema{
			"key": probe.Prop("string").Desc("Expression giving the telemetry key of a query match."),
		},
		required: []string{"service_name"},
	}
	extensible := collectorSpec{
		name:  "extensible_data_collector",
		label: "Extensible Service Data Collector",
		about: `Extensible Service Data Collector Processor.

Collects the data of a custom telemetry service (service_name, polled every
service_interval seconds with service_input, execution_count times; -1 is
forever). data_type gives the output, a table: number, dynamic number -> NS;
discrete state, dynamic discrete state -> DSS, whose possible values are the
values of value_map (flat {"0": "down"} or per column {"value": {...}}); text,
dynamic text -> TS; ns, dss, ts and the table_* forms likewise. The bare
static and dynamic forms take their type from the service schema, which is not
available here: they are typed DSS when value_map is set and NS otherwise.
Items are keyed by system_id, then the properties named in keys (each must be
an additional property: its expression gives the telemetry key), then the
other additional properties, sorted. With a dynamic data_type the collector
adds its own keys, which are not known before it runs.`,
		dataTypes: []any{
			"number", "discrete state", "text",
			"dynamic number", "dynamic discrete state", "dynamic text",
			"static", "dynamic",
			"ns", "dss", "ts", "table_ns", "table_dss", "table_ts",
		},
		extra: map[string]*probe.Schema{
			"keys":             probe.Prop("array").Def([]any{}).Of(probe.Prop("string")).Desc("Additional properties whose values form the telemetry key."),
			"ingestion_filter": probe.Prop("object").Def(map[string]any{}).Desc("Ingest metrics whose identity is only partly specified."),
			"collection_type":  probe.Prop("string").Desc("Which items the collector reports (\"\\\"any\\\"\" seen)."),
		},
		required: []string{"service_name"},
	}
	evpn3 := collectorSpec{
		name:  "evpn_type3",
		label: "EVPN Type 3",
		about: `EVPN Type 3 Processor.

Tracks EVPN Type-3 (inclusive multicast) routes: for each VXLAN virtual network
on the leafs it derives the expected routes and compares them with the ones a
custom collector service observes. Output out is DSSTS, each route in state
expected, missing or unexpected, keyed by system_id and additional properties.
The API type string, port names and output keys are inferred (Apstra documents
only the GUI parameters: execution count, monitored VNs, service interval,
service name); the monitored-VN property's API name is not documented and is
accepted, like any other, as an additional property. The optional input in
(NS or DSS) follows the documented input types.`,
		evpn: true,
	}
	evpn5 := evpn3
	evpn5.name, evpn5.label = "evpn_type5", "EVPN Type 5"
	evpn5.about = strings.NewReplacer("EVPN Type 3", "EVPN Type 5", "Type-3 (inclusive multicast) routes", "Type-5 (IP prefix) routes",
		"for each VXLAN virtual network\non the leafs", "for each routing zone on\nthe leafs").Replace(evpn3.about)
	flood := collectorSpec{
		name:  "vxlan_floodlist",
		label: "VXLAN Floodlist",
		about: `VXLAN Floodlist Processor.

Checks each leaf's VXLAN flood lists against the remote VTEPs the blueprint
expects, through a custom collector service. Outputs (both optional, names
inferred from the GUI's "Routes" and "Missing"): routes, DSS of
expected/missing/unexpected per flood-list entry; missing, NS, the number of
missing entries. Keyed by system_id and additional properties. The API type
string is inferred.`,
		outputs: map[string]probe.Port{
			"routes":  {Types: []probe.StageType{probe.DSS}},
			"missing": {Types: []probe.StageType{probe.NS}},
		},
	}
	for _, c := range []collectorSpec{serviceData, generic, extensible, evpn3, evpn5, flood} {
		c.register()
	}
}

// collectorSpec describes one central-only collector type.
type collectorSpec struct {
	name, label, about string
	dataTypes          []any // accepted data_type values; nil when there is no data_type
	extra              map[string]*probe.Schema
	required           []string
	evpn               bool
	outputs            map[string]probe.Port // nil: one output "out" typed by data_type
}

var routeStates = []string{"expected", "missing", "unexpected"}

func (c collectorSpec) register() {
	props := sourceProps()
	delete(props, "interface")
	common := map[string]*probe.Schema{
		"service_name":     probe.Prop("string").Desc("Telemetry service to collect."),
		"service_interval": probe.Prop("string", "number").Def("60").Desc("Polling period in seconds (a number or an expression)."),
		"service_input":    probe.Prop("string").Def("''").Desc("Expression passed to the collector as its input."),
		"execution_count":  probe.Prop("string", "number").Def("-1").Desc("Number of collections; -1 is forever."),
		"value_map":        probe.Prop("object", "null").Def(nil).Desc("Integer-string to state map, or per column {\"value\": {...}}."),
	}
	if c.dataTypes != nil {
		common["data_type"] = probe.Prop("string").Def(c.dataTypes[0]).OneOf(c.dataTypes...).Desc("Value type of the output.")
	}
	schema := probe.Merge(streamingProps(), props, common, c.extra)
	schema.Required = c.required
	schema.AdditionalProperties = probe.Prop("string").Desc("Additional item key, an expression over graph query variables.")

	outputs := c.outputs
	var inputs map[string]probe.Port
	switch {
	case c.evpn:
		outputs = map[string]probe.Port{"out": {Required: true, Types: []probe.StageType{probe.DSSTS}}}
		inputs = map[string]probe.Port{"in": {Types: []probe.StageType{probe.NS, probe.DSS}}}
	case outputs == nil:
		outputs = map[string]probe.Port{"out": {Required: true, Types: []probe.StageType{probe.NS, probe.DSS, probe.TS}}}
	}
	probe.Register(&probe.Spec{
		Name:        c.name,
		Label:       c.label,
		Description: c.about + "\n" + centralOnlyNote,
		Inputs:      inputs,
		Outputs:     outputs,
		Schema:      schema,
		CentralOnly: true,
		New:         c.build,
	})
}

func (c collectorSpec) build(b *probe.Build) (probe.Processor, error) {
	checkExpressions(b, "system_id", "key", "service_input", "service_interval", "execution_count", "collection_type")
	keys := collectorKeys(b, c.name == "extensible_data_collector")
	states := valueMapStates(b)
	p := &centralOnly{name: c.name}
	switch {
	case c.evpn:
		b.Output("out", probe.DSSTS, keys).PossibleValues = routeStates
	case c.outputs != nil:
		if st := b.Output("routes", probe.DSS, keys); st != nil {
			st.PossibleValues = routeStates
		}
		b.Output("missing", probe.NS, keys)
	default:
		kind, ok := collectorKind(b, c.name, states != nil)
		if !ok {
			return nil, nil
		}
		if c.name == "service_data_collector" {
			keys = serviceKeys(b, keys)
		}
		schemaTyped := false
		if dt, _ := b.Props["data_type"].(string); dt == "static" || dt == "dynamic" {
			// The type comes from the service's schema, which a device does
			// not have: the probe's consumers say what they read.
			schemaTyped = true
			kind = consumerKind(b, "value", kind, states != nil)
		}
		st := b.Output("out", probe.StageType{Kind: kind, Set: true}, keys, wantedColumns(b, kind, schemaTyped, states != nil)...)
		if kind == probe.DiscreteState {
			st.PossibleValues, st.StateCodes = states, valueMapCodes(b)
			if states == nil && c.name == "service_data_collector" {
				st.PossibleValues = []string{"up", "down"}
			}
		}
	}
	if b.Failed() {
		return nil, nil
	}
	return p, nil
}

// wantedColumns are the columns of a collector's output beyond "value": the
// ones its consumers read and its stage metadata names (the service's schema
// defines them in Apstra; a device has no schema, so the probe is what tells
// them). Each has the stage's kind, or, when the schema types the data, the
// kind its consumers accept.
func wantedColumns(b *probe.Build, kind probe.Kind, schemaTyped, hasValueMap bool) []probe.Column {
	var cols []probe.Column
	for _, name := range b.WantedColumns("out") {
		k := kind
		if schemaTyped {
			k = consumerKind(b, name, kind, hasValueMap)
		}
		cols = append(cols, probe.Column{Name: name, Kind: k})
	}
	return cols
}

// consumerKind picks the value kind of one column of the output whose type
// the service's schema would give: the default when every consumer of the
// column accepts it, otherwise the first of discrete state (with a
// value_map) or text, number, discrete state that they all accept.
func consumerKind(b *probe.Build, column string, def probe.Kind, hasValueMap bool) probe.Kind {
	var readers []probe.Consumer
	for _, c := range b.Consumers("out") {
		if c.Column == column {
			readers = append(readers, c)
		}
	}
	order := []probe.Kind{def, probe.Text, probe.Number, probe.DiscreteState}
	if hasValueMap {
		order = []probe.Kind{def, probe.DiscreteState, probe.Text, probe.Number}
	}
	for _, k := range order {
		ok := true
		for _, c := range readers {
			if !c.Accepts(probe.StageType{Kind: k, Set: true}) {
				ok = false
			}
		}
		if ok {
			return k
		}
	}
	return def
}

// collectorKind is the value kind of a collector's output.
func collectorKind(b *probe.Build, typ string, hasValueMap bool) (probe.Kind, bool) {
	dt, _ := b.Props["data_type"].(string)
	if typ == "service_data_collector" && dt == "" {
		switch b.Props["service_name"] {
		case "interface", "bgp":
			return probe.DiscreteState, true
		case "lldp", "hostname":
			return probe.Text, true
		}
		return probe.Number, true
	}
	if k, ok := DataTypeKind(dt); ok {
		return k, true
	}
	if dt == "static" || dt == "dynamic" {
		if hasValueMap {
			return probe.DiscreteState, true
		}
		return probe.Number, true
	}
	b.Errorf("properties.data_type", "unknown data_type %q", dt)
	return 0, false
}

// DataTypeKind maps a collector data_type (ns, dss, ts, their table_*
// forms, and the extensible collector's number / discrete state / text with
// or without "dynamic ") to a value kind.
func DataTypeKind(dt string) (probe.Kind, bool) {
	switch strings.TrimPrefix(strings.TrimPrefix(dt, "dynamic "), "table_") {
	case "ns", "number":
		return probe.Number, true
	case "dss", "discrete state":
		return probe.DiscreteState, true
	case "ts", "text":
		return probe.Text, true
	}
	return 0, false
}

// collectorKeys is the key list of a collector's output: system_id, then
// (with ordered) the properties named in keys, then the remaining additional
// properties sorted. Each name in keys must be an additional property.
func collectorKeys(b *probe.Build, ordered bool) []string {
	extra := extraKeys(b)
	sort.Strings(extra)
	keys := []string{"system_id"}
	seen := map[string]bool{"system_id": true}
	if ordered {
		list, _ := b.Props["keys"].([]any)
		for i, k := range list {
			name, _ := k.(string)
			if !slices.Contains(extra, name) {
				b.Errorf(fmt.Sprintf("properties.keys[%d]", i), "%q is not an additional property of this processor (additional properties: %s)", name, strings.Join(extra, ", "))
				continue
			}
			if !seen[name] {
				keys = append(keys, name)
				seen[name] = true
			}
		}
	}
	if _, ok := b.Props["key"]; ok {
		keys = append(keys, "key")
		seen["key"] = true
	}
	for _, k := range extra {
		if !seen[k] {
			keys = append(keys, k)
			seen[k] = true
		}
	}
	return keys
}

// serviceKeys adds the keys of a built-in service after system_id.
func serviceKeys(b *probe.Build, keys []string) []string {
	var svc []string
	switch b.Props["service_name"] {
	case "interface", "lldp":
		svc = []string{"interface"}
	case "bgp":
		svc = []string{"source_ip", "source_asn", "dest_ip", "dest_asn", "vrf_name", "address_family"}
	case "hostname":
		svc = []string{"hostname_type"}
	}
	out := append([]string{keys[0]}, svc...)
	for _, k := range keys[1:] {
		if k == "key" && len(svc) > 0 {
			continue // the service names its own keys
		}
		if slices.Contains(svc, k) {
			b.Errorf("properties."+k, "%q is a key of service %q; an additional property cannot have that name", k, b.Props["service_name"])
			continue
		}
		out = append(out, k)
	}
	return out
}

// valueMapStates validates value_map and returns its states (the values of
// the flat form, or of the "value" column of the per-column form), sorted
// and without duplicates; nil without a value_map.
func valueMapStates(b *probe.Build) []string {
	vm, _ := b.Props["value_map"].(map[string]any)
	if len(vm) == 0 {
		return nil
	}
	set := map[string]bool{}
	for _, k := range slices.Sorted(maps.Keys(vm)) {
		switch v := vm[k].(type) {
		case string:
			set[v] = true
		case map[string]any: // per column
			for _, k2 := range slices.Sorted(maps.Keys(v)) {
				s, ok := v[k2].(string)
				if !ok {
					b.Errorf("properties.value_map."+k+"."+k2, "expected a state name (string)")
					continue
				}
				if k == "value" {
					set[s] = true
				}
			}
		default:
			b.Errorf("properties.value_map."+k, "expected a state name (string) or a per-column map")
		}
	}
	out := make([]string, 0, len(set))
	for s := range set {
		out = append(out, s)
	}
	sort.Strings(out)
	return out
}

// valueMapCodes gives the number behind each state of value_map (flat, or
// the "value" column of the per-column form) whose key is a number; nil when
// there is none.
func valueMapCodes(b *probe.Build) map[string]float64 {
	vm, _ := b.Props["value_map"].(map[string]any)
	if col, ok := vm["value"].(map[string]any); ok {
		vm = col
	}
	var out map[string]float64
	for _, k := range slices.Sorted(maps.Keys(vm)) {
		state, ok := vm[k].(string)
		f, err := strconv.ParseFloat(k, 64)
		if !ok || err != nil {
			continue
		}
		if out == nil {
			out = map[string]float64{}
		}
		if _, dup := out[state]; !dup {
			out[state] = f
		}
	}
	return out
}

// centralOnly is the built form of a central-only processor. It exists so
// that a plan validates and types its stages; it never runs on a device.
type centralOnly struct{ name string }

func (p *centralOnly) Eval(*probe.Tick) error {
	return fmt.Errorf("%s is central-only: it needs Apstra's telemetry services and produces no data on a device", p.name)
}

// checkExpressions parses the named string properties and every additional
// property of a source processor as expressions, reporting a syntax error
// (or a construct the evaluator does not allow) on the property. Evaluation
// needs graph query results, so it waits for the controller.
func checkExpressions(b *probe.Build, names ...string) {
	for _, k := range append(names, extraKeys(b)...) {
		s, ok := b.Props[k].(string)
		if !ok {
			continue
		}
		if _, err := expr.Parse(s); err != nil {
			b.Errorf("properties."+k, "%v", err)
		}
	}
}
