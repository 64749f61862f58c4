package processors

import (
	"fmt"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/probe-agent/probe-agent/probe"
)

// Test-only sources for the multi-input processors.
//
// pairing_bench_source lays out count items once and then only changes their
// values, allocation-free, so that a benchmark or an allocation test of a
// whole tick measures the processor under test. Items are keyed
// {prefix<n/100>, eth<n%100>} for n in [start, start+count).
//
// pairing_columns_source is a DSS keyed by system_id and interface with a
// second discrete-state column "alt": value comes from a feed item's Str,
// alt is "true" when its Num is non-zero.
func init() {
	probe.Register(&probe.Spec{
		Name:        "pairing_bench_source",
		Label:       "Pairing benchmark source",
		Description: "Test-only source with a fixed set of items whose values change every tick.",
		Outputs:     map[string]probe.Port{"out": {Required: true, Types: []probe.StageType{probe.NS, probe.DSS, probe.TS}}},
		Schema: probe.Merge(streamingProps(), map[string]*probe.Schema{
			"count":      probe.Prop("integer").Def(10000),
			"start":      probe.Prop("integer").Def(0),
			"prefix":     probe.Prop("string").Def("leaf"),
			"stage_type": probe.Prop("string").Def("ns"),
		}),
		New: func(b *probe.Build) (probe.Processor, error) {
			var cfg struct {
				Count, Start int
				Prefix       string
				StageType    string `json:"stage_type"`
			}
			if err := b.Decode(&cfg); err != nil {
				return nil, err
			}
			t, err := probe.ParseStageType(cfg.StageType)
			if err != nil {
				return nil, err
			}
			props := make([][]string, cfg.Count)
			for i := range props {
				n := cfg.Start + i
				props[i] = []string{cfg.Prefix + strconv.Itoa(n/100), "eth" + strconv.Itoa(n%100)}
			}
			return &pairingBenchSource{out: b.Output("out", t, []string{"system_id", "interface"}), props: props, start: cfg.Start}, nil
		},
	})
	probe.Register(&probe.Spec{
		Name:        "pairing_columns_source",
		Label:       "Two-column state source",
		Description: "Test-only DSS source with columns value and alt.",
		Outputs:     map[string]probe.Port{"out": {Required: true, Types: []probe.StageType{probe.DSS}}},
		Schema:      probe.Merge(streamingProps(), map[string]*probe.Schema{"feed": probe.Prop("string")}),
		New: func(b *probe.Build) (probe.Processor, error) {
			var cfg struct{ Feed string }
			if err := b.Decode(&cfg); err != nil {
				return nil, err
			}
			out := b.Output("out", probe.DSS, []string{"system_id", "interface"}, probe.Column{Name: "alt", Kind: probe.DiscreteState})
			return &pairingColumnsSource{feed: cfg.Feed, out: out}, nil
		},
	})
}

type pairingBenchSource struct {
	out   *probe.Stage
	props [][]string
	start int
	laid  bool
}

var benchTexts = [...]string{"alpha", "bravo", "charlie", "delta", "echo"}

func (s *pairingBenchSource) Eval(t *probe.Tick) error {
	if !s.laid {
		s.out.SetLayout(s.props)
		s.laid = true
	}
	for i := range s.props {
		n := s.start + i + int(t.Seq)
		switch s.out.Type.Kind {
		case probe.Number:
			s.out.SetNum(i, float64(n%97))
		case probe.DiscreteState:
			if n%3 == 0 {
				s.out.SetStr(i, "true")
			} else {
				s.out.SetStr(i, "false")
			}
		default:
			s.out.SetStr(i, benchTexts[n%len(benchTexts)])
		}
	}
	return nil
}

type pairingColumnsSource struct {
	feed string
	out  *probe.Stage
}

func (s *pairingColumnsSource) Eval(*probe.Tick) error {
	feedsMu.Lock()
	items := feeds[s.feed]
	feedsMu.Unlock()
	props := make([][]string, len(items))
	for i, it := range items {
		props[i] = it.Props
	}
	s.out.SetLayout(props)
	for i, it := range items {
		s.out.SetStr(i, it.Str)
		alt := probe.Value{Str: "false"}
		if it.Num != 0 {
			alt.Str = "true"
		}
		s.out.SetExtra(i, 1, alt)
	}
	return nil
}

// feedSrc is a stage_input processor named after the stage it writes.
func feedSrc(stage, feed, stageType string, keys ...string) string {
	k := `["system_id", "interface"]`
	if keys != nil {
		k = `["` + strings.Join(keys, `", "`) + `"]`
	}
	if len(keys) == 1 && keys[0] == "" {
		k = `[]`
	}
	return fmt.Sprintf(`{"name": %q, "type": "stage_input", "outputs": {"out": %q}, "properties": {"source": %q, "stage_type": %q, "keys": %s}}`, stage, stage, feed, stageType, k)
}

