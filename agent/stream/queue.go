package stream

import (
	"sync"

	"github.com/probe-agent/probe-agent/proto/aos"
)

// queued is a message waiting to be written, with the seq_num it was given on
// enqueue.
type queued struct {
	seq uint64
	msg *aos.AosMessage
}

// ring is the Sender's bounded queue: a ring buffer that overwrites its
// oldest entry when full. Fresh data matters more than old data for
// telemetry. It starts small and doubles up to its bound only while a
// receiver is slow or away, so an agent with a 100,000-message bound does
// not keep (and have the GC scan) megabytes of empty slots.
type ring struct {
	mu      sync.Mutex
	buf     []queued
	limit   int
	head    int // index of the oldest entry
	n       int // number of entries
	nextSeq uint64
}

// initialRing is the starting capacity of a queue.
const initialRing = 1024

func newRing(size int, firstSeq uint64) *ring {
	return &ring{buf: make([]queued, min(size, initialRing)), limit: size, nextSeq: firstSeq}
}

// grow doubles the buffer (up to the limit), keeping the order. Callers
// hold r.mu and have a full buffer below the limit.
func (r *ring) grow() {
	next := make([]queued, min(2*len(r.buf), r.limit))
	k := copy(next, r.buf[r.head:])
	copy(next[k:], r.buf[:r.head])
	r.buf, r.head = next, 0
}

// push adds m with the next seq_num. It reports whether the oldest entry had to be
// dropped to make room.
func (r *ring) push(m *aos.AosMessage) (dropped bool) {
	r.mu.Lock()
	e := queued{seq: r.nextSeq, msg: m}
	r.nextSeq++
	if r.n == len(r.buf) && len(r.buf) < r.limit {
		r.grow()
	}
	if r.n == len(r.buf) {
		r.buf[r.head] = e
		r.head++
		if r.head == len(r.buf) {
			r.head = 0
		}
		dropped = true
	} else {
		i := r.head + r.n
		if i >= len(r.buf) {
			i -= len(r.buf)
		}
		r.buf[i] = e
		r.n++
	}
	r.mu.Unlock()
	return dropped
}

// popInto moves up to len(dst) of the oldest entries into dst and returns how many.
// Batching keeps the lock out of the per-message path of the writer.
func (r *ring) popInto(dst []queued) int {
	r.mu.Lock()
	k := min(len(dst), r.n)
	for i := range k {
		dst[i] = r.buf[r.head]
		r.buf[r.head] = queued{} // let the message be collected once written
		r.head++
		if r.head == len(r.buf) {
			r.head = 0
		}
	}
	r.n -= k
	r.mu.Unlock()
	return k
}

func (r *ring) len() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.n
}
