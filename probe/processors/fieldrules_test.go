package processors

import (
	"math"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/probe-agent/probe-agent/collectors"
	"github.com/probe-agent/probe-agent/probe"
)

// Tests for the acceptance rules that let real probe documents validate and
// run as Apstra runs them (docs/probes.md, "Accepting what Apstra accepts").

// bytesBatch is one system's interfaces with tx and rx byte counters.
func bytesBatch(layout uint64, counters map[string][2]uint64) *collectors.Batch {
	b := &collectors.Batch{Layout: layout}
	for _, name := range slices.Sorted(mapKeys(counters)) {
		ifc := collectors.Interface{SystemID: "leaf1", Name: name, SpeedBps: 1e10}
		ifc.Set(collectors.TxBytes, counters[name][0])
		ifc.Set(collectors.RxBytes, counters[name][1])
		b.Interfaces = append(b.Interfaces, ifc)
	}
	return b
}

func mapKeys[V any](m map[string]V) func(func(string) bool) {
	return func(yield func(string) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	}
}

const groupedProbe = `{"label": "grouped", "processors": [
	{"name": "c", "type": "if_counter", "outputs": {"out": "rate"},
	 "properties": {"counter_type": "tx_bytes", "interface": "intf.if_name", "system_id": "sys.system_id",
	  "group": "'spine' if link.role == 'spine_leaf' else 'server'", "description": "intf.description"}},
	{"name": "s", "type": "sum", "inputs": {"in": "rate"}, "outputs": {"out": "per_group"}, "properties": {"group_by": ["group"]}}]}`

// TestSourceExtraKeys: a source's additional properties are item keys that
// a grouping processor can group on (Apstra's Bandwidth Utilization probe
// sums by "group"). On a device on its own their values are empty; with the
// graph query resolved (Plan.Resolve), only the resolved interfaces are items
// and the keys carry the resolved values.
func TestSourceExtraKeys(t *testing.T) {
	plan, probs := probe.CompileJSON([]byte(groupedProbe))
	if len(probs) > 0 {
		t.Fatal(probs)
	}
	if len(plan.Warnings) != 2 || !strings.Contains(plan.Warnings[0], `"description" is an item key`) {
		t.Errorf("warnings %q: want one per extra key saying it is empty until resolved", plan.Warnings)
	}
	run := func(p *probe.Plan) (*probe.Instance, func(string) map[string]any) {
		inst, err := probe.NewInstance(p)
		if err != nil {
			t.Fatal(err)
		}
		h := &harness{t: t, inst: inst, now: t0}
		h.tick(bytesBatch(1, map[string][2]uint64{"eth1": {0, 0}, "eth2": {0, 0}, "eth3": {0, 0}}), 10*time.Second)
		h.tick(bytesBatch(1, map[string][2]uint64{"eth1": {1000, 0}, "eth2": {2000, 0}, "eth3": {4000, 0}}), 10*time.Second)
		return inst, h.values
	}
	inst, values := run(plan)
	if st, _ := inst.Stage("rate"); !slices.Equal(st.Keys, []string{"description", "group", "interface", "system_id"}) {
		t.Errorf("rate keys %v", st.Keys)
	}
	if got := values("per_group"); len(got) != 1 || got["group="] != 700.0 {
		t.Errorf("unresolved: per_group %v, want one empty group of 700", got)
	}

	res := probe.NewSourceItems([]string{"description", "group"})
	res.Add("leaf1", "eth1", []string{"to spine1", "spine"})
	res.Add("leaf1", "eth2", []string{"to server1", "server"})
	res.Add("leaf1", "eth2", []string{"duplicate match", "other"}) // merged: the first match wins
	_, values = run(plan.Resolve(probe.Resolution{"c": res}))
	wantRate := map[string]any{
		"description=to server1,group=server,interface=eth2,system_id=leaf1": 200.0,
		"description=to spine1,group=spine,interface=eth1,system_id=leaf1":   100.0,
	}
	if got := values("rate"); !equalValues(got, wantRate) {
		t.Errorf("resolved rate %v, want %v (eth3 is not selected)", got, wantRate)
	}
	if got := values("per_group"); !equalValues(got, map[string]any{"group=server": 200.0, "group=spine": 100.0}) {
		t.Errorf("resolved per_group %v", got)
	}
}

func equalValues(a, b map[string]any) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

