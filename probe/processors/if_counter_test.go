package processors

import (
	"math"
	"testing"
	"time"

	"github.com/probe-agent/probe-agent/collectors"
)

func TestCounterDelta(t *testing.T) {
	tests := []struct {
		name      string
		prev, cur uint64
		want      uint64
		ok        bool
	}{
		{"steady", 100, 150, 50, true},
		{"unchanged", 7, 7, 0, true},
		{"32-bit wrap", math.MaxUint32 - 9, 5, 15, true},
		{"32-bit wrap from upper half", 1 << 31, 0, 1 << 31, true},
		{"64-bit wrap", math.MaxUint64 - 4, 5, 10, true},
		{"reset from a small value", 5000, 10, 0, false},
		{"reset from a large 64-bit value", 1 << 40, 3, 0, false},
		{"reset just below the 32-bit upper half", 1<<31 - 1, 0, 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := CounterDelta(tt.prev, tt.cur)
			if got != tt.want || ok != tt.ok {
				t.Errorf("CounterDelta(%d, %d) = %d, %v; want %d, %v", tt.prev, tt.cur, got, ok, tt.want, tt.ok)
			}
		})
	}
}

// counterBatch builds a batch of tx_bytes counters, one interface per value.
func counterBatch(layout uint64, ifaces map[string]uint64, gen uint64) *collectors.Batch {
	b := &collectors.Batch{Layout: layout}
	for _, name := range []string{"eth0", "eth1", "eth2", "eth3"} {
		v, ok := ifaces[name]
		if !ok {
			continue
		}
		ifc := collectors.Interface{SystemID: "leaf1", Name: name, Generation: gen}
		ifc.Set(collectors.TxBytes, v)
		b.Interfaces = append(b.Interfaces, ifc)
	}
	return b
}

const ifCounterProbe = `{"label": "rates", "processors": [
	{"name": "c", "type": "if_counter", "outputs": {"out": "rate"}, "properties": {"counter_type": "tx_bytes"}},
	{"name": "bits", "type": "if_counter", "outputs": {"out": "bps"}, "properties": {"counter_type": "tx_bps"}},
	{"name": "rx", "type": "if_counter", "outputs": {"out": "rx"}, "properties": {"counter_type": "rx_bytes"}}]}`

func TestIfCounterRates(t *testing.T) {
	h := newHarness(t, ifCounterProbe)
	steps := []struct {
		name     string
		batch    *collectors.Batch
		step     time.Duration
		wantRate map[string]any
	}{
		{"first sample has no rate", counterBatch(1, map[string]uint64{"eth0": 1000, "eth1": math.MaxUint32 - 99}, 1), 2 * time.Second, map[string]any{}},
		{"rate over two seconds, 32-bit wrap", counterBatch(1, map[string]uint64{"eth0": 3000, "eth1": 100}, 1), time.Second,
			map[string]any{"interface=eth0,system_id=leaf1": 1000.0, "interface=eth1,system_id=leaf1": 100.0}},
		{"reset keeps the last rate, no spike", counterBatch(1, map[string]uint64{"eth0": 10, "eth1": 300}, 1), time.Second,
			map[string]any{"interface=eth0,system_id=leaf1": 1000.0, "interface=eth1,system_id=leaf1": 200.0}},
		{"rate re-based after the reset", counterBatch(1, map[string]uint64{"eth0": 510, "eth1": 500}, 1), time.Second,
			map[string]any{"interface=eth0,system_id=leaf1": 500.0, "interface=eth1,system_id=leaf1": 200.0}},
		{"new interface, no rate yet; vanished one gone", counterBatch(2, map[string]uint64{"eth0": 1510, "eth2": 7}, 1), time.Second,
			map[string]any{"interface=eth0,system_id=leaf1": 1000.0}},
		{"re-created interfaces (new generation) re-base", counterBatch(2, map[string]uint64{"eth0": 99999999, "eth2": 17}, 2), time.Second,
			map[string]any{"interface=eth0,system_id=leaf1": 1000.0}},
		{"after re-base", counterBatch(2, map[string]uint64{"eth0": 100000099, "eth2": 27}, 2), time.Second,
			map[string]any{"interface=eth0,system_id=leaf1": 100.0, "interface=eth2,system_id=leaf1": 10.0}},
	}
	for _, s := range steps {
		h.tick(s.batch, s.step)
		assertValues(t, h, "rate", s.wantRate)
		if t.Failed() {
			t.Fatalf("after step %q", s.name)
		}
		for k, v := range h.values("rate") {
			if bps := h.values("bps")[k]; bps != v.(float64)*8 {
				t.Fatalf("step %q: %s tx_bps = %v, want 8 x %v", s.name, k, bps, v)
			}
		}
		if rx := h.values("rx"); len(rx) != 0 {
			t.Fatalf("step %q: rx_bytes was never reported, yet has values %v", s.name, rx)
		}
	}
}

func TestIfCounterDuplicatePairsAndLayoutZero(t *testing.T) {
	h := newHarness(t, ifCounterProbe)
	b := counterBatch(0, map[string]uint64{"eth0": 100}, 0)
	dup := b.Interfaces[0]
	dup.Counters[collectors.TxBytes] = 1e12
	b.Interfaces = append(b.Interfaces, dup)
	h.tick(b, time.Second)
	b.Interfaces[0].Counters[collectors.TxBytes] = 200
	h.tick(b, time.Second)
	assertValues(t, h, "rate", map[string]any{"interface=eth0,system_id=leaf1": 100.0})
}

func TestIfCounterSameTimestampIgnored(t *testing.T) {
	h := newHarness(t, ifCounterProbe)
	h.tick(counterBatch(1, map[string]uint64{"eth0": 100}, 0), 0)
	h.tick(counterBatch(1, map[string]uint64{"eth0": 200}, 0), time.Second)
	assertValues(t, h, "rate", map[string]any{})
	h.tick(counterBatch(1, map[string]uint64{"eth0": 300}, 0), time.Second)
	assertValues(t, h, "rate", map[string]any{"interface=eth0,system_id=leaf1": 200.0})
}
