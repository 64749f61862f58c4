package probe

import (
	"fmt"
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
	Min, Max float64
	// State is the reference state or pattern of a state or string check.
	State string
	Kind  Kind // kind of Actual
	// The flags sit together after the words, so that an Evidence is 64
	// bytes, not 80: one is kept per anomalous item.
	HasMin bool
	HasMax bool
	// Anomalous is true when Min/Max describe the anomalous region (4.x),
	// false when they describe the expected one (seed dialect).
	Anomalous bool
}

// Item is a read-only view of one keyed entry of a stage (Stage.Item). A
// stage keeps its items in columns, not as Item structs, so that the
// 60,000 items of ten probes on a 4,000-interface switch cost about 20 bytes
// each instead of a hundred.
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
	series  *ring
}

// Key returns the item's identity within its stage.
func (it Item) Key() string { return it.key }

// Samples calls fn for each sample of a time-series item, oldest first.
func (it Item) Samples(fn func(Sample)) {
	if it.series != nil {
		it.series.each(fn)
	}
}

// SampleCount is the number of samples of a time-series item.
func (it Item) SampleCount() int {
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
	// StateCodes gives the number behind each state of a discrete-state
	// stage whose producer maps numbers to states (a value_map), so that a
	// range check can compare states as Apstra does; nil otherwise.
	StateCodes map[string]float64
	Meta       StageDoc
	// MaxSamples and MaxDuration bound time-series items (0 = no bound).
	MaxSamples  int
	MaxDuration time.Duration
	// Producer is the processor that writes the stage.
	Producer string
	// Streaming is set when the producer has enable_streaming.
	Streaming bool
	// RaisesAnomalies is set when "true" items of the stage are anomalies.
	RaisesAnomalies bool
	// feed is set on a stage whose items come from stage updates
	// (Instance.Feed) rather than from this probe's processors.
	feed *Feed

	// Items are stored by column. props and keys may be shared with the
	// stage the layout came from (Mirror, SetInterfaceLayout) and are never
	// modified in place, only replaced.
	props  []string // stride values per item, aligned with Keys
	stride int
	keys   []string
	// nums holds the values of number stages, strs those of state and text
	// stages; the other one stays nil unless a value of that kind is set.
	nums []float64
	strs *strColumn
	// meta is validBit | the low 31 bits of the tick sequence number of
	// the item's last change: a change is told by equality with the
	// current tick, and 2^31 ticks are 68 years at one a second.
	meta []uint32
	// series holds time-series items' samples (nil for other stages).
	series []*ring
	// evAt gives, per item, 1 + its position in evPool, or 0 when the item
	// has no evidence. Only anomalous items keep evidence (SetCheck), so the
	// pool stays as small as the set of raised anomalies.
	evAt   []int32
	evPool []Evidence
	evFree []int32
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
	// acct is the instance's share of the memory budget and its limits
	// (nil outside an instance: nothing is refused); charged is what the
	// item columns charged to it.
	acct    *account
	charged int64
}

const (
	validBit = 1 << 31
	seqMask  = validBit - 1
)

// mark is the meta of an item changed in the current tick.
func (s *Stage) mark() uint32 { return uint32(s.seq) & seqMask }

// Len is the number of items.
func (s *Stage) Len() int { return len(s.keys) }

// Item returns a view of item i.
func (s *Stage) Item(i int) Item {
	it := Item{Props: s.Props(i), key: s.keys[i], Value: s.value(i)}
	it.Valid = s.meta[i]&validBit != 0
	// The latest tick whose low bits match.
	it.Changed = s.seq - uint64((s.mark()-s.meta[i]&seqMask)&seqMask)
	if s.series != nil {
		it.series = s.series[i]
	}
	return it
}

// Valid reports whether item i has a value.
func (s *Stage) Valid(i int) bool { return s.meta[i]&validBit != 0 }

// Props returns item i's key values, aligned with Keys. The slice is shared:
// do not modify it.
func (s *Stage) Props(i int) []string {
	return s.props[i*s.stride : (i+1)*s.stride : (i+1)*s.stride]
}

