package probe

import (
	"math"
	"strings"
	"time"
)

// Value is one item's value: Num for number stages, Str for discrete-state
// and text stages.
type Value struct {
	Num float64
	Str string
}

// Sample is one entry of a time series.
type Sample struct {
	Time  time.Time
	Value Value
}

// Evidence is what a checker saw when it set an item: the value it tested and
// the range or state it tested against. Anomalies are built from it.
type Evidence struct {
	Actual   Value
	Kind     Kind // kind of Actual
	Min, Max float64
	HasMin   bool
	HasMax   bool
	// State is the reference state or pattern of a state or string check.
	State string
	// Anomalous is true when Min/Max describe the anomalous region (4.x),
	// false when they describe the expected one (seed dialect).
	Anomalous bool
}

// Item is one keyed entry of a stage.
type Item struct {
	// Props holds the item's key values, aligned with the stage's Keys.
	Props []string
	key   string
	Value Value
	// Valid is false until the item has a value (a rate needs two samples).
	Valid bool
	// Changed is the tick sequence number at which the value last changed or
	// a sample was appended.
	Changed uint64
	// series is the time series of a time-series item (nil otherwise): kept
	// out of line so that items of ordinary stages stay small.
	series *ring
}

// Key returns the item's identity within its stage.
func (it *Item) Key() string { return it.key }

// Samples calls fn for each sample of a time-series item, oldest first.
func (it *Item) Samples(fn func(Sample)) {
	if it.series != nil {
		it.series.each(fn)
	}
}

// SampleCount is the number of samples of a time-series item.
func (it *Item) SampleCount() int {
	if it.series == nil {
		return 0
	}
	return it.series.n
}

// Column is one value column of a stage.
type Column struct {
	Name string
	Kind Kind
}

// Stage is a processor output: typed, keyed items plus change tracking.
type Stage struct {
	Name string
	Type StageType
	// Keys are the property names that identify items.
	Keys []string
	// Columns lists value columns; Columns[0] is always "value".
	Columns []Column
	// PossibleValues lists the states of a discrete-state stage, when known.
	PossibleValues []string
	Meta           StageDoc
	// MaxSamples and MaxDuration bound time-series items (0 = no bound).
	MaxSamples  int
	MaxDuration time.Duration
	// Producer is the processor that writes the stage.
	Producer string
	// Streaming is set when the producer has enable_streaming.
	Streaming bool
	// RaisesAnomalies is set when "true" items of the stage are anomalies.
	RaisesAnomalies bool

	items []Item
	// evidence is aligned with items once a checker sets any; nil for the
	// stages that never carry evidence.
	evidence []Evidence
	// extra holds the values of the columns after "value", len(Columns)-1
	// per item; nil for single-column stages (nearly all).
	extra []Value
	// index maps item keys to positions; built on first lookup after a
	// layout change, since most stages are addressed by position only.
	index    map[string]int32
	layout   uint64
	mirrored uint64
	seq      uint64
	now      time.Time
}

// Len is the number of items.
func (s *Stage) Len() int { return len(s.items) }

// Item returns item i.
func (s *Stage) Item(i int) *Item { return &s.items[i] }

// Layout changes whenever the set or order of items changes.
func (s *Stage) Layout() uint64 { return s.layout }

// Seq is the sequence number of the tick being evaluated.
func (s *Stage) Seq() uint64 { return s.seq }

// Lookup finds an item by its key values.
func (s *Stage) Lookup(props []string) (int, bool) {
	return s.lookupKey(joinKey(props))
}

func (s *Stage) lookupKey(key string) (int, bool) {
	if s.index == nil {
		s.index = make(map[string]int32, len(s.items))
		for i := range s.items {
			s.index[s.items[i].key] = int32(i)
		}
	}
	i, ok := s.index[key]
	return int(i), ok
}

// SetEvidence records what a checker saw for item i.
func (s *Stage) SetEvidence(i int, ev Evidence) {
	if s.evidence == nil {
		s.evidence = make([]Evidence, len(s.items))
	}
	s.evidence[i] = ev
}

