package aosout

import (
	"context"
	"io"
	"log/slog"
	"net"
	"sync"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/probe-agent/probe-agent/agent/stream"
	"github.com/probe-agent/probe-agent/proto/aos"
)

// seqSink is a sequenced receiver on loopback that records the seq_nums it
// gets and signals each one.
type seqSink struct {
	r    *stream.Receiver
	addr string
	mu   sync.Mutex
	seqs []uint64
	got  chan struct{}
}

func newSeqSink(t *testing.T) *seqSink {
	t.Helper()
	k := &seqSink{got: make(chan struct{}, 1<<16)}
	k.r = stream.NewReceiver(stream.ReceiverConfig{Sequenced: true, Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
		Handle: func(m stream.Received) {
			k.mu.Lock()
			k.seqs = append(k.seqs, m.Seq)
			k.mu.Unlock()
			k.got <- struct{}{}
		}})
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	k.addr = l.Addr().String()
	go func() { _ = k.r.Serve(l) }()
	t.Cleanup(func() { _ = k.r.Close() })
	return k
}

// wait blocks until n more messages arrived (the deadline guards a hang).
func (k *seqSink) wait(t *testing.T, n int) {
	t.Helper()
	deadline := time.NewTimer(30 * time.Second)
	defer deadline.Stop()
	for range n {
		select {
		case <-k.got:
		case <-deadline.C:
			t.Fatalf("receiver %s: timed out waiting for messages", k.addr)
		}
	}
}

func (k *seqSink) contiguous(t *testing.T, name string) {
	t.Helper()
	k.mu.Lock()
	defer k.mu.Unlock()
	for i := 1; i < len(k.seqs); i++ {
		if k.seqs[i] != k.seqs[i-1]+1 {
			t.Errorf("%s: seq %d after %d", name, k.seqs[i], k.seqs[i-1])
		}
	}
}

func message(i int) *aos.AosMessage {
	return &aos.AosMessage{
		Timestamp: proto.Uint64(1700000000000000 + uint64(i)), OriginName: proto.String("bp1"), OriginHostname: proto.String("leaf1"),
		Data: &aos.AosMessage_PerfMon{PerfMon: &aos.PerfMon{Data: &aos.PerfMon_ProbeMessage{ProbeMessage: &aos.ProbeMessage{
			Value: &aos.ProbeMessage_Int64Value{Int64Value: int64(i)}, ProbeId: proto.String("p1"), StageName: proto.String("s1"),
			BlueprintId: proto.String("bp1"), ItemId: proto.String("i1"), ProbeLabel: proto.String("lbl"),
		}}}},
	}
}

// TestReconfigureKeepsIdentity: a reload that changes one streaming entry
// keeps the other entries' senders as they are (same sender, one
// connection, no gap, no new sequence) and gives the changed entry a new
// sender that continues its sequence (a second connection, still no gap
// and no reset at the receiver). Rebuilding every sender with a random
// sequence made a receiver report lost=536956537.
func TestReconfigureKeepsIdentity(t *testing.T) {
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	perf, alerts, events := newSeqSink(t), newSeqSink(t), newSeqSink(t)
	entries := []Entry{
		{Type: ChannelPerfMon, Address: perf.addr, Sequenced: true, Key: "perf-1"},
		{Type: ChannelAlerts, Address: alerts.addr, Sequenced: true, Key: "alerts-1"},
		{Type: ChannelEvents, Address: events.addr, Sequenced: true, Key: "events-1"},
	}
	s, err := NewSenders(entries, 1000, log)
	if err != nil {
		t.Fatal(err)
	}
	const n = 50
	send := func(s *Senders) {
		for i := range n {
			for _, ch := range []string{ChannelPerfMon, ChannelAlerts, ChannelEvents} {
				s.Send(ch, message(i))
			}
		}
		for _, k := range []*seqSink{perf, alerts, events} {
			k.wait(t, n)
		}
	}
	send(s)

	changed := append([]Entry(nil), entries...)
	changed[1].ReconnectMax, changed[1].Key = 5*time.Second, "alerts-2" // alerts changed
	changed = changed[:2]                                               // events removed
	next, retired, err := s.Reconfigure(changed, 1000, log)
	if err != nil {
		t.Fatal(err)
	}
	if next.Streams()[0].Sender != s.Streams()[0].Sender {
		t.Error("the unchanged perfmon entry got a new sender")
	}
	if next.Streams()[1].Sender == s.Streams()[1].Sender {
		t.Error("the changed alerts entry kept its sender")
	}
	if got := retired.Describe(); got != "alerts->"+alerts.addr+", events->"+events.addr {
		t.Errorf("retired %q, want the old alerts and events senders", got)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := retired.Close(ctx); err != nil {
		t.Fatal(err)
	}
	for i := range n {
		next.Send(ChannelPerfMon, message(i))
		next.Send(ChannelAlerts, message(i))
	}
	perf.wait(t, n)
	alerts.wait(t, n)
	if err := next.Close(ctx); err != nil {
		t.Fatal(err)
	}

	for _, c := range []struct {
		name  string
		k     *seqSink
		conns uint64
	}{{"perfmon (unchanged)", perf, 1}, {"alerts (changed)", alerts, 2}} {
		st := c.k.r.Stats()
		if st.Connections != c.conns || st.Gaps != 0 || st.Lost != 0 || st.Resets != 0 || st.Messages != 2*n {
			t.Errorf("%s: %+v, want %d connections, %d messages, no gap, no reset", c.name, st, c.conns, 2*n)
		}
		c.k.contiguous(t, c.name)
	}
}

// TestReconfigureFailureLeavesRunning: an entry that cannot start leaves
// the running senders as they were and nothing new running.
func TestReconfigureFailureLeavesRunning(t *testing.T) {
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	perf := newSeqSink(t)
	s, err := NewSenders([]Entry{{Type: ChannelPerfMon, Address: perf.addr, Sequenced: true, Key: "p"}}, 100, log)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close(context.Background())
	_, _, err = s.Reconfigure([]Entry{{Type: ChannelPerfMon, Address: perf.addr, Sequenced: true, Key: "p"}, {Type: "logs", Address: perf.addr}}, 100, log)
	if err == nil {
		t.Fatal("an entry of an unknown channel was accepted")
	}
	s.Send(ChannelPerfMon, message(1))
	perf.wait(t, 1)
}
