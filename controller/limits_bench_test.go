package controller

import (
	"fmt"
	"runtime"
	"testing"
	"time"

	pb "github.com/probe-agent/probe-agent/proto/probeagent/v1"
)

// BenchmarkOversizedUpdates measures what the controller holds after four
// devices each send one update of 100,000 items for the seed probe's
// central stage (3.9 MB each, within gRPC's 4 MiB message bound): with
// the default limits (refused: items_per_device and items_per_stage are
// 65,536) and with the ingest bounds lifted, as the controller was before
// them. held-MiB is the live heap the updates left behind.
func BenchmarkOversizedUpdates(b *testing.B) {
	for _, tc := range []struct {
		name    string
		unbound bool
	}{{"default-limits", false}, {"no-ingest-bounds", true}} {
		b.Run(tc.name, func(b *testing.B) {
			c, _ := limitsController(b, "")
			if tc.unbound {
				c.ingest.itemsPerDevice, c.ingest.itemsPerStage = 1<<30, 0
			}
			now := time.Unix(1_700_000_000, 0)
			var raws [][]byte
			for i := range 4 {
				raws = append(raws, seedPartial(b, c, fmt.Sprintf("leaf%d", i+1), 1, now, 100_000))
			}
			var held float64
			seq := uint64(0)
			for b.Loop() {
				seq++
				before := liveHeap()
				for i, raw := range raws {
					c.ingestBatch(fmt.Sprintf("leaf%d", i+1), &pb.StageBatch{Session: fmt.Sprint(seq), Seq: 1, Updates: [][]byte{raw}}, true, now)
				}
				held = float64(int64(liveHeap())-int64(before)) / (1 << 20)
				for i := range raws {
					c.cmu.Lock()
					c.centrals["server-imbalance"].drop(fmt.Sprintf("leaf%d", i+1))
					c.cmu.Unlock()
				}
			}
			b.ReportMetric(held, "held-MiB")
			b.ReportMetric(float64(len(raws[0])), "update-bytes")
		})
	}
}

func liveHeap() uint64 {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}
