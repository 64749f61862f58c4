package processors

import (
	"testing"
	"time"

	"github.com/probe-agent/probe-agent/probe"
)

func TestAccumulateBounds(t *testing.T) {
	doc := probeDoc("acc", source("acc", "dss"),
		`{"name": "a", "type": "accumulate", "inputs": {"in": "src"}, "outputs": {"out": "hist"}, "properties": {"max_samples": 3}}`,
		`{"name": "d", "type": "accumulate", "inputs": {"in": "src"}, "outputs": {"out": "recent"}, "properties": {"max_samples": 100, "total_duration": "2 * 5"}}`,
		`{"name": "flaps", "type": "range_check", "inputs": {"in": "recent"}, "outputs": {"out": "flapping"}, "properties": {"property": "sample_count", "range": {"max": 2}}}`)
	h := newHarness(t, doc)
	if st := h.stage("hist"); st.Type != probe.DSSTS {
		t.Fatalf("accumulate of dss is %s, want dssts", st.Type)
	}
	counts := func(stage string) map[string]int {
		st := h.stage(stage)
		out := map[string]int{}
		for i := 0; i < st.Len(); i++ {
			out[st.Item(i).Props[1]] = st.Item(i).SampleCount()
		}
		return out
	}
	// e1 flaps every second for 5 s; e2 stays up.
	for i, s := range []string{"up", "down", "up", "down", "up"} {
		setFeed("acc", state("a", "e1", s), state("a", "e2", "up"))
		h.tick(nil, time.Second)
		if got := counts("hist")["e1"]; got != min(i+1, 3) {
			t.Fatalf("tick %d: max_samples 3 series has %d samples", i, got)
		}
	}
	if got := counts("hist")["e2"]; got != 1 {
		t.Errorf("unchanged item appended on every tick: %d samples, want 1", got)
	}
	assertValues(t, h, "flapping", map[string]any{"system_id=a,interface=e1": "true", "system_id=a,interface=e2": "false"})
	// Quiet for 11 s: samples more than 10 s old expire without new ones
	// arriving (a sample exactly total_duration old is still kept).
	for i := 0; i < 11; i++ {
		setFeed("acc", state("a", "e1", "up"), state("a", "e2", "up"))
		h.tick(nil, time.Second)
	}
	if got := counts("recent")["e1"]; got != 0 {
		t.Errorf("samples older than total_duration kept: %d", got)
	}
	assertValues(t, h, "flapping", map[string]any{"system_id=a,interface=e1": "false", "system_id=a,interface=e2": "false"})
	// History of a surviving item is kept when another item appears.
	setFeed("acc", state("a", "e1", "down"), state("a", "e2", "up"), state("a", "e3", "up"))
	h.tick(nil, time.Second)
	if got := counts("hist"); got["e1"] != 3 || got["e3"] != 1 {
		t.Errorf("after a new item: %v", got)
	}
}

func TestPeriodicAverage(t *testing.T) {
	doc := probeDoc("pavg", source("pavg", "ns"),
		`{"name": "p", "type": "periodic_average", "inputs": {"in": "src"}, "outputs": {"out": "avg"}, "properties": {"period": 3}}`)
	h := newHarness(t, doc)
	steps := []struct {
		items []feedItem
		want  map[string]any
	}{
		{[]feedItem{item("a", "e1", 1)}, map[string]any{}},
		{[]feedItem{item("a", "e1", 2)}, map[string]any{}},
		{[]feedItem{item("a", "e1", 6), item("a", "e2", 4)}, map[string]any{}},
		// Period [0s, 3s) closed: mean of 1, 2, 6 and of 4.
		{[]feedItem{item("a", "e1", 10), {Props: []string{"a", "e2"}, Missing: true}}, map[string]any{"system_id=a,interface=e1": 3.0, "system_id=a,interface=e2": 4.0}},
		{[]feedItem{item("a", "e1", 20)}, map[string]any{"system_id=a,interface=e1": 3.0}},
		{[]feedItem{item("a", "e1", 30)}, map[string]any{"system_id=a,interface=e1": 3.0}},
		{[]feedItem{item("a", "e1", 0)}, map[string]any{"system_id=a,interface=e1": 20.0}},
	}
	for i, s := range steps {
		setFeed("pavg", s.items...)
		h.tick(nil, time.Second)
		assertValues(t, h, "avg", s.want)
		if t.Failed() {
			t.Fatalf("step %d", i)
		}
	}
}
