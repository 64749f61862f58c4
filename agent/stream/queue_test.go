package stream

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"
)

// body makes a distinguishable AosMessage stand-in of n bytes: the queue
// only frames bytes, it does not look inside them.
func body(i, n int) []byte {
	b := []byte(fmt.Sprintf("m%06d", i))
	for len(b) < n {
		b = append(b, 'x')
	}
	return b[:n]
}

// drain pops everything and decodes the frames back into (seq, body).
func drain(t *testing.T, q *frameQueue, sequenced bool, limit int) (seqs []uint64, bodies []string) {
	t.Helper()
	for {
		out, k := q.popInto(nil, limit)
		if k == 0 {
			if len(out) != 0 {
				t.Fatalf("no frames but %d bytes", len(out))
			}
			return seqs, bodies
		}
		if k > 1 && len(out) > limit {
			t.Fatalf("popped %d frames in %d bytes, over the %d limit", k, len(out), limit)
		}
		r := bufio.NewReader(bytes.NewReader(out))
		for range k {
			frame, err := ReadFrame(r, nil)
			if err != nil {
				t.Fatal(err)
			}
			var seq uint64
			b := frame
			if sequenced {
				if seq, b, err = SplitSequenced(frame); err != nil {
					t.Fatal(err)
				}
			}
			seqs = append(seqs, seq)
			bodies = append(bodies, string(b))
		}
		if r.Buffered() != 0 {
			t.Fatalf("%d bytes after %d frames", r.Buffered(), k)
		}
	}
}

// TestFrameQueueBounds pushes messages past one bound or the other: the
// newest are kept in order with their seq_nums, the drops are counted with
// the bound that caused them, and the memory held never exceeds the byte
// bound.
func TestFrameQueueBounds(t *testing.T) {
	tests := []struct {
		name              string
		maxMsgs, maxBytes int
		push, size        int
		sequenced         bool
		wantKept          int
		wantWhy           dropReason
		wantDropped       int
		popLimit          int
		wantNoDropsAtAll  bool
	}{
		{name: "under both bounds", maxMsgs: 1000, maxBytes: 1 << 20, push: 500, size: 150, sequenced: true,
			wantKept: 500, wantNoDropsAtAll: true, popLimit: flushAt},
		{name: "message bound", maxMsgs: 100, maxBytes: 1 << 20, push: 250, size: 150, sequenced: true,
			wantKept: 100, wantWhy: dropMessages, wantDropped: 150, popLimit: flushAt},
		{name: "byte bound", maxMsgs: 1 << 20, maxBytes: 64 << 10, push: 5000, size: 150, sequenced: true,
			wantWhy: dropBytes, popLimit: 1000},
		{name: "byte bound unsequenced", maxMsgs: 1 << 20, maxBytes: 32 << 10, push: 5000, size: 300, sequenced: false,
			wantWhy: dropBytes, popLimit: 1},
		{name: "frames larger than a chunk", maxMsgs: 1 << 20, maxBytes: 256 << 10, push: 40, size: 40000, sequenced: true,
			wantWhy: dropBytes, popLimit: flushAt},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			q := newFrameQueue(tt.maxMsgs, tt.maxBytes, 1000, tt.sequenced)
			dropped := 0
			for i := range tt.push {
				n, why, err := q.push(body(i, tt.size))
				if err != nil {
					t.Fatal(err)
				}
				if n > 0 && why != tt.wantWhy {
					t.Fatalf("push %d: dropped %d for reason %d, want %d", i, n, why, tt.wantWhy)
				}
				dropped += n
				if q.held > tt.maxBytes {
					t.Fatalf("push %d: queue holds %d bytes, over its %d bound", i, q.held, tt.maxBytes)
				}
			}
			if tt.wantNoDropsAtAll && dropped != 0 {
				t.Fatalf("dropped %d", dropped)
			}
			if tt.wantDropped != 0 && dropped != tt.wantDropped {
				t.Fatalf("dropped %d, want %d", dropped, tt.wantDropped)
			}
			if q.len() != tt.push-dropped {
				t.Fatalf("%d queued after %d pushed and %d dropped", q.len(), tt.push, dropped)
			}
			if tt.wantKept != 0 && q.len() != tt.wantKept {
				t.Fatalf("kept %d, want %d", q.len(), tt.wantKept)
			}
			seqs, bodies := drain(t, q, tt.sequenced, tt.popLimit)
			if len(bodies) != tt.push-dropped {
				t.Fatalf("popped %d, want %d", len(bodies), tt.push-dropped)
			}
			// The kept ones are the newest, in order, with the seq_num of their push.
			for j, b := range bodies {
				i := dropped + j
				if b != string(body(i, tt.size)) {
					t.Fatalf("frame %d holds %.10q, want message %d", j, b, i)
				}
				if tt.sequenced && seqs[j] != 1000+uint64(i) {
					t.Fatalf("frame %d: seq %d, want %d", j, seqs[j], 1000+i)
				}
			}
			// Drained, it keeps at most its spare chunks.
			if q.len() != 0 || q.held > maxSpares*q.chunkSize || len(q.chunks) != 0 {
				t.Fatalf("drained queue: %d frames, %d bytes, %d chunks", q.len(), q.held, len(q.chunks))
			}
		})
	}
}