// SetCheck records a checker's verdict on item i: the state "true"
// (anomalous) or "false", and the evidence behind it.
func (s *Stage) SetCheck(i int, anomalous bool, ev Evidence) {
	s.SetEvidence(i, ev)
	if anomalous {
		s.SetStr(i, "true")
	} else {
		s.SetStr(i, "false")
	}
}

// EvidenceOf returns what the checker saw for item i (zero when none).
func (s *Stage) EvidenceOf(i int) Evidence {
	if s.evidence == nil {
		return Evidence{}
	}
	return s.evidence[i]
}

// ChangedNow reports whether item i changed during the current tick.
func (s *Stage) ChangedNow(i int) bool { return s.items[i].Changed == s.seq && s.items[i].Valid }

func joinKey(props []string) string { return strings.Join(props, "\x1f") }

// SetLayout replaces the items with one per entry of props (each aligned with
// Keys), keeping the value and history of items whose key persists. Call it
// only when the set of items changed: it allocates.
func (s *Stage) SetLayout(props [][]string) {
	keys := make([]string, len(props))
	for i, p := range props {
		keys[i] = joinKey(p)
	}
	s.relayout(props, keys)
}

func (s *Stage) relayout(props [][]string, keys []string) {
	old, oldEv, oldExtra := s.items, s.evidence, s.extra
	oldIndex := s.index
	if oldIndex == nil && len(old) > 0 {
		oldIndex = make(map[string]int32, len(old))
		for i := range old {
			oldIndex[old[i].key] = int32(i)
		}
	}
	s.items = make([]Item, len(props))
	s.index = nil
	if oldEv != nil {
		s.evidence = make([]Evidence, len(props))
	}
	n := len(s.Columns) - 1
	if n > 0 {
		s.extra = make([]Value, n*len(props))
	}
	for i, p := range props {
		if j, ok := oldIndex[keys[i]]; ok {
			s.items[i] = old[j]
			if oldEv != nil {
				s.evidence[i] = oldEv[j]
			}
			if n > 0 {
				copy(s.extra[i*n:(i+1)*n], oldExtra[int(j)*n:(int(j)+1)*n])
			}
			continue
		}
		s.items[i] = Item{Props: p, key: keys[i]}
	}
	s.layout++
}

// SetSingle makes the stage hold exactly one item without keys (N, DS, T).
func (s *Stage) SetSingle() {
	if len(s.items) != 1 {
		s.SetLayout([][]string{{}})
	}
}

// Mirror gives s the same items as in, in the same order, when in's layout
// changed since the last call. Per-item processors call it each tick so they
// can address their output by the input's index. Keys are shared with the
// input, not copied.
func (s *Stage) Mirror(in *Stage) bool {
	if s.mirrored == in.layout && len(s.items) == len(in.items) {
		return false
	}
	props := make([][]string, len(in.items))
	keys := make([]string, len(in.items))
	for i := range in.items {
		props[i], keys[i] = in.items[i].Props, in.items[i].key
	}
	s.relayout(props, keys)
	s.mirrored = in.layout
	return true
}

// SetNum sets a number value, marking the item changed if it differs.
func (s *Stage) SetNum(i int, v float64) {
	it := &s.items[i]
	if it.Valid && (it.Value.Num == v || (math.IsNaN(v) && math.IsNaN(it.Value.Num))) {
		return
	}
	it.Value.Num = v
	it.Valid = true
	it.Changed = s.seq
}

// SetStr sets a state or text value, marking the item changed if it differs.
func (s *Stage) SetStr(i int, v string) {
	it := &s.items[i]
	if it.Valid && it.Value.Str == v {
		return
	}
	it.Value.Str = v
	it.Valid = true
	it.Changed = s.seq
}

// SetExtra sets the value of column c (c >= 1) of item i.
func (s *Stage) SetExtra(i, c int, v Value) {
	x := &s.extra[i*(len(s.Columns)-1)+c-1]
	if *x != v {
		*x = v
		s.items[i].Changed = s.seq
	}
}

