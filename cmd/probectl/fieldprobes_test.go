package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// Probes from the field (../shared/corpus, read in place) simulated on
// counters recorded for them in testdata/field, one tick every 10 s from ts
// 1700000000. The goldens catch any change; the facts below are worked out
// by hand from the counters, so blindly rewriting the goldens with -update
// does not hide a regression.

const fieldCorpus = "../../../shared/corpus/third-party"

func fieldProbe(t *testing.T, rel string) string {
	t.Helper()
	path := filepath.Join(fieldCorpus, rel)
	if _, err := os.Stat(path); err != nil {
		t.Skipf("probe corpus not present (%v); it lives in the shared tree beside the repository", err)
	}
	return path
}

// fieldTicks runs simulate --each-tick and returns its parsed lines.
func fieldTicks(t *testing.T, probeFile, counters string, extra ...string) (string, []probeTick) {
	t.Helper()
	args := append([]string{"simulate", "--probe", probeFile, "--counters", counters, "--each-tick"}, extra...)
	out, code := run(t, args...)
	if code != 0 {
		t.Fatalf("simulate: exit %d\n%s", code, out)
	}
	var ticks []probeTick
	for i, line := range strings.Split(strings.TrimSuffix(out, "\n"), "\n") {
		var tk probeTick
		if err := json.Unmarshal([]byte(line), &tk); err != nil {
			t.Fatalf("tick %d: %v", i, err)
		}
		ticks = append(ticks, tk)
	}
	return out, ticks
}

// TestFieldCounterErrors is Apstra's counters_error_anomalies template
// (AOS 3.1 to 3.x: string inputs, raise_anomaly, range {"min": 1} meaning any
// error is anomalous). leaf1/eth2 receives 5 errors/s from t=10; every other
// counter of every interface stays at zero. The error rate is "true" (in the
// anomalous range) on eth2 from tick 1; time_in_state_check raises once it
// has been true for 21 s or more of its 120 s window: 30 s at tick 4. No clean
// interface may raise: evaluated with the 3.0 polarity, every one of them
// would (zero errors lies outside {"min": 1}).
func TestFieldCounterErrors(t *testing.T) {
	probeFile := fieldProbe(t, "Apstra+iba/templates__counters_error_anomalies.j2.json")
	counters := "testdata/field/counter_errors.counters.jsonl"
	out, ticks := fieldTicks(t, probeFile, counters)
	golden(t, "field/counter_errors.each_tick.jsonl", out)
	want := func(i int) []probeAnomaly {
		if i < 4 {
			return nil
		}
		return []probeAnomaly{{Stage: "has_sustained_rx_error_packets", Item: "interface=eth2,interface_desc=,system_id=leaf1",
			Actual: float64(10 * (i - 1)), Bound: "min=21"}}
	}
	if len(ticks) != 8 {
		t.Fatalf("%d ticks, want 8", len(ticks))
	}
	for i := range ticks {
		if got := ticks[i].anomalyList(t); fmt.Sprint(got) != fmt.Sprint(want(i)) {
			t.Errorf("tick %d: anomalies\n  got  %v\n  want %v", i, got, want(i))
		}
	}
	for _, stage := range []string{"has_rx_error_packets", "has_fcs_errors"} {
		v, _ := ticks[7].item(t, stage, "interface=eth1,interface_desc=,system_id=leaf2")
		if v != "false" {
			t.Errorf("%s of a clean interface is %v, want false", stage, v)
		}
	}

	// The same probe written for AOS 3.0 (range {"max": 0} is the expected
	// region, state_range {"true": [{"max": 20}]} the expected time in true)
	// with "dialect": "seed" gives the same anomalies.
	data, err := os.ReadFile(probeFile)
	if err != nil {
		t.Fatal(err)
	}
	var doc map[string]any
	if err := json.Unmarshal(data, &doc); err != nil {
		t.Fatal(err)
	}
	doc["dialect"] = "seed"
	for _, p := range doc["processors"].([]any) {
		props, _ := p.(map[string]any)["properties"].(map[string]any)
		switch p.(map[string]any)["type"] {
		case "range_check":
			props["range"] = map[string]any{"max": 0}
		case "time_in_state_check":
			props["state_range"] = map[string]any{"true": []any{map[string]any{"max": 20}}}
		}
	}
	seed, _ := json.Marshal(doc)
	seedFile := filepath.Join(t.TempDir(), "counters_error_anomalies_3.0.json")
	if err := os.WriteFile(seedFile, seed, 0o644); err != nil {
		t.Fatal(err)
	}
	_, seedTicks := fieldTicks(t, seedFile, counters)
	for i := range seedTicks {
		got, want := seedTicks[i].anomalyList(t), ticks[i].anomalyList(t)
		if len(got) != len(want) {
			t.Fatalf("tick %d: 3.0 form raises %v, 3.1 form %v", i, got, want)
		}
		for k := range got {
			// The seed form reports the bound the value crossed (expected),
			// the 3.1 form the anomalous range: compare the items.
			if got[k].Stage != want[k].Stage || got[k].Item != want[k].Item || got[k].Actual != want[k].Actual {
				t.Errorf("tick %d: 3.0 form %v, 3.1 form %v", i, got[k], want[k])
			}
		}
	}
}