// ItemKey returns item i's identity within the stage.
func (s *Stage) ItemKey(i int) string { return s.keys[i] }

// ItemKeys returns every item's identity, in item order. The slice is shared
// and replaced, never modified, when the layout changes, so a caller may
// keep it to carry per-item state across a layout change.
func (s *Stage) ItemKeys() []string { return s.keys }

func (s *Stage) value(i int) Value {
	var v Value
	if s.nums != nil {
		v.Num = s.nums[i]
	}
	if s.strs != nil {
		v.Str = s.strs.get(i)
	}
	return v
}

// Layout changes whenever the set or order of items changes.
func (s *Stage) Layout() uint64 { return s.layout }

// Seq is the sequence number of the tick being evaluated.
func (s *Stage) Seq() uint64 { return s.seq }

// Lookup finds an item by its key values.
func (s *Stage) Lookup(props []string) (int, bool) {
	return s.lookupKey(joinKey(props))
}

func (s *Stage) lookupKey(key string) (int, bool) {
	i, ok := s.itemIndex()[key]
	return int(i), ok
}

// itemIndex maps item keys to positions, built on first use after a layout
// change.
func (s *Stage) itemIndex() map[string]int32 {
	if s.index == nil {
		s.index = make(map[string]int32, len(s.keys))
		for i, k := range s.keys {
			s.index[k] = int32(i)
		}
	}
	return s.index
}

// SetEvidence records what a checker saw for item i; the zero Evidence
// removes it.
func (s *Stage) SetEvidence(i int, ev Evidence) {
	if ev == (Evidence{}) {
		s.clearEvidence(i)
		return
	}
	if s.evAt == nil {
		s.evAt = make([]int32, len(s.keys))
	}
	if k := s.evAt[i]; k != 0 {
		s.evPool[k-1] = ev
		return
	}
	if n := len(s.evFree); n > 0 {
		k := s.evFree[n-1]
		s.evFree = s.evFree[:n-1]
		s.evPool[k] = ev
		s.evAt[i] = k + 1
		return
	}
	s.evPool = append(s.evPool, ev)
	s.evAt[i] = int32(len(s.evPool))
}

func (s *Stage) clearEvidence(i int) {
	if s.evAt != nil && s.evAt[i] != 0 {
		s.evFree = append(s.evFree, s.evAt[i]-1)
		s.evPool[s.evAt[i]-1] = Evidence{}
		s.evAt[i] = 0
	}
}

// SetCheck records a checker's verdict on item i: the state "true"
// (anomalous) or "false", and, for an anomalous item, the evidence behind
// it (only anomalies are built from evidence).
func (s *Stage) SetCheck(i int, anomalous bool, ev Evidence) {
	if anomalous {
		s.SetEvidence(i, ev)
		s.SetStr(i, "true")
	} else {
		s.clearEvidence(i)
		s.SetStr(i, "false")
	}
}

// EvidenceOf returns what the checker saw for anomalous item i (zero when
// none).
func (s *Stage) EvidenceOf(i int) Evidence {
	if s.evAt == nil || s.evAt[i] == 0 {
		return Evidence{}
	}
	return s.evPool[s.evAt[i]-1]
}

// ChangedNow reports whether item i changed during the current tick.
func (s *Stage) ChangedNow(i int) bool { return s.meta[i] == validBit|s.mark() }

func joinKey(props []string) string { return strings.Join(props, "\x1f") }

// SetLayout replaces the items with one per entry of props (each aligned with
// Keys), keeping the value and history of items whose key persists. Call it
// only when the set of items changed: it allocates.
func (s *Stage) SetLayout(props [][]string) {
	s.admitItems(len(props))
	keys := make([]string, len(props))
	stride := len(s.Keys)
	if len(props) > 0 {
		stride = len(props[0])
	}
	flat := make([]string, 0, stride*len(props))
	own := int64(len(props)) * int64(16+16*stride)
	for i, p := range props {
		if len(p) != stride {
			panic(fmt.Sprintf("probe: stage %q: item %d has %d key values, item 0 has %d", s.Name, i, len(p), stride))
		}
		keys[i] = joinKey(p)
		own += int64(len(keys[i]))
		flat = append(flat, p...)
	}
	s.relayout(flat, stride, keys, own)
}

