package probe_test

import (
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/probe-agent/probe-agent/collectors"
	"github.com/probe-agent/probe-agent/collectors/replay"
	"github.com/probe-agent/probe-agent/probe"
)

// The correctness contract of the cut: evaluating a probe split (edge part
// per device, central part on what crosses) gives the same stages and
// anomalies as evaluating it whole, tick by tick, within numbersEqual's
// tolerance (docs/probes.md, "Split evaluation").

// numbersEqual is the tolerance of docs/probes.md: both NaN, equal, or
// within maxULPs units in the last place of the larger magnitude (at least
// 1, so values near zero compare absolutely).
func numbersEqual(a, b float64) bool {
	if math.IsNaN(a) || math.IsNaN(b) {
		return math.IsNaN(a) && math.IsNaN(b)
	}
	if a == b {
		return true
	}
	scale := math.Max(math.Max(math.Abs(a), math.Abs(b)), 1)
	return math.Abs(a-b) <= maxULPs*ulp(scale)
}

// maxULPs is the stated bound for floating-point results of split
// evaluation (docs/probes.md).
const maxULPs = 1 << 12

func ulp(x float64) float64 { return math.Nextafter(x, math.Inf(1)) - x }

// worstULPs records the largest difference seen, in ULPs, for the report.
var worstULPs float64

func ulpsApart(a, b float64) float64 {
	if a == b || math.IsNaN(a) || math.IsNaN(b) {
		return 0
	}
	scale := math.Max(math.Max(math.Abs(a), math.Abs(b)), 1)
	return math.Abs(a-b) / ulp(scale)
}

// compareTick fails the test when the split run's stages or anomalies
// differ from the whole instance's.
func compareTick(t *testing.T, tick int, whole *probe.Instance, run *probe.SplitRun) {
	t.Helper()
	split := map[string]*probe.Stage{}
	for _, st := range run.Stages() {
		split[st.Name] = st
	}
	for _, w := range whole.Stages() {
		s, ok := split[w.Name]
		if !ok {
			t.Fatalf("tick %d: stage %q missing from the split evaluation", tick, w.Name)
		}
		compareStage(t, tick, w, s)
	}
	if len(split) != len(whole.Stages()) {
		t.Errorf("tick %d: split has %d stages, whole %d", tick, len(split), len(whole.Stages()))
	}
	wa, sa := whole.Anomalies(), run.Anomalies()
	if len(wa) != len(sa) {
		t.Fatalf("tick %d: %d anomalies whole, %d split:\n whole %v\n split %v", tick, len(wa), len(sa), anomalyKeys(wa), anomalyKeys(sa))
	}
	for i := range wa {
		w, s := wa[i], sa[i]
		if w.ID != s.ID || w.Stage != s.Stage || !slices.Equal(w.Props, s.Props) || w.Raised != s.Raised ||
			!w.FirstSeen.Equal(s.FirstSeen) || !w.LastModified.Equal(s.LastModified) {
			t.Errorf("tick %d: anomaly %d differs: whole %+v split %+v", tick, i, *w, *s)
		}
		we, se := w.Evidence, s.Evidence
		if !numbersEqual(we.Actual.Num, se.Actual.Num) || we.Actual.Str != se.Actual.Str {
			t.Errorf("tick %d: anomaly %s: actual %v whole, %v split", tick, w.Stage, we.Actual, se.Actual)
		}
		worstULPs = math.Max(worstULPs, ulpsApart(we.Actual.Num, se.Actual.Num))
	}
}

func anomalyKeys(as []*probe.Anomaly) []string {
	var out []string
	for _, a := range as {
		out = append(out, a.Stage+":"+strings.Join(a.Props, ","))
	}
	return out
}

