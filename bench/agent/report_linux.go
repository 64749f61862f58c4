package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"
)

func newBufReader(c net.Conn) *bufio.Reader { return bufio.NewReaderSize(c, 64<<10) }

// writeProbes writes the probe files of scenario sc into dir: the seed
// probe (cmd/probectl/testdata/seed_probe.json) streaming only its std_dev
// result (aggregate, idle) or every if_counter item too (items), or the
// 10-probe set: testdata/probes plus seed variants on other counters,
// grouped per system and streaming their aggregates, as
// agent/footprint_test.go builds them.
func writeProbes(repo, dir, sc string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	seedFile := filepath.Join(repo, "cmd", "probectl", "testdata", "seed_probe.json")
	seed, err := os.ReadFile(seedFile)
	if err != nil {
		return err
	}
	variant := func(id, counter string, groupBySystem, items bool) ([]byte, error) {
		var doc map[string]any
		if err := json.Unmarshal(seed, &doc); err != nil {
			return nil, fmt.Errorf("%s: %w", seedFile, err)
		}
		doc["id"] = id
		procs, ok := doc["processors"].([]any)
		if !ok || len(procs) < 2 {
			return nil, fmt.Errorf("%s: expected if_counter then std_dev processors", seedFile)
		}
		props := func(i int) map[string]any {
			p := procs[i].(map[string]any)
			if p["properties"] == nil {
				p["properties"] = map[string]any{}
			}
			return p["properties"].(map[string]any)
		}
		props(0)["counter_type"] = counter
		props(0)["enable_streaming"] = items
		props(1)["enable_streaming"] = true
		if groupBySystem {
			props(1)["group_by"] = []string{"system_id"}
		}
		return json.Marshal(doc)
	}
	write := func(name string, raw []byte) error { return os.WriteFile(filepath.Join(dir, name), raw, 0o644) }
	switch sc {
	case "aggregate", "idle", "items":
		raw, err := variant("seed", "tx_bytes", false, sc == "items")
		if err != nil {
			return err
		}
		return write("seed.json", raw)
	case "probes10":
		files, err := filepath.Glob(filepath.Join(repo, "testdata", "probes", "*.json"))
		if err != nil {
			return err
		}
		for _, f := range files {
			raw, err := os.ReadFile(f)
			if err != nil {
				return err
			}
			if err := write(filepath.Base(f), raw); err != nil {
				return err
			}
		}
		counters := []string{"tx_bytes", "rx_bytes", "tx_unicast_packets", "rx_unicast_packets", "rx_discard_packets"}
		for k := 0; len(files)+k < 10 && k < len(counters); k++ {
			raw, err := variant("imbalance-"+counters[k], counters[k], true, false)
			if err != nil {
				return err
			}
			if err := write(fmt.Sprintf("seed%d.json", k), raw); err != nil {
				return err
			}
		}
		return nil
	}
	return fmt.Errorf("unknown scenario %q", sc)
}

// goals are issue 18's CPU targets per tick, in ms, by scenario and size.
var goals = map[string]map[int]float64{
	"aggregate": {1000: 1, 4000: 4},
	"items":     {1000: 3, 4000: 10},
}

