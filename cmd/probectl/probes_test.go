package main

import (
	"encoding/json"
	"fmt"
	"math"
	"path/filepath"
	"sort"
	"strings"
	"testing"
)

// The probes in ../../testdata/probes are realistic probes built the way
// Apstra's predefined probes are, each with recorded counters
// (<probe>.counters.jsonl, one tick every 10 s from ts 1700000000) and golden
// simulate --each-tick output in testdata/golden/probes. Besides the golden
// comparison, the facts below are computed by hand from the counters, so a
// regression is caught even if the golden files are blindly rewritten with
// -update.

const probesDir = "../../testdata/probes"

// probeAnomaly is one raised anomaly at one tick: the stage that raised it,
// the item's keys as "k=v,k=v" (sorted by key), the actual value and the
// threshold the anomaly reports (value_min or value_max in the 4.x form,
// expected.value_int in the seed form).
type probeAnomaly struct {
	Stage  string
	Item   string
	Actual float64
	Bound  string // "min=4", "max=5" or "expected=10000000"
}

func (a probeAnomaly) String() string {
	return fmt.Sprintf("%s[%s] actual=%v %s", a.Stage, a.Item, a.Actual, a.Bound)
}

// probeFacts are the hand-computed expectations for one probe.
type probeFacts struct {
	dialect string
	ticks   int
	// anomalies maps a tick to the anomalies raised at it; every tick not
	// listed must have none.
	anomalies map[int][]probeAnomaly
	// check asserts further stage values.
	check func(t *testing.T, ticks []probeTick)
}

// spanOf gives the same anomaly at each tick in [from, to] with the actual
// values in order.
func spanOf(m map[int][]probeAnomaly, from int, stage, item, bound string, actual ...float64) {
	for i, v := range actual {
		m[from+i] = append(m[from+i], probeAnomaly{Stage: stage, Item: item, Actual: v, Bound: bound})
	}
}