func compareStage(t *testing.T, tick int, w, s *probe.Stage) {
	t.Helper()
	if w.Type != s.Type || !slices.Equal(w.Keys, s.Keys) || !slices.Equal(w.Columns, s.Columns) {
		t.Fatalf("tick %d: stage %q: whole %s %v %v, split %s %v %v", tick, w.Name, w.Type, w.Keys, w.Columns, s.Type, s.Keys, s.Columns)
	}
	valid := func(st *probe.Stage) map[string]int {
		m := map[string]int{}
		for i := range st.Len() {
			if st.Valid(i) {
				m[st.ItemKey(i)] = i
			}
		}
		return m
	}
	wv, sv := valid(w), valid(s)
	if len(wv) != len(sv) {
		t.Fatalf("tick %d: stage %q: %d valid items whole, %d split\n whole %v\n split %v", tick, w.Name, len(wv), len(sv), sortedMapKeys(wv), sortedMapKeys(sv))
	}
	for key, i := range wv {
		j, ok := sv[key]
		if !ok {
			t.Fatalf("tick %d: stage %q: item %q valid whole, not split", tick, w.Name, key)
		}
		for c := range w.Columns {
			a, b := w.ValueAt(i, c), s.ValueAt(j, c)
			if a.Str != b.Str || !numbersEqual(a.Num, b.Num) {
				t.Errorf("tick %d: stage %q item %q column %s: whole %v, split %v (%.0f ULPs)", tick, w.Name, key, w.Columns[c].Name, a, b, ulpsApart(a.Num, b.Num))
			}
			worstULPs = math.Max(worstULPs, ulpsApart(a.Num, b.Num))
		}
		if w.Type.TimeSeries {
			var ws, ss []probe.Sample
			w.Item(i).Samples(func(x probe.Sample) { ws = append(ws, x) })
			s.Item(j).Samples(func(x probe.Sample) { ss = append(ss, x) })
			if len(ws) != len(ss) {
				t.Fatalf("tick %d: stage %q item %q: %d samples whole, %d split", tick, w.Name, key, len(ws), len(ss))
			}
			for k := range ws {
				if !ws[k].Time.Equal(ss[k].Time) || ws[k].Value.Str != ss[k].Value.Str || !numbersEqual(ws[k].Value.Num, ss[k].Value.Num) {
					t.Errorf("tick %d: stage %q item %q sample %d: whole %v, split %v", tick, w.Name, key, k, ws[k], ss[k])
				}
			}
		}
	}
}

func sortedMapKeys(m map[string]int) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// checkSplitEqualsWhole evaluates doc whole and split on the same batches
// and compares every tick.
func checkSplitEqualsWhole(t *testing.T, doc []byte, batches []collectors.Batch, extraDevices ...string) *probe.Split {
	t.Helper()
	plan, probs := probe.CompileJSON(doc)
	if len(probs) > 0 {
		t.Fatalf("probe does not validate:\n%v\n%s", probs, doc)
	}
	return checkSplitPlan(t, plan, batches, extraDevices...)
}

// checkSplitPlan is checkSplitEqualsWhole for a compiled (possibly
// resolved) plan.
func checkSplitPlan(t *testing.T, plan *probe.Plan, batches []collectors.Batch, extraDevices ...string) *probe.Split {
	t.Helper()
	doc := plan.Doc.Raw
	whole, err := probe.NewInstance(plan)
	if err != nil {
		t.Fatal(err)
	}
	split, err := probe.Partition(plan, nil)
	if err != nil {
		t.Fatal(err)
	}
	run, err := probe.NewSplitRun(split)
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range extraDevices {
		if err := run.AddDevice(d); err != nil {
			t.Fatal(err)
		}
	}
	if err := run.AddDevicesOf(batches); err != nil {
		t.Fatal(err)
	}
	var items probe.ItemCache
	for i := range batches {
		b := &batches[i]
		if err := whole.Tick(&probe.Tick{Time: b.Time, Counters: b, Items: &items}); err != nil {
			t.Fatal(err)
		}
		items.Advance(b, b.Time)
		if err := run.Tick(b.Time, b); err != nil {
			t.Fatal(err)
		}
		compareTick(t, i, whole, run)
		if t.Failed() {
			t.Logf("probe:\n%s\nedge part:\n%s\ncentral part:\n%s", doc, split.EdgeDoc, split.CentralDoc)
			t.FailNow()
		}
	}
	return split
}

