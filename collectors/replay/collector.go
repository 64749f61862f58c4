package replay

import (
	"context"
	"fmt"
	"math/bits"
	"time"

	"github.com/probe-agent/probe-agent/collectors"
)

// Collector replays batches as a live source: each Collect returns the next
// batch with its time shifted so the first batch is "now", looping at the
// end with counters continuing from where the recording ended, so rates stay
// as recorded instead of dropping to a reset. It keeps the recording
// compactly (interface metadata once per distinct set of interfaces, then
// only the counters the source reported), but still whole: the agent uses
// FileCollector, which streams the file instead.
type Collector struct {
	frames    []frame
	templates []template
	growth    growth
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
		t := &c.templates[f.tmpl]
		for i := range b.Interfaces {
			ifc := &b.Interfaces[i]
			for ci := collectors.Counter(0); ci < collectors.NumCounters; ci++ {
				if ifc.Has(ci) {
					f.values = append(f.values, ifc.Counters[ci])
				}
			}
			c.growth.observe(t.pair[i], &ifc.Counters)
		}
		f.values = f.values[:len(f.values):len(f.values)]
		c.frames = append(c.frames, f)
	}
	c.growth.finish(len(batches))
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
		c.growth.apply(t.pair[i], ifc, c.loops)
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

// growth is each (interface, counter)'s growth over one pass of a
// recording plus one interval, added once per finished pass so that the
// jump from the last tick back to the first looks like an ordinary interval
// instead of a reset. It is kept per interface, only for counters that grow,
// so its memory grows with the number of interfaces, not with the length of
// the recording.
type growth struct {
	// seen holds each pair's first and latest counters, until finish, in
	// fixed-size chunks: growing one slice by doubling would leave twice
	// its final size as garbage when the agent starts.
	seen  []*seenChunk
	pairs int
	// grows is each pair's counters that grow; their growths are in inc
	// from start[pair] on, in counter order.
	grows []collectors.CounterSet
	start []uint32
	inc   []uint64
}

const seenChunkLen = 256

type seenChunk struct {
	first, last [seenChunkLen][collectors.NumCounters]uint64
}

// observe records pair's counters at its next appearance, in time order;
// pairs are numbered in order of first appearance.
func (g *growth) observe(pair int32, counters *[collectors.NumCounters]uint64) {
	c, i := int(pair)/seenChunkLen, int(pair)%seenChunkLen
	if int(pair) == g.pairs {
		if i == 0 {
			g.seen = append(g.seen, new(seenChunk))
		}
		g.seen[c].first[i] = *counters
		g.pairs++
	}
	g.seen[c].last[i] = *counters
}

// finish turns the observations of a recording of ticks ticks into growth:
// a counter that ended below where it started does not grow.
func (g *growth) finish(ticks int) {
	steps := uint64(ticks - 1)
	inc := func(p, i int) uint64 {
		ch := g.seen[p/seenChunkLen]
		f, l := ch.first[p%seenChunkLen][i], ch.last[p%seenChunkLen][i]
		if l < f || steps == 0 {
			return 0
		}
		return (l - f) + (l-f)/steps
	}
	n := 0
	for p := range g.pairs {
		for i := range collectors.NumCounters {
			if inc(p, int(i)) != 0 {
				n++
			}
		}
	}
	g.grows = make([]collectors.CounterSet, g.pairs)
	g.start = make([]uint32, g.pairs)
	g.inc = make([]uint64, 0, n)
	for p := range g.pairs {
		g.start[p] = uint32(len(g.inc))
		for i := range int(collectors.NumCounters) {
			if v := inc(p, i); v != 0 {
				g.grows[p] |= 1 << i
				g.inc = append(g.inc, v)
			}
		}
	}
	g.seen = nil
}

// apply advances ifc's reported counters by loops passes of growth.
func (g *growth) apply(pair int32, ifc *collectors.Interface, loops uint64) {
	grows := g.grows[pair]
	if loops == 0 || grows&ifc.Valid == 0 {
		return
	}
	for m := uint32(grows & ifc.Valid); m != 0; m &= m - 1 {
		c := bits.TrailingZeros32(m)
		k := g.start[pair] + uint32(bits.OnesCount32(uint32(grows)&(1<<c-1)))
		ifc.Counters[c] += g.inc[k] * loops
	}
}
