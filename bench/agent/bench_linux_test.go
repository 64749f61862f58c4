package main

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"flag"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

var update = flag.Bool("update", false, "rewrite testdata/report.golden")

// TestHeapProfileFlag: with -heapprofile the agent is built with the hook
// and every window ends with a heap profile of it that go tool pprof
// reads, with the probe engine's allocations in it.
func TestHeapProfileFlag(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("bench-agent needs root: it creates network namespaces, interfaces and cgroups")
	}
	if _, err := exec.LookPath("ip"); err != nil {
		t.Skip("bench-agent needs the ip command (iproute2)")
	}
	if testing.Short() {
		t.Skip("-short: builds the agent and runs it for about 10 s")
	}
	dir := t.TempDir()
	o := options{
		ifaces:      []int{20},
		scenarios:   []string{"probes10"},
		gogc:        []string{"default"},
		env:         []string{""},
		window:      2 * time.Second,
		warmup:      2 * time.Second,
		interval:    500 * time.Millisecond,
		pps:         4,
		heapProfile: dir,
	}
	var out, log bytes.Buffer
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	res, err := run(ctx, o, &out, &log)
	if err != nil {
		t.Fatalf("run: %v\nprogress:\n%s", err, log.String())
	}
	if !strings.Contains(out.String(), "heap-profiled run") {
		t.Errorf("the report does not say the run was heap-profiled:\n%s", out.String())
	}
	if len(res.Rows) != 1 || res.Rows[0].HeapProfile == "" {
		t.Fatalf("rows %+v, want one probe-agent row naming its heap profile", res.Rows)
	}
	top, err := exec.Command("go", "tool", "pprof", "-sample_index=inuse_space", "-top", res.Rows[0].HeapProfile).CombinedOutput()
	if err != nil {
		t.Fatalf("go tool pprof: %v\n%s", err, top)
	}
	if !strings.Contains(string(top), "probe-agent/probe") {
		t.Errorf("the heap profile holds nothing of the probe engine:\n%s", top)
	}
	if _, err := os.Stat(res.Rows[0].HeapProfile + ".metrics"); err != nil {
		t.Errorf("no memory classes beside the profile: %v", err)
	}
}