var probeExpectations = map[string]probeFacts{
	// Errors present (>= 1 pps) on leaf1/eth2 at t=30 and t=50 only: the
	// accumulated errors-present series (60 s window, samples at
	// t >= now-60 kept) holds 10F 30T 40F 50T -> 4 samples at tick 5, 5 at
	// ticks 6-7 (60F added), 4 at ticks 8-9 (10F expired), 3 at tick 10:
	// cleared. leaf2/eth1 has one sustained burst with a changing rate
	// (2, 5, 3, 2, 1 pps), which is one change in and one out, never more
	// than 2 samples; leaf2/eth2's steady 0.5 pps is below the threshold.
	"interface_error_flapping": {
		dialect: "4.x",
		ticks:   16,
		anomalies: func() map[int][]probeAnomaly {
			m := map[int][]probeAnomaly{}
			spanOf(m, 5, "error_flapping", "interface=eth2,system_id=leaf1", "min=4", 4, 5, 5, 4, 4)
			return m
		}(),
		check: func(t *testing.T, ticks []probeTick) {
			wantCount := map[string][]int{ // sample_count per tick, from tick 1
				"interface=eth2,system_id=leaf1": {1, 1, 2, 3, 4, 5, 5, 4, 4, 3, 2, 1, 0, 0, 0},
				"interface=eth1,system_id=leaf2": {1, 1, 2, 2, 2, 2, 2, 2, 2, 1, 1, 1, 1, 1, 0},
				"interface=eth2,system_id=leaf2": {1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0},
			}
			for item, counts := range wantCount {
				for i, want := range counts {
					if got := ticks[i+1].samples(t, "error_state_history", item); got != want {
						t.Errorf("tick %d: error_state_history[%s] has %d samples, want %d", i+1, item, got, want)
					}
				}
			}
			if got := ticks[4].num(t, "rx_error_rate", "interface=eth1,system_id=leaf2"); got != 5 {
				t.Errorf("tick 4: rx_error_rate[leaf2/eth1] = %v, want 5", got)
			}
			if got := ticks[1].num(t, "rx_error_rate", "interface=eth2,system_id=leaf2"); got != 0.5 {
				t.Errorf("tick 1: rx_error_rate[leaf2/eth2] = %v, want 0.5", got)
			}
		},
	},
	// traffic_monitor with period 20: a value at every even tick, the
	// average over the last 20 s; speeds come from the counters file (1G
	// server ports, 10G eth49). leaf1/eth1 runs at 90% then 92% (ticks 6-9),
	// leaf2/eth1 at 3% then 2% (ticks 4-7).
	"hot_cold_interfaces": {
		dialect: "4.x",
		ticks:   13,
		anomalies: func() map[int][]probeAnomaly {
			m := map[int][]probeAnomaly{}
			spanOf(m, 4, "cold_interfaces", "interface=eth1,system_id=leaf2", "max=5", 3, 3, 2, 2)
			spanOf(m, 6, "hot_interfaces", "interface=eth1,system_id=leaf1", "min=80", 90, 90, 92, 92)
			return m
		}(),
		check: func(t *testing.T, ticks []probeTick) {
			for i := 0; i < 2; i++ {
				if n := ticks[i].count(t, "tx_utilization"); n != 0 {
					t.Errorf("tick %d: tx_utilization has %d values before the first 20 s period ends", i, n)
				}
			}
			want := map[string]float64{ // tick 2: first period
				"interface=eth1,system_id=leaf1":  50,
				"interface=eth2,system_id=leaf1":  40,
				"interface=eth49,system_id=leaf1": 30, // 10G: 3.75 GB in 10 s
				"interface=eth1,system_id=leaf2":  20,
				"interface=eth2,system_id=leaf2":  60,
				"interface=eth49,system_id=leaf2": 25,
			}
			for item, w := range want {
				if got := ticks[2].num(t, "tx_utilization", item); math.Abs(got-w) > 1e-9 {
					t.Errorf("tick 2: tx_utilization[%s] = %v, want %v", item, got, w)
				}
			}
			if got := ticks[8].num(t, "tx_rate", "interface=eth1,system_id=leaf1"); got != 920e6 {
				t.Errorf("tick 8: tx_rate[leaf1/eth1] = %v, want 920e6", got)
			}
		},
	},
	// Seed dialect: std_dev per leaf of 4 uplink tx rates. leaf1 goes from
	// 50 MB/s on every uplink to 80/20/80/20 (std 30e6) at ticks 4-8, with
	// 65/35/65/35 (std 15e6) at tick 6; leaf2 stays at 50.5/49.5 (std
	// 0.5e6). Range {max: 10e6} is the expected region.
	"ecmp_imbalance": {
		dialect: "seed",
		ticks:   12,
		anomalies: func() map[int][]probeAnomaly {
			m := map[int][]probeAnomaly{}
			spanOf(m, 4, "ecmp_imbalanced_leafs", "system_id=leaf1", "expected=10000000", 30e6, 30e6, 15e6, 30e6, 30e6)
			return m
		}(),
		check: func(t *testing.T, ticks []probeTick) {
			wantLeaf1 := []float64{0, 0, 0, 30e6, 30e6, 15e6, 30e6, 30e6, 0, 0, 0}
			for i, w := range wantLeaf1 {
				tk := ticks[i+1]
				if got := tk.num(t, "leaf_uplink_tx_std_dev", "system_id=leaf1"); got != w {
					t.Errorf("tick %d: std_dev[leaf1] = %v, want %v", i+1, got, w)
				}
				if got := tk.num(t, "leaf_uplink_tx_std_dev", "system_id=leaf2"); got != 0.5e6 {
					t.Errorf("tick %d: std_dev[leaf2] = %v, want 500000", i+1, got)
				}
				if got := tk.str(t, "leaf_uplink_imbalance", "system_id=leaf2"); got != "false" {
					t.Errorf("tick %d: leaf2 imbalance %q, want false", i+1, got)
				}
			}
		},
	},
	// Errors present on leaf2/eth3 from t=30 to t=70 (false from t=80): the
	// time in "true" within the last 60 s is 30, 40, 50, 50, 40, 30 s at
	// ticks 6-11 (>= 30 s is anomalous, bound inclusive), 20 s at tick 12.
	// leaf1/eth1 has two 10 s bursts (t=20, t=50): at most 20 s.
	"sustained_rx_errors": {
		dialect: "4.x",
		ticks:   15,
		anomalies: func() map[int][]probeAnomaly {
			m := map[int][]probeAnomaly{}
			spanOf(m, 6, "sustained_rx_errors", "interface=eth3,system_id=leaf2", "min=30", 30, 40, 50, 50, 40, 30)
			return m
		}(),
		check: func(t *testing.T, ticks []probeTick) {
			for i := 1; i < 15; i++ {
				if got := ticks[i].str(t, "sustained_rx_errors", "interface=eth1,system_id=leaf1"); got != "false" {
					t.Errorf("tick %d: two short bursts on leaf1/eth1 flagged: %q", i, got)
				}
			}
			if got := ticks[3].num(t, "rx_error_rate", "interface=eth3,system_id=leaf2"); got != 10 {
				t.Errorf("tick 3: rx_error_rate[leaf2/eth3] = %v, want 10", got)
			}
		},
	},
	// discards x 100 / unicast: leaf1/eth1 0.5%; leaf2/eth1 0.1% with 2.5%
	// at ticks 4-6; leaf2/eth2 0.5% with exactly 1% at tick 8 (the 4.x
	// bound is inclusive); leaf2/eth3 idle, 0/0 = NaN, not anomalous
	// without raise_on_nan.
	"rx_discard_ratio": {
		dialect: "4.x",
		ticks:   10,
		anomalies: func() map[int][]probeAnomaly {
			m := map[int][]probeAnomaly{}
			spanOf(m, 4, "high_rx_discard_ratio", "interface=eth1,system_id=leaf2", "min=1", 2.5, 2.5, 2.5)
			spanOf(m, 8, "high_rx_discard_ratio", "interface=eth2,system_id=leaf2", "min=1", 1)
			return m
		}(),
		check: func(t *testing.T, ticks []probeTick) {
			for i := 1; i < 10; i++ {
				tk := ticks[i]
				if got := tk.num(t, "rx_discard_percent", "interface=eth1,system_id=leaf1"); got != 0.5 {
					t.Errorf("tick %d: discard %%[leaf1/eth1] = %v, want 0.5", i, got)
				}
				if got := tk.num(t, "rx_discard_percent", "interface=eth3,system_id=leaf2"); !math.IsNaN(got) {
					t.Errorf("tick %d: discard %%[leaf2/eth3] (0/0) = %v, want NaN", i, got)
				}
				if got := tk.str(t, "high_rx_discard_ratio", "interface=eth3,system_id=leaf2"); got != "false" {
					t.Errorf("tick %d: idle leaf2/eth3 flagged %q", i, got)
				}
			}
			if got := ticks[3].num(t, "rx_discard_percent", "interface=eth1,system_id=leaf2"); math.Abs(got-0.1) > 1e-12 {
				t.Errorf("tick 3: discard %%[leaf2/eth1] = %v, want 0.1", got)
			}
		},
	},
}