// TestIfCounterBits: Apstra 3.x's rx_bits / tx_bits are bits per second.
func TestIfCounterBits(t *testing.T) {
	h := newHarness(t, `{"label": "bits", "processors": [
		{"name": "t", "type": "if_counter", "outputs": {"out": "tx"}, "properties": {"counter_type": "tx_bits"}},
		{"name": "r", "type": "if_counter", "outputs": {"out": "rx"}, "properties": {"counter_type": "rx_bits"}}]}`)
	h.tick(bytesBatch(1, map[string][2]uint64{"eth1": {0, 0}}), time.Second)
	h.tick(bytesBatch(1, map[string][2]uint64{"eth1": {125, 250}}), time.Second)
	assertValues(t, h, "tx", map[string]any{"interface=eth1,system_id=leaf1": 1000.0})
	assertValues(t, h, "rx", map[string]any{"interface=eth1,system_id=leaf1": 2000.0})
}

// TestCollectorShapeFromConsumers: with no service schema on the device, a
// service collector's columns are the ones the probe reads and gives units
// for, and a schema-typed (dynamic) output is a string stage where its
// consumers read strings.
func TestCollectorShapeFromConsumers(t *testing.T) {
	edc := func(dataType, valueMap string) string {
		return `{"name": "e", "type": "extensible_data_collector", "outputs": {"out": "svc"},
			"properties": {"service_name": "bfd", "data_type": "` + dataType + `", "value_map": ` + valueMap + `, "system_id": "system.system_id"}}`
	}
	tests := []struct {
		name    string
		procs   []string
		units   string
		columns map[string]probe.Kind // expected columns of svc, value included
		problem string
	}{
		{"match_string reads a column of a dynamic collector", []string{edc("dynamic", "{}"),
			`{"name": "m", "type": "match_string", "inputs": {"in": {"stage": "svc", "column": "state"}}, "outputs": {"out": "down"}, "properties": {"regexp": "'Down'"}}`},
			"", map[string]probe.Kind{"value": probe.Number, "state": probe.Text}, ""},
		{"match_string reads the value of a dynamic collector", []string{edc("dynamic", "{}"),
			`{"name": "m", "type": "match_string", "inputs": {"in": {"stage": "svc", "column": "value"}}, "outputs": {"out": "down"}, "properties": {"regexp": "'Down'"}}`},
			"", map[string]probe.Kind{"value": probe.Text}, ""},
		{"a value_map makes the read column discrete states", []string{edc("dynamic", `{"1": "up", "2": "down"}`),
			`{"name": "m", "type": "state_check", "inputs": {"in": {"stage": "svc", "column": "value"}}, "outputs": {"out": "down"}, "properties": {"state": "'down'"}}`},
			"", map[string]probe.Kind{"value": probe.DiscreteState}, ""},
		{"units name columns too", []string{edc("dynamic number", "{}"),
			`{"name": "s", "type": "sum", "inputs": {"in": {"stage": "svc", "column": "rx"}}, "outputs": {"out": "total"}}`},
			`, "stages": [{"name": "svc", "units": {"rx": "pps", "tx": "pps"}}]`, map[string]probe.Kind{"value": probe.Number, "rx": probe.Number, "tx": probe.Number}, ""},
		{"a declared type is not bent to fit", []string{edc("number", "{}"),
			`{"name": "m", "type": "match_string", "inputs": {"in": {"stage": "svc", "column": "value"}}, "outputs": {"out": "down"}, "properties": {"regexp": "'Down'"}}`},
			"", nil, "is of type ns, but match_string accepts"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			doc := `{"label": "c", "processors": [` + strings.Join(tt.procs, ",") + `]` + tt.units + `}`
			plan, probs := probe.CompileJSON([]byte(doc))
			if tt.problem != "" {
				if len(probs) == 0 || !strings.Contains(probs.Error(), tt.problem) {
					t.Fatalf("want a problem containing %q, got %v", tt.problem, probs)
				}
				return
			}
			if len(probs) > 0 {
				t.Fatal(probs)
			}
			inst, err := probe.NewInstance(plan)
			if err != nil {
				t.Fatal(err)
			}
			st, _ := inst.Stage("svc")
			got := map[string]probe.Kind{}
			for _, c := range st.Columns {
				got[c.Name] = c.Kind
			}
			if len(got) != len(tt.columns) {
				t.Errorf("columns %v, want %v", got, tt.columns)
			}
			for name, k := range tt.columns {
				if got[name] != k {
					t.Errorf("column %s is %v, want %v (all: %v)", name, got[name], k, got)
				}
			}
		})
	}
}

