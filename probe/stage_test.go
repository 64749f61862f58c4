package probe

import (
	"fmt"
	"runtime"
	"testing"
	"time"

	"github.com/probe-agent/probe-agent/collectors"
)

func newTestStage(t StageType) *Stage {
	return &Stage{Name: "s", Type: t, Keys: []string{"k"}, Columns: []Column{{Name: "value", Kind: t.Kind}}}
}

func layoutOf(keys ...string) [][]string {
	props := make([][]string, len(keys))
	for i, k := range keys {
		props[i] = []string{k}
	}
	return props
}

// TestStageRelayoutCarriesItems: values, change marks, samples and evidence
// of items whose key persists follow them to their new position; new items
// start empty.
func TestStageRelayoutCarriesItems(t *testing.T) {
	st := newTestStage(DSTS)
	st.MaxSamples = 4
	st.begin(1, time.Unix(100, 0))
	st.SetLayout(layoutOf("a", "b", "c"))
	for i, v := range []string{"true", "false", "true"} {
		st.Append(i, Value{Str: v})
	}
	st.SetEvidence(0, Evidence{State: "a-ev"})
	st.SetEvidence(2, Evidence{State: "c-ev"})

	st.begin(2, time.Unix(101, 0))
	st.SetLayout(layoutOf("c", "d", "a"))
	want := []struct {
		key     string
		valid   bool
		value   string
		samples int
		ev      string
	}{{"c", true, "true", 1, "c-ev"}, {"d", false, "", 0, ""}, {"a", true, "true", 1, "a-ev"}}
	for i, w := range want {
		it := st.Item(i)
		if it.Key() != w.key || it.Valid != w.valid || it.Value.Str != w.value || it.SampleCount() != w.samples || st.EvidenceOf(i).State != w.ev {
			t.Errorf("item %d = {%s valid=%v %q samples=%d ev=%q}, want %+v", i, it.Key(), it.Valid, it.Value.Str, it.SampleCount(), st.EvidenceOf(i).State, w)
		}
	}
	if st.ChangedNow(0) {
		t.Error("a relayout alone marked a carried item changed")
	}
	if got := st.Item(0).Changed; got != 1 {
		t.Errorf("carried item's change mark = %d, want 1", got)
	}
}

// TestStageEvidenceOnlyForAnomalousItems: a checker's evidence is kept for
// anomalous items only, and the pool is reused as anomalies come and go,
// so it stays as large as the most anomalies raised at once.
func TestStageEvidenceOnlyForAnomalousItems(t *testing.T) {
	st := newTestStage(DSS)
	st.SetLayout(layoutOf("a", "b", "c", "d"))
	ev := Evidence{Actual: Value{Num: 150}, Max: 100, HasMax: true}
	for round := 0; round < 50; round++ {
		st.begin(uint64(round+1), time.Unix(int64(round), 0))
		for i := 0; i < st.Len(); i++ {
			bad := (i+round)%4 == 0 // one anomalous item, moving
			st.SetCheck(i, bad, ev)
		}
		for i := 0; i < st.Len(); i++ {
			bad := (i+round)%4 == 0
			if got := st.EvidenceOf(i); (got == ev) != bad {
				t.Fatalf("round %d item %d: evidence %+v, anomalous %v", round, i, got, bad)
			}
			if got := st.Str(i, 0); got != map[bool]string{true: "true", false: "false"}[bad] {
				t.Fatalf("round %d item %d: value %q", round, i, got)
			}
		}
	}
	// Two: within a round the next item is raised before the previous one
	// is cleared.
	if len(st.evPool) > 2 {
		t.Errorf("evidence pool grew to %d entries for one anomalous item at a time", len(st.evPool))
	}
}

// TestStageMirrorSharesKeys: an output mirroring its input adds only its own
// value columns; the keys stay one copy. 88-byte item structs (the former
// layout) fail this.
func TestStageMirrorSharesKeys(t *testing.T) {
	const n = 10000
	keys := make([]string, n)
	for i := range keys {
		keys[i] = fmt.Sprintf("Ethernet%d", i)
	}
	in := newTestStage(NS)
	in.SetLayout(layoutOf(keys...))
	out := newTestStage(DSS)
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	out.Mirror(in)
	runtime.ReadMemStats(&after)
	if perItem := float64(after.TotalAlloc-before.TotalAlloc) / n; perItem > 6 {
		t.Errorf("mirroring allocated %.1f bytes per item, want at most 6 (a state byte and a 4-byte change mark)", perItem)
	}
	if &out.Props(5)[0] != &in.Props(5)[0] || out.ItemKey(n-1) != in.ItemKey(n-1) {
		t.Error("mirrored stage does not share the input's keys")
	}
	if out.Mirror(in) {
		t.Error("second Mirror of an unchanged input laid out again")
	}
}

