package kafkabus_test

import (
	"context"
	"fmt"
	"sort"
	"testing"
	"time"

	"github.com/probe-agent/probe-agent/bus"
	"github.com/probe-agent/probe-agent/bus/bustest"
)

// BenchmarkKafkaFanIn: partials through Kafka (kfake on loopback) to one
// central evaluator: each op is one tick of every device and probe
// published (one record per device and probe, idempotent producer,
// acks=all), read by the consumer group member and merged by a tick.
// merge-p99-ms is publish of a tick's first record to the end of the
// tick that merged them all.
func BenchmarkKafkaFanIn(b *testing.B) {
	for _, devices := range []int{8, 64} {
		b.Run(fmt.Sprintf("devices=%d", devices), func(b *testing.B) { benchFanIn(b, devices, 4) })
	}
}

func benchFanIn(b *testing.B, devices, nprobes int) {
	fi := newFanin(b, devices, probeIDs(nprobes), 4)
	ev := fi.start("bench")
	waitFor(b, fi.sig.ch, "ownership", func() bool { return len(ev.m.Owned()) == nprobes })
	// Records made before the clock starts: evaluating the edges is not
	// what is measured.
	ticks := make([][]*bus.Record, b.N+2)
	for k := range ticks {
		var err error
		if ticks[k], err = fi.fleet.Tick(bustest.Balanced); err != nil {
			b.Fatal(err)
		}
	}
	var bytes int64
	for _, recs := range ticks[2:] {
		for _, r := range recs {
			body, _ := r.Encode()
			bytes += int64(len(body))
		}
	}
	ctx := context.Background()
	lat := make([]time.Duration, 0, b.N)
	run := func(k int) time.Duration {
		fi.clk.set(at(k))
		start := time.Now()
		seqs := fi.publish(ticks[k])
		waitFor(b, fi.sig.ch, "a tick's records", func() bool { return fi.ready(seqs) })
		if err := ev.m.Tick(ctx, at(k)); err != nil {
			b.Fatal(err)
		}
		return time.Since(start)
	}
	run(0) // warm-up: fetch sessions and producer ids set up
	run(1)
	b.ResetTimer()
	for k := 2; k < len(ticks); k++ {
		lat = append(lat, run(k))
	}
	b.StopTimer()
	el := b.Elapsed().Seconds()
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	b.ReportMetric(float64(b.N*devices*nprobes)/el, "records/s")
	b.ReportMetric(float64(bytes)/el/1e6, "MB/s")
	b.ReportMetric(float64(lat[(len(lat)*99)/100].Microseconds())/1000, "merge-p99-ms")
	b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "merge-p50-ms")
}

// BenchmarkKafkaFailover: the time from an evaluator going away (crash:
// connections dead; leave: a clean stop) to the other owning all its
// probes with the tick's records in hand, with a 500ms session timeout
// (the crash case is that plus the rebalance; the leave case is the
// rebalance alone). Each op is a fresh group of two.
func BenchmarkKafkaFailover(b *testing.B) {
	for _, crash := range []bool{true, false} {
		name := "leave"
		if crash {
			name = "crash"
		}
		b.Run(name, func(b *testing.B) {
			var total, worst time.Duration
			for range b.N {
				b.StopTimer()
				ids := probeIDs(8)
				fi := newFanin(b, 8, ids, 4)
				a, c := fi.start("a"), fi.start("b")
				waitFor(b, fi.sig.ch, "the probes shared out", func() bool {
					return len(a.in.Partitions()) == 2 && len(c.in.Partitions()) == 2 && len(a.m.Owned())+len(c.m.Owned()) == len(ids)
				})
				var seqs map[string]uint64
				for k := range 2 {
					fi.clk.set(at(k))
					recs, err := fi.fleet.Tick(bustest.Balanced)
					if err != nil {
						b.Fatal(err)
					}
					seqs = fi.publish(recs)
					waitFor(b, fi.sig.ch, "records", func() bool { return fi.ready(seqs) })
					fi.tick(k)
				}
				fi.clk.set(at(2))
				recs, err := fi.fleet.Tick(bustest.Balanced)
				if err != nil {
					b.Fatal(err)
				}
				seqs = fi.publish(recs)
				waitFor(b, fi.sig.ch, "records", func() bool { return fi.ready(seqs) })
				b.StartTimer()
				start := time.Now()
				if crash {
					fi.crash(a)
				} else {
					a.stop()
					fi.drop(a)
				}
				waitFor(b, fi.sig.ch, "takeover", func() bool { return len(c.m.Owned()) == len(ids) && fi.ready(seqs) })
				d := time.Since(start)
				b.StopTimer()
				total += d
				worst = max(worst, d)
			}
			b.ReportMetric(float64(total.Microseconds())/float64(b.N)/1000, "failover-ms")
			b.ReportMetric(float64(worst.Microseconds())/1000, "failover-max-ms")
		})
	}
}
