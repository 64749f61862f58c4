package probe_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/probe-agent/probe-agent/collectors"
	"github.com/probe-agent/probe-agent/probe"
)

// seedBatch is a batch of n interfaces of one device whose tx_bytes moves
// every tick, as in BenchmarkSeedProbeTick.
func seedBatch(n int) *collectors.Batch {
	batch := &collectors.Batch{Layout: 1, Interfaces: make([]collectors.Interface, n)}
	for i := range batch.Interfaces {
		batch.Interfaces[i].SystemID = "leaf1"
		batch.Interfaces[i].Name = fmt.Sprintf("Ethernet%d", i)
		batch.Interfaces[i].Set(collectors.TxBytes, uint64(i))
	}
	return batch
}

// BenchmarkSeedSplitTick compares, in one run, one tick of the whole seed
// probe with one tick of its edge part (if_counter and std_dev writing its
// partial state) on a device with 1,000 interfaces, and the edge tick plus
// the StageUpdate a device streams. Steady state, allocation-free.
func BenchmarkSeedSplitTick(b *testing.B) {
	plan, probs := probe.CompileJSON(readFile(b, "testdata/seed_probe.json"))
	if len(probs) > 0 {
		b.Fatal(probs)
	}
	split, err := probe.Partition(plan, nil)
	if err != nil {
		b.Fatal(err)
	}
	for _, c := range []struct {
		name   string
		plan   *probe.Plan
		stream bool
	}{{"whole", plan, false}, {"edge", split.Edge, false}, {"edge+update", split.Edge, true}} {
		b.Run(c.name+"/interfaces=1000", func(b *testing.B) {
			inst, err := probe.NewInstance(c.plan)
			if err != nil {
				b.Fatal(err)
			}
			batch := seedBatch(1000)
			t := &probe.Tick{Time: time.Unix(1700000000, 0), Counters: batch}
			var u probe.StageUpdate
			var buf []byte
			tick := func() {
				for i := range batch.Interfaces {
					batch.Interfaces[i].Counters[collectors.TxBytes] += uint64(1000 + i%7)
				}
				t.Time = t.Time.Add(time.Second)
				if err := inst.Tick(t); err != nil {
					b.Fatal(err)
				}
				if c.stream {
					st, _ := inst.Stage(split.Crossings[0].Stage)
					probe.UpdateOf(&u, st)
					buf = u.AppendBinary(buf[:0])
				}
			}
			tick()
			tick()
			b.ReportAllocs()
			b.ResetTimer()
			for range b.N {
				tick()
			}
		})
	}
}

// BenchmarkMergeDevicePartials is the centre's tick of the seed probe with
// 1,000 devices: 1,000 partial-state updates fed, merged (Chan's update)
// and finished, then range_check and the anomaly. Steady state,
// allocation-free.
func BenchmarkMergeDevicePartials(b *testing.B) {
	const devices = 1000
	s, updates := seedPartials(b, devices, 4)
	inst, err := probe.NewInstance(s.Central)
	if err != nil {
		b.Fatal(err)
	}
	tk := &probe.Tick{Time: time.Unix(1700000000, 0)}
	tick := func() {
		tk.Time = tk.Time.Add(time.Second)
		for _, u := range updates {
			u.Seq++
			if err := inst.Feed(u); err != nil {
				b.Fatal(err)
			}
		}
		if err := inst.Tick(tk); err != nil {
			b.Fatal(err)
		}
	}
	tick()
	tick()
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		tick()
	}
	b.StopTimer()
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/devices, "ns/partial")
}

// TestSplitTicksAllocationFree holds the edge tick with partial output, the
// update it streams and the centre's merge of 200 device partials to zero
// allocations per steady-state tick.
func TestSplitTicksAllocationFree(t *testing.T) {
	plan, probs := probe.CompileJSON(readFile(t, "testdata/seed_probe.json"))
	if len(probs) > 0 {
		t.Fatal(probs)
	}
	split, err := probe.Partition(plan, nil)
	if err != nil {
		t.Fatal(err)
	}
	edge, err := probe.NewInstance(split.Edge)
	if err != nil {
		t.Fatal(err)
	}
	batch := seedBatch(500)
	tk := &probe.Tick{Time: time.Unix(1700000000, 0), Counters: batch}
	var u probe.StageUpdate
	var buf []byte
	edgeTick := func() {
		for i := range batch.Interfaces {
			batch.Interfaces[i].Counters[collectors.TxBytes] += uint64(1000 + i%7)
		}
		tk.Time = tk.Time.Add(time.Second)
		if err := edge.Tick(tk); err != nil {
			t.Fatal(err)
		}
		st, _ := edge.Stage(split.Crossings[0].Stage)
		probe.UpdateOf(&u, st)
		buf = u.AppendBinary(buf[:0])
	}
	edgeTick()
	edgeTick()
	if n := testing.AllocsPerRun(20, edgeTick); n != 0 {
		t.Errorf("edge tick with partial output and its update: %v allocations, want 0", n)
	}

	s, updates := seedPartials(t, 200, 3)
	central, err := probe.NewInstance(s.Central)
	if err != nil {
		t.Fatal(err)
	}
	ctk := &probe.Tick{Time: time.Unix(1700000000, 0)}
	centralTick := func() {
		ctk.Time = ctk.Time.Add(time.Second)
		for _, u := range updates {
			u.Seq++
			if err := central.Feed(u); err != nil {
				t.Fatal(err)
			}
		}
		if err := central.Tick(ctk); err != nil {
			t.Fatal(err)
		}
	}
	centralTick()
	centralTick()
	if n := testing.AllocsPerRun(20, centralTick); n != 0 {
		t.Errorf("central merge of 200 partials: %v allocations, want 0", n)
	}
}