// admitItems refuses, before anything is allocated, a layout of more items
// than limits.items_per_stage. The refusal is a *LimitError panic, which
// the processor's evaluation turns into the probe's error (a processor
// addressing the items it asked for cannot go on with fewer).
func (s *Stage) admitItems(n int) {
	if s.acct == nil || s.acct.limits.ItemsPerStage <= 0 || n <= s.acct.limits.ItemsPerStage {
		return
	}
	s.acct.layouts.Add(1)
	panic(&LimitError{Budget: "limits.items_per_stage", Stage: s.Name,
		Detail: fmt.Sprintf("%d items; the budget is %d items per stage", n, s.acct.limits.ItemsPerStage)})
}

// admitMemory charges the columns of a layout of n items (own: the bytes
// of keys the stage does not share with another) and refuses, with a
// *LimitError panic, a layout the memory budget cannot take.
func (s *Stage) admitMemory(n int, own int64) {
	per := int64(4) // meta
	if s.nums != nil || (s.strs == nil && s.Type.Kind == Number) {
		per += 8
	}
	if s.strs != nil || s.Type.Kind != Number {
		if s.Type.Kind == DiscreteState {
			per++ // a state byte
		} else {
			per += 16
		}
	}
	if s.series != nil || s.Type.TimeSeries {
		per += 8
	}
	if s.evAt != nil {
		per += 4
	}
	per += int64(len(s.Columns)-1) * valueBytes
	charge := int64(n)*per + own
	switch delta := charge - s.charged; {
	case delta > 0:
		if !s.acct.take(delta) {
			s.acct.layouts.Add(1)
			b := s.acct.budget
			panic(&LimitError{Budget: "limits.stage_memory", Stage: s.Name,
				Detail: fmt.Sprintf("%d items need %s more; the budget of %s of stage data has %s left", n, FormatBytes(delta), FormatBytes(b.Limit()), FormatBytes(max(0, b.Limit()-b.Used())))})
		}
	case delta < 0:
		s.acct.give(-delta)
	}
	s.charged = charge
}

// relayout adopts props and keys (callers hand over or share immutable
// slices) and carries the columns of items whose key persists.
func (s *Stage) relayout(props []string, stride int, keys []string, own int64) {
	n := len(keys)
	s.admitItems(n)
	s.admitMemory(n, own)
	oldIndex := s.itemIndex()
	oldNums, oldStrs, oldMeta, oldSeries, oldEvAt, oldPool, oldExtra := s.nums, s.strs, s.meta, s.series, s.evAt, s.evPool, s.extra
	s.props, s.stride, s.keys, s.index = props, stride, keys, nil
	s.nums, s.strs, s.series, s.evAt, s.evPool, s.evFree, s.extra = nil, nil, nil, nil, nil, nil, nil
	s.meta = make([]uint32, n)
	if oldNums != nil || (oldStrs == nil && s.Type.Kind == Number) {
		s.nums = make([]float64, n)
	}
	if oldStrs != nil || s.Type.Kind != Number {
		s.strs = newStrColumn(n, s.Type.Kind == DiscreteState)
	}
	if oldSeries != nil {
		s.series = make([]*ring, n)
	}
	if oldEvAt != nil {
		s.evAt = make([]int32, n)
	}
	ncol := len(s.Columns) - 1
	if ncol > 0 {
		s.extra = make([]Value, ncol*n)
	}
	if len(oldIndex) == 0 {
		s.layout++
		return
	}
	defer s.releaseDropped(oldSeries)
	for i, k := range keys {
		j, ok := oldIndex[k]
		if !ok {
			continue
		}
		s.meta[i] = oldMeta[j]
		if oldNums != nil {
			s.nums[i] = oldNums[j]
		}
		if oldStrs != nil {
			s.strs.set(i, oldStrs.get(int(j)))
		}
		if oldSeries != nil {
			s.series[i], oldSeries[j] = oldSeries[j], nil
		}
		if oldEvAt != nil && oldEvAt[j] != 0 {
			s.evPool = append(s.evPool, oldPool[oldEvAt[j]-1])
			s.evAt[i] = int32(len(s.evPool))
		}
		if ncol > 0 {
			copy(s.extra[i*ncol:(i+1)*ncol], oldExtra[int(j)*ncol:(int(j)+1)*ncol])
		}
	}
	s.layout++
}