// Invalidate marks item i as having no value.
func (s *Stage) Invalidate(i int) {
	it := &s.items[i]
	if it.Valid {
		it.Valid = false
		it.Changed = s.seq
	}
}

// Append adds a sample at the tick's time to time-series item i, trimming
// the series to MaxSamples and MaxDuration.
func (s *Stage) Append(i int, v Value) {
	it := &s.items[i]
	if it.series == nil {
		it.series = &ring{buf: make([]Sample, 0, min(max(s.MaxSamples, 16), 1024))}
	}
	it.series.push(Sample{Time: s.now, Value: v}, s.MaxSamples)
	if s.MaxDuration > 0 {
		it.series.trimBefore(s.now.Add(-s.MaxDuration))
	}
	it.Value = v
	it.Valid = true
	it.Changed = s.seq
}

// Expire drops samples of time-series item i older than MaxDuration at the
// tick's time, so a series shrinks even when no new sample arrives. The item
// counts as changed when samples were dropped.
func (s *Stage) Expire(i int) {
	if s.MaxDuration <= 0 {
		return
	}
	it := &s.items[i]
	if it.series == nil {
		return
	}
	n := it.series.n
	it.series.trimBefore(s.now.Add(-s.MaxDuration))
	if it.series.n != n {
		it.Changed = s.seq
	}
}

// ValueAt reads column c of item i (c = 0 is "value").
func (s *Stage) ValueAt(i, c int) Value {
	if c == 0 {
		return s.items[i].Value
	}
	return s.extra[i*(len(s.Columns)-1)+c-1]
}

// Num reads column c of item i as a number (c = 0 is "value").
func (s *Stage) Num(i, c int) float64 {
	if c == 0 {
		return s.items[i].Value.Num
	}
	return s.extra[i*(len(s.Columns)-1)+c-1].Num
}

// Str reads column c of item i as a string.
func (s *Stage) Str(i, c int) string {
	if c == 0 {
		return s.items[i].Value.Str
	}
	return s.extra[i*(len(s.Columns)-1)+c-1].Str
}

// ColumnIndex finds a column by name.
func (s *Stage) ColumnIndex(name string) (int, bool) {
	for i, c := range s.Columns {
		if c.Name == name {
			return i, true
		}
	}
	return 0, false
}

func (s *Stage) begin(seq uint64, now time.Time) {
	s.seq, s.now = seq, now
}

// ring is a bounded time series; it grows up to its limit, then overwrites
// the oldest sample.
type ring struct {
	buf  []Sample
	head int // index of the oldest sample once the buffer is full
	n    int
}

// HardMaxSamples bounds a time series whose probe set no max_samples, so an
// unbounded series cannot exhaust the device's memory.
const HardMaxSamples = 65536

func (r *ring) push(smp Sample, limit int) {
	if limit <= 0 || limit > HardMaxSamples {
		limit = HardMaxSamples
	}
	if r.n < len(r.buf) { // free slots left by a duration trim
		r.buf[(r.head+r.n)%len(r.buf)] = smp
		r.n++
		return
	}
	if len(r.buf) < limit {
		if r.head != 0 { // linearise before growing
			lin := make([]Sample, r.n, 2*r.n+1)
			for i := range lin {
				lin[i] = *r.at(i)
			}
			r.buf, r.head = lin, 0
		}
		r.buf = append(r.buf, smp)
		r.n++
		return
	}
	r.buf[r.head] = smp
	r.head = (r.head + 1) % len(r.buf)
}

func (r *ring) at(i int) *Sample { return &r.buf[(r.head+i)%len(r.buf)] }

func (r *ring) trimBefore(t time.Time) {
	for r.n > 0 && r.at(0).Time.Before(t) {
		r.head = (r.head + 1) % len(r.buf)
		r.n--
	}
}

func (r *ring) each(fn func(Sample)) {
	for i := 0; i < r.n; i++ {
		fn(*r.at(i))
	}
}
