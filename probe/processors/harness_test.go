package processors

import (
	"encoding/json"
	"fmt"
	"math"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/probe-agent/probe-agent/collectors"
	"github.com/probe-agent/probe-agent/probe"
)

// The test_values processor is a source registered only in tests: its items
// come from a feed the test sets, so processor tests control exact values
// (NaN, states, items appearing and disappearing) without counters.
func init() {
	probe.Register(&probe.Spec{
		Name:        "test_values",
		Label:       "Test values",
		Description: "Test-only source whose items come from a Go feed.",
		Outputs:     map[string]probe.Port{"out": {Required: true, Types: probe.AllStageTypes}},
		Schema: probe.Merge(streamingProps(), map[string]*probe.Schema{
			"feed":        probe.Prop("string"),
			"stage_type":  probe.Prop("string").Def("ns"),
			"keys":        probe.Prop("array").Def([]any{"system_id", "interface"}).Of(probe.Prop("string")),
			"max_samples": probe.Prop("integer").Def(0),
		}),
		New: func(b *probe.Build) (probe.Processor, error) {
			var cfg struct {
				Feed       string   `json:"feed"`
				StageType  string   `json:"stage_type"`
				Keys       []string `json:"keys"`
				MaxSamples int      `json:"max_samples"`
			}
			if err := b.Decode(&cfg); err != nil {
				return nil, err
			}
			t, err := probe.ParseStageType(cfg.StageType)
			if err != nil {
				return nil, err
			}
			if !t.Set {
				cfg.Keys = nil
			}
			out := b.Output("out", t, cfg.Keys)
			out.MaxSamples = cfg.MaxSamples
			return &testValues{feed: cfg.Feed, out: out}, nil
		},
	})
}

// feedItem is one item a feed produces at a tick. Num is used for number
// stages, Str for others; Missing leaves the item without a value.
type feedItem struct {
	Props   []string
	Num     float64
	Str     string
	Missing bool
}

var (
	feedsMu sync.Mutex
	feeds   = map[string][]feedItem{}
)

// setFeed sets what the test_values processor named by feed emits next tick.
func setFeed(feed string, items ...feedItem) {
	feedsMu.Lock()
	defer feedsMu.Unlock()
	feeds[feed] = items
}

type testValues struct {
	feed string
	out  *probe.Stage
	last string
}

func (p *testValues) Eval(*probe.Tick) error {
	feedsMu.Lock()
	items := feeds[p.feed]
	feedsMu.Unlock()
	var keys []string
	props := make([][]string, len(items))
	for i, it := range items {
		props[i] = it.Props
		keys = append(keys, strings.Join(it.Props, "\x1f"))
	}
	if sig := strings.Join(keys, "\x1e"); sig != p.last || p.out.Len() != len(items) {
		if p.out.Type.Set {
			p.out.SetLayout(props)
		} else {
			p.out.SetSingle()
		}
		p.last = sig
	}
	for i, it := range items {
		v := probe.Value{Num: it.Num, Str: it.Str}
		switch {
		case it.Missing:
			p.out.Invalidate(i)
		case p.out.Type.TimeSeries:
			p.out.Append(i, v)
		case p.out.Type.Kind == probe.Number:
			p.out.SetNum(i, it.Num)
		default:
			p.out.SetStr(i, it.Str)
		}
	}
	return nil
}

// harness runs one probe tick by tick with a controlled clock.
type harness struct {
	t    testing.TB
	inst *probe.Instance
	now  time.Time
}

var t0 = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

// newHarness compiles a probe document (failing the test on problems).
func newHarness(t testing.TB, doc string) *harness {
	t.Helper()
	plan, probs := probe.CompileJSON([]byte(doc))
	if len(probs) > 0 {
		t.Fatalf("probe does not validate:\n%v", probs)
	}
	inst, err := probe.NewInstance(plan)
	if err != nil {
		t.Fatal(err)
	}
	return &harness{t: t, inst: inst, now: t0}
}

// tick evaluates once at the harness clock, then advances it by step.
func (h *harness) tick(batch *collectors.Batch, step time.Duration) {
	h.t.Helper()
	if err := h.inst.Tick(&probe.Tick{Time: h.now, Counters: batch}); err != nil {
		h.t.Fatalf("tick at %s: %v", h.now.Format(time.RFC3339), err)
	}
	h.now = h.now.Add(step)
}

// tickErr evaluates once and returns the error.
func (h *harness) tickErr(step time.Duration) error {
	err := h.inst.Tick(&probe.Tick{Time: h.now})
	h.now = h.now.Add(step)
	return err
}

func (h *harness) stage(name string) *probe.Stage {
	h.t.Helper()
	st, ok := h.inst.Stage(name)
	if !ok {
		h.t.Fatalf("no stage %q (have %v)", name, h.inst.StageNames())
	}
	return st
}

// values renders a stage's valid items as "k1=v1,k2=v2" -> value, where the
// value is a float64 for number stages (NaN as the string "NaN") and the
// string otherwise.
func (h *harness) values(name string) map[string]any {
	st := h.stage(name)
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
		var v any = it.Value.Str
		if st.Type.Kind == probe.Number {
			v = it.Value.Num
			if math.IsNaN(it.Value.Num) {
				v = "NaN"
			}
		}
		out[strings.Join(parts, ",")] = v
	}
	return out
}

// anomalyKeys lists raised anomalies as "stage:k=v,..." sorted.
func (h *harness) anomalyKeys() []string {
	var out []string
	for _, a := range h.inst.Anomalies() {
		var parts []string
		for i, k := range a.Keys {
			parts = append(parts, k+"="+a.Props[i])
		}
		out = append(out, a.Stage+":"+strings.Join(parts, ","))
	}
	sort.Strings(out)
	return out
}

// probeDoc builds a probe document from processor JSON fragments.
func probeDoc(label string, processors ...string) string {
	return fmt.Sprintf(`{"label": %q, "processors": [%s]}`, label, strings.Join(processors, ","))
}

// source is a test_values processor fragment writing stage "src".
func source(feed, stageType string, keys ...string) string {
	k, _ := json.Marshal(keys)
	if keys == nil {
		k = []byte(`["system_id", "interface"]`)
	}
	return fmt.Sprintf(`{"name": "src", "type": "test_values", "outputs": {"out": "src"}, "properties": {"feed": %q, "stage_type": %q, "keys": %s}}`, feed, stageType, k)
}

// item is shorthand for a number feed item keyed by system and interface.
func item(sys, intf string, v float64) feedItem {
	return feedItem{Props: []string{sys, intf}, Num: v}
}

// state is shorthand for a state or text feed item.
func state(sys, intf, s string) feedItem {
	return feedItem{Props: []string{sys, intf}, Str: s}
}

// assertValues compares a stage's values with want.
func assertValues(t testing.TB, h *harness, stage string, want map[string]any) {
	t.Helper()
	got := h.values(stage)
	gj, _ := json.Marshal(got)
	wj, _ := json.Marshal(want)
	if string(gj) != string(wj) {
		t.Errorf("stage %q:\n got %s\nwant %s", stage, gj, wj)
	}
}