// TestTrafficMonitorApstraTables: Apstra 4.x's out (live) and
// interface_counters_average tables, with the speed property.
func TestTrafficMonitorApstraTables(t *testing.T) {
	h := newHarness(t, `{"label": "t", "processors": [{"name": "tm", "type": "traffic_monitor",
		"outputs": {"out": "live", "interface_counters_average": "avg"}, "properties": {"period": 20, "speed": 1000}}]}`)
	batch := func(tx, rx, pkts uint64) *collectors.Batch {
		b := bytesBatch(1, map[string][2]uint64{"eth1": {tx, rx}})
		b.Interfaces[0].Set(collectors.TxUnicastPackets, pkts)
		return b
	}
	h.tick(batch(0, 0, 0), 10*time.Second)
	h.tick(batch(1000, 500, 100), 10*time.Second) // live: 800 b/s tx, 400 rx, 10 pps
	live := h.stage("live")
	col := func(st *probe.Stage, name string) float64 {
		c, ok := st.ColumnIndex(name)
		if !ok {
			t.Fatalf("stage %s has no column %s", st.Name, name)
		}
		return st.Num(0, c)
	}
	for name, want := range map[string]float64{"value": 800, "tx_bps": 800, "rx_bps": 400, "tx_utilization": 80, "rx_utilization": 40, "tx_unicast_pps": 10} {
		if got := col(live, name); got != want {
			t.Errorf("live %s = %v, want %v", name, got, want)
		}
	}
	if got := col(live, "fcs_errors_per_second"); !math.IsNaN(got) {
		t.Errorf("an unreported counter's column is %v, want NaN (null)", got)
	}
	if avg := h.stage("avg"); avg.Valid(0) {
		t.Errorf("average before its first 20 s period ended")
	}
	h.tick(batch(3000, 500, 300), 10*time.Second) // 20 s: 3000 B tx, 500 B rx, 300 packets
	avg := h.stage("avg")
	for name, want := range map[string]float64{"tx_bps_average": 1200, "rx_bps_average": 200, "tx_utilization_average": 120, "tx_unicast_pps_average": 15} {
		if got := col(avg, name); got != want {
			t.Errorf("average %s = %v, want %v", name, got, want)
		}
	}
}

// TestSystemUtilizationAggregate: the 4.x form sums rates and averages and
// maxes utilisations per system; an input left out gives null columns.
func TestSystemUtilizationAggregate(t *testing.T) {
	h := newHarness(t, `{"label": "s", "processors": [
		{"name": "tm", "type": "traffic_monitor", "outputs": {"tx_bps": "tx", "tx_utilization": "txu"}, "properties": {"speed": 1000}},
		{"name": "su", "type": "system_utilization", "inputs": {"tx_bps": "tx", "tx_utilization": "txu"}, "outputs": {"out": "sys"}}]}`)
	h.tick(bytesBatch(1, map[string][2]uint64{"eth1": {0, 0}, "eth2": {0, 0}}), time.Second)
	h.tick(bytesBatch(1, map[string][2]uint64{"eth1": {10, 0}, "eth2": {30, 0}}), time.Second)
	st := h.stage("sys")
	if st.Len() != 1 || st.Props(0)[0] != "leaf1" {
		t.Fatalf("sys items %d", st.Len())
	}
	for name, want := range map[string]float64{"aggregate_tx_bps": 320, "aggregate_tx_utilization": 16, "max_ifc_tx_utilization": 24} {
		c, _ := st.ColumnIndex(name)
		if got := st.Num(0, c); got != want {
			t.Errorf("%s = %v, want %v", name, got, want)
		}
	}
	c, _ := st.ColumnIndex("aggregate_rx_bps")
	if got := st.Num(0, c); !math.IsNaN(got) {
		t.Errorf("aggregate_rx_bps without its input = %v, want NaN", got)
	}
	for _, bad := range []struct{ doc, msg string }{
		{`{"name": "su", "type": "system_utilization", "inputs": {"tx_bps": "tx"}, "outputs": {"cpu": "c"}}`, "needs its out output"},
		{`{"name": "su", "type": "system_utilization", "outputs": {"out": "o"}}`, "connect at least one of"},
	} {
		_, probs := probe.CompileJSON([]byte(`{"label": "s", "processors": [{"name": "tm", "type": "traffic_monitor", "outputs": {"tx_bps": "tx"}}, ` + bad.doc + `]}`))
		if len(probs) != 1 || !strings.Contains(probs[0].Message, bad.msg) {
			t.Errorf("want a problem %q, got %v", bad.msg, probs)
		}
	}
}

