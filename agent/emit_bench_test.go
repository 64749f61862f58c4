package agent

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/probe-agent/probe-agent/collectors"
	"github.com/probe-agent/probe-agent/probe"
	"github.com/probe-agent/probe-agent/proto/aos"
)

// streamingTick is one probe streaming one stage of n interfaces, ticked
// with counters that move (busy: every item changes) or not (idle).
type streamingTick struct {
	inst  *probe.Instance
	batch *collectors.Batch
	items probe.ItemCache
	tick  probe.Tick
	ticks int
}

func newStreamingTick(tb testing.TB, n int) *streamingTick {
	tb.Helper()
	plan, probs := probe.CompileJSON([]byte(`{"id": "bench", "label": "bench", "processors": [
	  {"name": "rate", "type": "if_counter", "outputs": {"out": "tx"}, "properties": {"counter_type": "tx_bytes", "enable_streaming": true}}]}`))
	if len(probs) > 0 {
		tb.Fatal(probs)
	}
	inst, err := probe.NewInstance(plan)
	if err != nil {
		tb.Fatal(err)
	}
	s := &streamingTick{inst: inst, batch: &collectors.Batch{Layout: 1, Interfaces: make([]collectors.Interface, n)}}
	for i := range s.batch.Interfaces {
		s.batch.Interfaces[i].SystemID = fmt.Sprintf("leaf%d", i/48)
		s.batch.Interfaces[i].Name = fmt.Sprintf("Ethernet%d", i%48)
		s.batch.Interfaces[i].Set(collectors.TxBytes, uint64(i))
		s.batch.Interfaces[i].Oper = collectors.OperUp
	}
	s.tick = probe.Tick{Time: time.Unix(1700000000, 0), Counters: s.batch, Items: &s.items}
	s.step(tb, true)
	s.step(tb, true)
	return s
}

// step ticks the probe; busy moves every counter by an amount that differs
// from the previous tick's, so every rate changes.
func (s *streamingTick) step(tb testing.TB, busy bool) {
	s.ticks++
	if busy {
		for i := range s.batch.Interfaces {
			s.batch.Interfaces[i].Counters[collectors.TxBytes] += uint64(1000 + (i+s.ticks)%7)
		}
	}
	s.tick.Time = s.tick.Time.Add(time.Second)
	s.batch.Time = s.tick.Time
	if err := s.inst.Tick(&s.tick); err != nil {
		tb.Fatal(err)
	}
	s.items.Advance(s.batch, s.tick.Time)
}

// newUnreachableOutput is a streaming output with one perfmon receiver
// that is not there: its bounded queue fills and drops the oldest.
func newUnreachableOutput(tb testing.TB, queue int) output {
	tb.Helper()
	cfg := Defaults()
	cfg.Streaming = []StreamingEntry{{Type: "perfmon", Address: "127.0.0.1:9"}}
	cfg.Queue.Messages = queue
	out, err := newOutput(cfg, io.Discard, slog.New(slog.DiscardHandler))
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() {
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		_ = out.close(ctx)
	})
	return out
}

// BenchmarkEmitStreamingTick measures the agent's per-tick streaming path
// for one streamed stage of 1,000 interfaces whose every item changes, up
// to the sender's queue (the receiver is unreachable; the bounded queue
// drops the oldest): "direct" is the agent's path (Encoder.ProbeBodies
// into the queue), "generic" builds an AosMessage per item and enqueues it
// (the path before, kept for the printer), in the same run. The probe tick
// itself runs with the timer stopped.
func BenchmarkEmitStreamingTick(b *testing.B) {
	const n = 1000
	for _, path := range []string{"direct", "generic"} {
		b.Run(path, func(b *testing.B) {
			s := newStreamingTick(b, n)
			out := newUnreachableOutput(b, 4*n)
			e := NewEmitter(Identity{SystemID: "leaf1", Hostname: "leaf1", BlueprintID: "dc1"})
			snd := out.(*senders)
			emit := func() {
				if path == "direct" {
					e.probeMessages(s.inst, out)
				} else {
					e.ProbeMessages(s.inst, func(m *aos.AosMessage) { out.send(chanPerfmon, m) })
				}
			}
			// Steady state before the timer starts: the first tick fills
			// the emitter's item-id cache (5 allocations per item) and the
			// first four fill the queue's chunks. Left in the timed loop,
			// those one-off costs showed as "2 allocs per tick" (5,000
			// allocations spread over 2,000 ticks).
			for range 5 {
				s.step(b, true)
				emit()
			}
			before := snd.Streams()[0].Sender.Stats().Enqueued
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				b.StopTimer()
				s.step(b, true)
				b.StartTimer()
				emit()
			}
			b.StopTimer()
			sent := snd.Streams()[0].Sender.Stats().Enqueued - before
			if sent < uint64(b.N*n) {
				b.Fatalf("%d messages for %d ticks of %d changed items", sent, b.N, n)
			}
			b.ReportMetric(float64(sent)/float64(b.N), "msgs/tick")
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(sent), "ns/msg")
		})
	}
}
