package probe

import (
	"encoding/json"
	"math"
	"slices"
	"sort"
	"strconv"
	"time"

	"github.com/google/uuid"
)

// Severity of probe anomalies. Apstra raises probe anomalies as critical.
const Severity = "critical"

// anomalyNamespace makes anomaly and item ids stable UUIDs derived from what
// they identify, so a restart or a central evaluator names them the same.
var anomalyNamespace = uuid.MustParse("0b0e7c3e-6a52-4f4e-9d2c-9e1a5b0f2c11")

// ItemID is the stable id of a stage item, the same in streamed probe
// messages, alerts and the anomalies API.
func ItemID(probeID, stage, itemKey string) string {
	return nameUUID(anomalyNamespace, probeID, "\x00", stage, "\x00", itemKey).String()
}

// Anomaly is one raised (or just cleared) probe anomaly on one stage item.
type Anomaly struct {
	ID           string
	ItemID       string
	ProbeID      string
	ProbeLabel   string
	Stage        string
	Keys         []string
	Props        []string
	Raised       bool
	FirstSeen    time.Time
	LastModified time.Time
	Evidence     Evidence
	Dialect      Dialect
}

// MarshalJSON renders the anomaly as the anomalies API does: the seed's form
// (actual and expected, identity with stage_id and a properties object) for
// seed-dialect probes, and for 4.x probes the form with "anomalous" and an
// identity listing properties as key/value pairs.
func (a *Anomaly) MarshalJSON() ([]byte, error) {
	m := map[string]any{
		"id":               a.ID,
		"anomaly_type":     "probe",
		"severity":         Severity,
		"last_modified_at": a.LastModified.UTC().Format(time.RFC3339Nano),
	}
	ev := a.Evidence
	if a.Dialect.AnomalyForm4x() {
		m["actual"] = map[string]any{"value": jsonValue(ev.Actual, ev.Kind)}
		an := map[string]any{}
		if ev.HasMin || ev.HasMax {
			if ev.HasMin {
				an["value_min"] = jsonNumber(ev.Min)
			}
			if ev.HasMax {
				an["value_max"] = jsonNumber(ev.Max)
			}
		} else if ev.State != "" {
			an["value"] = ev.State
		}
		m["anomalous"] = an
		props := make([]map[string]string, len(a.Keys))
		for i, k := range a.Keys {
			props[i] = map[string]string{"key": k, "value": a.Props[i]}
		}
		m["identity"] = map[string]any{
			"anomaly_type": "probe",
			"probe_id":     a.ProbeID,
			"probe_label":  a.ProbeLabel,
			"stage_name":   a.Stage,
			"item_id":      a.ItemID,
			"properties":   props,
		}
		return json.Marshal(m)
	}
	m["actual"] = typedValue(ev.Actual, ev.Kind)
	m["expected"] = a.expected()
	props := map[string]string{}
	for i, k := range a.Keys {
		props[k] = a.Props[i]
	}
	m["identity"] = map[string]any{
		"anomaly_type": "probe",
		"probe_id":     a.ProbeID,
		"properties":   props,
		"stage_id":     a.Stage,
	}
	return json.Marshal(m)
}

// expected is the seed-dialect "expected" object: the bound the actual value
// crossed, or the whole expected range when no single bound explains it.
func (a *Anomaly) expected() map[string]any {
	ev := a.Evidence
	switch {
	case ev.Kind != Number || (!ev.HasMin && !ev.HasMax):
		if ev.State != "" {
			return map[string]any{"value": ev.State}
		}
		return map[string]any{}
	case ev.HasMax && ev.Actual.Num > ev.Max:
		return typedValue(Value{Num: ev.Max}, Number)
	case ev.HasMin && ev.Actual.Num < ev.Min:
		return typedValue(Value{Num: ev.Min}, Number)
	}
	out := map[string]any{}
	if ev.HasMin {
		out["value_min"] = jsonNumber(ev.Min)
	}
	if ev.HasMax {
		out["value_max"] = jsonNumber(ev.Max)
	}
	return out
}

