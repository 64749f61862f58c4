package probe_test

import (
	"fmt"
	"runtime"
	"testing"
	"time"

	"github.com/probe-agent/probe-agent/collectors"
	"github.com/probe-agent/probe-agent/probe"
)

// TestAnomalyMemoryFollowsRaised: a raised anomaly costs a compact record,
// its evidence and its place in the tracker, and nothing stays of the tick
// that raised it. Measured on the heap (runtime.MemStats after GC, no
// timing) around 4,000 interfaces turning anomalous at once, as the
// hot/cold probe does on an idle switch, and two steady ticks after: the
// transitions buffer of the burst (4,000 anomaly copies) used to stay
// allocated for the life of the probe, 1.2 MB.
func TestAnomalyMemoryFollowsRaised(t *testing.T) {
	const n = 4000
	inst, err := probe.NewInstance(errorsPlan(t))
	if err != nil {
		t.Fatal(err)
	}
	b := &collectors.Batch{Layout: 1}
	for i := range n {
		b.Interfaces = append(b.Interfaces, collectors.Interface{SystemID: "leaf1", Name: fmt.Sprint("Ethernet", i)})
	}
	tick := func(k int, errs uint64) {
		t.Helper()
		b.Time = time.Unix(int64(1000+k), 0)
		for i := range b.Interfaces {
			b.Interfaces[i].Set(collectors.RxErrorPackets, errs*uint64(k))
		}
		if err := inst.Tick(&probe.Tick{Time: b.Time, Counters: b}); err != nil {
			t.Fatal(err)
		}
	}
	// Two ticks without errors: the stages, their rates and the tracker's
	// bits exist before the measurement.
	tick(1, 0)
	tick(2, 0)
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	tick(3, 5) // every interface raises
	if got := len(inst.Transitions()); got != n {
		t.Fatalf("%d transitions in the burst, want %d", got, n)
	}
	for k := 4; k <= 5; k++ { // still raised, new evidence: no transitions
		tick(k, 5)
		if got := len(inst.Transitions()); got != 0 {
			t.Fatalf("%d transitions in steady tick %d, want 0", got, k)
		}
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	runtime.KeepAlive(inst)
	if got := inst.AnomalyCount(); got != n {
		t.Fatalf("%d anomalies raised, want %d", got, n)
	}
	per := (int64(after.HeapAlloc) - int64(before.HeapAlloc)) / n
	// The tracker's record (160 bytes with its size class), the evidence
	// in the stage's pool (64, the pool grown by appends up to 1.25 times
	// that), the tracker's map by item (16 a slot, up to twice that when
	// it just grew) and 32 of slack. Building an Anomaly per raised item,
	// with its two id strings and a map by id, was 583 bytes; keeping the
	// burst's transitions too, 906.
	const bound = 160 + 80 + 32 + 32
	t.Logf("%d bytes of heap per raised anomaly (bound %d)", per, bound)
	if per > bound {
		t.Errorf("%d bytes of heap per raised anomaly, want at most %d", per, bound)
	}
}

// BenchmarkRaisedAnomaliesTick: a steady tick of 4,000 interfaces whose
// anomalies are all raised, their evidence changing every tick (the
// tracker's update path), and the tick that raises them all.
func BenchmarkRaisedAnomaliesTick(b *testing.B) {
	const n = 4000
	plan := errorsPlan(b)
	batch := &collectors.Batch{Layout: 1}
	for i := range n {
		batch.Interfaces = append(batch.Interfaces, collectors.Interface{SystemID: "leaf1", Name: fmt.Sprint("Ethernet", i)})
	}
	tick := func(inst *probe.Instance, k int, errs uint64) {
		batch.Time = time.Unix(int64(1000+k), 0)
		for i := range batch.Interfaces {
			batch.Interfaces[i].Set(collectors.RxErrorPackets, errs*uint64(k*k))
		}
		if err := inst.Tick(&probe.Tick{Time: batch.Time, Counters: batch}); err != nil {
			b.Fatal(err)
		}
	}
	b.Run("steady", func(b *testing.B) {
		inst, err := probe.NewInstance(plan)
		if err != nil {
			b.Fatal(err)
		}
		tick(inst, 1, 0)
		tick(inst, 2, 5)
		tick(inst, 3, 5)
		b.ReportAllocs()
		b.ResetTimer()
		for k := 0; k < b.N; k++ {
			tick(inst, 4+k, 5)
		}
		if inst.AnomalyCount() != n {
			b.Fatalf("%d anomalies raised, want %d", inst.AnomalyCount(), n)
		}
	})
	b.Run("raise all", func(b *testing.B) {
		b.ReportAllocs()
		for k := 0; k < b.N; k++ {
			b.StopTimer()
			inst, err := probe.NewInstance(plan)
			if err != nil {
				b.Fatal(err)
			}
			tick(inst, 1, 0)
			tick(inst, 2, 0)
			b.StartTimer()
			tick(inst, 3, 5)
		}
	})
}