// report prints the run: machine and load, one row per process and
// scenario, then the ratios of node_exporter to the agent at each size.
func report(w io.Writer, r Results, o options, ne string) {
	fmt.Fprintf(w, "# bench-agent %s\n", r.Date)
	fmt.Fprintf(w, "machine: %s\n", r.Machine)
	fmt.Fprintf(w, "load average: %s at start, %s at end\n", r.LoadFrom, r.LoadTo)
	fmt.Fprintf(w, "window %s after %s warm-up, interval %s, %d frames/s on every veth end (%d frames sent), cgroups: %s\n",
		o.window, o.warmup, o.interval, o.pps, r.Sent, r.Cgroups)
	if ne == "" && o.nodeExporter != "none" {
		fmt.Fprintln(w, "node_exporter: not installed (go install github.com/prometheus/node_exporter@v1.12.1, or -node-exporter PATH)")
	} else if ne != "" {
		fmt.Fprintf(w, "node_exporter: %s (--collector.disable-defaults --collector.netdev, scraped once per interval with gzip)\n", ne)
	}
	if o.profile != "" {
		fmt.Fprintln(w, "profiled run (agent built with symbols, perf recording): figures perturbed")
	}
	if o.heapProfile != "" {
		fmt.Fprintf(w, "heap-profiled run (every allocation sampled; go tool pprof -sample_index=inuse_space -top FILE): figures perturbed; profiles in %s\n", o.heapProfile)
	}
	fmt.Fprintln(w)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "scenario\tprocess\tifaces\tGOGC (env)\tCPU ms/tick\tgoal\t÷ dump\tRSS MiB (median)\tmax\tanon\tcgroup MiB\tmsgs/tick\tbytes/tick\t")
	for _, x := range r.Rows {
		goal := "-"
		if g, ok := goals[x.Scenario][x.Ifaces]; ok && x.Process == "probe-agent" {
			mark := "met"
			if x.CPUPerTick > g {
				mark = "MISSED"
			}
			goal = fmt.Sprintf("<= %g %s", g, mark)
		}
		cg := "-"
		if x.CgroupMiB >= 0 {
			cg = fmt.Sprintf("%.1f", x.CgroupMiB)
		}
		proc := x.Process
		if x.Series > 0 {
			proc = fmt.Sprintf("%s (%d series)", proc, x.Series)
		}
		perDump := "-"
		if x.PerDump > 0 {
			perDump = fmt.Sprintf("%.2fx", x.PerDump)
		}
		gogc := x.GOGC
		if x.Env != "" {
			gogc += " " + x.Env
		}
		fmt.Fprintf(tw, "%s\t%s\t%d\t%s\t%.3f\t%s\t%s\t%.1f\t%.1f\t%.1f\t%s\t%.0f\t%.0f\t\n",
			x.Scenario, proc, x.Ifaces, gogc, x.CPUPerTick, goal, perDump, x.RSSMedian, x.RSSMax, x.AnonMiB, cg, x.MsgsPerTick, x.BytesPerTick)
	}
	tw.Flush()
	fmt.Fprintln(w, "\n(node_exporter: CPU, bytes and msgs are per scrape; msgs/tick is scrapes per interval;")
	fmt.Fprintln(w, "÷ dump: the agent's tick over the bare RTM_GETSTATS dump of the same interfaces, one per interval)")
	if len(r.Floors) > 0 {
		fmt.Fprintln(w, "\nbare RTM_GETSTATS dump (the floor of a tick), CPU of the dumping thread per dump:")
		for _, f := range r.Floors {
			fmt.Fprintf(w, "  %d %s interfaces (%d links with lo): %.3f ms one per interval, %.3f ms back to back\n", f.Ifaces, f.Kind, f.Links, f.ColdMs, f.CPUms)
		}
	}

	var ratios []string
	for _, n := range o.ifaces {
		var neRow *Row
		for i := range r.Rows {
			if x := &r.Rows[i]; x.Ifaces == n && x.Process == "node_exporter" {
				neRow = x
			}
		}
		if neRow == nil {
			continue
		}
		for _, x := range r.Rows {
			if x.Ifaces != n || x.Process != "probe-agent" || x.CPUPerTick <= 0 {
				continue
			}
			line := fmt.Sprintf("%d ifaces, %s (GOGC %s%s): node_exporter uses %.0fx the CPU, %.1fx the RSS",
				n, x.Scenario, x.GOGC, strings.TrimRight(" "+x.Env, " "), neRow.CPUPerTick/x.CPUPerTick, neRow.RSSMedian/x.RSSMedian)
			if x.BytesPerTick > 0 {
				line += fmt.Sprintf(", %.1fx the bytes per interval", neRow.BytesPerTick/x.BytesPerTick)
			}
			ratios = append(ratios, line)
		}
	}
	if len(ratios) > 0 {
		fmt.Fprintln(w, "\nratios (node_exporter scrape / probe-agent tick, same run):")
		fmt.Fprintln(w, strings.Join(ratios, "\n"))
	}
	for _, x := range r.Rows {
		if x.Profile != "" {
			fmt.Fprintf(w, "\nprofile: perf report -i %s --no-children --sort symbol\n", x.Profile)
		}
	}
}
