package processors

import (
	"encoding/json"
	"fmt"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/probe-agent/probe-agent/probe"
)

// Test helpers shared by the set_count, match_count, match_perc,
// state_check, time_in_state_check and match_string tests.

// checkerProc is a processor fragment named "p" reading stage "src" in the
// input syntax of dialect (which is how the dialect is detected) and writing
// stage "out".
func checkerProc(dialect probe.Dialect, typ, props string) string {
	in := `"src"`
	if dialect == probe.Dialect4x {
		in = `{"stage": "src", "column": "value"}`
	}
	return fmt.Sprintf(`{"name": "p", "type": %q, "inputs": {"in": %s}, "outputs": {"out": "out"}, "properties": %s}`, typ, in, props)
}

// probeDocIn is probeDoc with the document's "dialect" set, so that a test
// of one dialect does not depend on what detection would decide.
func probeDocIn(dialect probe.Dialect, label string, processors ...string) string {
	return fmt.Sprintf(`{"label": %q, "dialect": %q, "processors": [%s]}`, label, dialect, strings.Join(processors, ","))
}

// checkerStep is one tick of a table-driven processor test: the feed of
// source "src", the expected output values, and optionally the expected
// anomalies. The clock advances by step (1s when zero) after the tick.
type checkerStep struct {
	name      string
	feed      []feedItem
	want      map[string]any
	anomalies []string // checked when not nil; use []string{} for none
	step      time.Duration
}

func runCheckerSteps(t *testing.T, h *harness, feed string, steps []checkerStep) {
	t.Helper()
	for _, s := range steps {
		setFeed(feed, s.feed...)
		step := s.step
		if step == 0 {
			step = time.Second
		}
		h.tick(nil, step)
		assertValues(t, h, "out", s.want)
		if s.anomalies != nil {
			got := h.anomalyKeys()
			if strings.Join(got, " ") != strings.Join(s.anomalies, " ") {
				t.Errorf("anomalies: got %q, want %q", got, s.anomalies)
			}
		}
		if t.Failed() {
			t.Fatalf("after step %q", s.name)
		}
	}
}

// checkerColumnValues renders column col of a stage's valid items like
// harness.values.
func checkerColumnValues(h *harness, stage, col string) map[string]any {
	st := h.stage(stage)
	c, ok := st.ColumnIndex(col)
	if !ok {
		h.t.Fatalf("stage %q has no column %q", stage, col)
	}
	out := map[string]any{}
	for i := 0; i < st.Len(); i++ {
		it := st.Item(i)
		if !it.Valid {
			continue
		}
		var parts []string
		for k, key := range st.Keys {
			parts = append(parts, key+"="+it.Props[k])
		}
		var v any = st.Num(i, c)
		if st.Columns[c].Kind != probe.Number {
			v = st.Str(i, c)
		} else if math.IsNaN(v.(float64)) {
			v = "NaN"
		}
		out[strings.Join(parts, ",")] = v
	}
	return out
}

// evidence returns the evidence of the output item with the given key
// values.
func checkerEvidence(h *harness, stage string, props ...string) probe.Evidence {
	st := h.stage(stage)
	i, ok := st.Lookup(props)
	if !ok {
		h.t.Fatalf("stage %q has no item %v", stage, props)
	}
	return st.EvidenceOf(i)
}

// checkerProblem is a probe that must fail validation with a problem on
// processor "p" and the given field.
type checkerProblem struct {
	name  string
	doc   string
	field string
	// message, when set, must appear in the problem's message.
	message string
}

func runCheckerProblems(t *testing.T, cases []checkerProblem) {
	t.Helper()
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, probs := probe.CompileJSON([]byte(c.doc))
			for _, p := range probs {
				if p.Processor == "p" && p.Field == c.field && strings.Contains(p.Message, c.message) {
					return
				}
			}
			t.Errorf("want a problem on processor \"p\" field %q containing %q; got:\n%v", c.field, c.message, probs)
		})
	}
}

