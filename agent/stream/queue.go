package stream

import (
	"encoding/binary"
	"sync"
)

// frameQueue is the Sender's bounded queue. It holds complete frames
// (length prefix, sequenced wrapper with the seq_num given on enqueue, and
// the encoded AosMessage) back to back in byte chunks, not message objects:
// a queued probe message costs its ~150 encoded bytes instead of the ~1 KB
// of a message tree, the garbage collector has no pointers to scan in it, and
// the writer moves whole runs of frames to the connection with one copy.
//
// It is bounded twice, and drops the oldest frames to stay under both when
// full (fresh data matters more than old data for telemetry): by the number
// of messages and by the bytes its chunks hold. Chunks are allocated as the
// queue grows and released as it drains, keeping a few spares so that a
// steady flow, and the bursts of a tick, do not allocate; a queue whose
// receiver keeps up holds a few chunks whatever its bounds.
type frameQueue struct {
	mu        sync.Mutex
	chunks    []*chunk // oldest first; frames are appended to the last
	spares    []*chunk // emptied chunks kept for reuse, at most maxSpares
	chunkSize int
	maxMsgs   int
	maxBytes  int
	n         int // frames queued
	held      int // bytes of the chunks held, the spares included
	nextSeq   uint64
	sequenced bool
}

// chunk holds whole frames: buf[rd:] are the queued ones.
type chunk struct {
	buf []byte
	rd  int
}

// Chunk sizes: a quarter of the byte bound, within these limits. A frame
// larger than a chunk (up to 65,537 bytes) gets a chunk of its own.
const (
	minChunk = 4 << 10
	maxChunk = 64 << 10
	// maxSpares emptied chunks are kept: a tick's burst (1,000 probe
	// messages are about 2 chunks) while the head drains one at a time.
	maxSpares = 4
)

// dropReason says which bound made the queue drop its oldest frames.
type dropReason int

const (
	dropNone     dropReason = iota
	dropMessages            // queue.messages
	dropBytes               // queue.bytes
)

func newFrameQueue(maxMsgs, maxBytes int, firstSeq uint64, sequenced bool) *frameQueue {
	return &frameQueue{
		chunkSize: min(max(maxBytes/4, minChunk), maxChunk),
		spares:    make([]*chunk, 0, maxSpares),
		maxMsgs:   maxMsgs,
		maxBytes:  maxBytes,
		nextSeq:   firstSeq,
		sequenced: sequenced,
	}
}

// push frames body (an encoded AosMessage) with the next seq_num and
// queues it. Every call takes a seq_num, refused or not, so a refused
// message shows at the receiver as a gap. It reports how many of the oldest
// frames it dropped to make room and why (the last reason when both bounds
// were hit), or ErrOversize when the frame could not be built; a frame that
// is larger than the whole byte bound is not queued and is reported as one
// frame dropped for the byte bound.
func (q *frameQueue) push(body []byte) (dropped int, why dropReason, err error) {
	q.mu.Lock()
	defer q.mu.Unlock()
	seq := q.nextSeq
	q.nextSeq++
	size, err := frameSize(len(body), seq, q.sequenced)
	if err != nil {
		return 0, dropNone, err
	}
	if size > q.maxBytes {
		return 1, dropBytes, nil
	}
	for q.n >= q.maxMsgs {
		q.dropOldest()
		dropped, why = dropped+1, dropMessages
	}
	c := q.tail()
	if c == nil || cap(c.buf)-len(c.buf) < size {
		want := max(q.chunkSize, size)
		for {
			if k := len(q.spares); k > 0 && size <= q.chunkSize {
				c = q.spares[k-1]
				q.spares[k-1] = nil
				q.spares = q.spares[:k-1]
				break
			}
			if q.held+want <= q.maxBytes {
				c = &chunk{buf: make([]byte, 0, want)}
				q.held += want
				break
			}
			if k := len(q.spares); k > 0 { // too small for this frame: free one
				q.held -= cap(q.spares[k-1].buf)
				q.spares[k-1] = nil
				q.spares = q.spares[:k-1]
				continue
			}
			// q.n > 0 here: with nothing queued only spares are held,
			// and the frame fits in the bound.
			q.dropOldest()
			dropped, why = dropped+1, dropBytes
		}
		q.chunks = append(q.chunks, c)
	}
	c.buf = appendFramed(c.buf, seq, body, q.sequenced)
	q.n++
	return dropped, why, nil
}

// skipSeq uses up a seq_num for a message refused before it was framed
// (one that could not be encoded), so the receiver sees the gap.
func (q *frameQueue) skipSeq() {
	q.mu.Lock()
	q.nextSeq++
	q.mu.Unlock()
}

func (q *frameQueue) tail() *chunk {
	if len(q.chunks) == 0 {
		return nil
	}
	return q.chunks[len(q.chunks)-1]
}

// dropOldest discards the oldest frame. Callers hold q.mu and have q.n > 0.
func (q *frameQueue) dropOldest() {
	c := q.chunks[0]
	c.rd += 2 + int(binary.BigEndian.Uint16(c.buf[c.rd:]))
	q.n--
	if c.rd == len(c.buf) {
		q.release()
	}
}

// release removes the emptied head chunk, keeping it as a spare when it
// has the standard size and there is room among the spares.
func (q *frameQueue) release() {
	c := q.chunks[0]
	copy(q.chunks, q.chunks[1:])
	q.chunks[len(q.chunks)-1] = nil
	q.chunks = q.chunks[:len(q.chunks)-1]
	if len(q.spares) < maxSpares && cap(c.buf) == q.chunkSize {
		c.buf, c.rd = c.buf[:0], 0
		q.spares = append(q.spares, c)
		return
	}
	q.held -= cap(c.buf)
}

// popInto appends the oldest whole frames to dst, at least one if any is
// queued and then as many as fit in limit bytes, and returns dst and how
// many frames it took. Whole runs are copied under one lock, so the lock is
// out of the writer's per-message path.
func (q *frameQueue) popInto(dst []byte, limit int) ([]byte, int) {
	q.mu.Lock()
	defer q.mu.Unlock()
	taken, size := 0, 0
	for q.n > 0 {
		c := q.chunks[0]
		end, full := c.rd, false
		for end < len(c.buf) {
			next := end + 2 + int(binary.BigEndian.Uint16(c.buf[end:]))
			if taken > 0 && size+next-end > limit {
				full = true
				break
			}
			size += next - end
			end = next
			taken++
			q.n--
		}
		dst = append(dst, c.buf[c.rd:end]...)
		c.rd = end
		if c.rd == len(c.buf) {
			q.release()
		}
		if full {
			break
		}
	}
	return dst, taken
}

func (q *frameQueue) len() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.n
}

// bytes is the memory the queue's chunks hold.
func (q *frameQueue) bytes() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.held
}
