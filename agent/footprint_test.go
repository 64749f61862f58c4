package agent

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/metrics"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/probe-agent/probe-agent/agent/stream"
)

// TestMemoryFootprint measures the RSS of `probe-agent run` with 4,000
// interfaces (replay) and 10 probes, as recorded in docs/PERFORMANCE.md. It
// only reports (machines differ; no memory assertions in the suite) and runs
// only when asked: PROBE_AGENT_FOOTPRINT=1 go test -run MemoryFootprint -v ./agent/
// (or make footprint). Other knobs, for investigating:
//
//	PROBE_AGENT_FOOTPRINT_SECONDS=N   run N s instead of 20 (the heap settles over minutes)
//	PROBE_AGENT_FOOTPRINT_NETLINK=1   the same probes on 4,000 ifb interfaces (root)
//	PROBE_AGENT_FOOTPRINT_BIN=FILE    measure a prebuilt binary (compare build flags)
//	PROBE_AGENT_ENV="GOGC=25 ..."     extra environment for the agent
//	PROBE_AGENT_GODEBUG=gctrace=1     GODEBUG for the agent, its stderr shown
//	PROBE_AGENT_SMAPS=FILE            write /proc/PID/smaps at the end
//	PROBE_AGENT_PID=FILE              write the agent's pid (to inspect it live)
func TestMemoryFootprint(t *testing.T) {
	if os.Getenv("PROBE_AGENT_FOOTPRINT") == "" {
		t.Skip("set PROBE_AGENT_FOOTPRINT=1 to measure the agent's memory footprint (takes about 20 s)")
	}
	dir := t.TempDir()
	bin := filepath.Join(dir, "probe-agent")
	if prebuilt := os.Getenv("PROBE_AGENT_FOOTPRINT_BIN"); prebuilt != "" {
		bin = prebuilt // compare builds (flags, versions) on the same workload
	} else {
		build := exec.Command("go", append(append([]string{"build", "-trimpath"}, releaseFlags(t)...), "-ldflags", "-s -w", "-o", bin, "../cmd/probe-agent")...)
		build.Env = append(os.Environ(), "CGO_ENABLED=0")
		if out, err := build.CombinedOutput(); err != nil {
			t.Fatalf("build: %v\n%s", err, out)
		}
	}
	samples, probes := writeFootprintFixture(t, dir)
	perf := &collected{got: make(chan struct{}, 1)}
	_, addr := listen(t, "127.0.0.1:0", perf)
	// The REST API and /metrics are on, as in the packaged configuration.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	must(t, err)
	apiAddr := l.Addr().String()
	l.Close()
	cfg := footprintConfig(t, samples, probes, apiAddr, addr)
	must(t, os.WriteFile(filepath.Join(dir, "agent.yaml"), []byte(cfg), 0o644))
	cmd := exec.Command(bin, "run", "--config", filepath.Join(dir, "agent.yaml"))
	cmd.Env = os.Environ()
	if v := os.Getenv("PROBE_AGENT_ENV"); v != "" {
		// e.g. GOGC=25: try the runtime's settings without a rebuild.
		cmd.Env = append(cmd.Env, strings.Fields(v)...)
	}
	if v := os.Getenv("PROBE_AGENT_GODEBUG"); v != "" {
		// e.g. gctrace=1: the agent's log and the runtime's trace in the
		// test output.
		cmd.Env = append(cmd.Env, "GODEBUG="+v)
		cmd.Stderr = os.Stderr
	}
	must(t, cmd.Start())
	defer func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }()
	if f := os.Getenv("PROBE_AGENT_PID"); f != "" {
		_ = os.WriteFile(f, []byte(strconv.Itoa(cmd.Process.Pid)), 0o644)
	}
	// Sampled once a second over 20 s (20 ticks, the recording looped
	// twice): a steady state measured over time, not a synchronisation.
	status := func() map[string]int {
		raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", cmd.Process.Pid))
		must(t, err)
		out := map[string]int{}
		for _, line := range strings.Split(string(raw), "\n") {
			if f := strings.Fields(line); len(f) == 3 && f[2] == "kB" {
				out[strings.TrimSuffix(f[0], ":")], _ = strconv.Atoi(f[1])
			}
		}
		return out
	}
	var rss []int
	var last map[string]int
	seconds := 20
	if v, err := strconv.Atoi(os.Getenv("PROBE_AGENT_FOOTPRINT_SECONDS")); err == nil && v > 5 {
		seconds = v // a longer run shows whether the heap settles
	}
	for i := 0; i < seconds; i++ {
		time.Sleep(time.Second)
		last = status()
		if i >= 5 {
			rss = append(rss, last["VmRSS"])
		}
	}
	// CPU time of the whole run (utime+stime, fields 14 and 15 of stat).
	if stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", cmd.Process.Pid)); err == nil {
		f := strings.Fields(string(stat[strings.LastIndexByte(string(stat), ')')+2:]))
		ut, _ := strconv.Atoi(f[11])
		st, _ := strconv.Atoi(f[12])
		t.Logf("CPU over %d s: %.2f s (user+system)", seconds, float64(ut+st)/100)
	}
	if os.Getenv("PROBE_AGENT_SMAPS") != "" {
		smaps, _ := os.ReadFile(fmt.Sprintf("/proc/%d/smaps", cmd.Process.Pid))
		_ = os.WriteFile(os.Getenv("PROBE_AGENT_SMAPS"), smaps, 0o644)
	}
	slices.Sort(rss)
	mib := func(kb int) string { return fmt.Sprintf("%.1f MiB (%d kB)", float64(kb)/1024, kb) }
	t.Logf("VmRSS from 5 s to %d s: min %s, median %s, max %s", seconds, mib(rss[0]), mib(rss[len(rss)/2]), mib(rss[len(rss)-1]))
	t.Logf("at %d s: VmRSS %s = RssAnon %s + RssFile %s; VmHWM (peak) %s", seconds, mib(last["VmRSS"]), mib(last["RssAnon"]), mib(last["RssFile"]), mib(last["VmHWM"]))
	perf.mu.Lock()
	got := len(perf.msgs)
	perf.mu.Unlock()
	if got == 0 {
		t.Error("the receiver got no probe messages: the agent did not run the probes")
	}
}

