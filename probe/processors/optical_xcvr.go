package processors

import (
	"github.com/probe-agent/probe-agent/probe"
)

// Apstra 4.x's optical_xcvr reads the built-in optical transceiver service
// (service_name "optical_xcvr"): the digital optical monitoring readings of
// each pluggable (SFF-8472 / SFF-8636 / CMIS diagnostics: temperature,
// voltage, per-lane bias and optical powers) with the module's own warning
// and alarm thresholds. Its two table outputs are "interface" (one item per
// transceiver) and "lane" (one per optical lane). Exported probes give the
// columns in their stage units (rx_power, tx_power, tx_bias per lane;
// temperature, voltage, vendor, part_number, wave_length and the
// *_high_alarm, *_low_warn, *_has_high_warn... thresholds and flags per
// interface). No collector of ours reads transceiver diagnostics yet, so it
// is central-only like the other service collectors.
func init() {
	props := sourceProps()
	delete(props, "interface")
	schema := probe.Merge(streamingProps(), props, map[string]*probe.Schema{
		"service_name":     probe.Prop("string").Def("optical_xcvr").Desc("Telemetry service: optical_xcvr."),
		"service_interval": probe.Prop("string", "number").Def("600").Desc("Polling period in seconds (a number or an expression)."),
		"service_input":    probe.Prop("string").Def("''").Desc("Expression passed to the collector as its input."),
		"execution_count":  probe.Prop("string", "number").Def("-1").Desc("Number of collections; -1 is forever."),
	})
	schema.AdditionalProperties = probe.Prop("string").Desc("Additional item key, an expression over graph query variables.")
	probe.Register(&probe.Spec{
		Name:  "optical_xcvr",
		Label: "Optical Transceiver",
		Description: `Optical Transceiver Processor (Apstra 4.x).

Collects the optical transceiver service's digital optical monitoring
readings with the modules' own warning and alarm thresholds. Outputs, both NS
tables and optional: interface, one item per transceiver keyed by system_id,
interface and any additional properties (temperature, voltage, vendor,
part_number, vendor_sn, media_type, fiber_type, wave_length, the thresholds
such as temperature_high_alarm or rx_power_low_warn, and the flags such as
voltage_has_high_warn); lane, one item per optical lane, keyed also by lane
(rx_power, tx_power, tx_bias and their flags). The columns are the ones the
probe reads and gives units for, as the service's schema is not known here;
text columns (vendor, part_number, ...) are read as text where a processor
reads them as text.
` + centralOnlyNote + `
probe-agent's collectors do not read transceiver diagnostics yet (they would
come from ethtool's module EEPROM or the OpenConfig transceiver model).`,
		Outputs: map[string]probe.Port{
			"interface": {Types: []probe.StageType{probe.NS}},
			"lane":      {Types: []probe.StageType{probe.NS}},
		},
		Schema:      schema,
		CentralOnly: true,
		New:         newOpticalXcvr,
	})
}

func newOpticalXcvr(b *probe.Build) (probe.Processor, error) {
	checkExpressions(b, "system_id", "service_input", "service_interval", "execution_count")
	extra := extraKeys(b)
	keys := append([]string{"system_id", "interface"}, extra...)
	b.Output("interface", probe.NS, keys, portColumns(b, "interface")...)
	b.Output("lane", probe.NS, append(append([]string{}, keys[:2]...), append([]string{"lane"}, extra...)...), portColumns(b, "lane")...)
	if b.Failed() {
		return nil, nil
	}
	if !b.Connected("interface") && !b.Connected("lane") {
		b.Errorf("outputs", "optical_xcvr needs at least one output (interface, lane)")
		return nil, nil
	}
	return &centralOnly{name: "optical_xcvr"}, nil
}

// portColumns are the columns of a central-only table output: the ones the
// probe reads or gives units for, numbers unless a consumer reads text.
func portColumns(b *probe.Build, port string) []probe.Column {
	var cols []probe.Column
	for _, name := range b.WantedColumns(port) {
		k := probe.Number
		for _, c := range b.Consumers(port) {
			if c.Column == name && !c.Accepts(probe.NS) && c.Accepts(probe.TS) {
				k = probe.Text
			}
		}
		cols = append(cols, probe.Column{Name: name, Kind: k})
	}
	return cols
}