// typedValue renders a value as Apstra's value_int / value_float / value.
func typedValue(v Value, k Kind) map[string]any {
	if k != Number {
		return map[string]any{"value": v.Str}
	}
	if isInt(v.Num) {
		return map[string]any{"value_int": int64(v.Num)}
	}
	return map[string]any{"value_float": jsonNumber(v.Num)}
}

func jsonValue(v Value, k Kind) any {
	if k != Number {
		return v.Str
	}
	return jsonNumber(v.Num)
}

// jsonNumber renders a number for JSON: integers without a fraction, NaN and
// infinities as strings (JSON has no literal for them).
func jsonNumber(f float64) any {
	switch {
	case math.IsNaN(f) || math.IsInf(f, 0):
		return strconv.FormatFloat(f, 'g', -1, 64)
	case isInt(f):
		return int64(f)
	}
	return f
}

func isInt(f float64) bool { return f == math.Trunc(f) && math.Abs(f) < 1<<53 }

// anomalyTracker raises and clears anomalies for the stages whose "true"
// items are anomalous. Per stage it keeps a bit per item (raised or not),
// so that a steady tick costs no map lookups, and a compact record of each
// raised anomaly: what an Anomaly holds that its stage and probe do not
// (the item's key, the times, the evidence). An Anomaly is built from it
// when asked for (Anomalies, Transitions): its ids are derived from the
// probe, stage and key, so a record need not keep them. That is 160 bytes
// per raised anomaly instead of 430 (the Anomaly, its two id strings and
// a map by id); hot/cold probes on an idle switch raise one per interface.
type anomalyTracker struct {
	inst        *Instance
	stages      []*trackedStage
	count       int // raised anomalies, over every stage
	transitions []Anomaly
}

type trackedStage struct {
	st     *Stage
	layout uint64
	raised []uint64 // bit i: item i has a raised anomaly
	// list holds the records of the raised anomalies in item order, one
	// per set bit of raised: a tick walks it along with the items, so a
	// raised item costs no map lookup (a stage can hold thousands, each
	// looked at every tick). The next tick's list is built in spare.
	list, spare []*raisedRecord
}

// raisedRecord is one raised anomaly (anomalyTracker).
type raisedRecord struct {
	key   string   // the item's key (shared with the stage)
	props []string // its key values (shared with the stage's layout)
	// firstSeen and modified are FirstSeen and LastModified.
	firstSeen, modified time.Time
	ev                  Evidence
}

func (ts *trackedStage) isRaised(i int) bool { return ts.raised[i/64]&(1<<(i%64)) != 0 }

func newAnomalyTracker(inst *Instance) *anomalyTracker {
	t := &anomalyTracker{inst: inst}
	for _, st := range inst.order {
		if st.RaisesAnomalies {
			t.stages = append(t.stages, &trackedStage{st: st, layout: ^uint64(0)})
		}
	}
	return t
}

func (t *anomalyTracker) update(now time.Time) {
	for _, ts := range t.stages {
		st := ts.st
		if ts.layout != st.layout {
			t.relayout(ts, now)
		}
		next := ts.spare[:0]
		k := 0 // ts.list[k] is the record of the next raised item
		for i := range st.Len() {
			raised := ts.isRaised(i)
			var r *raisedRecord
			if raised {
				r = ts.list[k]
				k++
			}
			// Every valid item is looked at, not only changed ones: a
			// checker may change its evidence (the actual value) while the
			// state stays "true". An item without a value keeps its state.
			if !st.Valid(i) {
				if raised {
					next = append(next, r)
				}
				continue
			}
			anomalous := st.Str(i, 0) == "true"
			switch {
			case anomalous && !raised:
				r = &raisedRecord{key: st.ItemKey(i), props: st.Props(i), firstSeen: now, modified: now, ev: st.EvidenceOf(i)}
				next = append(next, r)
				ts.raised[i/64] |= 1 << (i % 64)
				t.count++
				t.transitions = append(t.transitions, t.anomaly(ts.st, r, true))
			case anomalous:
				if ev := st.EvidenceOf(i); r.ev != ev {
					r.ev = ev
					r.modified = now
				}
				next = append(next, r)
			case raised:
				t.clear(ts, r, now)
				ts.raised[i/64] &^= 1 << (i % 64)
			}
		}
		clear(ts.list) // as the next spare, it must not keep cleared records
		ts.list, ts.spare = next, ts.list[:0]
	}
}

