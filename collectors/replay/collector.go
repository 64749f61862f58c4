package replay

import (
	"context"
	"fmt"
	"time"

	"github.com/probe-agent/probe-agent/collectors"
)

// Collector replays batches as a live source: each Collect returns the next
// batch with its time shifted so the first batch is "now", looping at the
// end. A loop is a reset: counters start again from their recorded values in
// a new Generation, and the clock goes on one recorded interval later, so
// no rate (and no false anomaly) comes from the jump back. It keeps the recording
// compactly (interface metadata once per distinct set of interfaces, then
// only the counters the source reported), but still whole: the agent uses
// FileCollector, which streams the file instead.
type Collector struct {
	frames    []frame
	templates []template
	clock     timeline
	next      int
	loops     uint64
}

// frame is one recorded batch: its time, its interfaces' template, and the
// valid counters of each interface in order.
type frame struct {
	time   time.Time
	layout uint64
	tmpl   int
	values []uint64
}

// template is the interfaces of a batch without their counters.
type template struct {
	ifaces []collectors.Interface
	pair   []int32 // number of each interface's (system, name) pair
}

// NewCollector makes a replaying collector over a file's batches; the
// caller may drop the batches afterwards.
func NewCollector(batches []collectors.Batch, now func() time.Time) (*Collector, error) {
	if len(batches) == 0 {
		return nil, fmt.Errorf("replay: no samples")
	}
	c := &Collector{clock: newTimeline(batches[0].Time, batches[len(batches)-1].Time, len(batches), now)}
	var pairs pairTable
	for bi := range batches {
		b := &batches[bi]
		if len(c.templates) == 0 || !sameTemplate(c.templates[len(c.templates)-1].ifaces, b.Interfaces) {
			t := template{ifaces: make([]collectors.Interface, len(b.Interfaces)), pair: pairs.ids(nil, b.Interfaces)}
			for i, ifc := range b.Interfaces {
				ifc.Counters = [collectors.NumCounters]uint64{}
				t.ifaces[i] = ifc
			}
			c.templates = append(c.templates, t)
		}
		f := frame{time: b.Time, layout: b.Layout, tmpl: len(c.templates) - 1}
		for i := range b.Interfaces {
			ifc := &b.Interfaces[i]
			for ci := collectors.Counter(0); ci < collectors.NumCounters; ci++ {
				if ifc.Has(ci) {
					f.values = append(f.values, ifc.Counters[ci])
				}
			}
		}
		f.values = f.values[:len(f.values):len(f.values)]
		c.frames = append(c.frames, f)
	}
	return c, nil
}

// sameTemplate reports whether b has the same interfaces as t, apart from
// their counter values.
func sameTemplate(t, b []collectors.Interface) bool {
	if len(t) != len(b) {
		return false
	}
	for i := range t {
		x, y := t[i], b[i]
		x.Counters, y.Counters = [collectors.NumCounters]uint64{}, [collectors.NumCounters]uint64{}
		if x != y {
			return false
		}
	}
	return true
}

// Collect implements collectors.Collector.
func (c *Collector) Collect(_ context.Context, b *collectors.Batch) error {
	if c.next == 0 && c.loops == 0 {
		c.clock.start()
	}
	f := &c.frames[c.next]
	t := &c.templates[f.tmpl]
	b.Time = c.clock.at(f.time, c.loops)
	b.Layout = f.layout
	b.Interfaces = append(b.Interfaces[:0], t.ifaces...)
	k := 0
	for i := range b.Interfaces {
		ifc := &b.Interfaces[i]
		for ci := collectors.Counter(0); ci < collectors.NumCounters; ci++ {
			if ifc.Has(ci) {
				ifc.Counters[ci] = f.values[k]
				k++
			}
		}
		newPass(ifc, c.loops)
	}
	c.next++
	if c.next == len(c.frames) {
		c.next = 0
		c.loops++
	}
	return nil
}

// Close implements collectors.Collector.
func (c *Collector) Close() error { return nil }

// timeline maps recorded times to replayed ones: the first tick of the
// first pass is "now", and each later pass starts one recorded interval
// after the previous one ended.
type timeline struct {
	first     time.Time
	span, gap time.Duration
	offset    time.Duration
	now       func() time.Time
}

// newTimeline is the timeline of ticks recorded from first to last.
func newTimeline(first, last time.Time, ticks int, now func() time.Time) timeline {
	if now == nil {
		now = time.Now
	}
	t := timeline{first: first, span: last.Sub(first), gap: time.Second, now: now}
	if ticks > 1 {
		t.gap = t.span / time.Duration(ticks-1)
	}
	return t
}

// start makes the first recorded tick "now".
func (t *timeline) start() { t.offset = t.now().Sub(t.first) }

// at is the replayed time of recorded time rec after loops whole passes.
func (t *timeline) at(rec time.Time, loops uint64) time.Time {
	return rec.Add(t.offset + time.Duration(loops)*(t.span+t.gap))
}

// passGeneration is added to every interface's Generation per finished
// pass: a loop back to the start is a reset (the counters go back to their
// first recorded values), so no rate is computed across it, neither a
// negative one nor the spike a counter that ended below its start would
// give. Recorded generations stay below it.
const passGeneration = 1 << 32

// newPass marks ifc as belonging to pass loops.
func newPass(ifc *collectors.Interface, loops uint64) {
	ifc.Generation += loops * passGeneration
}
