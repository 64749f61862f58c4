package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// options are the harness's flags.
type options struct {
	ifaces       []int
	scenarios    []string
	gogc         []string // "default" = the agent's own setting
	env          []string // extra environment variants, "" = none
	window       time.Duration
	warmup       time.Duration
	interval     time.Duration
	pps          int
	nodeExporter string // path; "" = look for it; "none" = do not run it
	profile      string // directory for perf profiles of the agent; "" = none
	heapProfile  string // directory for heap profiles of the agent; "" = none
	jsonOut      string
	repo         string
}

var allScenarios = []string{"aggregate", "items", "idle", "probes10"}

func main() {
	var o options
	var ifaces, scen, gogc, env string
	flag.StringVar(&ifaces, "ifaces", "1000,4000", "interface counts to measure, comma-separated")
	flag.StringVar(&scen, "scenarios", strings.Join(allScenarios, ","), "scenarios: aggregate (seed probe, std_dev streamed; node_exporter beside it), items (every if_counter item streamed), idle (seed probe on idle ifb interfaces), probes10 (testdata/probes and seed variants)")
	flag.StringVar(&gogc, "gogc", "default", "GOGC values to run the agent with, comma-separated; default = the agent's own setting")
	flag.StringVar(&env, "env", "", "extra environment variants for the agent, separated by ';' (e.g. \";GOMAXPROCS=1\" runs each scenario without and with it)")
	flag.DurationVar(&o.window, "window", 60*time.Second, "measured window per scenario")
	flag.DurationVar(&o.warmup, "warmup", 10*time.Second, "time from start to the window (the first ticks build the stages)")
	flag.DurationVar(&o.interval, "interval", time.Second, "agent interval, and node_exporter's scrape interval")
	flag.IntVar(&o.pps, "pps", 2, "frames per second sent on every veth end")
	flag.StringVar(&o.nodeExporter, "node-exporter", "", "node_exporter binary (default: PATH, then go env GOBIN/GOPATH); none = skip")
	flag.StringVar(&o.profile, "profile", "", "directory: build the agent with symbols and perf record it in every aggregate and items window (figures are then perturbed)")
	flag.StringVar(&o.heapProfile, "heapprofile", "", "directory: build the agent with a heap-profile hook (every allocation sampled) and write its in-use heap at the end of every window (figures are then perturbed)")
	flag.StringVar(&o.jsonOut, "json", "", "also write the results as JSON to this file")
	flag.Parse()
	var err error
	if o.ifaces, err = parseInts(ifaces); err != nil {
		fatal(err)
	}
	o.scenarios = strings.Split(scen, ",")
	for _, s := range o.scenarios {
		if !slices.Contains(allScenarios, s) {
			fatal(fmt.Errorf("unknown scenario %q (have %s)", s, strings.Join(allScenarios, ", ")))
		}
	}
	o.gogc = strings.Split(gogc, ",")
	o.env = strings.Split(env, ";")
	if os.Geteuid() != 0 {
		fatal(errors.New("needs root: it creates network namespaces, interfaces and cgroups"))
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	res, err := run(ctx, o, os.Stdout, os.Stderr)
	if o.jsonOut != "" && len(res.Rows) > 0 {
		raw, _ := json.MarshalIndent(res, "", "  ")
		_ = os.WriteFile(o.jsonOut, raw, 0o644)
	}
	if err != nil {
		fatal(err)
	}
}

func fatal(err error) {
	fmt.Fprintln(os.Stderr, "bench-agent:", err)
	os.Exit(1)
}

func parseInts(s string) ([]int, error) {
	var out []int
	for _, f := range strings.Split(s, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n < 2 {
			return nil, fmt.Errorf("interface count %q: want a number of at least 2", f)
		}
		out = append(out, n)
	}
	return out, nil
}

// Row is one measured process in one scenario.
type Row struct {
	Scenario string  `json:"scenario"`
	Process  string  `json:"process"` // probe-agent or node_exporter
	Ifaces   int     `json:"ifaces"`
	GOGC     string  `json:"gogc"`
	Env      string  `json:"env,omitempty"`
	Ticks    float64 `json:"ticks"` // intervals in the window
	// CPUPerTick is CPU ms per interval: per tick for the agent, per
	// scrape for node_exporter.
	CPUPerTick float64 `json:"cpu_ms_per_tick"`
	RSSMedian  float64 `json:"rss_mib_median"`
	RSSMax     float64 `json:"rss_mib_max"`
	AnonMiB    float64 `json:"rss_anon_mib"`
	CgroupMiB  float64 `json:"cgroup_mem_mib"` // -1 = no memory controller
	// BytesPerTick and MsgsPerTick are what the process sent per interval:
	// the agent's stream, node_exporter's (gzip) scrape.
	BytesPerTick float64 `json:"bytes_per_tick"`
	MsgsPerTick  float64 `json:"msgs_per_tick"`
	Series       int     `json:"netdev_series,omitempty"` // node_exporter: interfaces in a scrape
	Profile      string  `json:"profile,omitempty"`
	HeapProfile  string  `json:"heap_profile,omitempty"`
	// PerDump is CPUPerTick over the bare RTM_GETSTATS dump of the same
	// namespace (agent rows).
	PerDump float64 `json:"per_dump,omitempty"`
}

// Floor is the bare stats dump of one namespace (dumpFloor).
type Floor struct {
	Ifaces int     `json:"ifaces"`
	Kind   string  `json:"kind"` // veth or ifb
	Links  int     `json:"links"`
	CPUms  float64 `json:"cpu_ms_per_dump"`      // back to back
	ColdMs float64 `json:"cold_cpu_ms_per_dump"` // one per interval
}

// Results is a whole run.
type Results struct {
	Date     string  `json:"date"`
	Machine  string  `json:"machine"`
	LoadFrom string  `json:"load_average_start"`
	LoadTo   string  `json:"load_average_end"`
	Cgroups  string  `json:"cgroups"`
	Command  string  `json:"command"`
	Sent     int64   `json:"frames_sent"`
	Rows     []Row   `json:"rows"`
	Floors   []Floor `json:"floors"`
	Window   float64 `json:"window_s"`
}

// run measures every scenario at every size and prints the report on out;
// progress goes to log.
func run(ctx context.Context, o options, out, log io.Writer) (res Results, err error) {
	if o.repo == "" {
		if o.repo, err = repoRoot(); err != nil {
			return res, err
		}
	}
	removeStaleNetns()
	tmp, err := os.MkdirTemp("", "bench-agent-")
	if err != nil {
		return res, err
	}
	defer os.RemoveAll(tmp)
	for _, d := range []*string{&o.profile, &o.heapProfile} {
		if *d == "" {
			continue
		}
		if *d, err = filepath.Abs(*d); err != nil {
			return res, err
		}
		if err := os.MkdirAll(*d, 0o755); err != nil {
			return res, err
		}
	}
	bin := filepath.Join(tmp, "probe-agent")
	fmt.Fprintln(log, "building probe-agent with the release flags")
	if err := buildAgent(o.repo, bin, o.profile != "", o.heapProfile != "", tmp); err != nil {
		return res, err
	}
	ne := ""
	if o.nodeExporter != "none" {
		ne = findNodeExporter(o.nodeExporter)
	}
	res = Results{
		Date:     time.Now().UTC().Format("2006-01-02 15:04 UTC"),
		Machine:  machine(),
		LoadFrom: loadavg(),
		Command:  strings.Join(os.Args, " "),
		Window:   o.window.Seconds(),
	}
	defer func() {
		res.LoadTo = loadavg()
		report(out, res, o, ne)
	}()
	for _, n := range o.ifaces {
		rows, floors, sent, kind, err := measureSize(ctx, o, n, bin, ne, tmp, log)
		res.Rows = append(res.Rows, rows...)
		res.Floors = append(res.Floors, floors...)
		res.Sent += sent
		if kind != "" {
			res.Cgroups = kind
		}
		if err != nil {
			return res, err
		}
	}
	return res, nil
}

// measureSize builds the namespaces for n interfaces and runs every
// scenario on them.
func measureSize(ctx context.Context, o options, n int, bin, ne, tmp string, log io.Writer) (rows []Row, floors []Floor, sent int64, cgKind string, err error) {
	busy := fmt.Sprintf("%s%d-busy-%d", nsPrefix, os.Getpid(), n)
	idle := fmt.Sprintf("%s%d-idle-%d", nsPrefix, os.Getpid(), n)
	fmt.Fprintf(log, "%d interfaces: creating %d veth pairs in %s\n", n, n/2, busy)
	defer deleteNetns(busy)
	if err := makeNetns(busy, "veth", n); err != nil {
		return nil, nil, 0, "", err
	}
	if slices.Contains(o.scenarios, "idle") {
		fmt.Fprintf(log, "%d interfaces: creating %d ifb interfaces in %s\n", n, n, idle)
		defer deleteNetns(idle)
		if err := makeNetns(idle, "ifb", n); err != nil {
			return nil, nil, 0, "", err
		}
	}
	floorOf := map[string]float64{}
	for _, f := range []struct{ ns, kind string }{{busy, "veth"}, {idle, "ifb"}} {
		if f.kind == "ifb" && !slices.Contains(o.scenarios, "idle") {
			continue
		}
		fmt.Fprintf(log, "%d interfaces: the bare stats dump of %s, back to back and once per interval\n", n, f.ns)
		hot, cold, links, err := dumpFloor(f.ns, max(20, 200000/n), 5, o.interval)
		if err != nil {
			return nil, nil, 0, "", fmt.Errorf("bare dump in %s: %w", f.ns, err)
		}
		floors = append(floors, Floor{Ifaces: n, Kind: f.kind, Links: links, CPUms: float64(hot) / 1e6, ColdMs: float64(cold) / 1e6})
		floorOf[f.ns] = float64(cold) / 1e6
	}
	tr, err := newTraffic(busy, o.pps)
	if err != nil {
		return nil, nil, 0, "", err
	}
	defer tr.close()
	tctx, stopTraffic := context.WithCancel(ctx)
	trDone := make(chan struct{})
	go func() { tr.run(tctx); close(trDone) }()
	defer func() { stopTraffic(); <-trDone; sent = tr.sent.Load() }()

	for _, sc := range o.scenarios {
		for vi, v := range variants(o) {
			g, env := v[0], v[1]
			ns := busy
			if sc == "idle" {
				ns = idle
			}
			// node_exporter runs beside the first aggregate run only: one
			// side-by-side comparison per size.
			withNE := ne != "" && sc == "aggregate" && vi == 0
			fmt.Fprintf(log, "%d interfaces: %s, GOGC %s %s%s: %s warm-up, %s window\n", n, sc, g, env, map[bool]string{true: ", node_exporter beside it"}[withNE], o.warmup, o.window)
			got, kind, err := measureOne(ctx, o, sc, g, env, n, ns, bin, ne, withNE, filepath.Join(tmp, fmt.Sprintf("%s-%d-%d", sc, n, vi)))
			if len(got) > 0 && floorOf[ns] > 0 {
				got[0].PerDump = got[0].CPUPerTick / floorOf[ns]
			}
			rows = append(rows, got...)
			if kind != "" {
				cgKind = kind
			}
			if err != nil {
				return rows, floors, 0, cgKind, err
			}
		}
	}
	return rows, floors, 0, cgKind, nil
}

// measureOne runs the agent (and node_exporter when withNE) for one
// scenario: start, warm up, measure the window, stop.
func measureOne(ctx context.Context, o options, sc, gogc, env string, n int, ns, bin, ne string, withNE bool, dir string) ([]Row, string, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, "", err
	}
	probes := filepath.Join(dir, "probes")
	if err := writeProbes(o.repo, probes, sc); err != nil {
		return nil, "", err
	}
	rcv, err := newReceiver()
	if err != nil {
		return nil, "", err
	}
	defer rcv.close()
	cfg := fmt.Sprintf("system_id: bench\ninterval: %s\ncollector: {type: netlink, netlink: {netns: %q}}\nprobes_dir: %q\nstate_dir: \"\"\napi: {listen: \"127.0.0.1:0\"}\nstreaming:\n  - {type: perfmon, address: %q, sequenced: true}\n",
		o.interval, ns, probes, rcv.addr())
	cfgFile := filepath.Join(dir, "agent.yaml")
	if err := os.WriteFile(cfgFile, []byte(cfg), 0o644); err != nil {
		return nil, "", err
	}
	cmd := exec.Command(bin, "run", "--config", cfgFile)
	cmd.Env = os.Environ()
	if gogc != "default" {
		cmd.Env = append(cmd.Env, "GOGC="+gogc)
	}
	cmd.Env = append(cmd.Env, strings.Fields(env)...)
	heap := ""
	if o.heapProfile != "" {
		heap = filepath.Join(o.heapProfile, fmt.Sprintf("heap-%s-%d-gogc%s%s.pprof", sc, n, gogc, strings.ReplaceAll(strings.Join(strings.Fields(env), "-"), "=", "")))
		_ = os.Remove(heap)
		cmd.Env = append(cmd.Env, "PROBE_AGENT_HEAPPROFILE="+heap)
	}
	ag, err := startProc("probe-agent", fmt.Sprintf("pa-bench-%d-agent", os.Getpid()), filepath.Join(dir, "agent.log"), cmd)
	if err != nil {
		return nil, "", err
	}
	defer ag.stop()
	kind := ag.cg.kind

	var np *proc
	var scr *scraper
	sctx, stopScrape := context.WithCancel(ctx)
	scrDone := make(chan struct{})
	close(scrDone)
	defer func() { stopScrape(); <-scrDone }()
	const neAddr = "127.0.0.1:9100"
	if withNE {
		cmd := exec.Command("ip", "netns", "exec", ns, ne, "--collector.disable-defaults", "--collector.netdev",
			"--web.listen-address="+neAddr, "--log.level=warn")
		if np, err = startProc("node_exporter", fmt.Sprintf("pa-bench-%d-node-exporter", os.Getpid()), filepath.Join(dir, "node_exporter.log"), cmd); err != nil {
			return nil, kind, err
		}
		defer np.stop()
		conn, err := waitListening(ctx, ns, neAddr, np)
		if err != nil {
			return nil, kind, err
		}
		defer conn.Close()
		scr = &scraper{conn: conn, rd: newBufReader(conn)}
		scrDone = make(chan struct{})
		go func() { scr.run(sctx, o.interval); close(scrDone) }()
	}

	if err := sleep(ctx, o.warmup); err != nil {
		return nil, kind, err
	}
	if !ag.alive() {
		return nil, kind, ag.failure()
	}
	type snap struct {
		cpu, bytes, msgs int64
	}
	take := func(p *proc, bytes, msgs func() int64) (snap, error) {
		c, err := p.cg.cpuMicros()
		return snap{cpu: c, bytes: bytes(), msgs: msgs()}, err
	}
	agStart, err := take(ag, rcv.bytes.Load, rcv.msgs.Load)
	if err != nil {
		return nil, kind, err
	}
	var neStart snap
	if np != nil {
		if neStart, err = take(np, scr.bytes.Load, scr.scrapes.Load); err != nil {
			return nil, kind, err
		}
	}
	profile := ""
	var perfDone chan error
	if o.profile != "" && (sc == "aggregate" || sc == "items") {
		// One sample per 20 µs of the agent's CPU: a tick of a few ms
		// gets hundreds, where a wall-clock rate would get a handful.
		profile = filepath.Join(o.profile, fmt.Sprintf("perf-%s-%d-gogc%s%s.data", sc, n, gogc, strings.ReplaceAll(strings.Join(strings.Fields(env), "-"), "=", "")))
		perfDone = make(chan error, 1)
		go func() {
			out, err := exec.Command("perf", "record", "-q", "-e", "cpu-clock", "-c", "20000", "-g", "-p", strconv.Itoa(ag.cmd.Process.Pid),
				"-o", profile, "--", "sleep", strconv.Itoa(int(o.window.Seconds()))).CombinedOutput()
			if err != nil {
				err = fmt.Errorf("perf record: %v: %s", err, out)
			}
			perfDone <- err
		}()
	}
	start := time.Now()
	var agRSS, neRSS []int64
	var agLast, neLast map[string]int64
	var agCg, neCg int64
	for time.Since(start) < o.window {
		if err := sleep(ctx, min(time.Second, o.window-time.Since(start))); err != nil {
			return nil, kind, err
		}
		if !ag.alive() {
			return nil, kind, ag.failure()
		}
		agLast = procStatus(ag.cmd.Process.Pid)
		agRSS = append(agRSS, agLast["VmRSS"])
		agCg = ag.cg.memBytes()
		if np != nil {
			if !np.alive() {
				return nil, kind, np.failure()
			}
			neLast = procStatus(np.cmd.Process.Pid)
			neRSS = append(neRSS, neLast["VmRSS"])
			neCg = np.cg.memBytes()
		}
	}
	elapsed := time.Since(start)
	ticks := elapsed.Seconds() / o.interval.Seconds()
	agEnd, err := take(ag, rcv.bytes.Load, rcv.msgs.Load)
	if err != nil {
		return nil, kind, err
	}
	if heap != "" {
		// After the window's figures: the collection and the writing
		// are not in them.
		if err := writeHeapProfile(ctx, ag, heap); err != nil {
			return nil, kind, err
		}
	}
	row := func(proc string, s0, s1 snap, rss []int64, last map[string]int64, cg int64) Row {
		slices.Sort(rss)
		r := Row{Scenario: sc, Process: proc, Ifaces: n, GOGC: gogc, Env: env, Ticks: ticks,
			CPUPerTick:   float64(s1.cpu-s0.cpu) / 1000 / ticks,
			BytesPerTick: float64(s1.bytes-s0.bytes) / ticks,
			MsgsPerTick:  float64(s1.msgs-s0.msgs) / ticks,
			AnonMiB:      float64(last["RssAnon"]) / 1024,
			CgroupMiB:    -1,
		}
		if len(rss) > 0 {
			r.RSSMedian, r.RSSMax = float64(rss[len(rss)/2])/1024, float64(rss[len(rss)-1])/1024
		}
		if cg >= 0 {
			r.CgroupMiB = float64(cg) / (1 << 20)
		}
		return r
	}
	rows := []Row{row("probe-agent", agStart, agEnd, agRSS, agLast, agCg)}
	rows[0].Profile, rows[0].HeapProfile = profile, heap
	if np != nil {
		neEnd, err := take(np, scr.bytes.Load, scr.scrapes.Load)
		if err != nil {
			return rows, kind, err
		}
		if f, ok := scr.failed.Load().(string); ok {
			return rows, kind, fmt.Errorf("scraping node_exporter: %s", f)
		}
		r := row("node_exporter", neStart, neEnd, neRSS, neLast, neCg)
		// Per scrape, not per wall interval: a scrape that took longer
		// than the interval delays the next one.
		if scrapes := float64(neEnd.msgs - neStart.msgs); scrapes > 0 {
			r.CPUPerTick = float64(neEnd.cpu-neStart.cpu) / 1000 / scrapes
			r.BytesPerTick = float64(neEnd.bytes-neStart.bytes) / scrapes
			r.MsgsPerTick = scrapes / ticks
		}
		stopScrape()
		<-scrDone
		r.Series, _ = countNetdev(ns, neAddr)
		rows = append(rows, r)
	}
	if perfDone != nil {
		if err := <-perfDone; err != nil {
			return rows, kind, err
		}
	}
	return rows, kind, nil
}