// TestGenericGraphCollectorFieldForms: 4.x exports write data_type "text"
// and an (often empty) object value_map.
func TestGenericGraphCollectorFieldForms(t *testing.T) {
	for _, tt := range []struct {
		props  string
		typ    probe.StageType
		states []string
	}{
		{`"data_type": "text", "value_map": {}`, probe.TS, nil},
		{`"data_type": "number"`, probe.NS, nil},
		{`"data_type": "discrete state", "value_map": {"1": "up", "2": "down"}`, probe.DSS, []string{"down", "up"}},
	} {
		plan, probs := probe.CompileJSON([]byte(`{"label": "g", "processors": [{"name": "g", "type": "generic_graph_collector", "outputs": {"out": "o"},
			"properties": {"graph_query": "node('system', name='s')", "value": "s.label", "system": "s.label", ` + tt.props + `}}]}`))
		if len(probs) > 0 {
			t.Fatalf("%s: %v", tt.props, probs)
		}
		inst, _ := probe.NewInstance(plan)
		st, _ := inst.Stage("o")
		if st.Type != tt.typ || !slices.Equal(st.PossibleValues, tt.states) {
			t.Errorf("%s: stage %v %v, want %v %v", tt.props, st.Type, st.PossibleValues, tt.typ, tt.states)
		}
		if tt.typ == probe.DSS && (st.StateCodes["up"] != 1 || st.StateCodes["down"] != 2) {
			t.Errorf("state codes %v", st.StateCodes)
		}
	}
}

// TestRangeCheckFieldForms: std_dev over a series, discrete states compared
// by number, sample_count of an item that is not a series.
func TestRangeCheckFieldForms(t *testing.T) {
	t.Run("std_dev of a series", func(t *testing.T) {
		h := newHarness(t, probeDocIn(probe.Dialect3x, "sd", source("rc/sd", "ns"),
			`{"name": "acc", "type": "accumulate", "inputs": {"in": "src"}, "outputs": {"out": "hist"}, "properties": {"max_samples": 4}}`,
			`{"name": "p", "type": "range_check", "inputs": {"in": "hist"}, "outputs": {"out": "out"}, "properties": {"property": "std_dev", "range": {"min": 1.5}, "raise_anomaly": true}}`))
		for _, v := range []float64{1, 2, 3, 4} { // population std dev sqrt(1.25) ~ 1.12
			setFeed("rc/sd", item("a", "e1", v))
			h.tick(nil, time.Second)
		}
		assertValues(t, h, "out", map[string]any{"system_id=a,interface=e1": "false"})
		setFeed("rc/sd", item("a", "e1", 8)) // series 2 3 4 8: std dev ~2.28
		h.tick(nil, time.Second)
		assertValues(t, h, "out", map[string]any{"system_id=a,interface=e1": "true"})
	})
	t.Run("discrete states by number", func(t *testing.T) {
		h := newHarness(t, probeDocIn(probe.Dialect3x, "ds", source("rc/ds", "dss"),
			`{"name": "p", "type": "range_check", "inputs": {"in": "src"}, "outputs": {"out": "out"}, "properties": {"range": {"min": 2}}}`))
		setFeed("rc/ds", state("a", "e1", "2"), state("a", "e2", "1"), state("a", "e3", "unknown"))
		h.tick(nil, time.Second)
		assertValues(t, h, "out", map[string]any{"system_id=a,interface=e1": "true", "system_id=a,interface=e2": "false", "system_id=a,interface=e3": "false"})
		p := &rangeCheck{state: true, codes: map[string]float64{"exceeds_threshold": 2}}
		if p.num(0, "exceeds_threshold") != 2 || !math.IsNaN(p.num(0, "missing")) || p.num(0, "7") != 7 {
			t.Errorf("state numbers: %v %v %v", p.num(0, "exceeds_threshold"), p.num(0, "missing"), p.num(0, "7"))
		}
	})
	t.Run("sample_count of a set item", func(t *testing.T) {
		h := newHarness(t, probeDocIn(probe.Dialect3x, "sc", source("rc/sc", "ns"),
			`{"name": "p", "type": "range_check", "inputs": {"in": "src"}, "outputs": {"out": "out"}, "properties": {"property": "sample_count", "range": {"min": 1}, "raise_anomaly": true}}`))
		setFeed("rc/sc", item("a", "e1", 0), item("b", "e1", 5))
		h.tick(nil, time.Second)
		if got := h.anomalyKeys(); len(got) != 2 {
			t.Errorf("every item present is anomalous with {min: 1}: %v", got)
		}
	})
}

