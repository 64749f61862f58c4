package probe

import (
	"math"
	"time"
	"unsafe"
)

// A time series is stored in chunks of at most chunkSamples samples instead
// of one buffer reserved for max_samples: a series costs what it holds plus
// at most one partly filled chunk, whatever max_samples says, and growing it
// never copies more than one chunk. An accumulate over a value that rarely
// changes (interface flaps) holds a sample or two per item; with 1024
// samples reserved per item it cost 49 KB per interface.
const (
	chunkSamples = 64
	// firstChunk is the capacity of a series' first chunk, doubled up to
	// chunkSamples while the series has a single chunk.
	firstChunk = 2
)

// seriesChunk holds samples by column: a number series stores 16 bytes per
// sample (Unix nanoseconds and the number), a state or text series 24 (the
// nanoseconds and the string header; state strings share their bytes with
// the input stage).
type seriesChunk struct {
	t []int64 // Unix nanoseconds; len is the chunk's capacity
	// num holds the numbers' IEEE 754 bits, in the same allocation as t;
	// nil until the series has a sample with a number.
	num []int64
	str []string // nil until the series has a sample with text
}

// ring is a bounded time series. With one chunk it is a circular buffer;
// with more, every chunk is full-size and the samples run linearly from
// offset head of the first chunk to the last one, whole chunks being
// dropped from the front as samples expire and added at the back as they
// arrive. The chunk list is itself circular, so that neither end ever moves
// the other chunks. At its limit a series drops its oldest sample for each
// new one; the chunk emptied at the front is kept as the spare the back
// needs next, so a series in steady state allocates nothing.
type ring struct {
	chunks    []*seriesChunk // chunk j is chunks[(first+j)%len(chunks)]
	first, nc int
	head      int // offset of the oldest sample in the first chunk
	n         int
	spare     *seriesChunk
	text      bool // the value column is str rather than num
	// owner is the account the series' memory is charged to, bytes how
	// much it charged.
	owner *account
	bytes int64
}

var (
	ringBytes  = int64(unsafe.Sizeof(ring{}))
	chunkBytes = int64(unsafe.Sizeof(seriesChunk{}))
	valueBytes = int64(unsafe.Sizeof(Value{}))
)

// newRing makes an empty series charged to owner (nil: not accounted), or
// returns nil when owner's budget refuses even that.
func newRing(owner *account, text bool) *ring {
	if !owner.take(ringBytes) {
		return nil
	}
	return &ring{text: text, owner: owner, bytes: ringBytes}
}

// SampleBytes is what one held sample of a number series costs; a state or
// text series costs 8 bytes more (the string header instead of the number).
const SampleBytes = 16

// sampleBytes is the cost of one sample slot of a chunk with the given
// columns.
func sampleBytes(num, str bool) int64 {
	b := int64(8)
	if num {
		b += 8
	}
	if str {
		b += 16
	}
	return b
}

// alloc makes a chunk of capacity c with the series' value column, charged
// to the owner; nil when the budget refuses it.
func (r *ring) alloc(c int) *seriesChunk {
	cost := chunkBytes + int64(c)*sampleBytes(!r.text, r.text)
	if !r.owner.take(cost) {
		return nil
	}
	r.bytes += cost
	if r.text {
		return &seriesChunk{t: make([]int64, c), str: make([]string, c)}
	}
	w := make([]int64, 2*c)
	return &seriesChunk{t: w[:c:c], num: w[c:]}
}

// free returns a chunk's memory to the owner.
func (r *ring) free(ch *seriesChunk) {
	cost := chunkBytes + int64(len(ch.t))*sampleBytes(ch.num != nil, ch.str != nil)
	r.bytes -= cost
	r.owner.give(cost)
}

// release returns everything the series charged (it is being dropped).
func (r *ring) release() {
	r.owner.give(r.bytes)
	r.bytes = 0
}

