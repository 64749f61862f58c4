package probe_test

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/probe-agent/probe-agent/collectors"
	"github.com/probe-agent/probe-agent/probe"
)

// A holistic processor for the fallback: the median of its input (the last
// value of a series), which has no mergeable partial state. It declares no
// placement.
type median struct {
	in  *probe.Input
	out *probe.Stage
}

func init() {
	probe.Register(&probe.Spec{
		Name:    "test_median",
		Inputs:  map[string]probe.Port{"in": {Required: true, Types: []probe.StageType{probe.NS, probe.NSTS}}},
		Outputs: map[string]probe.Port{"out": {Required: true, Types: []probe.StageType{probe.N}}},
		Schema:  probe.Object(map[string]*probe.Schema{}),
		New: func(b *probe.Build) (probe.Processor, error) {
			return &median{in: b.Input("in"), out: b.Output("out", probe.N, nil)}, nil
		},
	})
}

func (m *median) Eval(*probe.Tick) error {
	var xs []float64
	for i := range m.in.Stage.Len() {
		if m.in.Stage.Valid(i) {
			xs = append(xs, m.in.Num(i))
		}
	}
	if len(xs) == 0 {
		m.out.Invalidate(0)
		return nil
	}
	slices.Sort(xs)
	m.out.SetNum(0, xs[len(xs)/2])
	return nil
}

const counterProc = `{"name": "rates", "type": "if_counter", "outputs": {"out": "rates"}, "properties": {"counter_type": "tx_bytes"}}`