// TestProbesValidate validates every probe document and checks the dialect
// each was read in.
func TestProbesValidate(t *testing.T) {
	files, err := filepath.Glob(filepath.Join(probesDir, "*.json"))
	if err != nil || len(files) < 5 {
		t.Fatalf("want at least 5 probes in %s, got %d (%v)", probesDir, len(files), err)
	}
	out, code := run(t, append([]string{"validate"}, files...)...)
	if code != 0 {
		t.Fatalf("validate: exit %d\n%s", code, out)
	}
	golden(t, "probes/validate.txt", out)
	for _, f := range files {
		name := strings.TrimSuffix(filepath.Base(f), ".json")
		facts, ok := probeExpectations[name]
		if !ok {
			t.Errorf("%s has no expectations in probeExpectations", f)
			continue
		}
		if want := f + ": valid (dialect " + facts.dialect + ": "; !strings.Contains(out, want) {
			t.Errorf("validate output lacks %q:\n%s", want, out)
		}
	}
}

// TestProbesSimulate simulates every probe against its recorded counters,
// compares with the golden output and checks the hand-computed facts.
func TestProbesSimulate(t *testing.T) {
	files, err := filepath.Glob(filepath.Join(probesDir, "*.json"))
	if err != nil || len(files) < 5 {
		t.Fatalf("want at least 5 probes in %s, got %d (%v)", probesDir, len(files), err)
	}
	for _, f := range files {
		name := strings.TrimSuffix(filepath.Base(f), ".json")
		t.Run(name, func(t *testing.T) {
			facts, ok := probeExpectations[name]
			if !ok {
				t.Fatalf("no expectations for %s", name)
			}
			counters := filepath.Join(probesDir, name+".counters.jsonl")
			out, code := run(t, "simulate", "--probe", f, "--counters", counters, "--each-tick")
			if code != 0 {
				t.Fatalf("simulate: exit %d\n%s", code, out)
			}
			golden(t, "probes/"+name+".each_tick.jsonl", out)

			lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
			if len(lines) != facts.ticks {
				t.Fatalf("%d ticks, want %d", len(lines), facts.ticks)
			}
			ticks := make([]probeTick, len(lines))
			for i, line := range lines {
				if err := json.Unmarshal([]byte(line), &ticks[i]); err != nil {
					t.Fatalf("tick %d: %v", i, err)
				}
				got := ticks[i].anomalyList(t)
				want := append([]probeAnomaly(nil), facts.anomalies[i]...)
				sort.Slice(want, func(a, b int) bool { return want[a].String() < want[b].String() })
				if fmt.Sprint(got) != fmt.Sprint(want) {
					t.Errorf("tick %d: anomalies\n  got  %v\n  want %v", i, got, want)
				}
			}
			if facts.check != nil {
				facts.check(t, ticks)
			}
		})
	}
}