// footprintConfig is the agent configuration of the footprint: the replay
// recording, or with PROBE_AGENT_FOOTPRINT_NETLINK the same probes on 4,000
// real (ifb) interfaces in a namespace; the REST API on api ("" = off) and
// perfmon streamed to perfmon.
func footprintConfig(t *testing.T, samples, probes, api, perfmon string) string {
	t.Helper()
	collector := fmt.Sprintf("{type: replay, replay: {file: %q}}", samples)
	if os.Getenv("PROBE_AGENT_FOOTPRINT_NETLINK") != "" {
		collector = fmt.Sprintf("{type: netlink, netlink: {netns: %q}}", footprintNetns(t, 4000))
	}
	return fmt.Sprintf("system_id: leaf1\ninterval: 1s\ncollector: %s\nprobes_dir: %q\nstate_dir: \"\"\napi: {listen: %q}\nstreaming:\n  - {type: perfmon, address: %q, sequenced: true}\n",
		collector, probes, api, perfmon)
}

// releaseFlags reads the build flags of the released binaries.
func releaseFlags(t *testing.T) []string {
	t.Helper()
	raw, err := os.ReadFile("../packaging/release-flags")
	must(t, err)
	var flags []string
	for _, line := range strings.Split(string(raw), "\n") {
		if line = strings.TrimSpace(line); line != "" && !strings.HasPrefix(line, "#") {
			flags = append(flags, line)
		}
	}
	return flags
}

// footprintNetns makes a network namespace with n ifb interfaces, removed
// at the end of the test.
func footprintNetns(t *testing.T, n int) string {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("the netlink footprint needs root (network namespaces)")
	}
	ns := fmt.Sprintf("pa-footprint-%d", os.Getpid())
	if out, err := exec.Command("ip", "netns", "add", ns).CombinedOutput(); err != nil {
		t.Fatalf("ip netns add: %v: %s", err, out)
	}
	t.Cleanup(func() { _ = exec.Command("ip", "netns", "del", ns).Run() })
	var batch strings.Builder
	for i := 0; i < n; i++ {
		fmt.Fprintf(&batch, "link add e%d type ifb\nlink set e%d up\n", i, i)
	}
	cmd := exec.Command("ip", "-n", ns, "-batch", "-")
	cmd.Stdin = strings.NewReader(batch.String())
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("creating %d interfaces: %v: %s", n, err, out)
	}
	return ns
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
	// A receiver that only counts, so the profile holds the agent's memory.
	var received atomic.Int64
	l, err := net.Listen("tcp", "127.0.0.1:0")
	must(t, err)
	rcv := stream.NewReceiver(stream.ReceiverConfig{Sequenced: true, Handle: func(stream.Received) { received.Add(1) }})
	go func() { _ = rcv.Serve(l) }()
	t.Cleanup(func() { l.Close() })
	addr := l.Addr().String()
	cfg, err := Parse([]byte(footprintConfig(t, samples, probes, "", addr)))
	must(t, err)
	ticks := make(chan time.Time)
	done := make(chan struct{}, 1)
	a, err := New(cfg, Options{Ticks: ticks, OnTick: func() { done <- struct{}{} }})
	must(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	stopped := make(chan error, 1)
	go func() { stopped <- a.Run(ctx) }()
	<-done
	n := 20
	if v, err := strconv.Atoi(os.Getenv("PROBE_AGENT_HEAPPROFILE_TICKS")); err == nil && v > 0 {
		n = v // many ticks: the profile's allocations are then mostly steady state
	}
	for i := 0; i < n; i++ {
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
	t.Logf("live heap after %d ticks: %.1f MB (profile in %s)", n, float64(ms.HeapAlloc)/1e6, out)
	var classes []metrics.Sample
	for _, d := range metrics.All() {
		if strings.HasPrefix(d.Name, "/memory/classes/") {
			classes = append(classes, metrics.Sample{Name: d.Name})
		}
	}
	metrics.Read(classes)
	for _, s := range classes {
		t.Logf("%-50s %8.1f KB", s.Name, float64(s.Value.Uint64())/1024)
	}
	cancel()
	<-stopped
}