// randomBatches makes ticks of counters over up to maxDevices devices:
// interfaces appear and leave, devices lose all their interfaces, counters
// jump, stall and reset.
func randomBatches(rng *rand.Rand, ticks, maxDevices int) []collectors.Batch {
	devices := rng.IntN(maxDevices) + 1
	type key struct{ dev, intf int }
	counters := map[key]*collectors.Interface{}
	t0 := time.Unix(1700000000, 0).UTC()
	var out []collectors.Batch
	ctrs := []collectors.Counter{collectors.TxBytes, collectors.RxBytes, collectors.RxErrorPackets, collectors.RxDiscardPackets, collectors.RxUnicastPackets}
	for tick := range ticks {
		b := collectors.Batch{Time: t0.Add(time.Duration(tick) * 10 * time.Second), Layout: uint64(tick + 1)}
		for d := range devices {
			if rng.IntN(6) == 0 {
				continue // a device with no items this tick
			}
			n := rng.IntN(5)
			for i := range n {
				if rng.IntN(5) == 0 {
					continue // an interface missing this tick
				}
				k := key{d, i}
				ifc := counters[k]
				if ifc == nil {
					ifc = &collectors.Interface{SystemID: fmt.Sprintf("leaf%d", d), Name: fmt.Sprintf("eth%d", i), SpeedBps: 1e9, Generation: 1}
					counters[k] = ifc
				}
				for _, c := range ctrs {
					switch r := rng.IntN(20); {
					case r == 0:
						ifc.Set(c, uint64(rng.IntN(1000))) // a reset
					case r < 4:
						ifc.Set(c, ifc.Counters[c]) // no traffic
					default:
						ifc.Set(c, ifc.Counters[c]+uint64(rng.IntN(20000)*(1+rng.IntN(3))))
					}
				}
				b.Interfaces = append(b.Interfaces, *ifc)
			}
		}
		out = append(out, b)
	}
	return out
}