func (r *ring) chunk(j int) *seriesChunk {
	// j < len(r.chunks): a subtraction instead of a division, since this
	// is on every append's path.
	k := r.first + j
	if k >= len(r.chunks) {
		k -= len(r.chunks)
	}
	return r.chunks[k]
}

// pos gives the chunk and offset of sample k (0 is the oldest).
func (r *ring) pos(k int) (*seriesChunk, int) {
	if r.nc == 1 {
		ch := r.chunks[r.first]
		o := r.head + k // k <= len(ch.t): at most one wrap
		if o >= len(ch.t) {
			o -= len(ch.t)
		}
		return ch, o
	}
	p := r.head + k
	return r.chunk(p / chunkSamples), p % chunkSamples
}

func (r *ring) sample(k int) Sample {
	ch, o := r.pos(k)
	s := Sample{Time: fromNanos(ch.t[o])}
	if ch.num != nil {
		s.Value.Num = math.Float64frombits(uint64(ch.num[o]))
	}
	if ch.str != nil {
		s.Value.Str = ch.str[o]
	}
	return s
}

func (r *ring) each(fn func(Sample)) {
	for k := 0; k < r.n; k++ {
		fn(r.sample(k))
	}
}

// push appends a sample, first dropping the oldest ones while the series
// holds limit samples. When growing the series would go over the memory
// budget, the oldest samples make room instead (counted as dropped), so a
// series never grows past what its budget granted; a series the budget
// gives no room at all keeps no sample.
func (r *ring) push(t int64, v Value, limit int) {
	for r.n > 0 && r.n >= limit {
		r.dropOldest()
	}
	if !r.room(limit) {
		if !r.evict() {
			r.owner.noteDropped(1)
			return
		}
	}
	r.write(t, v)
}

// room makes sure there is a free slot after the newest sample, growing
// the series if it is full; false when the budget refused the growth.
func (r *ring) room(limit int) bool {
	if r.nc == 0 {
		ch := r.alloc(min(firstChunk, limit))
		if ch == nil {
			return false
		}
		r.pushChunk(ch)
		return true
	}
	if r.nc == 1 {
		ch := r.chunks[r.first]
		if r.n < len(ch.t) {
			return true
		}
		if len(ch.t) < chunkSamples {
			return r.growFirst(min(2*len(ch.t), chunkSamples, limit))
		}
		r.linearise()
	}
	if r.head+r.n < r.nc*chunkSamples {
		return true
	}
	ch := r.spare
	if ch != nil {
		r.spare = nil
	} else if ch = r.alloc(chunkSamples); ch == nil {
		return false
	}
	r.pushChunk(ch)
	return true
}

// evict frees a slot by dropping the oldest samples (the budget refused
// growth): one in a single-chunk series, the rest of the first chunk in a
// longer one, whose chunk then moves to the back. False when the series
// has no sample to drop.
func (r *ring) evict() bool {
	if r.n == 0 {
		return false
	}
	if r.nc == 1 {
		r.dropOldest()
		r.owner.noteDropped(1)
		return true
	}
	k := chunkSamples - r.head
	for range k {
		r.dropOldest()
	}
	r.owner.noteDropped(k)
	// The emptied first chunk is the spare now (there was none, or room
	// would have used it).
	ch := r.spare
	r.spare = nil
	r.pushChunk(ch)
	return true
}

// write stores a sample in the free slot after the newest one.
func (r *ring) write(t int64, v Value) {
	ch, o := r.pos(r.n)
	ch.t[o] = t
	if ch.num == nil && v.Num != 0 {
		r.addColumn(ch, true)
	}
	if ch.num != nil {
		ch.num[o] = int64(math.Float64bits(v.Num))
	}
	if ch.str == nil && v.Str != "" {
		r.addColumn(ch, false)
	}
	if ch.str != nil {
		ch.str[o] = v.Str
	}
	r.n++
}

