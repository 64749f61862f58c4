package probe_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/probe-agent/probe-agent/collectors"
	"github.com/probe-agent/probe-agent/probe"
)

// BenchmarkSeedProbeTick measures one evaluation tick of the seed probe
// (if_counter -> std_dev -> range_check -> anomaly) over n interfaces in
// steady state: every counter moves every tick.
func BenchmarkSeedProbeTick(b *testing.B) {
	for _, n := range []int{1000, 10000} {
		b.Run(fmt.Sprintf("interfaces=%d", n), func(b *testing.B) {
			plan, probs := probe.CompileJSON(readFile(b, "testdata/seed_probe.json"))
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
			t := &probe.Tick{Time: time.Unix(1700000000, 0), Counters: batch}
			tick := func() {
				for i := range batch.Interfaces {
					batch.Interfaces[i].Counters[collectors.TxBytes] += uint64(1000 + i%7)
				}
				t.Time = t.Time.Add(time.Second)
				if err := inst.Tick(t); err != nil {
					b.Fatal(err)
				}
			}
			tick()
			tick()
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				tick()
			}
			b.StopTimer()
			perItem := float64(b.Elapsed().Nanoseconds()) / float64(b.N) / float64(n)
			b.ReportMetric(perItem, "ns/item")
			b.ReportMetric(1e9/perItem, "items/s")
		})
	}
}