func TestPartition(t *testing.T) {
	seed := string(readFile(t, "testdata/seed_probe.json"))
	cases := []struct {
		name      string
		doc       string
		sides     map[string]probe.Side
		crossings []string // "stage kind partial-or-reason-fragment"
		edgeOnly  bool
	}{
		{"seed probe: std_dev across devices is split, range_check and anomaly central", seed,
			map[string]probe.Side{"server_tx_bytes": probe.Edge, "std": probe.SplitSide, "server_imbalance": probe.Central, "server_imbalance_anomaly": probe.Central},
			[]string{"std_dev_output.partial partial moments(n, mean, m2)"}, false},
		{"grouping by system_id stays on the device", `{"label": "p", "processors": [` + counterProc + `,
			{"name": "s", "type": "std_dev", "inputs": {"in": "rates"}, "outputs": {"out": "sd"}, "properties": {"group_by": ["system_id"]}},
			{"name": "r", "type": "range_check", "inputs": {"in": "sd"}, "outputs": {"out": "chk"}, "properties": {"range": {"max": 5}}}]}`,
			map[string]probe.Side{"rates": probe.Edge, "s": probe.Edge, "r": probe.Edge}, nil, true},
		{"counts across devices cross as tallies", `{"label": "p", "dialect": "4.x", "processors": [` + counterProc + `,
			{"name": "hot", "type": "range_check", "inputs": {"in": "rates"}, "outputs": {"out": "hot"}, "properties": {"range": {"min": 5}}},
			{"name": "n", "type": "match_perc", "inputs": {"in": "hot"}, "outputs": {"out": "n"}, "properties": {"reference_state": "true", "group_by": ["interface"]}}]}`,
			map[string]probe.Side{"rates": probe.Edge, "hot": probe.Edge, "n": probe.SplitSide},
			[]string{"n.partial partial tallies(total, matched)"}, false},
		{"a holistic aggregate falls back to shipping its input items", `{"label": "p", "processors": [` + counterProc + `,
			{"name": "m", "type": "test_median", "inputs": {"in": "rates"}, "outputs": {"out": "med"}}]}`,
			map[string]probe.Side{"rates": probe.Edge, "m": probe.Central},
			[]string{"rates items not decomposable"}, false},
		{"a time series crosses item by item with its samples", `{"label": "p", "dialect": "4.x", "processors": [` + counterProc + `,
			{"name": "history", "type": "accumulate", "inputs": {"in": {"stage": "rates", "column": "value"}}, "outputs": {"out": "history"}, "properties": {"max_samples": 3}},
			{"name": "m", "type": "test_median", "inputs": {"in": {"stage": "history", "column": "value"}}, "outputs": {"out": "med"}}]}`,
			map[string]probe.Side{"rates": probe.Edge, "history": probe.Edge, "m": probe.Central},
			[]string{"history items not decomposable"}, false},
		{"a per-item processor that also reads a central stage gets the items", `{"label": "p", "processors": [` + counterProc + `,
			{"name": "total", "type": "sum", "inputs": {"in": "rates"}, "outputs": {"out": "total"}},
			{"name": "share", "type": "ratio", "inputs": {"numerator": "rates", "denominator": "total"}, "outputs": {"out": "share"}}]}`,
			map[string]probe.Side{"rates": probe.Edge, "total": probe.SplitSide, "share": probe.Central},
			[]string{"total.partial partial moments(n, sum)", "rates items also reads a central stage"}, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			plan, probs := probe.CompileJSON([]byte(c.doc))
			if len(probs) > 0 {
				t.Fatal(probs)
			}
			s, err := probe.Partition(plan, nil)
			if err != nil {
				t.Fatal(err)
			}
			for name, want := range c.sides {
				if got := s.Sides[name]; got != want {
					t.Errorf("processor %q on %s, want %s", name, got, want)
				}
			}
			if len(s.Crossings) != len(c.crossings) {
				t.Fatalf("crossings %+v, want %v", s.Crossings, c.crossings)
			}
			for i, x := range s.Crossings {
				f := strings.SplitN(c.crossings[i], " ", 3)
				what := x.Reason
				if x.Partial != nil {
					what = x.Partial.String()
				}
				if x.Stage != f[0] || x.Kind != f[1] || !strings.Contains(what, f[2]) {
					t.Errorf("crossing %d: %s %s %q, want %q", i, x.Stage, x.Kind, what, c.crossings[i])
				}
			}
			if s.EdgeOnly() != c.edgeOnly {
				t.Errorf("EdgeOnly %v, want %v", s.EdgeOnly(), c.edgeOnly)
			}
			if c.edgeOnly && s.CentralDoc != nil {
				t.Errorf("edge-only probe has a central part:\n%s", s.CentralDoc)
			}
			if s.Edge.Doc.Export == nil || len(s.Edge.Doc.Export) != len(s.Crossings) {
				t.Errorf("edge part exports %q for crossings %v (want them, and a non-nil list when none)", s.Edge.Doc.Export, s.Crossings)
			}
			for _, x := range s.Crossings {
				if x.Kind == probe.CrossItems && !slices.ContainsFunc(s.Notes, func(n string) bool { return strings.Contains(n, x.Stage) }) {
					t.Errorf("stage %q crosses item by item without a note saying so (notes %q)", x.Stage, s.Notes)
				}
			}
			// Every split evaluates like the whole probe.
			checkSplitEqualsWhole(t, []byte(c.doc), randomBatches(rand.New(rand.NewPCG(1, 2)), 8, 5))
		})
	}
}

