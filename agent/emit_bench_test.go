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

// BenchmarkEmitStreamingTick measures the agent's per-tick streaming path
// for one streamed stage of 1,000 interfaces whose every item changes:
// ProbeMessage encoding (Emitter) and enqueueing on a perfmon sender
// (the receiver is unreachable; the bounded queue drops the oldest). The
// probe tick itself runs with the timer stopped.
func BenchmarkEmitStreamingTick(b *testing.B) {
	const n = 1000
	plan, probs := probe.CompileJSON([]byte(`{"id": "bench", "label": "bench", "processors": [
	  {"name": "rate", "type": "if_counter", "outputs": {"out": "tx"}, "properties": {"counter_type": "tx_bytes", "enable_streaming": true}}]}`))
	if len(probs) > 0 {
		b.Fatal(probs)
	}
	inst, err := probe.NewInstance(plan)
	if err != nil {
		b.Fatal(err)
	}
	batch := &collectors.Batch{Layout: 1, Interfaces: make([]collectors.Interface, n)}
	for i := range batch.Interfaces {
		batch.Interfaces[i].SystemID = fmt.Sprintf("leaf%d", i/48)
		batch.Interfaces[i].Name = fmt.Sprintf("Ethernet%d", i%48)
		batch.Interfaces[i].Set(collectors.TxBytes, uint64(i))
	}
	cfg := Defaults()
	cfg.Streaming = []StreamingEntry{{Type: "perfmon", Address: "127.0.0.1:9"}}
	cfg.Queue.Messages = 4 * n
	out, err := newOutput(cfg, io.Discard, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		b.Fatal(err)
	}
	defer func() {
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		_ = out.close(ctx)
	}()
	e := NewEmitter(Identity{SystemID: "leaf1", Hostname: "leaf1", BlueprintID: "dc1"})
	send := func(m *aos.AosMessage) { out.send(chanPerfmon, m) }
	var items probe.ItemCache
	t := &probe.Tick{Time: time.Unix(1700000000, 0), Counters: batch, Items: &items}
	ticks := 0
	tick := func() {
		// A rate that differs from the previous tick's: every item changes.
		ticks++
		for i := range batch.Interfaces {
			batch.Interfaces[i].Counters[collectors.TxBytes] += uint64(1000 + (i+ticks)%7)
		}
		t.Time = t.Time.Add(time.Second)
		batch.Time = t.Time
		if err := inst.Tick(t); err != nil {
			b.Fatal(err)
		}
		items.Advance(batch, t.Time)
	}
	tick()
	tick()
	sent := 0
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		tick()
		b.StartTimer()
		e.ProbeMessages(inst, func(m *aos.AosMessage) { sent++; send(m) })
	}
	b.StopTimer()
	if sent < b.N*n {
		b.Fatalf("%d messages for %d ticks of %d changed items", sent, b.N, n)
	}
	b.ReportMetric(float64(sent)/float64(b.N), "msgs/tick")
}
