package stream

import (
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/probe-agent/probe-agent/proto/aos"
)

// TestRingGrowsKeepsOrderAndBound fills a ring past its initial capacity
// with the head in the middle of the buffer, then past its bound: order and
// seq_nums are kept, the oldest are dropped at the bound, and the buffer
// never exceeds it.
func TestRingGrowsKeepsOrderAndBound(t *testing.T) {
	const limit = 3*initialRing + 5
	r := newRing(limit, 100)
	msg := func(i int) *aos.AosMessage { return &aos.AosMessage{Timestamp: proto.Uint64(uint64(i))} }
	// Move the head off zero before the first growth.
	for i := 0; i < 10; i++ {
		r.push(msg(i))
	}
	out := make([]queued, 10)
	if n := r.popInto(out); n != 10 {
		t.Fatalf("popped %d", n)
	}
	dropped := 0
	for i := 10; i < 10+limit+7; i++ {
		if r.push(msg(i)) {
			dropped++
		}
	}
	if dropped != 7 || len(r.buf) != limit || r.len() != limit {
		t.Fatalf("dropped %d (want 7), buffer %d, entries %d (want %d)", dropped, len(r.buf), r.len(), limit)
	}
	all := make([]queued, limit)
	if n := r.popInto(all); n != limit {
		t.Fatalf("popped %d", n)
	}
	for i, q := range all {
		want := uint64(10 + 7 + i)
		if q.msg.GetTimestamp() != want || q.seq != 100+want {
			t.Fatalf("entry %d: message %d seq %d, want %d and %d", i, q.msg.GetTimestamp(), q.seq, want, 100+want)
		}
	}
}

func TestRingStartsSmall(t *testing.T) {
	if r := newRing(100000, 0); len(r.buf) != initialRing {
		t.Errorf("a 100,000-message queue starts with %d slots, want %d", len(r.buf), initialRing)
	}
}
