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

// Processor tests feed their sources through the real stage_input
// processor: a stage_input whose "source" property names a feed gets that
// feed's items, as one device's stage update, at every harness tick, so
// tests control exact values (NaN, states, items appearing and
// disappearing) without counters.

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

// setFeed sets what the stage_input processor whose source is feed emits
// next tick.
func setFeed(feed string, items ...feedItem) {
	feedsMu.Lock()
	defer feedsMu.Unlock()
	feeds[feed] = items
}

// feedInputs gives every stage_input of the harness's probe its feed's
// current items as a stage update.
func (h *harness) feedInputs() {
	h.t.Helper()
	h.seq++
	for _, pd := range h.inst.Plan.Processors() {
		if pd.Type != "stage_input" {
			continue
		}
		feed, _ := pd.Properties["source"].(string)
		st, ok := h.inst.Stage(pd.Outputs["out"])
		if !ok {
			continue
		}
		feedsMu.Lock()
		items := feeds[feed]
		feedsMu.Unlock()
		u := &probe.StageUpdate{Stage: st.Name, Seq: h.seq, Time: h.now, Type: st.Type, Keys: st.Keys, Columns: st.Columns}
		for _, it := range items {
			ui := probe.UpdateItem{Props: it.Props, Valid: !it.Missing, Values: make([]probe.Value, len(st.Columns))}
			if !st.Type.Set {
				ui.Props = nil
			}
			ui.Values[0] = probe.Value{Num: it.Num, Str: it.Str}
			u.Items = append(u.Items, ui)
		}
		if err := h.inst.Feed(u); err != nil {
			h.t.Fatalf("feed %q: %v", feed, err)
		}
	}
}

// harness runs one probe tick by tick with a controlled clock.
type harness struct {
	t    testing.TB
	inst *probe.Instance
	now  time.Time
	seq  uint64 // stage updates fed so far
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
	h.feedInputs()
	if err := h.inst.Tick(&probe.Tick{Time: h.now, Counters: batch}); err != nil {
		h.t.Fatalf("tick at %s: %v", h.now.Format(time.RFC3339), err)
	}
	h.now = h.now.Add(step)
}

// tickErr evaluates once and returns the error.
func (h *harness) tickErr(step time.Duration) error {
	h.feedInputs()
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

// source is a stage_input processor fragment writing stage "src", fed from
// feed.
func source(feed, stageType string, keys ...string) string {
	k, _ := json.Marshal(keys)
	if keys == nil {
		k = []byte(`["system_id", "interface"]`)
	}
	return fmt.Sprintf(`{"name": "src", "type": "stage_input", "outputs": {"out": "src"}, "properties": {"source": %q, "stage_type": %q, "keys": %s}}`, feed, stageType, k)
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