// TestSmoke runs the whole harness on 20 interfaces for a few seconds per
// scenario, so `make bench-agent` does not rot: every scenario yields an
// agent row with CPU and memory in range, streaming moves the bytes the
// scenario should, the traffic generator really sent, and node_exporter
// (when installed) saw every interface. Run it under flock /tmp/heavy.lock.
func TestSmoke(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("bench-agent's smoke test needs root: it creates network namespaces, interfaces and cgroups")
	}
	if _, err := exec.LookPath("ip"); err != nil {
		t.Skip("bench-agent needs the ip command (iproute2)")
	}
	if testing.Short() {
		t.Skip("-short: the smoke test takes about 30 s")
	}
	o := options{
		ifaces:    []int{20},
		scenarios: allScenarios,
		gogc:      []string{"default", "100"},
		window:    3 * time.Second,
		warmup:    2 * time.Second,
		interval:  500 * time.Millisecond,
		pps:       4,
	}
	var out, log bytes.Buffer
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	res, err := run(ctx, o, &out, &log)
	t.Logf("report:\n%s", out.String())
	if err != nil {
		t.Fatalf("run: %v\nprogress:\n%s", err, log.String())
	}
	if len(res.Floors) != 2 || res.Floors[0].Links != 21 || res.Floors[0].CPUms <= 0 || res.Floors[0].ColdMs <= 0 {
		t.Errorf("bare dump floors %+v, want veth and ifb with 21 links (20 and lo) and some CPU", res.Floors)
	}
	if res.Sent == 0 {
		t.Error("the traffic generator sent no frames")
	}
	agent := map[string]Row{}
	for _, r := range res.Rows {
		if r.Process != "probe-agent" {
			continue
		}
		agent[r.Scenario+"/"+r.GOGC] = r
		if r.CPUPerTick <= 0 || r.CPUPerTick > 1000 {
			t.Errorf("%s GOGC %s: %.3f ms CPU per tick, want more than 0 and less than a second", r.Scenario, r.GOGC, r.CPUPerTick)
		}
		if r.RSSMedian < 1 || r.RSSMedian > 500 {
			t.Errorf("%s GOGC %s: RSS %.1f MiB, want 1 to 500", r.Scenario, r.GOGC, r.RSSMedian)
		}
	}
	for _, sc := range allScenarios {
		for _, g := range o.gogc {
			if _, ok := agent[sc+"/"+g]; !ok {
				t.Errorf("no probe-agent row for %s, GOGC %s", sc, g)
			}
		}
	}
	// Every item's tx_bytes rate changes every tick on busy interfaces, so
	// streaming items sends at least one message per interface and tick;
	// the aggregate is one item.
	items, agg := agent["items/default"], agent["aggregate/default"]
	if items.MsgsPerTick < 10 {
		t.Errorf("items: %.1f messages per tick, want at least one per busy interface (20)", items.MsgsPerTick)
	}
	if agg.MsgsPerTick <= 0 || agg.MsgsPerTick >= items.MsgsPerTick {
		t.Errorf("aggregate: %.1f messages per tick, want more than 0 and fewer than items' %.1f", agg.MsgsPerTick, items.MsgsPerTick)
	}
	if agg.BytesPerTick >= items.BytesPerTick {
		t.Errorf("aggregate sends %.0f bytes per tick, items %.0f: want fewer", agg.BytesPerTick, items.BytesPerTick)
	}
	for _, r := range res.Rows {
		if r.Process == "node_exporter" {
			if r.Series != 21 {
				t.Errorf("node_exporter exported %d interfaces, want 21 (20 veth ends and lo)", r.Series)
			}
			if r.CPUPerTick <= 0 || r.BytesPerTick <= 0 {
				t.Errorf("node_exporter: %.3f ms CPU and %.0f bytes per scrape, want both above 0", r.CPUPerTick, r.BytesPerTick)
			}
		}
	}
	for _, want := range []string{"machine: nproc ", "load average: ", "aggregate", "items", "idle", "probes10"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("report lacks %q", want)
		}
	}
	// Nothing is left behind.
	if entries, _ := os.ReadDir("/var/run/netns"); len(entries) > 0 {
		for _, e := range entries {
			if strings.HasPrefix(e.Name(), nsPrefix) && strings.Contains(e.Name(), "-busy-20") {
				t.Errorf("namespace %s left behind", e.Name())
			}
		}
	}
}