// TestFieldInterfaceBandwidth is Apstra's interface_bandwidth_anomalies
// template with its inline stage metadata (the 2.3+ form) and its extra
// item keys (description, role). leaf1/eth1 receives 1.25e9 B/s, i.e.
// 1e10 b/s, above the template's 8000000001 b/s threshold from the first
// rate (tick 1); sustained for 21 s or more at tick 4 (30 s). eth2 carries
// 8,000 b/s and never raises; egress stays under the threshold.
func TestFieldInterfaceBandwidth(t *testing.T) {
	probeFile := fieldProbe(t, "Apstra+iba/templates__interface_bandwidth_anomalies.j2.json")
	out, ticks := fieldTicks(t, probeFile, "testdata/field/bandwidth.counters.jsonl")
	golden(t, "field/bandwidth.each_tick.jsonl", out)
	for i := range ticks {
		var want []probeAnomaly
		if i >= 4 {
			want = []probeAnomaly{{Stage: "sustained_Ingress_traffic_exceeds_threshold", Item: "description=,interface=eth1,role=,system_id=leaf1",
				Actual: float64(10 * (i - 1)), Bound: "min=21"}}
		}
		if got := ticks[i].anomalyList(t); fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("tick %d: anomalies\n  got  %v\n  want %v", i, got, want)
		}
	}
	if v, _ := ticks[2].item(t, "Ingress_traffic", "description=,interface=eth1,role=,system_id=leaf1"); v != 1e10 {
		t.Errorf("eth1 ingress %v b/s, want 1e10", v)
	}
	var units map[string]any
	if err := json.Unmarshal([]byte(strings.SplitN(out, "\n", 2)[0]), &units); err != nil {
		t.Fatal(err)
	}
	st := units["stages"].(map[string]any)["Ingress_traffic"].(map[string]any)
	if st["units"] != "bps" {
		t.Errorf("inline stage metadata not applied: units %q, want bps", st["units"])
	}
}

// TestFieldDeviceTraffic is the Terraform provider's Device Traffic probe
// (Apstra 4.x): traffic_monitor's interface_counters_average over 120 s feeds
// system_utilization's per-system aggregation. leaf1 sends 1 and 3 Gb/s on
// two 10 Gb/s ports and receives 0.5 Gb/s on each; spine1 sends 2 Gb/s.
func TestFieldDeviceTraffic(t *testing.T) {
	probeFile := fieldProbe(t, "Juniper+terraform-provider-apstra/apstra__resource_blueprint_iba_probe_test.go@raw2.json")
	out, ticks := fieldTicks(t, probeFile, "testdata/field/device_traffic.counters.jsonl")
	golden(t, "field/device_traffic.each_tick.jsonl", out)
	var last struct {
		Stages map[string]struct {
			Values []map[string]any `json:"values"`
		} `json:"stages"`
	}
	lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	if err := json.Unmarshal([]byte(lines[len(lines)-1]), &last); err != nil {
		t.Fatal(err)
	}
	want := map[string]map[string]float64{
		"leaf1":  {"aggregate_tx_bps": 4e9, "aggregate_rx_bps": 1e9, "aggregate_tx_utilization": 20, "max_ifc_tx_utilization": 30, "aggregate_rx_utilization": 5},
		"spine1": {"aggregate_tx_bps": 2e9, "aggregate_rx_bps": 0, "aggregate_tx_utilization": 20, "max_ifc_tx_utilization": 20},
	}
	sys := last.Stages["System Interface Counters"].Values
	if len(sys) != 2 {
		t.Fatalf("System Interface Counters has %d items, want 2: %v", len(sys), sys)
	}
	for _, v := range sys {
		id := v["properties"].(map[string]any)["system_id"].(string)
		for col, w := range want[id] {
			if v[col] != w {
				t.Errorf("%s %s = %v, want %v", id, col, v[col], w)
			}
		}
	}
	// Live rates between consecutive samples, from the second tick on.
	if v, _ := ticks[1].item(t, "Live Interface Counters", "interface=eth2,system_id=leaf1"); v != 3e9 {
		t.Errorf("live tx_bps of leaf1/eth2 %v, want 3e9", v)
	}
	// Periods end at multiples of 120 s since the epoch: the first at ts
	// 1700000040 (tick 4), after a short first period.
	if len(ticks[3].Stages["Average Interface Counters"].Values) != 0 || len(ticks[4].Stages["Average Interface Counters"].Values) != 3 {
		t.Errorf("averages at ticks 3 and 4: %v, %v; want none, then one per interface", ticks[3].Stages["Average Interface Counters"].Values, ticks[4].Stages["Average Interface Counters"].Values)
	}
}

// TestValidateJSONOutput: validate -o json gives one object per file with
// the dialect and why, or the problems; the exit status still says invalid.
func TestValidateJSONOutput(t *testing.T) {
	bad := filepath.Join(t.TempDir(), "bad.json")
	if err := os.WriteFile(bad, []byte("{\n  \"label\": \"x\"\n  \"processors\": []\n}"), 0o644); err != nil {
		t.Fatal(err)
	}
	out, code := run(t, "validate", "-o", "json", "testdata/seed_probe.json", bad)
	if code != 1 {
		t.Fatalf("exit %d, want 1:\n%s", code, out)
	}
	var got []struct {
		File, Dialect string
		Valid         bool
		Reason        string `json:"dialect_reason"`
		Problems      []struct{ Message string }
	}
	if err := json.Unmarshal([]byte(out), &got); err != nil {
		t.Fatalf("%v:\n%s", err, out)
	}
	if len(got) != 2 || !got[0].Valid || got[0].Dialect != "seed" || !strings.Contains(got[0].Reason, "anomaly") ||
		got[1].Valid || len(got[1].Problems) != 1 || !strings.Contains(got[1].Problems[0].Message, "line 3, column 3") {
		t.Errorf("validate -o json: %+v", got)
	}
}