// TestFrameQueueRefuses: an oversize frame is refused with ErrOversize, one
// that fits the frame limit but not the byte bound is dropped at once; both
// use up their seq_num.
func TestFrameQueueRefuses(t *testing.T) {
	q := newFrameQueue(100, 16<<10, 1, true)
	if _, _, err := q.push(body(0, MaxFrameSize)); !errors.Is(err, ErrOversize) {
		t.Fatalf("oversize: %v", err)
	}
	if n, why, err := q.push(body(1, 20000)); err != nil || n != 1 || why != dropBytes {
		t.Fatalf("larger than the bound: dropped %d why %d err %v", n, why, err)
	}
	if _, _, err := q.push(body(2, 100)); err != nil {
		t.Fatal(err)
	}
	seqs, _ := drain(t, q, true, flushAt)
	if len(seqs) != 1 || seqs[0] != 3 {
		t.Fatalf("seqs %v, want [3]", seqs)
	}
}

// TestFrameQueueSteadyFlowDoesNotAllocate: push and pop in step reuse the
// chunks and the spares.
func TestFrameQueueSteadyFlowDoesNotAllocate(t *testing.T) {
	q := newFrameQueue(DefaultQueueSize, DefaultQueueBytes, 1, true)
	b := body(0, 150)
	out := make([]byte, 0, 2*flushAt)
	for range 2000 { // warm up: the chunks and spares exist
		q.push(b)
		out, _ = q.popInto(out[:0], flushAt)
	}
	allocs := testing.AllocsPerRun(10000, func() {
		q.push(b)
		out, _ = q.popInto(out[:0], flushAt)
	})
	if allocs != 0 {
		t.Fatalf("%v allocations per push/pop", allocs)
	}
	if q.held > (maxSpares+1)*q.chunkSize {
		t.Fatalf("holds %d bytes", q.held)
	}
	if got := binary.BigEndian.Uint16(out); int(got) != len(out)-2 {
		t.Fatalf("frame length %d in %d bytes", got, len(out))
	}
}

// TestSlowReceiverCannotExceedByteBound: a receiver that accepts and never
// reads fills the socket buffers, then the queue; with a message bound far
// too high to matter, the byte bound holds after every Enqueue, the drops
// are counted as the byte bound's, and the newest messages are the ones kept.
func TestSlowReceiverCannotExceedByteBound(t *testing.T) {
	const bound = 256 << 10
	ln := listen(t, "127.0.0.1:0")
	defer ln.Close()
	accepted := make(chan net.Conn, 1)
	go func() {
		if c, err := ln.Accept(); err == nil {
			accepted <- c
		}
	}()
	s := newTestSender(t, Config{Address: ln.Addr().String(), Sequenced: true, QueueSize: 10_000_000, QueueBytes: bound})
	c := <-accepted
	defer c.Close()
	m := numbered(0)
	m.GetPerfMon().GetProbeMessage().Property[0].Value = proto.String(strings.Repeat("v", 1000))
	// 40 MB: more than loopback socket buffers and the writer's buffer hold.
	const n = 40_000
	for i := range n {
		s.Enqueue(m)
		if st := s.Stats(); st.QueueBytes > bound {
			t.Fatalf("after %d messages the queue holds %d bytes, over its %d bound", i+1, st.QueueBytes, bound)
		}
	}
	st := s.Stats()
	if st.Dropped == 0 || st.DroppedBytes != st.Dropped {
		t.Fatalf("dropped %d, of which %d for the byte bound; want some, all for the byte bound", st.Dropped, st.DroppedBytes)
	}
	if st.QueueDepth == 0 || st.QueueDepth*1000 > bound {
		t.Fatalf("%d messages of 1 KB queued under a %d-byte bound", st.QueueDepth, bound)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	s.Close(ctx)
}