// TestReport pins the report's layout (testdata/report.golden; -update
// rewrites it): goals marked met or missed, node_exporter rows per scrape,
// ratios against every agent row of the same size.
func TestReport(t *testing.T) {
	res := Results{
		Date: "2026-12-03 18:00 UTC", Machine: "nproc 2, AMD EPYC, Linux 6.18", LoadFrom: "1.00 0.50 0.25", LoadTo: "1.10 0.60 0.30",
		Cgroups: "v1", Sent: 12345,
		Floors: []Floor{{Ifaces: 1000, Kind: "veth", Links: 1001, CPUms: 0.41, ColdMs: 0.61}},
		Rows: []Row{
			{Scenario: "aggregate", Process: "probe-agent", Ifaces: 1000, GOGC: "default", CPUPerTick: 0.8, PerDump: 1.31, RSSMedian: 20, RSSMax: 21, AnonMiB: 9, CgroupMiB: -1, MsgsPerTick: 1, BytesPerTick: 120},
			{Scenario: "aggregate", Process: "node_exporter", Ifaces: 1000, GOGC: "default", CPUPerTick: 120, RSSMedian: 40, RSSMax: 42, AnonMiB: 30, CgroupMiB: 55.5, MsgsPerTick: 1, BytesPerTick: 60000, Series: 1001},
			{Scenario: "items", Process: "probe-agent", Ifaces: 1000, GOGC: "100", CPUPerTick: 3.5, RSSMedian: 22, RSSMax: 23, AnonMiB: 10, CgroupMiB: -1, MsgsPerTick: 1001, BytesPerTick: 150000},
		},
	}
	o := options{ifaces: []int{1000}, window: time.Minute, warmup: 10 * time.Second, interval: time.Second, pps: 2}
	var out bytes.Buffer
	report(&out, res, o, "/usr/bin/node_exporter")
	golden := filepath.Join("testdata", "report.golden")
	if *update {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(golden, out.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (go test -run TestReport -update ./bench/agent/ writes it)", err)
	}
	if !bytes.Equal(out.Bytes(), want) {
		t.Errorf("report differs from %s (-update rewrites it):\n%s", golden, out.String())
	}
}

// TestWriteProbes checks what each scenario streams: the seed's std_dev
// always, its if_counter items only in items, and ten probes in probes10.
func TestWriteProbes(t *testing.T) {
	repo, err := repoRoot()
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		scenario   string
		files      int
		itemStream bool
	}{
		{"aggregate", 1, false},
		{"idle", 1, false},
		{"items", 1, true},
		{"probes10", 10, false},
	} {
		t.Run(tc.scenario, func(t *testing.T) {
			dir := t.TempDir()
			if err := writeProbes(repo, dir, tc.scenario); err != nil {
				t.Fatal(err)
			}
			files, _ := filepath.Glob(filepath.Join(dir, "*.json"))
			if len(files) != tc.files {
				t.Fatalf("%d probe files, want %d", len(files), tc.files)
			}
			if tc.files != 1 {
				return
			}
			var doc struct {
				Processors []struct {
					Type       string         `json:"type"`
					Properties map[string]any `json:"properties"`
				} `json:"processors"`
			}
			raw, _ := os.ReadFile(files[0])
			if err := json.Unmarshal(raw, &doc); err != nil {
				t.Fatal(err)
			}
			if doc.Processors[0].Type != "if_counter" || doc.Processors[1].Type != "std_dev" {
				t.Fatalf("processors %s, %s: want if_counter, std_dev", doc.Processors[0].Type, doc.Processors[1].Type)
			}
			if got := doc.Processors[0].Properties["enable_streaming"]; got != tc.itemStream {
				t.Errorf("if_counter enable_streaming %v, want %v", got, tc.itemStream)
			}
			if got := doc.Processors[1].Properties["enable_streaming"]; got != true {
				t.Errorf("std_dev enable_streaming %v, want true", got)
			}
		})
	}
	if err := writeProbes(repo, t.TempDir(), "nosuch"); err == nil || !strings.Contains(err.Error(), `"nosuch"`) {
		t.Errorf("unknown scenario: err %v, want one naming it", err)
	}
}

// TestUDPFrame checks the generator's frames: the length fields match the
// frame and the IPv4 header checksum verifies.
func TestUDPFrame(t *testing.T) {
	for _, n := range []int{64, 154, 1414} {
		f := udpFrame(n)
		if len(f) != n {
			t.Fatalf("frame of %d bytes, want %d", len(f), n)
		}
		if got := int(binary.BigEndian.Uint16(f[16:])); got != n-14 {
			t.Errorf("IPv4 total length %d, want %d", got, n-14)
		}
		if got := int(binary.BigEndian.Uint16(f[38:])); got != n-34 {
			t.Errorf("UDP length %d, want %d", got, n-34)
		}
		var sum uint32
		for i := 14; i < 34; i += 2 {
			sum += uint32(binary.BigEndian.Uint16(f[i:]))
		}
		for sum > 0xffff {
			sum = sum&0xffff + sum>>16
		}
		if sum != 0xffff {
			t.Errorf("%d-byte frame: IPv4 header checksum does not verify (%#x)", n, sum)
		}
	}
}

func TestParseInts(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want []int
		err  bool
	}{
		{"1000,4000", []int{1000, 4000}, false},
		{" 16 ", []int{16}, false},
		{"1000,x", nil, true},
		{"1", nil, true},
		{"", nil, true},
	} {
		got, err := parseInts(tc.in)
		if (err != nil) != tc.err || (!tc.err && !equalInts(got, tc.want)) {
			t.Errorf("parseInts(%q) = %v, %v; want %v (error %v)", tc.in, got, err, tc.want, tc.err)
		}
	}
}

func equalInts(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
