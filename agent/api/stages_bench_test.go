package api

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/probe-agent/probe-agent/agent"
	"github.com/probe-agent/probe-agent/collectors"
	"github.com/probe-agent/probe-agent/collectors/replay"
)

// BenchmarkStageMetricsGather is one scrape's worth of stage series: a
// probe streaming two if_counter stages over 4,000 interfaces (8,000
// series), gathered from the registry as /metrics does.
func BenchmarkStageMetricsGather(b *testing.B) {
	const n = 4000
	var batches []collectors.Batch
	for k := range 3 {
		bt := collectors.Batch{Time: time.Unix(int64(1700000000+k), 0), Layout: 1}
		for i := range n {
			ifc := collectors.Interface{SystemID: "leaf1", Name: fmt.Sprintf("Ethernet%d", i)}
			ifc.Set(collectors.TxBytes, uint64(k*1000*(i+1)))
			ifc.Set(collectors.RxBytes, uint64(k*500*(i+1)))
			bt.Interfaces = append(bt.Interfaces, ifc)
		}
		batches = append(batches, bt)
	}
	col, err := replay.NewCollector(batches, nil)
	if err != nil {
		b.Fatal(err)
	}
	cfg := agent.Defaults()
	cfg.SystemID, cfg.StateDir, cfg.ProbesDir = "leaf1", b.TempDir(), ""
	ticks := make(chan time.Time)
	done := make(chan struct{}, 10)
	a, err := agent.New(cfg, agent.Options{Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), Stdout: &bytes.Buffer{}, Collector: col, Ticks: ticks, OnTick: func() { done <- struct{}{} }})
	if err != nil {
		b.Fatal(err)
	}
	doc := `{"id": "rates", "label": "rates", "processors": [
	  {"name": "tx", "type": "if_counter", "outputs": {"out": "tx"}, "properties": {"counter_type": "tx_bytes", "enable_streaming": true}},
	  {"name": "rx", "type": "if_counter", "outputs": {"out": "rx"}, "properties": {"counter_type": "rx_bytes", "enable_streaming": true}}]}`
	if _, err := a.Manager().Create([]byte(doc)); err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() { _ = a.Run(ctx) }()
	<-done
	ticks <- time.Now()
	<-done
	reg := prometheus.NewRegistry()
	reg.MustRegister(newStageCollector(a, 0))
	fams, err := reg.Gather()
	if err != nil {
		b.Fatal(err)
	}
	series := 0
	for _, f := range fams {
		if f.GetName() != "probe_agent_stage_values_withheld" {
			series += len(f.GetMetric())
		}
	}
	if series != 2*n {
		b.Fatalf("%d series, want %d", series, 2*n)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if _, err := reg.Gather(); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(2*n), "ns/series")
}