// relayout carries anomaly state across a change of the stage's items; an
// anomaly whose item disappeared is cleared, not forgotten.
func (t *anomalyTracker) relayout(ts *trackedStage, now time.Time) {
	st := ts.st
	type kept struct {
		item int
		r    *raisedRecord
	}
	keep := make([]kept, 0, len(ts.list))
	ts.raised = make([]uint64, (st.Len()+63)/64)
	// The list is in the old item order, so clears come out in a stable
	// order.
	for _, r := range ts.list {
		if i, ok := st.lookupKey(r.key); ok {
			// The key and props of the new layout: the old layout's
			// slices are not kept alive by the record.
			r.key, r.props = st.ItemKey(i), st.Props(i)
			keep = append(keep, kept{i, r})
			ts.raised[i/64] |= 1 << (i % 64)
		} else {
			t.clear(ts, r, now)
		}
	}
	slices.SortFunc(keep, func(a, b kept) int { return a.item - b.item })
	ts.list, ts.spare = make([]*raisedRecord, len(keep)), nil
	for j, k := range keep {
		ts.list[j] = k.r
	}
	ts.layout = st.layout
}

func (t *anomalyTracker) clear(ts *trackedStage, r *raisedRecord, now time.Time) {
	r.modified = now
	t.count--
	t.transitions = append(t.transitions, t.anomaly(ts.st, r, false))
}

// resetTransitions empties the transitions for the next tick. A burst
// (4,000 anomalies raised at once when a probe first sees its interfaces
// idle) leaves a buffer of 4,000 anomalies, 1.2 MB, that the steady ticks
// after it, with a few transitions or none, would keep for ever: a buffer
// more than four times larger than what the last tick used goes back to
// the GC. One that was well used is kept, so a probe flapping every tick
// does not allocate every tick.
func (t *anomalyTracker) resetTransitions() {
	if c := cap(t.transitions); c > minTransitionsKept && len(t.transitions) < c/4 {
		t.transitions = nil
		return
	}
	t.transitions = t.transitions[:0]
}

// minTransitionsKept is the capacity always kept (a few KB).
const minTransitionsKept = 16

// anomaly builds the Anomaly of record r of stage st.
func (t *anomalyTracker) anomaly(st *Stage, r *raisedRecord, raised bool) Anomaly {
	p := t.inst.Plan
	itemID := ItemID(p.ID, st.Name, r.key)
	return Anomaly{
		ID:           nameUUID(anomalyNamespace, "anomaly\x00", itemID).String(),
		ItemID:       itemID,
		ProbeID:      p.ID,
		ProbeLabel:   p.Doc.Label,
		Stage:        st.Name,
		Keys:         st.Keys,
		Props:        r.props,
		Raised:       raised,
		FirstSeen:    r.firstSeen,
		LastModified: r.modified,
		Evidence:     r.ev,
		Dialect:      p.Doc.Dialect,
	}
}

// Anomalies returns the currently raised anomalies, ordered by stage and
// item. They are built for the call: changing one changes nothing in the
// probe.
func (inst *Instance) Anomalies() []*Anomaly {
	t := inst.anomalies
	type entry struct {
		ts *trackedStage
		r  *raisedRecord
	}
	all := make([]entry, 0, t.count)
	for _, ts := range t.stages {
		for _, r := range ts.list {
			all = append(all, entry{ts, r})
		}
	}
	sort.Slice(all, func(i, j int) bool {
		if a, b := all[i].ts.st.Name, all[j].ts.st.Name; a != b {
			return a < b
		}
		return all[i].r.key < all[j].r.key
	})
	out := make([]*Anomaly, len(all))
	recs := make([]Anomaly, len(all))
	for i, e := range all {
		recs[i] = t.anomaly(e.ts.st, e.r, true)
		out[i] = &recs[i]
	}
	return out
}

// Transitions returns the anomalies raised or cleared by the last tick, in
// the order they happened.
func (inst *Instance) Transitions() []Anomaly { return inst.anomalies.transitions }
