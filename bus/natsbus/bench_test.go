package natsbus_test

import (
	"context"
	"fmt"
	"github.com/probe-agent/probe-agent/bus/natsbus"
	"sort"
	"testing"
	"time"

	"github.com/probe-agent/probe-agent/bus"
	"github.com/probe-agent/probe-agent/bus/bustest"
)

// BenchmarkJetStreamFanIn is the fan-in path end to end on loopback:
// devices' records published through bus.Publisher (acknowledged by the
// stream), read by one member's durable consumers, merged by its ticks.
// Each iteration is one tick of every device (devices x probes records);
// a tick is merged as soon as all its records arrived. merge-p99-ms is
// the 99th percentile, over ticks, from the first publish of a tick to
// the end of the member's tick that merged it.
func BenchmarkJetStreamFanIn(b *testing.B) {
	for _, devices := range []int{8, 64} {
		b.Run(fmt.Sprintf("devices=%d", devices), func(b *testing.B) { benchFanIn(b, devices, 4) })
	}
}

func benchFanIn(b *testing.B, devices, nprobes int) {
	ts := startServer(b, nil)
	var probes []string
	for i := range nprobes {
		probes = append(probes, fmt.Sprintf("p%d", i+1))
	}
	f, err := bustest.NewFleet("../../cmd/probectl/testdata/seed_probe.json", devices, probes, nil)
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	pubs := map[string]*bus.Publisher{}
	for _, dev := range f.Devices {
		p, err := natsbus.NewPublisher(ctx, ts.config(), bus.QueueOptions{})
		if err != nil {
			b.Fatal(err)
		}
		pubs[dev] = p
		b.Cleanup(func() { _ = p.Close(context.Background()) })
	}
	sig := newSignal()
	nc, err := natsbus.Connect(ts.config())
	if err != nil {
		b.Fatal(err)
	}
	defer nc.Close()
	in, err := natsbus.NewInput(ctx, nc, natsbus.InputConfig{Config: ts.config(), MemberID: "bench", LeaseTTL: time.Second,
		Probes: func() []string { return probes }, OnAssign: func(string) { sig.notify() }})
	if err != nil {
		b.Fatal(err)
	}
	m := bus.NewMember(f, in.Checkpoint(), bus.MemberOptions{StaleAfter: time.Minute, Log: quiet, OnRecord: func(string, string, uint64) { sig.notify() }})
	rctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { defer close(done); _ = in.Run(rctx, m) }()
	defer func() { cancel(); <-done }()
	t := &testing.T{}
	sig.waitFor(t, 20*time.Second, "ownership", func() bool { return len(m.Owned()) == nprobes })
	// Records made before the clock starts: evaluating the edges is not
	// what is measured.
	ticks := make([][]*bus.Record, b.N+1)
	for k := range ticks {
		if ticks[k], err = f.Tick(bustest.Balanced); err != nil {
			b.Fatal(err)
		}
	}
	var bytes int64
	lat := make([]time.Duration, 0, b.N)
	run := func(recs []*bus.Record) time.Duration {
		start := time.Now()
		want := recs[0].Batch.GetSeq()
		for _, r := range recs {
			if err := pubs[r.Device()].Publish(r); err != nil {
				b.Fatal(err)
			}
		}
		sig.waitFor(t, 30*time.Second, "a tick's records", func() bool {
			for _, p := range probes {
				got := m.Pending(p)
				if len(got) != devices {
					return false
				}
				for _, s := range got {
					if s != want {
						return false
					}
				}
			}
			return true
		})
		if err := m.Tick(ctx, time.Now()); err != nil {
			b.Fatal(err)
		}
		return time.Since(start)
	}
	run(ticks[0]) // warm-up: consumers created, first deliveries
	for _, r := range ticks[1:] {
		for _, rec := range r {
			body, _ := rec.Encode()
			bytes += int64(len(body))
		}
	}
	b.ResetTimer()
	for k := 1; k <= b.N; k++ {
		lat = append(lat, run(ticks[k]))
	}
	b.StopTimer()
	if t.Failed() {
		b.Fatal("timed out")
	}
	el := b.Elapsed().Seconds()
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	b.ReportMetric(float64(b.N*devices*nprobes)/el, "records/s")
	b.ReportMetric(float64(bytes)/el/1e6, "MB/s")
	b.ReportMetric(float64(lat[(len(lat)*99)/100].Microseconds())/1000, "merge-p99-ms")
	b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "merge-p50-ms")
}