// releaseDropped gives back the memory of the series of items the new
// layout dropped (left in old by relayout); series another stage's items
// share (a merged view) are not this stage's to give back.
func (s *Stage) releaseDropped(old []*ring) {
	for _, r := range old {
		if r != nil && r.owner == s.acct {
			r.release()
		}
	}
}

// SetSingle makes the stage hold exactly one item without keys (N, DS, T).
func (s *Stage) SetSingle() {
	if len(s.keys) != 1 {
		s.SetLayout([][]string{{}})
	}
}

// Mirror gives s the same items as in, in the same order, when in's layout
// changed since the last call. Per-item processors call it each tick so they
// can address their output by the input's index. Keys are shared with the
// input, not copied.
func (s *Stage) Mirror(in *Stage) bool {
	if s.mirrored == in.layout && len(s.keys) == len(in.keys) {
		return false
	}
	s.relayout(in.props, in.stride, in.keys, 0)
	s.mirrored = in.layout
	return true
}

// SetNum sets a number value, marking the item changed if it differs.
func (s *Stage) SetNum(i int, v float64) {
	if s.nums == nil {
		s.nums = make([]float64, len(s.keys))
	}
	if s.meta[i]&validBit != 0 && (s.nums[i] == v || (math.IsNaN(v) && math.IsNaN(s.nums[i]))) {
		return
	}
	s.nums[i] = v
	s.meta[i] = validBit | s.mark()
}

// SetStr sets a state or text value, marking the item changed if it differs.
func (s *Stage) SetStr(i int, v string) {
	if s.strs == nil {
		s.strs = newStrColumn(len(s.keys), s.Type.Kind == DiscreteState)
	}
	if !s.strs.set(i, v) && s.meta[i]&validBit != 0 {
		return
	}
	s.meta[i] = validBit | s.mark()
}

// SetExtra sets the value of column c (c >= 1) of item i.
func (s *Stage) SetExtra(i, c int, v Value) {
	x := &s.extra[i*(len(s.Columns)-1)+c-1]
	if *x != v {
		*x = v
		s.meta[i] = s.meta[i]&validBit | s.mark()
	}
}

// Invalidate marks item i as having no value.
func (s *Stage) Invalidate(i int) {
	if s.meta[i]&validBit != 0 {
		s.meta[i] = s.mark()
	}
}

// Append adds a sample at the tick's time to time-series item i, trimming
// the series to MaxSamples and MaxDuration.
func (s *Stage) Append(i int, v Value) {
	if r := s.seriesOf(i); r != nil {
		now := toNanos(s.now)
		r.push(now, v, s.acct.samplesPerSeries(s.MaxSamples))
		if s.MaxDuration > 0 && now != noTime {
			r.trimBefore(now - int64(s.MaxDuration))
		}
	}
	if v.Num != 0 || s.nums != nil {
		if s.nums == nil {
			s.nums = make([]float64, len(s.keys))
		}
		s.nums[i] = v.Num
	}
	if v.Str != "" || s.strs != nil {
		if s.strs == nil {
			s.strs = newStrColumn(len(s.keys), s.Type.Kind == DiscreteState)
		}
		s.strs.set(i, v.Str)
	}
	s.meta[i] = validBit | s.mark()
}

// seriesOf returns item i's series, made on first use; nil when the memory
// budget cannot take even an empty one (the item keeps its value, not its
// history).
func (s *Stage) seriesOf(i int) *ring {
	if s.series == nil {
		s.series = make([]*ring, len(s.keys))
	}
	r := s.series[i]
	if r == nil {
		if r = newRing(s.acct, s.Type.Kind != Number); r == nil {
			s.acct.noteDropped(1)
			return nil
		}
		s.series[i] = r
	}
	return r
}