// addColumn gives a chunk the column of the other kind, for a value of a
// kind its stage does not declare (the engine's processors do not write
// any); charged without asking, since it is as rare as it is small.
func (r *ring) addColumn(ch *seriesChunk, num bool) {
	var cost int64
	if num {
		cost = int64(len(ch.t)) * 8
		ch.num = make([]int64, len(ch.t))
	} else {
		cost = int64(len(ch.t)) * 16
		ch.str = make([]string, len(ch.t))
	}
	r.owner.force(cost)
	r.bytes += cost
}

// growFirst replaces the only chunk, full, by one of capacity c holding
// the same samples oldest first.
func (r *ring) growFirst(c int) bool {
	old := r.chunks[r.first]
	ch := r.alloc(c)
	if ch == nil {
		return false
	}
	if old.num != nil && ch.num == nil {
		r.addColumn(ch, true)
	}
	if old.str != nil && ch.str == nil {
		r.addColumn(ch, false)
	}
	for k := 0; k < r.n; k++ {
		o := (r.head + k) % len(old.t)
		ch.t[k] = old.t[o]
		if old.num != nil {
			ch.num[k] = old.num[o]
		}
		if old.str != nil {
			ch.str[k] = old.str[o]
		}
	}
	r.free(old)
	r.chunks[r.first], r.head = ch, 0
	return true
}

// linearise rotates the only chunk, full, so that its oldest sample is at
// offset 0, as a series of more than one chunk needs.
func (r *ring) linearise() {
	if r.head == 0 {
		return
	}
	ch := r.chunks[r.first]
	rotate(ch.t, r.head)
	if ch.num != nil {
		rotate(ch.num, r.head)
	}
	if ch.str != nil {
		rotate(ch.str, r.head)
	}
	r.head = 0
}

// rotate moves s[k:] before s[:k] in place.
func rotate[T any](s []T, k int) {
	reverse(s[:k])
	reverse(s[k:])
	reverse(s)
}

func reverse[T any](s []T) {
	for i, j := 0, len(s)-1; i < j; i, j = i+1, j-1 {
		s[i], s[j] = s[j], s[i]
	}
}

// pushChunk adds a chunk at the back, doubling the chunk list when full.
func (r *ring) pushChunk(ch *seriesChunk) {
	if r.nc == len(r.chunks) {
		grown := make([]*seriesChunk, max(1, 2*len(r.chunks)))
		for j := 0; j < r.nc; j++ {
			grown[j] = r.chunk(j)
		}
		cost := int64(len(grown)-len(r.chunks)) * 8
		r.owner.force(cost)
		r.bytes += cost
		r.chunks, r.first = grown, 0
	}
	r.chunks[(r.first+r.nc)%len(r.chunks)] = ch
	r.nc++
}

// dropOldest removes the oldest sample; a first chunk it empties (when
// there are others) becomes the spare, or is freed when there is one.
func (r *ring) dropOldest() {
	r.n--
	r.head++
	if r.nc == 1 {
		if r.head == len(r.chunks[r.first].t) || r.n == 0 {
			r.head = 0
		}
		return
	}
	if r.head < chunkSamples {
		return
	}
	ch := r.chunks[r.first]
	r.chunks[r.first] = nil
	r.first = (r.first + 1) % len(r.chunks)
	r.nc--
	r.head = 0
	if r.spare == nil {
		r.spare = ch
	} else {
		r.free(ch)
	}
}

// reset empties the series, keeping its chunks for the samples that
// replace them.
func (r *ring) reset() {
	r.head, r.n = 0, 0
}

// trimBefore drops the samples older than t (Unix nanoseconds).
func (r *ring) trimBefore(t int64) {
	for r.n > 0 {
		ch, o := r.pos(0)
		if ch.t[o] >= t {
			return
		}
		r.dropOldest()
	}
}

// noTime stands for the zero time, which has no Unix nanoseconds.
const noTime = math.MinInt64

func toNanos(t time.Time) int64 {
	if t.IsZero() {
		return noTime
	}
	return t.UnixNano()
}

func fromNanos(ns int64) time.Time {
	if ns == noTime {
		return time.Time{}
	}
	return time.Unix(0, ns)
}