// sleep waits d or until ctx ends (Ctrl-C), whichever is first. The
// harness measures over wall-clock windows: this paces, it does not
// synchronise.
func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// repoRoot is the module's directory (the harness builds ./cmd/probe-agent
// and reads testdata from it).
func repoRoot() (string, error) {
	out, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil {
		return "", fmt.Errorf("go env GOMOD: %w", err)
	}
	mod := strings.TrimSpace(string(out))
	if mod == "" || mod == os.DevNull {
		return "", errors.New("run from inside the probe-agent module")
	}
	return filepath.Dir(mod), nil
}

// buildAgent builds cmd/probe-agent as released (packaging/release-flags,
// stripped), or with its symbols kept for perf when symbols is set, and
// with testdata/heapprofile.go.txt added to package main (through an
// overlay written in tmp) when heapHook is set.
func buildAgent(repo, out string, symbols, heapHook bool, tmp string) error {
	raw, err := os.ReadFile(filepath.Join(repo, "packaging", "release-flags"))
	if err != nil {
		return err
	}
	args := []string{"build", "-trimpath"}
	for _, line := range strings.Split(string(raw), "\n") {
		if line = strings.TrimSpace(line); line != "" && !strings.HasPrefix(line, "#") {
			args = append(args, line)
		}
	}
	if !symbols {
		args = append(args, "-ldflags", "-s -w")
	}
	if heapHook {
		ov, err := json.Marshal(map[string]map[string]string{"Replace": {
			filepath.Join(repo, "cmd", "probe-agent", "zz_bench_heapprofile.go"): filepath.Join(repo, "bench", "agent", "testdata", "heapprofile.go.txt"),
		}})
		if err != nil {
			return err
		}
		f := filepath.Join(tmp, "heapprofile-overlay.json")
		if err := os.WriteFile(f, ov, 0o644); err != nil {
			return err
		}
		args = append(args, "-overlay", f)
	}
	args = append(args, "-o", out, "./cmd/probe-agent")
	cmd := exec.Command("go", args...)
	cmd.Dir = repo
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if b, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("go %s: %v\n%s", strings.Join(args, " "), err, b)
	}
	return nil
}