// SetSeries replaces the samples of time-series item i (oldest first),
// trimmed to MaxSamples, and marks the item changed: a series that crossed
// from another device arrives whole.
func (s *Stage) SetSeries(i int, samples []Sample) {
	if r := s.seriesOf(i); r != nil {
		r.reset()
		limit := s.acct.samplesPerSeries(s.MaxSamples)
		for _, smp := range samples[max(0, len(samples)-limit):] {
			r.push(toNanos(smp.Time), smp.Value, limit)
		}
	}
	if len(samples) > 0 {
		v := samples[len(samples)-1].Value
		if s.nums != nil || s.Type.Kind == Number {
			if s.nums == nil {
				s.nums = make([]float64, len(s.keys))
			}
			s.nums[i] = v.Num
		}
		if s.strs != nil || s.Type.Kind != Number {
			if s.strs == nil {
				s.strs = newStrColumn(len(s.keys), s.Type.Kind == DiscreteState)
			}
			s.strs.set(i, v.Str)
		}
	}
	s.meta[i] = validBit | s.mark()
}

// Expire drops samples of time-series item i older than MaxDuration at the
// tick's time, so a series shrinks even when no new sample arrives. The item
// counts as changed when samples were dropped.
func (s *Stage) Expire(i int) {
	if s.MaxDuration <= 0 || s.series == nil || s.series[i] == nil || s.now.IsZero() {
		return
	}
	r := s.series[i]
	n := r.n
	r.trimBefore(toNanos(s.now) - int64(s.MaxDuration))
	if r.n != n {
		s.meta[i] = s.meta[i]&validBit | s.mark()
	}
}

// ValueAt reads column c of item i (c = 0 is "value").
func (s *Stage) ValueAt(i, c int) Value {
	if c == 0 {
		return s.value(i)
	}
	return s.extra[i*(len(s.Columns)-1)+c-1]
}

// Num reads column c of item i as a number (c = 0 is "value").
func (s *Stage) Num(i, c int) float64 {
	if c == 0 {
		if s.nums == nil {
			return 0
		}
		return s.nums[i]
	}
	return s.extra[i*(len(s.Columns)-1)+c-1].Num
}

// Str reads column c of item i as a string.
func (s *Stage) Str(i, c int) string {
	if c == 0 {
		if s.strs == nil {
			return ""
		}
		return s.strs.get(i)
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

// strColumn holds a string per item. A discrete-state stage repeats a
// handful of states over thousands of items, so it stores a byte per item
// indexing the distinct values seen, and switches to plain strings only if
// more than 256 distinct values appear.
type strColumn struct {
	idx   []uint8
	names []string
	strs  []string // when idx is nil
}

func newStrColumn(n int, states bool) *strColumn {
	if states {
		return &strColumn{idx: make([]uint8, n), names: []string{""}}
	}
	return &strColumn{strs: make([]string, n)}
}

func (c *strColumn) get(i int) string {
	if c.idx != nil {
		return c.names[c.idx[i]]
	}
	return c.strs[i]
}

// set stores v as item i's value and reports whether it differs from the
// value before.
func (c *strColumn) set(i int, v string) bool {
	if c.idx == nil {
		changed := c.strs[i] != v
		c.strs[i] = v
		return changed
	}
	if c.names[c.idx[i]] == v {
		return false
	}
	for k, name := range c.names {
		if name == v {
			c.idx[i] = uint8(k)
			return true
		}
	}
	if len(c.names) <= math.MaxUint8 {
		c.names = append(c.names, v)
		c.idx[i] = uint8(len(c.names) - 1)
		return true
	}
	c.strs = make([]string, len(c.idx))
	for j, k := range c.idx {
		c.strs[j] = c.names[k]
	}
	c.idx, c.names = nil, nil
	c.strs[i] = v
	return true
}

// HardMaxSamples bounds every time series whatever the budgets say
// (limits.samples_per_series is at most this).
const HardMaxSamples = 65536
