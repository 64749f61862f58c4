package agent

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/probe-agent/probe-agent/collectors"
	"github.com/probe-agent/probe-agent/probe"
	"github.com/probe-agent/probe-agent/proto/aos"
)

// TestLinkEvents: an oper-state change becomes one Event{link_status}; the
// first sight of an interface does not; an interface that leaves and comes
// back is compared with how it left, across layout changes.
func TestLinkEvents(t *testing.T) {
	e := NewEmitter(Identity{SystemID: "leaf1", Hostname: "leaf1.dc", BlueprintID: "bp"})
	var cache probe.ItemCache
	steps := []struct {
		name   string
		layout uint64
		ifaces string // name=up|down, in batch order
		want   []string
	}{
		{"first sight", 1, "a=up b=down", nil},
		{"b comes up", 1, "a=up b=up", []string{"b UP"}},
		{"steady", 1, "a=up b=up", nil},
		{"a leaves, c arrives down", 2, "b=up c=down", nil},
		{"a is back, down now; order changed", 3, "c=down a=down b=up", []string{"a DOWN"}},
		{"c and b flap", 3, "c=up a=down b=down", []string{"c UP", "b DOWN"}},
	}
	for n, step := range steps {
		b := &collectors.Batch{Time: time.Unix(int64(1000+n), 0), Layout: step.layout}
		for _, f := range strings.Fields(step.ifaces) {
			name, state, _ := strings.Cut(f, "=")
			oper := collectors.OperDown
			if state == "up" {
				oper = collectors.OperUp
			}
			b.Interfaces = append(b.Interfaces, collectors.Interface{SystemID: "leaf1", Name: name, Oper: oper})
		}
		var got []string
		e.LinkEvents(b, cache.For(b), func(m *aos.AosMessage) {
			ls := m.GetEvent().GetLinkStatus()
			if m.GetOriginName() != "leaf1" || ls.GetHostname() != "leaf1.dc" || m.GetEvent().GetId() == "" {
				t.Errorf("%s: event header %v", step.name, m)
			}
			if m.GetTimestamp() != uint64(b.Time.UnixMicro()) {
				t.Errorf("%s: timestamp %d, want the batch's", step.name, m.GetTimestamp())
			}
			got = append(got, ls.GetIfname()+" "+ls.GetState().String())
		})
		if fmt.Sprint(got) != fmt.Sprint(step.want) {
			t.Errorf("%s: events %v, want %v", step.name, got, step.want)
		}
	}
}

// TestOneWireTypePerStage: a stage's value type on the wire follows from
// its producer, not from whether the current value happens to be whole:
// if_counter rates of the replayed (whole) counters go out as float_value,
// match_count's counts as int64_value, range_check's states as
// string_value.
func TestOneWireTypePerStage(t *testing.T) {
	doc := `{"id": "types", "label": "wire types", "processors": [
	  {"name": "rate", "type": "if_counter", "outputs": {"out": "tx"}, "properties": {"counter_type": "tx_bytes", "enable_streaming": true}},
	  {"name": "busy", "type": "range_check", "inputs": {"in": "tx"}, "outputs": {"out": "tx_busy"}, "properties": {"range": {"min": 1000}, "enable_streaming": true}},
	  {"name": "count", "type": "match_count", "inputs": {"in": "tx_busy"}, "outputs": {"out": "busy_count"}, "properties": {"reference_state": "true", "group_by": [], "enable_streaming": true}}
	]}`
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "types.json"), []byte(doc), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg := testConfig()
	cfg.StateDir = ""
	var out bytes.Buffer
	ta := &testAgent{t: t, ticks: make(chan time.Time), ticked: make(chan struct{}, 100), done: make(chan error, 1)}
	cfg.ProbesDir = dir
	a, err := New(cfg, Options{Stdout: &out, Collector: seedRecording(t), Ticks: ta.ticks, OnTick: func() { ta.ticked <- struct{}{} }})
	if err != nil {
		t.Fatal(err)
	}
	ta.agent = a
	ctx, cancel := context.WithCancel(context.Background())
	ta.cancel = cancel
	go func() { ta.done <- a.Run(ctx) }()
	ta.steps(6)
	if err := ta.stop(); err != nil {
		t.Fatal(err)
	}
	types := map[string]map[string]bool{}
	for _, line := range strings.Split(strings.TrimSpace(out.String()), "\n") {
		var m struct {
			Message struct {
				PerfMon struct {
					ProbeMessage map[string]any `json:"probe_message"`
				} `json:"perf_mon"`
			} `json:"message"`
		}
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatal(err)
		}
		pm := m.Message.PerfMon.ProbeMessage
		for _, k := range []string{"int64_value", "float_value", "string_value"} {
			if _, ok := pm[k]; ok {
				stage := pm["stage_name"].(string)
				if types[stage] == nil {
					types[stage] = map[string]bool{}
				}
				types[stage][k] = true
			}
		}
	}
	want := map[string]string{"tx": "float_value", "tx_busy": "string_value", "busy_count": "int64_value"}
	for stage, typ := range want {
		if len(types[stage]) != 1 || !types[stage][typ] {
			t.Errorf("stage %s went out as %v, want only %s", stage, types[stage], typ)
		}
	}
}