// benchSrc is a pairing_bench_source processor named after its stage.
func benchSrc(stage, stageType string, count, start int, prefix string) string {
	return fmt.Sprintf(`{"name": %q, "type": "pairing_bench_source", "outputs": {"out": %q}, "properties": {"count": %d, "start": %d, "prefix": %q, "stage_type": %q}}`,
		stage, stage, count, start, prefix, stageType)
}

// pairProc is a processor fragment; inputs and outputs map port to stage.
func pairProc(name, typ string, inputs, outputs map[string]string, props string) string {
	if props == "" {
		props = "{}"
	}
	in, out := []string{}, []string{}
	for _, p := range pairTestKeys(inputs) {
		in = append(in, fmt.Sprintf("%q: %q", p, inputs[p]))
	}
	for _, p := range pairTestKeys(outputs) {
		out = append(out, fmt.Sprintf("%q: %q", p, outputs[p]))
	}
	return fmt.Sprintf(`{"name": %q, "type": %q, "inputs": {%s}, "outputs": {%s}, "properties": %s}`,
		name, typ, strings.Join(in, ", "), strings.Join(out, ", "), props)
}

// pairTestKeys returns the keys of m, sorted.
func pairTestKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// pairStep is one tick of a multi-input processor test: the feeds to set,
// then either the values expected per stage or a substring of the expected
// error, which must also put the probe in the error state.
type pairStep struct {
	name  string
	feeds map[string][]feedItem
	want  map[string]map[string]any
	err   string
}

func runPairSteps(t *testing.T, doc string, steps []pairStep) *harness {
	t.Helper()
	h := newHarness(t, doc)
	for _, s := range steps {
		for f, items := range s.feeds {
			setFeed(f, items...)
		}
		err := h.tickErr(time.Second)
		st, msg := h.inst.State()
		if s.err != "" {
			if err == nil || !strings.Contains(err.Error(), s.err) {
				t.Fatalf("step %q: tick error %v, want one containing %q", s.name, err, s.err)
			}
			if st != probe.StateError || !strings.Contains(msg, s.err) {
				t.Fatalf("step %q: state %q (%q), want error containing %q", s.name, st, msg, s.err)
			}
			continue
		}
		if err != nil {
			t.Fatalf("step %q: %v", s.name, err)
		}
		if st != probe.StateOperational {
			t.Fatalf("step %q: state %q (%q), want operational", s.name, st, msg)
		}
		for _, stage := range pairTestKeys(s.want) {
			assertValues(t, h, stage, s.want[stage])
		}
		if t.Failed() {
			t.Fatalf("after step %q", s.name)
		}
	}
	return h
}

// problemCase is a document that must not validate, with the processor and
// field of the expected problem and a substring of its message.
type problemCase struct {
	name                 string
	doc                  string
	processor, field, in string
}

func runProblemCases(t *testing.T, cases []problemCase) {
	t.Helper()
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			plan, probs := probe.CompileJSON([]byte(c.doc))
			if plan != nil || len(probs) == 0 {
				t.Fatalf("document validated; want a problem on %s %s", c.processor, c.field)
			}
			for _, p := range probs {
				if p.Processor == c.processor && p.Field == c.field && strings.Contains(p.Message, c.in) {
					return
				}
			}
			t.Errorf("no problem with processor %q, field %q, message containing %q; got:\n%v", c.processor, c.field, c.in, probs)
		})
	}
}

// assertWarning compiles doc and checks that a warning contains want.
func assertWarning(t *testing.T, doc, want string) {
	t.Helper()
	plan, probs := probe.CompileJSON([]byte(doc))
	if len(probs) > 0 {
		t.Fatalf("probe does not validate:\n%v", probs)
	}
	for _, w := range plan.Warnings {
		if strings.Contains(w, want) {
			return
		}
	}
	t.Errorf("no warning containing %q; got %q", want, plan.Warnings)
}

// benchTicks benchmarks whole ticks of doc after warming it up; the sources
// are pairing_bench_source, so the allocations reported are the processor's.
func benchTicks(b *testing.B, doc string) {
	h := newHarness(b, doc)
	tk := &probe.Tick{Time: t0}
	for range 3 {
		if err := h.inst.Tick(tk); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		tk.Time = tk.Time.Add(time.Second)
		if err := h.inst.Tick(tk); err != nil {
			b.Fatal(err)
		}
	}
}