// probeTick is one line of simulate --each-tick output.
type probeTick struct {
	Stages    map[string]probeStage `json:"stages"`
	Anomalies []struct {
		Actual    map[string]any `json:"actual"`
		Anomalous map[string]any `json:"anomalous"`
		Expected  map[string]any `json:"expected"`
		Identity  struct {
			StageName  string          `json:"stage_name"` // 4.x
			StageID    string          `json:"stage_id"`   // seed
			Properties json.RawMessage `json:"properties"`
		} `json:"identity"`
	} `json:"anomalies"`
}

type probeStage struct {
	Value  any `json:"value"`
	Values []struct {
		Properties map[string]string `json:"properties"`
		Value      any               `json:"value"`
		Samples    []any             `json:"samples"`
	} `json:"values"`
}

func itemKey(props map[string]string) string {
	parts := make([]string, 0, len(props))
	for k, v := range props {
		parts = append(parts, k+"="+v)
	}
	sort.Strings(parts)
	return strings.Join(parts, ",")
}

func (tk *probeTick) item(t *testing.T, stage, item string) (value any, samples int) {
	t.Helper()
	st, ok := tk.Stages[stage]
	if !ok {
		t.Fatalf("no stage %q", stage)
	}
	for _, v := range st.Values {
		if itemKey(v.Properties) == item {
			return v.Value, len(v.Samples)
		}
	}
	t.Fatalf("stage %q has no item %s", stage, item)
	return nil, 0
}

func (tk *probeTick) count(t *testing.T, stage string) int {
	t.Helper()
	st, ok := tk.Stages[stage]
	if !ok {
		t.Fatalf("no stage %q", stage)
	}
	return len(st.Values)
}

func (tk *probeTick) num(t *testing.T, stage, item string) float64 {
	t.Helper()
	v, _ := tk.item(t, stage, item)
	return toNumber(t, v)
}

func (tk *probeTick) str(t *testing.T, stage, item string) string {
	t.Helper()
	v, _ := tk.item(t, stage, item)
	s, ok := v.(string)
	if !ok {
		t.Fatalf("%s[%s] = %v, not a string", stage, item, v)
	}
	return s
}

func (tk *probeTick) samples(t *testing.T, stage, item string) int {
	t.Helper()
	_, n := tk.item(t, stage, item)
	return n
}

// toNumber reads a JSON number, or NaN and the infinities, which the stage
// API renders as strings.
func toNumber(t *testing.T, v any) float64 {
	t.Helper()
	switch x := v.(type) {
	case float64:
		return x
	case string:
		switch x {
		case "NaN":
			return math.NaN()
		case "+Inf":
			return math.Inf(1)
		case "-Inf":
			return math.Inf(-1)
		}
	}
	t.Fatalf("%v (%T) is not a number", v, v)
	return 0
}

// anomalyList normalises the tick's anomalies, in either dialect's form.
func (tk *probeTick) anomalyList(t *testing.T) []probeAnomaly {
	t.Helper()
	var out []probeAnomaly
	for _, a := range tk.Anomalies {
		pa := probeAnomaly{Stage: a.Identity.StageName}
		props := map[string]string{}
		if pa.Stage == "" { // seed form: properties is an object
			pa.Stage = a.Identity.StageID
			if err := json.Unmarshal(a.Identity.Properties, &props); err != nil {
				t.Fatalf("seed identity properties: %v", err)
			}
		} else {
			var kv []struct{ Key, Value string }
			if err := json.Unmarshal(a.Identity.Properties, &kv); err != nil {
				t.Fatalf("4.x identity properties: %v", err)
			}
			for _, p := range kv {
				props[p.Key] = p.Value
			}
		}
		pa.Item = itemKey(props)
		for _, k := range []string{"value", "value_int", "value_float"} {
			if v, ok := a.Actual[k]; ok {
				pa.Actual = toNumber(t, v)
			}
		}
		switch {
		case a.Anomalous["value_min"] != nil:
			pa.Bound = fmt.Sprintf("min=%v", a.Anomalous["value_min"])
		case a.Anomalous["value_max"] != nil:
			pa.Bound = fmt.Sprintf("max=%v", a.Anomalous["value_max"])
		case a.Expected["value_int"] != nil:
			pa.Bound = fmt.Sprintf("expected=%.0f", toNumber(t, a.Expected["value_int"]))
		}
		out = append(out, pa)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].String() < out[j].String() })
	return out
}
