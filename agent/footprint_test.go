package agent

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"strings"
	"testing"
	"time"
)

// TestMemoryFootprint measures the RSS of `probe-agent run` with 4,000
// interfaces (replay) and 10 probes, as recorded in docs/PERFORMANCE.md. It
// only reports (machines differ; no memory assertions in the suite) and runs
// only when asked: PROBE_AGENT_FOOTPRINT=1 go test -run MemoryFootprint -v ./agent/
// (or make footprint).
func TestMemoryFootprint(t *testing.T) {
	if os.Getenv("PROBE_AGENT_FOOTPRINT") == "" {
		t.Skip("set PROBE_AGENT_FOOTPRINT=1 to measure the agent's memory footprint (takes about 20 s)")
	}
	dir := t.TempDir()
	bin := filepath.Join(dir, "probe-agent")
	build := exec.Command("go", "build", "-trimpath", "-tags", "grpcnotrace", "-ldflags", "-s -w", "-o", bin, "../cmd/probe-agent")
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	samples, probes := writeFootprintFixture(t, dir)
	perf := &collected{got: make(chan struct{}, 1)}
	_, addr := listen(t, "127.0.0.1:0", perf)
	cfg := fmt.Sprintf("system_id: leaf1\ninterval: 1s\ncollector: {type: replay, replay: {file: %q}}\nprobes_dir: %q\nstate_dir: \"\"\napi: {listen: \"\"}\nstreaming:\n  - {type: perfmon, address: %q, sequenced: true}\n",
		samples, probes, addr)
	must(t, os.WriteFile(filepath.Join(dir, "agent.yaml"), []byte(cfg), 0o644))
	cmd := exec.Command(bin, "run", "--config", filepath.Join(dir, "agent.yaml"))
	must(t, cmd.Start())
	defer func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }()
	time.Sleep(15 * time.Second) // measuring a steady state over time, not synchronising
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", cmd.Process.Pid))
	must(t, err)
	for _, line := range strings.Split(string(status), "\n") {
		for _, k := range []string{"VmHWM", "VmRSS", "RssAnon", "RssFile"} {
			if strings.HasPrefix(line, k+":") {
				t.Log(strings.Join(strings.Fields(line), " "))
			}
		}
	}
}

// writeFootprintFixture writes the footprint's recording (4,000 interfaces on
// 84 systems, 10 ticks) and its 10 probes into dir.
func writeFootprintFixture(t *testing.T, dir string) (samples, probes string) {
	t.Helper()
	var rec strings.Builder
	for tick := 0; tick < 10; tick++ {
		for i := 0; i < 4000; i++ {
			v := 1000000 + tick*(1000+i%13)*1000
			// Errors and discards on 1% of the interfaces: a fabric with
			// a few bad links, not one where every interface is anomalous.
			errs := 0
			if i%100 == 0 {
				errs = 5 * tick
			}
			fmt.Fprintf(&rec, `{"ts":%d,"system_id":"leaf%d","interface":"Ethernet%d","counters":{"tx_bytes":%d,"rx_bytes":%d,"rx_error_packets":%d,"tx_unicast_packets":%d,"rx_unicast_packets":%d,"rx_discard_packets":%d}}`+"\n",
				1700000000+tick, i/48, i%48, v, v/2, errs, v/1000, v/2000, errs)
		}
	}
	samples = filepath.Join(dir, "samples.jsonl")
	must(t, os.WriteFile(samples, []byte(rec.String()), 0o644))
	probes = filepath.Join(dir, "probes")
	must(t, os.MkdirAll(probes, 0o755))
	seed, err := os.ReadFile("../cmd/probectl/testdata/seed_probe.json")
	must(t, err)
	counters := []string{"tx_bytes", "rx_bytes", "tx_unicast_packets", "rx_unicast_packets", "rx_discard_packets"}
	errCounters := []string{"rx_error_packets", "tx_error_packets", "rx_discard_packets", "tx_discard_packets", "fcs_errors"}
	for k := 0; k < 5; k++ {
		var doc map[string]any
		must(t, json.Unmarshal(seed, &doc))
		doc["id"] = "imbalance-" + counters[k]
		procs := doc["processors"].([]any)
		procs[0].(map[string]any)["properties"].(map[string]any)["counter_type"] = counters[k]
		procs[1].(map[string]any)["properties"].(map[string]any)["group_by"] = []string{"system_id"}
		for _, p := range procs[1:] {
			pm := p.(map[string]any)
			if pm["properties"] == nil {
				pm["properties"] = map[string]any{}
			}
			pm["properties"].(map[string]any)["enable_streaming"] = true
		}
		raw, _ := json.Marshal(doc)
		must(t, os.WriteFile(filepath.Join(probes, fmt.Sprintf("seed%d.json", k)), raw, 0o644))
		errProbe := fmt.Sprintf(`{"id": "errors-%d", "label": "errors %s", "processors": [
			{"name": "c", "type": "if_counter", "inputs": {}, "outputs": {"out": "err"}, "properties": {"counter_type": %q}},
			{"name": "r", "type": "range_check", "inputs": {"in": {"stage": "err", "column": "value"}}, "outputs": {"out": "bad"}, "properties": {"range": {"min": 1}, "raise_anomaly": true}}]}`, k, errCounters[k], errCounters[k])
		must(t, os.WriteFile(filepath.Join(probes, fmt.Sprintf("err%d.json", k)), []byte(errProbe), 0o644))
	}
	return samples, probes
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// TestHeapProfile runs the footprint's agent in process for 20 ticks and
// writes a heap profile of what stays live, to see where the memory goes:
// PROBE_AGENT_HEAPPROFILE=/tmp/heap.pprof go test -run HeapProfile ./agent/
// then go tool pprof -sample_index=inuse_space -top /tmp/heap.pprof.
func TestHeapProfile(t *testing.T) {
	out := os.Getenv("PROBE_AGENT_HEAPPROFILE")
	if out == "" {
		t.Skip("set PROBE_AGENT_HEAPPROFILE=FILE to write a heap profile of the footprint's agent")
	}
	// Every allocation sampled: the profile is exact, not an estimate.
	runtime.MemProfileRate = 1
	dir := t.TempDir()
	samples, probes := writeFootprintFixture(t, dir)
	perf := &collected{got: make(chan struct{}, 1)}
	_, addr := listen(t, "127.0.0.1:0", perf)
	cfg, err := Parse([]byte(fmt.Sprintf("system_id: leaf1\ninterval: 1s\ncollector: {type: replay, replay: {file: %q}}\nprobes_dir: %q\nstate_dir: \"\"\napi: {listen: \"\"}\nstreaming:\n  - {type: perfmon, address: %q, sequenced: true}\n",
		samples, probes, addr)))
	must(t, err)
	ticks := make(chan time.Time)
	done := make(chan struct{}, 1)
	a, err := New(cfg, Options{Ticks: ticks, OnTick: func() { done <- struct{}{} }})
	must(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	stopped := make(chan error, 1)
	go func() { stopped <- a.Run(ctx) }()
	<-done
	for i := 0; i < 20; i++ {
		ticks <- time.Now()
		<-done
	}
	runtime.GC()
	f, err := os.Create(out)
	must(t, err)
	must(t, pprof.WriteHeapProfile(f))
	must(t, f.Close())
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	t.Logf("live heap after 20 ticks: %.1f MB (profile in %s)", float64(ms.HeapAlloc)/1e6, out)
	cancel()
	<-stopped
}
