package probe_test

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/probe-agent/probe-agent/collectors"
	"github.com/probe-agent/probe-agent/probe"
)

// FuzzParseDocument feeds arbitrary documents through parsing, validation
// and, when valid, a few evaluation ticks: nothing may panic.
func FuzzParseDocument(f *testing.F) {
	files, _ := filepath.Glob("testdata/*.json")
	more, _ := filepath.Glob("../testdata/probes/*.json")
	for _, name := range append(files, more...) {
		data, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	f.Add([]byte(`{"label": "x", "processors": [{"name": "a", "type": "max", "inputs": {"in": "a"}, "outputs": {"out": "a"}}]}`))
	f.Add([]byte(`{"label": "x", "processors": [{"name": "c", "type": "if_counter", "outputs": {"out": "r"}, "properties": {"counter_type": "tx_bytes"}}, {"name": "a", "type": "accumulate", "inputs": {"in": {"stage": "r"}}, "outputs": {"out": "h"}, "properties": {"max_samples": "2 * 2", "total_duration": 3}}, {"name": "k", "type": "range_check", "inputs": {"in": {"stage": "h", "column": "value"}}, "outputs": {"out": "k"}, "properties": {"range": {"min": "1", "max": 2}, "property": "sample_count", "raise_anomaly": true}}]}`))
	f.Add([]byte(`[]`))
	f.Add([]byte(`{"label": 5, "processors": {"a": 1}, "stages": "x"}`))
	batch := &collectors.Batch{Layout: 1}
	for _, name := range []string{"eth0", "eth1"} {
		ifc := collectors.Interface{SystemID: "s", Name: name}
		for c := collectors.Counter(0); c < collectors.NumCounters; c++ {
			ifc.Set(c, 1000)
		}
		batch.Interfaces = append(batch.Interfaces, ifc)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		plan, probs := probe.CompileJSON(data)
		if len(probs) > 0 {
			for _, p := range probs {
				if p.Message == "" {
					t.Fatalf("problem without a message: %+v", p)
				}
			}
			return
		}
		inst, err := probe.NewInstance(plan)
		if err != nil {
			t.Fatalf("validated plan does not instantiate: %v", err)
		}
		now := time.Unix(1700000000, 0)
		for i := 0; i < 4; i++ {
			for j := range batch.Interfaces {
				batch.Interfaces[j].Counters[collectors.TxBytes] += uint64(i * 1000)
			}
			_ = inst.Tick(&probe.Tick{Time: now, Counters: batch})
			now = now.Add(time.Second)
		}
		for _, st := range inst.Stages() {
			if _, err := st.MarshalJSON(); err != nil {
				t.Fatalf("stage %q does not render: %v", st.Name, err)
			}
		}
		for _, a := range inst.Anomalies() {
			if _, err := a.MarshalJSON(); err != nil {
				t.Fatalf("anomaly does not render: %v", err)
			}
		}
	})
}