// The checker_bench_states processor is a test-only source for benchmarks:
// items discrete-state items "up"/"down" keyed by system_id and interface,
// each flipping once every 100 ticks (1% of the items change per tick), and
// allocation-free after its first tick, so a benchmark measures the
// processor under test.
func init() {
	probe.Register(&probe.Spec{
		Name:        "checker_bench_states",
		Label:       "Benchmark states",
		Description: "Test-only source of flipping states for benchmarks.",
		Outputs:     map[string]probe.Port{"out": {Required: true, Types: probe.AllStageTypes}},
		Schema: probe.Merge(streamingProps(), map[string]*probe.Schema{
			"items":      probe.Prop("integer").Def(10000),
			"stage_type": probe.Prop("string").Def("dss"),
		}),
		New: func(b *probe.Build) (probe.Processor, error) {
			var cfg struct {
				Items     int    `json:"items"`
				StageType string `json:"stage_type"`
			}
			if err := b.Decode(&cfg); err != nil {
				return nil, err
			}
			t, err := probe.ParseStageType(cfg.StageType)
			if err != nil {
				return nil, err
			}
			out := b.Output("out", t, []string{"system_id", "interface"})
			out.MaxSamples = 8
			return &benchStates{out: out, n: cfg.Items}, nil
		},
	})
}

var benchStateValues = [2]string{"up", "down"}

type benchStates struct {
	out  *probe.Stage
	n    int
	tick int
}

func (p *benchStates) Eval(*probe.Tick) error {
	if p.out.Len() != p.n {
		props := make([][]string, p.n)
		for i := range props {
			props[i] = []string{fmt.Sprintf("leaf%d", i/48), fmt.Sprintf("eth%d", i%48)}
		}
		p.out.SetLayout(props)
	}
	p.tick++
	for i := 0; i < p.n; i++ {
		v := benchStateValues[((i+p.tick)/100)%2]
		if !p.out.Type.TimeSeries {
			p.out.SetStr(i, v)
			continue
		}
		if it := p.out.Item(i); !it.Valid || it.Value.Str != v {
			p.out.Append(i, benchStateValue(v))
		}
	}
	return nil
}

func benchStateValue(s string) probe.Value { return probe.Value{Str: s} }

// benchChecker runs a 4.x probe of the benchmark source and one processor
// fragment (reading stage "src") over 10,000 items, after enough warm-up
// ticks for every item to have flipped and every buffer to have grown.
func benchChecker(b *testing.B, stageType, proc string) {
	doc := fmt.Sprintf(`{"label": "bench", "dialect": "4.x", "processors": [
		{"name": "src", "type": "checker_bench_states", "outputs": {"out": "src"}, "properties": {"items": 10000, "stage_type": %q}}%s]}`, stageType, proc)
	h := newHarness(b, doc)
	for range 600 { // longer than any benchmark's time window plus two flips
		h.tick(nil, time.Second)
	}
	// One Tick reused, so that only the engine and the processors count.
	tick := &probe.Tick{}
	b.ReportAllocs()
	for b.Loop() {
		tick.Time = h.now
		if err := h.inst.Tick(tick); err != nil {
			b.Fatal(err)
		}
		h.now = h.now.Add(time.Second)
	}
}

// BenchmarkCheckerBenchSource is the cost of the source alone, to subtract
// from the processor benchmarks.
func BenchmarkCheckerBenchSource(b *testing.B) { benchChecker(b, "dss", "") }

func TestUnquoteOnce(t *testing.T) {
	for in, want := range map[string]string{
		`'Full'`: "Full", `"Full"`: "Full", `Full`: "Full", `true`: "true", `'a'b'`: `'a'b'`, `1`: "1", `"it's"`: "it's",
	} {
		if got := unquoteOnce(in); got != want {
			t.Errorf("unquoteOnce(%s) = %q, want %q", in, got, want)
		}
	}
}

// TestCheckerDescriptions checks that each processor registers under its API
// name with its aliases and a schema that serialises.
func TestCheckerDescriptions(t *testing.T) {
	names := map[string]string{
		"set_count": "set_count", "match_count": "match_count", "match_perc": "match_perc",
		"state_check": "state_check", "in_state": "state_check",
		"time_in_state_check": "time_in_state_check", "time_in_state": "time_in_state_check",
		"match_string": "match_string",
	}
	for name, api := range names {
		spec, ok := probe.Lookup(name)
		if !ok {
			t.Fatalf("%s is not registered", name)
		}
		if spec.Name != api || spec.Description == "" || spec.Inputs["in"].Types == nil || spec.Outputs["out"].Types == nil {
			t.Errorf("%s: spec %q: want API name %q, a description and in/out ports", name, spec.Name, api)
		}
		if _, err := json.Marshal(spec); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
}

func equalJSON(a, b any) bool {
	aj, _ := json.Marshal(a)
	bj, _ := json.Marshal(b)
	return string(aj) == string(bj)
}
