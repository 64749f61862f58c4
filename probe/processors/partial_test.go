package processors

import (
	"encoding/json"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/probe-agent/probe-agent/probe"
)

func partialColumns(cols []probe.Column) []map[string]string {
	out := []map[string]string{}
	for _, c := range cols {
		out = append(out, map[string]string{"name": c.Name})
	}
	return out
}

// TestPartialOutputAndMerge runs each grouping processor three ways on the
// same items: whole; as the edge writes it (partial: output, grouped by
// system_id too), checking the partial columns; and as the centre merges
// those partials (partial: merge) into the value.
func TestPartialOutputAndMerge(t *testing.T) {
	items := []feedItem{item("a", "e1", 2), item("a", "e2", 4), item("b", "e1", 10), {Props: []string{"b", "e2"}, Missing: true}, item("c", "e1", 7)}
	cases := []struct {
		typ, props string
		partial    map[string]map[string]float64 // system -> column -> value
		want       float64
	}{
		{"sum", ``, map[string]map[string]float64{"a": {"value": 2, "sum": 6}, "b": {"value": 1, "sum": 10}, "c": {"value": 1, "sum": 7}}, 23},
		{"average", ``, map[string]map[string]float64{"a": {"value": 2, "sum": 6}}, 23.0 / 4},
		{"min", ``, map[string]map[string]float64{"a": {"value": 2, "min": 2}, "b": {"value": 1, "min": 10}}, 2},
		{"max", ``, map[string]map[string]float64{"a": {"value": 2, "max": 4}}, 10},
		{"std_dev", `, "ddof": 1`, map[string]map[string]float64{"a": {"value": 2, "mean": 3, "m2": 2}, "b": {"value": 1, "mean": 10, "m2": 0}}, 3.5}, // M2 36.75 over 4 values, ddof 1
	}
	for _, c := range cases {
		t.Run(c.typ, func(t *testing.T) {
			setFeed("partial."+c.typ, items...)
			edge := newHarness(t, probeDoc("edge", source("partial."+c.typ, "ns"),
				`{"name": "p", "type": "`+c.typ+`", "inputs": {"in": "src"}, "outputs": {"out": "p"}, "properties": {"group_by": ["system_id"], "partial": "output"`+c.props+`}}`))
			edge.tick(nil, 0)
			st := edge.stage("p")
			for sys, cols := range c.partial {
				i, ok := st.Lookup([]string{sys})
				if !ok {
					t.Fatalf("no partial for %s", sys)
				}
				for name, want := range cols {
					col, ok := st.ColumnIndex(name)
					if !ok {
						t.Fatalf("partial stage has no column %q (%v)", name, st.Columns)
					}
					if got := st.Num(i, col); got != want {
						t.Errorf("%s %s = %v, want %v", sys, name, got, want)
					}
				}
			}
			// The centre: the edge's partial stage as a stage update, merged.
			cols, _ := json.Marshal(partialColumns(st.Columns[1:]))
			h := newHarness(t, probeDoc("central", `{"name": "src", "type": "stage_input", "outputs": {"out": "src"}, "properties": {"keys": ["system_id"], "columns": `+string(cols)+`}}`,
				`{"name": "p", "type": "`+c.typ+`", "inputs": {"in": "src"}, "outputs": {"out": "v"}, "properties": {"group_by": [], "partial": "merge"`+c.props+`}}`))
			u := &probe.StageUpdate{}
			probe.UpdateOf(u, st)
			u.Stage, u.Device = "src", "edge"
			if err := h.inst.Feed(u); err != nil {
				t.Fatal(err)
			}
			if err := h.inst.Tick(&probe.Tick{Time: t0}); err != nil {
				t.Fatal(err)
			}
			got := h.stage("v").Num(0, 0)
			if math.Abs(got-c.want) > 1e-12*math.Max(1, math.Abs(c.want)) {
				t.Errorf("merged %v, want %v", got, c.want)
			}
		})
	}
}

// TestMomentsMergeOrder merges random partitions of the same values in
// random orders: the result stays within the split tolerance of the
// two-pass whole (docs/probes.md), and exact for n, sum of integers, min
// and max.
func TestMomentsMergeOrder(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 5))
	for trial := range 200 {
		n := 1 + rng.IntN(60)
		xs := make([]float64, n)
		for i := range xs {
			xs[i] = float64(rng.IntN(100000)) / float64(1+rng.IntN(3)*5)
		}
		var whole Moments
		for _, x := range xs {
			whole.Add(x)
		}
		whole.M2 = 0
		mean := 0.0
		for _, x := range xs {
			mean += x
		}
		mean /= float64(n)
		for _, x := range xs {
			whole.M2 += (x - mean) * (x - mean)
		}
		parts := make([]Moments, 1+rng.IntN(8))
		for _, x := range xs {
			parts[rng.IntN(len(parts))].Add(x)
		}
		rng.Shuffle(len(parts), func(i, j int) { parts[i], parts[j] = parts[j], parts[i] })
		var merged Moments
		for _, p := range parts {
			merged.Merge(p)
		}
		if merged.N != whole.N || merged.Min != whole.Min || merged.Max != whole.Max {
			t.Fatalf("trial %d: n/min/max %v/%v/%v, want %v/%v/%v", trial, merged.N, merged.Min, merged.Max, whole.N, whole.Min, whole.Max)
		}
		for name, pair := range map[string][2]float64{"sum": {merged.Sum, whole.Sum}, "std": {merged.StdDev(0), math.Sqrt(whole.M2 / whole.N)}} {
			scale := math.Max(math.Max(math.Abs(pair[0]), math.Abs(pair[1])), 1)
			if math.Abs(pair[0]-pair[1]) > 4096*(math.Nextafter(scale, math.Inf(1))-scale) {
				t.Errorf("trial %d: %s merged %v, whole %v", trial, name, pair[0], pair[1])
			}
		}
	}
}
