package bus

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"sync"
	"testing"
	"time"
)

// memSink is a broker in memory that stores by Record.ID, as JetStream's
// de-duplication does, and fails or blocks when told to.
type memSink struct {
	mu      sync.Mutex
	stored  map[string]int // ID -> times stored
	order   []string
	failN   int           // fail the next failN sends after storing (a lost ack)
	gate    chan struct{} // when set, Send waits on it
	entered chan struct{}
	closed  bool
}

func (s *memSink) Send(ctx context.Context, recs []Encoded) error {
	if s.entered != nil {
		select {
		case s.entered <- struct{}{}:
		default:
		}
	}
	if s.gate != nil {
		select {
		case <-s.gate:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, e := range recs {
		id := e.Rec.ID()
		if s.stored[id] == 0 {
			s.order = append(s.order, id)
		}
		s.stored[id]++
	}
	if s.failN > 0 {
		s.failN--
		return errors.New("ack lost")
	}
	return nil
}

func (s *memSink) Close() error { s.closed = true; return nil }

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

// TestPublisherRetriesSameRecords: a Send whose acknowledgement is lost is
// retried with the same records, in order: nothing is missing, and the
// de-duplicating broker stores nothing twice.
func TestPublisherRetriesSameRecords(t *testing.T) {
	sink := &memSink{stored: map[string]int{}, failN: 2}
	p := NewPublisher(sink, QueueOptions{Batch: 3, RetryMax: time.Millisecond}, quiet)
	for i := range 10 {
		if err := p.Publish(testRecord("leaf1", "p1", uint64(i+1))); err != nil {
			t.Fatal(err)
		}
	}
	if err := p.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	st := p.Stats()
	if st.Sent != 10 || st.Dropped != 0 || st.Failures != 2 || st.Queued != 0 {
		t.Fatalf("stats %+v, want 10 sent, 0 dropped, 2 failures", st)
	}
	if len(sink.order) != 10 || sink.order[0] != "leaf1/s1/1/p1" || sink.order[9] != "leaf1/s1/10/p1" {
		t.Fatalf("stored %v", sink.order)
	}
	if !sink.closed {
		t.Error("sink not closed")
	}
}

// TestPublisherBoundsQueue: while the broker does not answer, the queue
// keeps at most Messages records and Bytes bytes, dropping the oldest
// (never the one in flight), counted, and later records carry the count.
func TestPublisherBoundsQueue(t *testing.T) {
	body, _ := testRecord("leaf1", "p1", 1).Encode()
	for _, tc := range []struct {
		name string
		opt  QueueOptions
		keep int // records queued besides the one in flight
	}{
		{"by count", QueueOptions{Messages: 4, Batch: 1}, 3},
		{"by bytes", QueueOptions{Messages: 100, Bytes: 3*len(body) + len(body)/2, Batch: 1}, 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sink := &memSink{stored: map[string]int{}, gate: make(chan struct{}), entered: make(chan struct{}, 1)}
			p := NewPublisher(sink, tc.opt, quiet)
			if err := p.Publish(testRecord("leaf1", "p1", 1)); err != nil {
				t.Fatal(err)
			}
			<-sink.entered // record 1 is in flight
			var last *Record
			for i := 2; i <= 10; i++ {
				last = testRecord("leaf1", "p1", uint64(i))
				if err := p.Publish(last); err != nil {
					t.Fatal(err)
				}
			}
			st := p.Stats()
			// The last record carries the drops before it (its own
			// publishing dropped one more).
			if last.Batch.Dropped != st.Dropped-1 {
				t.Errorf("last record's Dropped = %d, want %d", last.Batch.Dropped, st.Dropped-1)
			}
			if want := uint64(9 - tc.keep); st.Dropped != want || st.Queued != uint64(tc.keep+1) {
				t.Fatalf("stats %+v, want %d dropped and %d queued", st, want, tc.keep+1)
			}
			close(sink.gate)
			if err := p.Close(context.Background()); err != nil {
				t.Fatal(err)
			}
			want := []string{"leaf1/s1/1/p1"}
			for i := 10 - tc.keep + 1; i <= 10; i++ {
				want = append(want, testRecord("leaf1", "p1", uint64(i)).ID())
			}
			if len(sink.order) != len(want) {
				t.Fatalf("stored %v, want %v", sink.order, want)
			}
			for i := range want {
				if sink.order[i] != want[i] {
					t.Fatalf("stored %v, want %v", sink.order, want)
				}
			}
		})
	}
}

// TestPublisherCloseTimeout: Close gives up when its context ends, counting
// what was left unsent as dropped; Publish after Close is refused.
func TestPublisherCloseTimeout(t *testing.T) {
	sink := &memSink{stored: map[string]int{}, gate: make(chan struct{}), entered: make(chan struct{}, 1)}
	p := NewPublisher(sink, QueueOptions{}, quiet)
	for i := range 3 {
		_ = p.Publish(testRecord("leaf1", "p1", uint64(i+1)))
	}
	<-sink.entered
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := p.Close(ctx); !errors.Is(err, context.Canceled) {
		t.Fatalf("Close = %v, want context.Canceled", err)
	}
	if st := p.Stats(); st.Dropped != 3 || st.Sent != 0 {
		t.Fatalf("stats %+v, want 3 dropped", st)
	}
	if err := p.Publish(testRecord("leaf1", "p1", 9)); !errors.Is(err, ErrClosed) {
		t.Fatalf("Publish after Close = %v", err)
	}
}
