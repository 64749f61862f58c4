package processors

import (
	"fmt"
	"testing"
	"time"

	"github.com/probe-agent/probe-agent/collectors"
	"github.com/probe-agent/probe-agent/probe"
)

// BenchmarkCoreProcessors10k measures one tick of if_counter over 10,000
// interfaces followed by each core processor; the "if_counter only"
// sub-benchmark is the baseline to subtract.
func BenchmarkCoreProcessors10k(b *testing.B) {
	const n = 10000
	counter := `{"name": "c", "type": "if_counter", "outputs": {"out": "rate"}, "properties": {"counter_type": "tx_bytes"}}`
	cases := []struct{ name, procs string }{
		{"if_counter only", ""},
		{"std_dev per system", `{"name": "p", "type": "std_dev", "inputs": {"in": "rate"}, "outputs": {"out": "o"}, "properties": {"group_by": ["system_id"]}}`},
		{"std_dev all", `{"name": "p", "type": "std_dev", "inputs": {"in": "rate"}, "outputs": {"out": "o"}, "properties": {"group_by": []}}`},
		{"sum", `{"name": "p", "type": "sum", "inputs": {"in": "rate"}, "outputs": {"out": "o"}, "properties": {"group_by": ["system_id"]}}`},
		{"average", `{"name": "p", "type": "average", "inputs": {"in": "rate"}, "outputs": {"out": "o"}, "properties": {"group_by": ["system_id"]}}`},
		{"min", `{"name": "p", "type": "min", "inputs": {"in": "rate"}, "outputs": {"out": "o"}, "properties": {"group_by": ["system_id"]}}`},
		{"max", `{"name": "p", "type": "max", "inputs": {"in": "rate"}, "outputs": {"out": "o"}, "properties": {"group_by": ["system_id"]}}`},
		// range_check without and with raise_anomaly, on the same 1% of items
		// (rate above 5,000): raise_anomaly makes the document 3.x, where the
		// range is the anomalous region, so the bound becomes a min. 100
		// anomalies are raised and 100 cleared each tick.
		{"range_check no raise", `{"name": "p", "type": "range_check", "inputs": {"in": "rate"}, "outputs": {"out": "o"}, "properties": {"range": {"max": 5000}}}`},
		{"range_check raise 1%", `{"name": "p", "type": "range_check", "inputs": {"in": "rate"}, "outputs": {"out": "o"}, "properties": {"range": {"min": 5000}, "raise_anomaly": true}}`},
		// {"max": 5000} under raise_anomaly is anomalous at or below 5,000:
		// 99% of the items hold a raised anomaly whose actual value changes
		// every tick, and the same 1% toggle.
		{"range_check", `{"name": "p", "type": "range_check", "inputs": {"in": "rate"}, "outputs": {"out": "o"}, "properties": {"range": {"max": 5000}, "raise_anomaly": true}}`},
		{"range_check+anomaly", `{"name": "p", "type": "range_check", "inputs": {"in": "rate"}, "outputs": {"out": "o"}, "properties": {"range": {"max": 5000}}}, {"name": "a", "type": "anomaly", "inputs": {"in": "o"}, "outputs": {"out": "an"}}`},
		{"accumulate", `{"name": "p", "type": "accumulate", "inputs": {"in": "rate"}, "outputs": {"out": "o"}, "properties": {"max_samples": 16}}`},
		{"periodic_average", `{"name": "p", "type": "periodic_average", "inputs": {"in": "rate"}, "outputs": {"out": "o"}, "properties": {"period": 10}}`},
	}
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			procs := counter
			if c.procs != "" {
				procs += ", " + c.procs
			}
			h := newHarness(b, `{"label": "bench", "processors": [`+procs+`]}`)
			batch := &collectors.Batch{Layout: 1, Interfaces: make([]collectors.Interface, n)}
			for i := range batch.Interfaces {
				batch.Interfaces[i].SystemID = fmt.Sprintf("leaf%d", i/48)
				batch.Interfaces[i].Name = fmt.Sprintf("Ethernet%d", i%48)
				batch.Interfaces[i].Set(collectors.TxBytes, 0)
			}
			tick := &probe.Tick{Time: t0, Counters: batch}
			step := func(k int) {
				for i := range batch.Interfaces {
					// Every rate changes every tick, and 1 interface in 100
					// crosses the range_check bound back and forth.
					batch.Interfaces[i].Counters[collectors.TxBytes] += uint64(1000 + (i+k)%7 + 9000*((i+k)%100/99))
				}
				tick.Time = tick.Time.Add(time.Second)
				if err := h.inst.Tick(tick); err != nil {
					b.Fatal(err)
				}
			}
			for k := 0; k < 3; k++ {
				step(k)
			}
			b.ReportAllocs()
			b.ResetTimer()
			for k := 0; k < b.N; k++ {
				step(k)
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/n, "ns/item")
			b.ReportMetric(float64(h.inst.AnomalyCount()), "anomalies")
		})
	}
}