// TestCentralOnlyFieldProcessors: Apstra 4.x's optical_xcvr and AOS 2.x's
// headroom validate, type their outputs so that consumers type-check
// (optical_xcvr's columns come from the probe), and are central-only.
func TestCentralOnlyFieldProcessors(t *testing.T) {
	plan, probs := probe.CompileJSON([]byte(`{"label": "x", "dialect": "4.x", "processors": [
		{"name": "tx", "type": "if_counter", "outputs": {"out": "tx"}, "properties": {"counter_type": "tx_bytes"}},
		{"name": "rx", "type": "if_counter", "outputs": {"out": "rx"}, "properties": {"counter_type": "rx_bytes"}},
		{"name": "h", "type": "headroom", "inputs": {"tx_bytes": "tx", "rx_bytes": "rx"}, "outputs": {"min_headroom": "min", "min_headroom_path": "path"},
		 "properties": {"pairs": [{"src_system": "leaf1", "dst_system": "leaf2"}]}},
		{"name": "o", "type": "optical_xcvr", "outputs": {"interface": "xi", "lane": "xl"}, "properties": {"system_id": "str(system.system_id)", "device_profile": "str(device_profile.label)"}},
		{"name": "hot", "type": "range_check", "inputs": {"in": {"stage": "xi", "column": "temperature"}}, "outputs": {"out": "hot"}, "properties": {"range": {"min": 70}}},
		{"name": "vendor", "type": "match_string", "inputs": {"in": {"stage": "xi", "column": "vendor"}}, "outputs": {"out": "v"}, "properties": {"regexp": "'ACME'"}},
		{"name": "low", "type": "range_check", "inputs": {"in": {"stage": "xl", "column": "rx_power"}}, "outputs": {"out": "dark"}, "properties": {"range": {"max": -20}}}],
		"stages": [{"name": "xl", "units": {"rx_power": "dBm", "tx_power": "dBm"}}]}`))
	if len(probs) > 0 {
		t.Fatal(probs)
	}
	if got := plan.CentralOnly(); !slices.Equal(got, []string{"h", "o"}) && !slices.Equal(got, []string{"o", "h"}) {
		t.Errorf("central-only %v, want h and o", got)
	}
	inst, err := probe.NewInstance(plan)
	if err != nil {
		t.Fatal(err)
	}
	xl, _ := inst.Stage("xl")
	if !slices.Equal(xl.Keys, []string{"system_id", "interface", "lane", "device_profile"}) {
		t.Errorf("lane keys %v", xl.Keys)
	}
	var cols []string
	for _, c := range xl.Columns {
		cols = append(cols, c.Name)
	}
	if !slices.Equal(cols, []string{"value", "rx_power", "tx_power"}) {
		t.Errorf("lane columns %v", cols)
	}
	xi, _ := inst.Stage("xi")
	if c, ok := xi.ColumnIndex("vendor"); !ok || xi.Columns[c].Kind != probe.Text {
		t.Errorf("vendor column %v, want text", xi.Columns)
	}
	if err := inst.Tick(&probe.Tick{Time: t0}); err == nil || !strings.Contains(err.Error(), "central-only") {
		t.Errorf("a device running it: %v, want a central-only error", err)
	}
}

// TestPeriodsAlignedToEpoch: two instances of a periodic_average that start
// at different ticks (a device that got its probe later) close their periods
// at the same moments, multiples of the period since the Unix epoch.
func TestPeriodsAlignedToEpoch(t *testing.T) {
	doc := func(feed string) string {
		return probeDoc("p", source(feed, "ns"),
			`{"name": "avg", "type": "periodic_average", "inputs": {"in": "src"}, "outputs": {"out": "avg"}, "properties": {"period": 30}}`)
	}
	early, late := newHarness(t, doc("epoch/early")), newHarness(t, doc("epoch/late"))
	base := time.Unix(1700000020, 0) // 10 s after a multiple of 30 (1700000010)
	early.now, late.now = base, base.Add(10*time.Second)
	var closedEarly, closedLate []int64
	for k := 0; k < 9; k++ {
		setFeed("epoch/early", item("a", "e1", float64(k)))
		setFeed("epoch/late", item("a", "e1", float64(k)))
		at := early.now
		early.tick(nil, 10*time.Second)
		if early.stage("avg").ChangedNow(0) {
			closedEarly = append(closedEarly, at.Unix())
		}
		if k == 0 {
			continue // the late device starts one tick later
		}
		at = late.now
		late.tick(nil, 10*time.Second)
		if late.stage("avg").ChangedNow(0) {
			closedLate = append(closedLate, at.Unix())
		}
	}
	want := []int64{1700000040, 1700000070, 1700000100}
	if !slices.Equal(closedEarly, want) || !slices.Equal(closedLate, want) {
		t.Errorf("periods closed at %v (early) and %v (late), want %v", closedEarly, closedLate, want)
	}
}