// randomProbe builds a 4.x probe over the grouping processors: a counter
// (possibly averaged over time, or divided by a second counter, per item),
// a numeric aggregate with a random group_by (and a second aggregate over
// it), a checker over each, a state count over a per-interface checker,
// and an aggregate over a time series. Thresholds are not round numbers, so
// that a difference in the last bits cannot flip a checker.
func randomProbe(rng *rand.Rand, n int) []byte {
	groupBys := [][]string{{}, {"system_id"}, {"interface"}, {"interface", "system_id"}}
	numeric := []string{"sum", "average", "min", "max", "std_dev"}
	counting := []string{"match_count", "match_perc", "set_count"}
	pick := func(list []string) string { return list[rng.IntN(len(list))] }
	gb := func() []string { return groupBys[rng.IntN(len(groupBys))] }
	var procs []map[string]any
	add := func(name, typ string, in string, props map[string]any) {
		p := map[string]any{"name": name, "type": typ, "outputs": map[string]string{"out": name}, "properties": props}
		if in != "" {
			p["inputs"] = map[string]any{"in": map[string]string{"stage": in, "column": "value"}}
		}
		procs = append(procs, p)
	}
	add("rate", "if_counter", "", map[string]any{"counter_type": pick([]string{"tx_bytes", "rx_bytes", "rx_error_packets"})})
	aggProps := func(typ string, groupBy []string) map[string]any {
		p := map[string]any{"group_by": groupBy}
		if typ == "std_dev" {
			p["ddof"] = rng.IntN(2) // ddof 1 on one-item groups gives NaN
		}
		return p
	}
	in := "rate"
	switch rng.IntN(3) {
	case 1: // a per-item average over time on the devices first
		add("avg", "periodic_average", "rate", map[string]any{"period": 20})
		in = "avg"
	case 2: // a per-item join of two counters on the devices first
		add("rate2", "if_counter", "", map[string]any{"counter_type": "rx_unicast_packets"})
		procs = append(procs, map[string]any{"name": "ratio", "type": "ratio", "outputs": map[string]string{"out": "ratio"},
			"inputs": map[string]any{"numerator": map[string]string{"stage": "rate", "column": "value"}, "denominator": map[string]string{"stage": "rate2", "column": "value"}}})
		in = "ratio"
	}
	g1, g1By := pick(numeric), gb()
	add("g1", g1, in, aggProps(g1, g1By))
	add("g1_check", "range_check", "g1", map[string]any{"range": map[string]any{"max": 987.654 + float64(rng.IntN(3000))}, "raise_anomaly": true})
	if len(g1By) > 0 {
		g2 := pick(numeric)
		add("g2", g2, "g1", aggProps(g2, gb()[:0]))
		add("g2_check", "range_check", "g2", map[string]any{"range": map[string]any{"min": 1234.567 + float64(rng.IntN(500))}, "raise_anomaly": true})
	}
	add("busy", "range_check", "rate", map[string]any{"range": map[string]any{"max": 1100.123 + float64(rng.IntN(1000))}})
	states := "busy"
	if rng.IntN(2) == 0 { // how long each item was busy, on the devices
		add("sustained", "time_in_state_check", "busy", map[string]any{"time_window": 40, "state_range": map[string]any{"'true'": []any{map[string]any{"min": 20}}}})
		states = "sustained"
	}
	c := pick(counting)
	cp := map[string]any{"group_by": gb()}
	if c != "set_count" {
		cp["reference_state"] = pick([]string{"true", "false"})
	}
	add("count", c, states, cp)
	add("count_check", "range_check", "count", map[string]any{"range": map[string]any{"min": 1.5}, "raise_anomaly": true})
	add("history", "accumulate", "rate", map[string]any{"max_samples": 1 + rng.IntN(4)})
	ts := pick(numeric)
	add("series", ts, "history", aggProps(ts, gb()))
	doc, _ := json.Marshal(map[string]any{"label": fmt.Sprintf("random %d", n), "dialect": "4.x", "processors": procs})
	return doc
}

func TestSplitEqualsWholeRandomProbes(t *testing.T) {
	rng := rand.New(rand.NewPCG(12, 2026))
	probes := 150
	if testing.Short() {
		probes = 30
	}
	split := 0
	for n := range probes {
		doc := randomProbe(rng, n)
		batches := randomBatches(rng, 12, 6)
		t.Run(fmt.Sprint(n), func(t *testing.T) {
			s := checkSplitEqualsWhole(t, doc, batches, "idle-device")
			if !s.EdgeOnly() {
				split++
			}
		})
	}
	if split < probes/2 {
		t.Errorf("only %d of %d random probes crossed the cut: the generator does not exercise merges", split, probes)
	}
	t.Logf("worst difference between split and whole: %.0f ULPs (bound %d)", worstULPs, maxULPs)
}

// TestSplitEqualsWholeCorpus runs every probe of testdata/probes and the
// seed probe on their recorded counters and on random counters.
func TestSplitEqualsWholeCorpus(t *testing.T) {
	files, _ := filepath.Glob("../testdata/probes/*.json")
	files = append(files, "testdata/seed_probe.json")
	if len(files) < 6 {
		t.Fatalf("corpus has %d probes", len(files))
	}
	rng := rand.New(rand.NewPCG(7, 7))
	for _, f := range files {
		doc, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		t.Run(filepath.Base(f), func(t *testing.T) {
			counters := strings.TrimSuffix(f, ".json") + ".counters.jsonl"
			if _, err := os.Stat(counters); err == nil {
				batches, err := replay.ReadFile(counters)
				if err != nil {
					t.Fatal(err)
				}
				checkSplitEqualsWhole(t, doc, batches)
			}
			for range 10 {
				checkSplitEqualsWhole(t, doc, randomBatches(rng, 10, 5))
			}
		})
	}
}