// TestStageNumAndStrColumns: a stage stores the kind it is declared with and
// still takes the other kind when a processor sets it.
func TestStageNumAndStrColumns(t *testing.T) {
	st := newTestStage(NS)
	st.SetLayout(layoutOf("a"))
	if st.strs != nil {
		t.Error("number stage allocated a string column")
	}
	st.begin(1, time.Unix(1, 0))
	st.SetNum(0, 3)
	st.SetStr(0, "x")
	if v := st.Item(0).Value; v.Num != 3 || v.Str != "x" {
		t.Errorf("value %+v", v)
	}
	st.begin(2, time.Unix(2, 0))
	st.SetNum(0, 3)
	if st.ChangedNow(0) {
		t.Error("setting the same number marked the item changed")
	}
	st.Invalidate(0)
	if st.Valid(0) || !(st.Item(0).Changed == 2) {
		t.Errorf("invalidate: valid=%v changed=%d", st.Valid(0), st.Item(0).Changed)
	}
}

// TestAdvanceKeepsOnlyWantedCounters: the previous tick is kept for the
// counters some source asked for during the tick, one column each, and
// nothing else; a counter nobody asks for any more is dropped.
func TestAdvanceKeepsOnlyWantedCounters(t *testing.T) {
	b := &collectors.Batch{Layout: 1}
	for _, name := range []string{"a", "b", "c"} {
		ifc := collectors.Interface{SystemID: "s", Name: name, Generation: 4}
		ifc.Set(collectors.TxBytes, 10)
		ifc.Set(collectors.RxBytes, 20)
		b.Interfaces = append(b.Interfaces, ifc)
	}
	var c ItemCache
	c.Want(collectors.TxBytes)
	c.Advance(b, time.Unix(1, 0))
	if len(c.prev.cols[collectors.TxBytes]) != 3 || c.prev.cols[collectors.RxBytes] != nil {
		t.Fatalf("kept columns tx=%d rx=%v, want tx for 3 items and no rx", len(c.prev.cols[collectors.TxBytes]), c.prev.cols[collectors.RxBytes])
	}
	prev, _, ok := c.Previous(c.For(b))
	if v, found := prev.Counter(1, collectors.TxBytes, 4); !ok || !found || v != 10 {
		t.Errorf("tx of item 1 = %d, %v, want 10", v, found)
	}
	if _, found := prev.Counter(1, collectors.RxBytes, 4); found {
		t.Error("rx was not wanted but is there")
	}
	if _, found := prev.Counter(1, collectors.TxBytes, 5); found {
		t.Error("another generation's counter was returned")
	}
	c.Advance(b, time.Unix(2, 0)) // nobody asked this tick
	if c.prev.cols[collectors.TxBytes] != nil {
		t.Error("a counter nobody wants any more is still kept")
	}
}

// TestStateColumnBeyond256Values: a state stage stores a byte per item
// while it has few distinct values and keeps every value right when more
// than 256 appear.
func TestStateColumnBeyond256Values(t *testing.T) {
	const n = 600
	keys := make([]string, n)
	for i := range keys {
		keys[i] = fmt.Sprint(i)
	}
	st := newTestStage(DSS)
	st.SetLayout(layoutOf(keys...))
	st.begin(1, time.Unix(1, 0))
	for i := 0; i < n; i++ {
		st.SetStr(i, []string{"up", "down"}[i%2])
	}
	if st.strs.idx == nil || len(st.strs.names) != 3 {
		t.Fatalf("two states stored as strings or with %d names", len(st.strs.names))
	}
	st.begin(2, time.Unix(2, 0))
	for i := 0; i < n; i++ {
		st.SetStr(i, fmt.Sprint("state-", i))
	}
	for i := 0; i < n; i++ {
		if got, want := st.Str(i, 0), fmt.Sprint("state-", i); got != want || !st.ChangedNow(i) {
			t.Fatalf("item %d = %q (changed %v), want %q", i, got, st.ChangedNow(i), want)
		}
	}
	st.begin(3, time.Unix(3, 0))
	st.SetStr(5, "state-5")
	if st.ChangedNow(5) {
		t.Error("same value marked changed after the switch to strings")
	}
}

// TestStageChangeMarksAcrossSeqWrap: change marks keep 31 bits of the tick
// number; a change is still told right when the tick number passes 2^31.
func TestStageChangeMarksAcrossSeqWrap(t *testing.T) {
	st := newTestStage(NS)
	st.SetLayout(layoutOf("a", "b"))
	const wrap = 1 << 31
	st.begin(wrap-1, time.Unix(1, 0))
	st.SetNum(0, 1)
	st.begin(wrap, time.Unix(2, 0))
	st.SetNum(1, 2)
	if st.ChangedNow(0) || !st.ChangedNow(1) {
		t.Errorf("changed now: a=%v b=%v, want false true", st.ChangedNow(0), st.ChangedNow(1))
	}
	if got := st.Item(0).Changed; got != wrap-1 {
		t.Errorf("a changed at %d, want %d", got, uint64(wrap-1))
	}
	if got := st.Item(1).Changed; got != wrap {
		t.Errorf("b changed at %d, want %d", got, uint64(wrap))
	}
	st.begin(wrap+5, time.Unix(3, 0))
	if st.ChangedNow(0) || st.ChangedNow(1) || st.Item(1).Changed != wrap {
		t.Error("an unchanged item looks changed after the wrap")
	}
}
