package probe

import (
	"fmt"
	"runtime"
	"testing"
	"time"
)

// accumulateStage is an accumulate's output over items interfaces, as the
// processor lays it out (Mirror of its input).
func accumulateStage(items, maxSamples int, duration time.Duration) *Stage {
	keys := make([]string, items)
	for i := range keys {
		keys[i] = fmt.Sprint("Ethernet", i)
	}
	in := newTestStage(NS)
	in.SetLayout(layoutOf(keys...))
	st := &Stage{Name: "acc", Type: NSTS, Keys: []string{"k"}, Columns: []Column{{Name: "value", Kind: Number}}, MaxSamples: maxSamples, MaxDuration: duration}
	st.Mirror(in)
	return st
}

// BenchmarkAccumulateBuild builds an accumulate stage of 4,000 items, each
// holding held samples, from empty: what a probe's history costs as it
// fills. B/item is the bytes allocated per item, layout included (B/op
// over the items: what the heap holds once built, since nothing allocated
// is dropped but the first chunks a series outgrows); with max_samples 1024
// a series holding one sample used to cost 49 KB.
func BenchmarkAccumulateBuild(b *testing.B) {
	const items = 4000
	for _, held := range []int{1, 4, 60, 1024} {
		b.Run(fmt.Sprintf("held=%d", held), func(b *testing.B) {
			b.ReportAllocs()
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			for range b.N {
				st := accumulateStage(items, 1024, 0)
				for k := range held {
					st.begin(uint64(k+1), time.Unix(int64(1e9+k), 0))
					for i := range items {
						st.Append(i, Value{Num: float64(k + i)})
					}
				}
			}
			b.StopTimer()
			runtime.ReadMemStats(&after)
			b.ReportMetric(float64(after.TotalAlloc-before.TotalAlloc)/float64(b.N)/items, "B/item")
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(items*held), "ns/sample")
		})
	}
}

// BenchmarkAccumulateTick is one tick of an accumulate stage of 4,000 items
// in steady state, every item changing: at max_samples, and in a 60 s
// total_duration window. Allocation-free.
func BenchmarkAccumulateTick(b *testing.B) {
	const items = 4000
	for _, tt := range []struct {
		name     string
		max      int
		duration time.Duration
	}{{"max_samples=1024", 1024, 0}, {"total_duration=60s", 1024, 60 * time.Second}} {
		b.Run(tt.name, func(b *testing.B) {
			st := accumulateStage(items, tt.max, tt.duration)
			k := 0
			tick := func() {
				k++
				st.begin(uint64(k), time.Unix(int64(1e9+k), 0))
				for i := range items {
					st.Append(i, Value{Num: float64(k + i)})
				}
			}
			for range tt.max + 64 {
				tick()
			}
			b.ReportAllocs()
			b.ResetTimer()
			for range b.N {
				tick()
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/items, "ns/item")
		})
	}
}