// pairingBenchDocs are the benchmark probes, one per processor, at 10,000
// output items each (union: two inputs of 5,000; set_comparison: A and B of
// 10,000 overlapping by half).
func pairingBenchDocs(n int) map[string]string {
	two := func(typ, a, b, st string, props string) string {
		return probeDoc("bench "+typ, benchSrc("x", st, n, 0, "leaf"), benchSrc("y", st, n, 0, "leaf"),
			pairProc("p", typ, map[string]string{a: "x", b: "y"}, map[string]string{"out": "out"}, props))
	}
	return map[string]string{
		"comparison": two("comparison", "A", "B", "ns", `{"operation": "ge"}`),
		"subtract":   two("subtract", "minuend", "subtrahend", "ns", ""),
		"ratio":      two("ratio", "numerator", "denominator", "ns", ""),
		"logical":    two("logical", "in1", "in2", "dss", `{"operation": "and"}`),
		"union": probeDoc("bench union", benchSrc("x", "ns", n/2, 0, "leafA"), benchSrc("y", "ns", n/2, 0, "leafB"),
			pairProc("p", "union", map[string]string{"in_1": "x", "in_2": "y"}, map[string]string{"out": "out"}, "")),
		"set_comparison": probeDoc("bench set_comparison", benchSrc("x", "ns", n, 0, "leaf"), benchSrc("y", "ns", n, n/2, "leaf"),
			pairProc("p", "set_comparison", map[string]string{"A": "x", "B": "y"},
				map[string]string{"A - B": "a_only", "B - A": "b_only", "A & B": "both"}, "")),
	}
}

// TestPairingSteadyStateAllocs holds every multi-input processor to zero
// allocations per tick once its inputs' layouts are stable.
func TestPairingSteadyStateAllocs(t *testing.T) {
	for name, doc := range pairingBenchDocs(500) {
		t.Run(name, func(t *testing.T) {
			h := newHarness(t, doc)
			tk := &probe.Tick{Time: t0}
			if err := h.inst.Tick(tk); err != nil {
				t.Fatal(err)
			}
			allocs := testing.AllocsPerRun(20, func() {
				tk.Time = tk.Time.Add(time.Second)
				if err := h.inst.Tick(tk); err != nil {
					t.Fatal(err)
				}
			})
			if allocs != 0 {
				t.Errorf("%v allocations per steady-state tick, want 0", allocs)
			}
		})
	}
}

// TestPairingBenchDocsSizes checks the benchmark probes produce the item
// counts the benchmarks claim.
func TestPairingBenchDocsSizes(t *testing.T) {
	for name, doc := range pairingBenchDocs(10000) {
		h := newHarness(t, doc)
		h.tick(nil, time.Second)
		want := map[string]int{"out": 10000}
		if name == "set_comparison" {
			want = map[string]int{"a_only": 5000, "b_only": 5000, "both": 5000}
		}
		for stage, n := range want {
			if got := h.stage(stage).Len(); got != n {
				t.Errorf("%s: stage %q has %d items, want %d", name, stage, got, n)
			}
		}
	}
}

func TestDescribeKeys(t *testing.T) {
	tests := []struct {
		keys, vals []string
		want       string
	}{
		{nil, nil, ""},
		{[]string{"system_id"}, []string{"leaf1"}, `system_id="leaf1"`},
		{[]string{"system_id", "interface"}, []string{"leaf1", `e"0`}, `system_id="leaf1", interface="e\"0"`},
	}
	for _, tt := range tests {
		if got := describeKeys(tt.keys, tt.vals); got != tt.want {
			t.Errorf("describeKeys(%q, %q) = %s, want %s", tt.keys, tt.vals, got, tt.want)
		}
	}
}

func TestSameKeySet(t *testing.T) {
	tests := []struct {
		a, b []string
		want bool
	}{
		{nil, nil, true},
		{[]string{"a", "b"}, []string{"b", "a"}, true},
		{[]string{"a", "b"}, []string{"a"}, false},
		{[]string{"a", "b"}, []string{"a", "c"}, false},
	}
	for _, tt := range tests {
		if got := sameKeySet(tt.a, tt.b); got != tt.want {
			t.Errorf("sameKeySet(%q, %q) = %v, want %v", tt.a, tt.b, got, tt.want)
		}
	}
}

// BenchmarkPairingSources10k is the baseline of the processor benchmarks:
// the two 10,000-item sources alone, without a processor reading them.
func BenchmarkPairingSources10k(b *testing.B) {
	benchTicks(b, probeDoc("bench sources", benchSrc("x", "ns", 10000, 0, "leaf"), benchSrc("y", "ns", 10000, 0, "leaf")))
}
