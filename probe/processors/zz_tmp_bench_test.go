package processors
import ("testing";"fmt";"time";"github.com/probe-agent/probe-agent/collectors";"github.com/probe-agent/probe-agent/probe")
func BenchmarkZZIfCounterOnly10k(b *testing.B) {
	h := newHarness(b, `{"label": "bench", "processors": [{"name": "c", "type": "if_counter", "outputs": {"out": "rate"}, "properties": {"counter_type": "tx_bytes"}}]}`)
	batch := &collectors.Batch{Layout: 1}
	for i := range 10000 { ifc := collectors.Interface{SystemID: "leaf1", Name: fmt.Sprintf("et-%d", i)}; ifc.Set(collectors.TxBytes, 0); batch.Interfaces = append(batch.Interfaces, ifc) }
	tick := &probe.Tick{Time: t0, Counters: batch}
	k := 0
	b.ReportAllocs()
	for b.Loop() {
		for i := range batch.Interfaces { batch.Interfaces[i].Counters[collectors.TxBytes] += uint64(1000 + i + k%7) }
		tick.Time = tick.Time.Add(time.Second); k++
		if err := h.inst.Tick(tick); err != nil { b.Fatal(err) }
	}
}