func machine() string {
	model := "?"
	if raw, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, line := range strings.Split(string(raw), "\n") {
			if v, ok := strings.CutPrefix(line, "model name"); ok {
				model = strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(v), ":"))
				break
			}
		}
	}
	kernel := "?"
	if raw, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		kernel = strings.TrimSpace(string(raw))
	}
	np := "?"
	if out, err := exec.Command("nproc").Output(); err == nil {
		np = strings.TrimSpace(string(out))
	}
	return fmt.Sprintf("nproc %s, %s, Linux %s", np, model, kernel)
}

func loadavg() string {
	raw, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "?"
	}
	f := strings.Fields(string(raw))
	if len(f) < 3 {
		return "?"
	}
	return strings.Join(f[:3], " ")
}

// variants are the agent runs of every scenario: each GOGC value with each
// extra environment.
func variants(o options) [][2]string {
	var out [][2]string
	envs := o.env
	if len(envs) == 0 {
		envs = []string{""}
	}
	for _, g := range o.gogc {
		for _, e := range envs {
			out = append(out, [2]string{g, strings.TrimSpace(e)})
		}
	}
	return out
}

// writeHeapProfile asks the agent (built with the heap-profile hook) for
// its in-use heap and waits until the hook has renamed the profile into
// place at file: the hook answers no other way, so the file's appearance
// is the signal, looked for every 50 ms for up to 30 s.
func writeHeapProfile(ctx context.Context, ag *proc, file string) error {
	if err := ag.cmd.Process.Signal(syscall.SIGUSR1); err != nil {
		return fmt.Errorf("asking the agent for a heap profile: %w", err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		if _, err := os.Stat(file); err == nil {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("the agent wrote no heap profile to %s in 30 s (see its log)", file)
		}
		if !ag.alive() {
			return ag.failure()
		}
		if err := sleep(ctx, 50*time.Millisecond); err != nil {
			return err
		}
	}
}