func TestPartitionKeepsIdentity(t *testing.T) {
	plan, probs := probe.CompileJSON(readFile(t, "testdata/seed_probe.json"))
	if len(probs) > 0 {
		t.Fatal(probs)
	}
	s, err := probe.Partition(plan, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, part := range []*probe.Plan{s.Edge, s.Central} {
		if part.ID != plan.ID || part.Label() != plan.Label() || part.Doc.Dialect != plan.Doc.Dialect {
			t.Errorf("part %q/%q/%s, probe %q/%q/%s", part.ID, part.Label(), part.Doc.Dialect, plan.ID, plan.Label(), plan.Doc.Dialect)
		}
	}
	// The edge document is an ordinary probe document a device can be
	// given: it validates on its own and has no central processor.
	if _, probs := probe.CompileJSON(s.EdgeDoc); len(probs) > 0 {
		t.Errorf("edge document does not validate: %v", probs)
	}
	if strings.Contains(string(s.EdgeDoc), "range_check") || !strings.Contains(string(s.EdgeDoc), `"partial": "output"`) {
		t.Errorf("edge document:\n%s", s.EdgeDoc)
	}
	if !slices.Equal(s.Edge.Doc.Export, []string{"std_dev_output.partial"}) {
		t.Errorf("edge part exports %q, want the partial stage", s.Edge.Doc.Export)
	}
	if s.Central.Doc.Export != nil {
		t.Errorf("central part exports %q", s.Central.Doc.Export)
	}
	if !strings.Contains(string(s.CentralDoc), `"partial": "merge"`) || !strings.Contains(string(s.CentralDoc), "stage_input") {
		t.Errorf("central document:\n%s", s.CentralDoc)
	}
}

// seedPartials returns, for the seed probe, each device's partial-state
// update after two ticks over ports ports per device.
func seedPartials(t testing.TB, devices, ports int) (*probe.Split, []*probe.StageUpdate) {
	plan, probs := probe.CompileJSON(readFile(t, "testdata/seed_probe.json"))
	if len(probs) > 0 {
		t.Fatal(probs)
	}
	s, err := probe.Partition(plan, nil)
	if err != nil {
		t.Fatal(err)
	}
	var out []*probe.StageUpdate
	for d := range devices {
		inst, err := probe.NewInstance(s.Edge)
		if err != nil {
			t.Fatal(err)
		}
		b := &collectors.Batch{Layout: 1}
		for p := range ports {
			ifc := collectors.Interface{SystemID: fmt.Sprintf("leaf%03d", d), Name: fmt.Sprintf("eth%d", p)}
			ifc.Set(collectors.TxBytes, 0)
			b.Interfaces = append(b.Interfaces, ifc)
		}
		at := time.Unix(1700000000, 0)
		for tick := range 2 {
			for i := range b.Interfaces {
				b.Interfaces[i].Counters[collectors.TxBytes] += uint64(1000*(1+d%7) + 37*i + tick)
			}
			if err := inst.Tick(&probe.Tick{Time: at.Add(time.Duration(tick) * time.Second), Counters: b}); err != nil {
				t.Fatal(err)
			}
		}
		st, _ := inst.Stage(s.Crossings[0].Stage)
		u := &probe.StageUpdate{}
		probe.UpdateOf(u, st)
		u.Device, u.Probe = fmt.Sprintf("leaf%03d", d), plan.ID
		out = append(out, u)
	}
	return s, out
}

func centralValue(t testing.TB, s *probe.Split, updates []*probe.StageUpdate) float64 {
	inst, err := probe.NewInstance(s.Central)
	if err != nil {
		t.Fatal(err)
	}
	for _, u := range updates {
		if err := inst.Feed(u); err != nil {
			t.Fatal(err)
		}
	}
	if err := inst.Tick(&probe.Tick{Time: time.Unix(1700000001, 0)}); err != nil {
		t.Fatal(err)
	}
	st, _ := inst.Stage("std_dev_output")
	return st.Num(0, 0)
}

// TestMergeOrderDoesNotMatter feeds the same device partials in random
// orders: the centre lays devices out by name, so the result is the same
// to the bit; and merging Moments in any order stays within the bound.
func TestMergeOrderDoesNotMatter(t *testing.T) {
	s, updates := seedPartials(t, 20, 6)
	want := centralValue(t, s, updates)
	if math.IsNaN(want) || want == 0 {
		t.Fatalf("std_dev %v: the fixture has no spread", want)
	}
	rng := rand.New(rand.NewPCG(3, 4))
	for range 20 {
		perm := slices.Clone(updates)
		rng.Shuffle(len(perm), func(i, j int) { perm[i], perm[j] = perm[j], perm[i] })
		if got := centralValue(t, s, perm); got != want {
			t.Fatalf("permuted arrival: %v, want %v", got, want)
		}
	}
}

// TestDuplicatePartialDetected sends one device's partial twice: the second
// is refused and the result is not double counted; the device's next tick
// is accepted.
func TestDuplicatePartialDetected(t *testing.T) {
	s, updates := seedPartials(t, 3, 4)
	want := centralValue(t, s, updates)
	inst, err := probe.NewInstance(s.Central)
	if err != nil {
		t.Fatal(err)
	}
	for _, u := range updates {
		if err := inst.Feed(u); err != nil {
			t.Fatal(err)
		}
	}
	err = inst.Feed(updates[1])
	if !errors.Is(err, probe.ErrDuplicateUpdate) || !strings.Contains(err.Error(), updates[1].Device) {
		t.Fatalf("second feed of the same partial: %v, want ErrDuplicateUpdate naming the device", err)
	}
	if err := inst.Tick(&probe.Tick{Time: time.Unix(1700000001, 0)}); err != nil {
		t.Fatal(err)
	}
	st, _ := inst.Stage("std_dev_output")
	if got := st.Num(0, 0); got != want {
		t.Errorf("after a duplicate: %v, want %v", got, want)
	}
	next := *updates[1]
	next.Seq++
	if err := inst.Feed(&next); err != nil {
		t.Errorf("the device's next tick: %v", err)
	}
	bad := *updates[0]
	bad.Seq += 10
	bad.Columns = bad.Columns[:1]
	if err := inst.Feed(&bad); err == nil || !strings.Contains(err.Error(), "columns") {
		t.Errorf("update with other columns: %v", err)
	}
}

func TestStageUpdateEncoding(t *testing.T) {
	at := time.Unix(1700000000, 123456789).UTC()
	cases := []*probe.StageUpdate{
		{Device: "leaf1", Probe: "p", Stage: "s.partial", Generation: 7, Time: at, Seq: 42, Type: probe.NS,
			Keys: []string{"system_id"}, Columns: []probe.Column{{Name: "value"}, {Name: "mean"}, {Name: "m2"}},
			Items: []probe.UpdateItem{
				{Props: []string{"leaf1"}, Valid: true, Values: []probe.Value{{Num: 3}, {Num: 0.1 + 0.2}, {Num: math.NaN()}}},
				{Props: []string{"l\x00eaf\u00e9"}, Values: []probe.Value{{Num: math.Copysign(0, -1)}, {Num: math.Inf(-1)}, {Num: math.SmallestNonzeroFloat64}}},
			}},
		{Device: "d", Stage: "hist", Time: at, Seq: 1, Type: probe.DSSTS, Keys: []string{"interface", "system_id"},
			Columns: []probe.Column{{Name: "value", Kind: probe.DiscreteState}, {Name: "note", Kind: probe.Text}},
			Items: []probe.UpdateItem{{Props: []string{"eth1", "d"}, Valid: true,
				Values:  []probe.Value{{Str: "true"}, {Str: ""}},
				Samples: []probe.Sample{{Time: at, Value: probe.Value{Str: "false"}}, {Time: at.Add(time.Second), Value: probe.Value{Str: "true"}}}}}},
		{Stage: "single", Time: at, Type: probe.N, Columns: []probe.Column{{Name: "value"}}},
	}
	for _, u := range cases {
		data := u.AppendBinary(nil)
		got, err := probe.DecodeStageUpdate(data)
		if err != nil {
			t.Fatalf("%s: %v", u.Stage, err)
		}
		if again := got.AppendBinary(nil); string(again) != string(data) {
			t.Errorf("%s: re-encoding differs", u.Stage)
		}
		if got.Device != u.Device || got.Probe != u.Probe || got.Stage != u.Stage || got.Generation != u.Generation ||
			!got.Time.Equal(u.Time) || got.Seq != u.Seq || got.Type != u.Type || !slices.Equal(got.Keys, u.Keys) ||
			!slices.Equal(got.Columns, u.Columns) || len(got.Items) != len(u.Items) {
			t.Fatalf("%s: decoded %+v, want %+v", u.Stage, got, u)
		}
		for i, it := range u.Items {
			g := got.Items[i]
			if !slices.Equal(g.Props, it.Props) || g.Valid != it.Valid || len(g.Samples) != len(it.Samples) {
				t.Errorf("%s item %d: %+v, want %+v", u.Stage, i, g, it)
			}
			for c, v := range it.Values {
				if math.Float64bits(g.Values[c].Num) != math.Float64bits(v.Num) || g.Values[c].Str != v.Str {
					t.Errorf("%s item %d column %d: %v, want %v (bits differ)", u.Stage, i, c, g.Values[c], v)
				}
			}
		}
		for cut := range len(data) {
			if _, err := probe.DecodeStageUpdate(data[:cut]); err == nil {
				t.Errorf("%s: truncated to %d bytes decodes", u.Stage, cut)
			}
		}
	}
}

func FuzzDecodeStageUpdate(f *testing.F) {
	at := time.Unix(1700000000, 0)
	f.Add((&probe.StageUpdate{Device: "a", Stage: "s", Time: at, Type: probe.NS, Keys: []string{"k"},
		Columns: []probe.Column{{Name: "value"}, {Name: "m2"}},
		Items:   []probe.UpdateItem{{Props: []string{"x"}, Valid: true, Values: []probe.Value{{Num: 1}, {Num: 2}}}}}).AppendBinary(nil))
	f.Add((&probe.StageUpdate{Stage: "t", Time: at, Type: probe.TSTS, Keys: []string{"k"}, Columns: []probe.Column{{Name: "value", Kind: probe.Text}},
		Items: []probe.UpdateItem{{Props: []string{"x"}, Values: []probe.Value{{Str: "v"}}, Samples: []probe.Sample{{Time: at, Value: probe.Value{Str: "w"}}}}}}).AppendBinary(nil))
	f.Add([]byte("PSU1"))
	f.Fuzz(func(t *testing.T, data []byte) {
		u, err := probe.DecodeStageUpdate(data)
		if err != nil {
			return
		}
		// What decodes re-encodes to the same bytes: the encoding is exact.
		if again := u.AppendBinary(nil); string(again) != string(data) {
			t.Fatalf("re-encoding differs:\n%x\n%x", data, again)
		}
	})
}

// TestSplitKeepsResolution: a plan whose sources a controller resolved
// (here: only eth1 and eth3 of each device are items) splits into parts
// that keep the resolution, and evaluates like the whole.
func TestSplitKeepsResolution(t *testing.T) {
	plan, probs := probe.CompileJSON(readFile(t, "testdata/seed_probe.json"))
	if len(probs) > 0 {
		t.Fatal(probs)
	}
	items := probe.NewSourceItems(nil)
	for d := range 6 {
		items.Add(fmt.Sprintf("leaf%d", d), "eth1", nil)
		items.Add(fmt.Sprintf("leaf%d", d), "eth3", nil)
	}
	resolved := plan.Resolve(probe.Resolution{"server_tx_bytes": items})
	// The part pushed to one device carries that device's items only.
	whole, err := probe.Partition(resolved, nil)
	if err != nil {
		t.Fatal(err)
	}
	doc, leaf2, err := whole.EdgeFor("leaf2")
	if err != nil {
		t.Fatal(err)
	}
	if got := leaf2.Resolution()["server_tx_bytes"]; got == nil || got.Len() != 2 || !strings.Contains(string(doc), `"resolved"`) {
		t.Fatalf("leaf2's edge part resolves %v:\n%s", got, doc)
	}
	if _, ok := leaf2.Resolution()["server_tx_bytes"].Lookup("leaf1", "eth1"); ok {
		t.Errorf("leaf2's edge part has leaf1's items")
	}
	rng := rand.New(rand.NewPCG(9, 9))
	for range 10 {
		s := checkSplitPlan(t, resolved, randomBatches(rng, 8, 6))
		inst, err := probe.NewInstance(s.Edge)
		if err != nil {
			t.Fatal(err)
		}
		b := &collectors.Batch{Time: time.Unix(1700000000, 0), Layout: 1}
		for _, name := range []string{"eth1", "eth2", "eth3"} {
			ifc := collectors.Interface{SystemID: "leaf1", Name: name}
			ifc.Set(collectors.TxBytes, 1)
			b.Interfaces = append(b.Interfaces, ifc)
		}
		if err := inst.Tick(&probe.Tick{Time: b.Time, Counters: b}); err != nil {
			t.Fatal(err)
		}
		if st, _ := inst.Stage("server_tx_bytes_output"); st.Len() != 2 {
			t.Fatalf("edge part of a resolved probe has %d items, want the 2 resolved", st.Len())
		}
	}
}

// TestStageGraph checks the seed plan's typed stage graph.
func TestStageGraph(t *testing.T) {
	plan, probs := probe.CompileJSON(readFile(t, "testdata/seed_probe.json"))
	if len(probs) > 0 {
		t.Fatal(probs)
	}
	var got []string
	for _, st := range plan.StageGraph() {
		var cols []string
		for _, c := range st.Columns {
			cols = append(cols, c.Name)
		}
		got = append(got, fmt.Sprintf("%s %s [%s] (%s) %s/%s -> %s", st.Name, st.Type, strings.Join(st.Keys, ","), strings.Join(cols, ","), st.Producer, st.ProducerType, strings.Join(st.Consumers, ",")))
	}
	want := []string{
		"server_tx_bytes_output ns [interface,system_id] (value) server_tx_bytes/if_counter -> std",
		"std_dev_output n [] (value) std/std_dev -> server_imbalance",
		"std_dev_output_in_range ds [] (value) server_imbalance/range_check -> server_imbalance_anomaly",
		"server_traffic_imbalanced ds [] (value) server_imbalance_anomaly/anomaly -> ",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("stage graph:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// TestPartitionSourceWithoutDeviceKeys: device keys that the counters' items
// do not carry put the source in the centre, which Partition says, and the
// split still evaluates (on no data) instead of failing.
func TestPartitionSourceWithoutDeviceKeys(t *testing.T) {
	plan, probs := probe.CompileJSON([]byte(`{"label": "p", "processors": [` + counterProc + `]}`))
	if len(probs) > 0 {
		t.Fatal(probs)
	}
	s, err := probe.Partition(plan, []string{"rack"})
	if err != nil {
		t.Fatal(err)
	}
	if s.Sides["rates"] != probe.Central || s.Edge != nil || len(s.Notes) != 1 || !strings.Contains(s.Notes[0], `source "rates" (if_counter) runs centrally`) {
		t.Fatalf("sides %v, notes %q", s.Sides, s.Notes)
	}
	run, err := probe.NewSplitRun(s)
	if err != nil {
		t.Fatal(err)
	}
	if err := run.Tick(time.Unix(1700000000, 0), &collectors.Batch{}); err != nil {
		t.Errorf("tick: %v", err)
	}
}

// TestDropDevice: a device the centre drops (gone, or stale) leaves the
// merge at the next tick; its next update is accepted again.
func TestDropDevice(t *testing.T) {
	s, updates := seedPartials(t, 3, 4)
	all := centralValue(t, s, updates)
	without := centralValue(t, s, updates[1:])
	if all == without {
		t.Fatalf("fixture: dropping a device does not change the std_dev (%v)", all)
	}
	inst, err := probe.NewInstance(s.Central)
	if err != nil {
		t.Fatal(err)
	}
	for _, u := range updates {
		if err := inst.Feed(u); err != nil {
			t.Fatal(err)
		}
	}
	stage := s.Crossings[0].Stage
	if fd := inst.FedDevices(stage); len(fd) != 3 || fd[0].Device != updates[0].Device || fd[0].Seq != updates[0].Seq || !fd[0].Time.Equal(updates[0].Time) || fd[0].Items != 1 {
		t.Fatalf("fed devices %+v", fd)
	}
	tk := &probe.Tick{Time: time.Unix(1700000001, 0)}
	if err := inst.Tick(tk); err != nil {
		t.Fatal(err)
	}
	if !inst.DropDevice(updates[0].Device) || inst.DropDevice("never-seen") {
		t.Fatal("DropDevice reports wrongly")
	}
	tk.Time = tk.Time.Add(time.Second)
	if err := inst.Tick(tk); err != nil {
		t.Fatal(err)
	}
	st, _ := inst.Stage("std_dev_output")
	if got := st.Num(0, 0); got != without {
		t.Errorf("after dropping %s: %v, want %v", updates[0].Device, got, without)
	}
	if err := inst.Feed(updates[0]); err != nil {
		t.Errorf("update from a dropped device: %v", err)
	}
}
