package controller

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/probe-agent/probe-agent/agent"
	"github.com/probe-agent/probe-agent/agent/control"
	"github.com/probe-agent/probe-agent/agent/control/controltest"
	"github.com/probe-agent/probe-agent/collectors"
	"github.com/probe-agent/probe-agent/probe"
	"github.com/probe-agent/probe-agent/topology"
	"github.com/probe-agent/probe-agent/topology/resolve"
)

const labFile = "../containerlab/leaf-spine-linux.clab.yml"

// serverPorts are the server-facing interfaces of each leaf in the lab:
// what the seed probe's graph query selects, and all a leaf must get.
var serverPorts = map[string][]string{
	"leaf1": {"eth3", "eth4"},
	"leaf2": {"eth3", "eth4", "eth6"},
	"leaf3": {"eth3", "eth4"},
	"leaf4": {"eth3", "eth4"},
}

// allPorts are every interface each leaf's counters report: the uplinks,
// the MLAG peer link and a host veth as well, which the probe must leave out.
var allPorts = map[string][]string{
	"leaf1": {"eth1", "eth2", "eth3", "eth4", "eth5", "eth9"},
	"leaf2": {"eth1", "eth2", "eth3", "eth4", "eth5", "eth6"},
	"leaf3": {"eth1", "eth2", "eth3", "eth4"},
	"leaf4": {"eth1", "eth2", "eth3", "eth4"},
}

// fakeAgent is a real agent control plane (agent.Manager and
// control.Server over loopback with mutual TLS) whose ticks the test
// drives, as agent/control's stages test does, so that every device
// evaluates exactly the counters the test gives it.
type fakeAgent struct {
	dev    string
	addr   string
	m      *agent.Manager
	items  probe.ItemCache
	cancel context.CancelFunc
	done   chan error
}

func startAgent(t *testing.T, pki *controltest.PKI, dev, addr string) *fakeAgent {
	t.Helper()
	a := &fakeAgent{dev: dev, m: agent.NewManager(slog.New(slog.NewTextHandler(io.Discard, nil)), nil, nil), done: make(chan error, 1)}
	srv, err := control.NewServer(a.m, agent.ControlConfig{TLS: agent.TLSConfig{CA: pki.CA, Cert: pki.ServerCert, Key: pki.ServerKey}},
		slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	if addr == "" {
		addr = "127.0.0.1:0"
	}
	var lis net.Listener
	// A restarted agent takes its old port back; the old listener may
	// take a moment to be released.
	waitFor(t, 5*time.Second, "listening on "+addr, func() bool {
		lis, err = net.Listen("tcp", addr)
		return err == nil
	})
	a.addr = lis.Addr().String()
	ctx, cancel := context.WithCancel(context.Background())
	a.cancel = cancel
	go func() { a.done <- srv.ServeListener(ctx, lis) }()
	t.Cleanup(a.stop)
	return a
}

func (a *fakeAgent) stop() {
	if a.cancel == nil {
		return
	}
	a.cancel()
	<-a.done
	a.cancel = nil
}

// tick evaluates the agent's probes on counters where every interface
// has sent rate(iface) bytes per second since the previous tick.
func (a *fakeAgent) tick(t *testing.T, at time.Time, b *collectors.Batch) {
	t.Helper()
	gen, ex := a.m.Generation(), a.m.Exports()
	a.m.Each(func(inst *probe.Instance) {
		if err := inst.Tick(&probe.Tick{Time: at, Counters: b, Items: &a.items}); err != nil {
			t.Errorf("%s: tick: %v", a.dev, err)
		}
		ex.Add(inst, a.dev, gen)
	})
	a.items.Advance(b, at)
	ex.Flush(at)
}

// counters builds the cumulative counters of every leaf at tick n of a
// scenario: rate gives each interface's bytes per second for each tick.
type counters struct {
	total map[string]uint64 // device/iface -> cumulative tx_bytes
}

func (c *counters) batch(dev string, at time.Time, rate func(dev, iface string) uint64) *collectors.Batch {
	b := &collectors.Batch{Time: at, Layout: 1}
	for _, name := range allPorts[dev] {
		k := dev + "/" + name
		c.total[k] += rate(dev, name)
		ifc := collectors.Interface{SystemID: dev, Name: name}
		ifc.Set(collectors.TxBytes, c.total[k])
		b.Interfaces = append(b.Interfaces, ifc)
	}
	return b
}

func balanced(_, _ string) uint64 { return 1000 }

// leaf4Heavy: leaf4's servers send five times as much as the others.
func leaf4Heavy(dev, _ string) uint64 {
	if dev == "leaf4" {
		return 5000
	}
	return 1000
}

// wholeStdDev evaluates the whole seed probe in one place (no split) on
// two consecutive ticks of every leaf's counters and returns its
// std_dev_output: what the controller's central result must equal.
func wholeStdDev(t *testing.T, prev, cur []*collectors.Batch) float64 {
	t.Helper()
	plan := resolvedSeed(t)
	inst, err := probe.NewInstance(plan)
	if err != nil {
		t.Fatal(err)
	}
	for _, set := range [][]*collectors.Batch{prev, cur} {
		all := &collectors.Batch{Time: set[0].Time, Layout: 1}
		for _, b := range set {
			all.Interfaces = append(all.Interfaces, b.Interfaces...)
		}
		if err := inst.Tick(&probe.Tick{Time: all.Time, Counters: all}); err != nil {
			t.Fatal(err)
		}
	}
	st, _ := inst.Stage("std_dev_output")
	return st.Num(0, 0)
}

func resolvedSeed(t *testing.T) *probe.Plan {
	t.Helper()
	data, err := os.ReadFile("testdata/seed_probe.json")
	if err != nil {
		t.Fatal(err)
	}
	plan, probs := probe.CompileJSON(data)
	if len(probs) > 0 {
		t.Fatal(probs)
	}
	g, _, err := topology.LoadFile(labFile, topology.Options{})
	if err != nil {
		t.Fatal(err)
	}
	res, _, err := resolve.Resolve(g, plan.Doc, resolve.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return plan.Resolve(res)
}

// fakeClock is the controller's clock in these tests: staleness is then
// decided by the test, not by how fast the machine is.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *fakeClock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.now }
func (c *fakeClock) Add(d time.Duration) time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
	return c.now
}

func waitFor(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", timeout, what)
		}
		time.Sleep(2 * time.Millisecond) // polling other goroutines' progress
	}
}

type harness struct {
	t      *testing.T
	pki    *controltest.PKI
	agents map[string]*fakeAgent
	ctl    *Controller
	clock  *fakeClock
	cancel context.CancelFunc
	done   chan error
	cnt    counters
}

func writeConfig(t *testing.T, dir string, pki *controltest.PKI, agents map[string]*fakeAgent, probesDir string, cert, key string) Config {
	t.Helper()
	var systems []string
	for _, dev := range mapsKeys(agents) {
		systems = append(systems, fmt.Sprintf("    %s: {address: %q}", dev, agents[dev].addr))
	}
	abs, _ := filepath.Abs(labFile)
	yml := fmt.Sprintf(`blueprint_id: dc1
topology: {file: %q}
agents:
  defaults:
    tls: {ca: %q, cert: %q, key: %q}
    reconnect_max: 200ms
  systems:
%s
state_dir: %q
probes_dir: %q
interval: 1s
staleness: 3
max_missing_share: 0.2
`, abs, pki.CA, cert, key, strings.Join(systems, "\n"), filepath.Join(dir, "state"), probesDir)
	file := filepath.Join(dir, "controller.yaml")
	if err := os.WriteFile(file, []byte(yml), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := LoadConfig(file)
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

func mapsKeys[V any](m map[string]V) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func (h *harness) startController(cfg Config) {
	h.t.Helper()
	ctl, err := New(cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		h.t.Fatal(err)
	}
	ctl.now, ctl.manualTicks = h.clock.Now, true
	ctx, cancel := context.WithCancel(context.Background())
	h.ctl, h.cancel, h.done = ctl, cancel, make(chan error, 1)
	go func() { h.done <- ctl.Run(ctx) }()
	h.t.Cleanup(h.stopController)
}

func (h *harness) stopController() {
	if h.cancel == nil {
		return
	}
	h.cancel()
	if err := <-h.done; err != nil {
		h.t.Errorf("Run: %v", err)
	}
	h.cancel = nil
}

// waitApplied waits until every agent runs the controller's generation
// and streams to it.
func (h *harness) waitApplied(devs ...string) {
	h.t.Helper()
	gen := h.ctl.Generation()
	for _, dev := range devs {
		a := h.agents[dev]
		waitFor(h.t, 10*time.Second, dev+" applies generation "+fmt.Sprint(gen)+" and streams", func() bool {
			return a.m.Generation() == gen && a.m.Exports().Subscribers() > 0
		})
	}
}

// tickAll evaluates one tick on the given leaves and waits until the
// controller has every batch.
func (h *harness) tickAll(at time.Time, rate func(dev, iface string) uint64, devs ...string) []*collectors.Batch {
	h.t.Helper()
	before := map[string]uint64{}
	for _, s := range h.ctl.Agents() {
		before[s.Device] = s.Batches
	}
	var out []*collectors.Batch
	for _, dev := range devs {
		b := h.cnt.batch(dev, at, rate)
		h.agents[dev].tick(h.t, at, b)
		out = append(out, b)
	}
	waitFor(h.t, 10*time.Second, "the controller receives the batches", func() bool {
		got := map[string]uint64{}
		for _, s := range h.ctl.Agents() {
			got[s.Device] = s.Batches
		}
		for _, dev := range devs {
			if got[dev] <= before[dev] {
				return false
			}
		}
		return true
	})
	return out
}

// central evaluates a central tick at the clock's time and returns the
// std_dev, whether it is valid, the status and the active anomalies.
func (h *harness) central() (float64, bool, CentralStatus, []Anomaly) {
	h.t.Helper()
	h.ctl.EvaluateCentral(h.clock.Now())
	var v float64
	var valid bool
	var st CentralStatus
	if !h.ctl.Central("server-imbalance", func(inst *probe.Instance, s CentralStatus) {
		stage, _ := inst.Stage("std_dev_output")
		if stage.Len() == 1 && stage.Valid(0) {
			v, valid = stage.Num(0, 0), true
		}
		st = s
	}) {
		h.t.Fatal("no central part for the seed probe")
	}
	return v, valid, st, h.ctl.Anomalies()
}

// TestControllerWithAgents runs the controller against four real agent
// control planes on loopback (mutual TLS) with the seed probe from
// probes_dir on the leaf-spine lab: each leaf gets exactly its server
// ports; the central std_dev equals the whole probe evaluated in one
// place; the imbalance anomaly is raised and cleared centrally; a leaf
// gone silent makes the result partial and the tick skipped (no false
// clear); a restarted leaf gets its part again and the result is whole;
// a probe that does not validate is refused before anything is pushed;
// a controller restart keeps probes and generation; a controller whose
// certificate the agents' CA did not sign gets nowhere.
func TestControllerWithAgents(t *testing.T) {
	pki := controltest.New(t)
	dir := t.TempDir()
	probesDir := filepath.Join(dir, "probes")
	if err := os.MkdirAll(probesDir, 0o755); err != nil {
		t.Fatal(err)
	}
	seed, err := os.ReadFile("testdata/seed_probe.json")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(probesDir, "seed.json"), seed, 0o644); err != nil {
		t.Fatal(err)
	}
	h := &harness{t: t, pki: pki, agents: map[string]*fakeAgent{}, clock: &fakeClock{now: time.Unix(1_800_000_000, 0)},
		cnt: counters{total: map[string]uint64{}}}
	leaves := []string{"leaf1", "leaf2", "leaf3", "leaf4"}
	for _, dev := range leaves {
		h.agents[dev] = startAgent(t, pki, dev, "")
	}
	cfg := writeConfig(t, dir, pki, h.agents, probesDir, pki.ClientCert, pki.ClientKey)
	h.startController(cfg)
	gen := h.ctl.Generation()
	if gen != 1 {
		t.Fatalf("generation %d after the first start, want 1", gen)
	}
	h.waitApplied(leaves...)

	// Each leaf runs the edge part with exactly its server-facing ports.
	for _, dev := range leaves {
		info, err := h.agents[dev].m.Get("server-imbalance")
		if err != nil {
			t.Fatalf("%s: %v", dev, err)
		}
		var doc struct {
			Export   []string `json:"export"`
			Resolved map[string]struct {
				Items []struct {
					SystemID  string `json:"system_id"`
					Interface string `json:"interface"`
				} `json:"items"`
			} `json:"resolved"`
		}
		if err := json.Unmarshal(info.Doc, &doc); err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, it := range doc.Resolved["server_tx_bytes"].Items {
			if it.SystemID != dev {
				t.Errorf("%s got an item of %s", dev, it.SystemID)
			}
			got = append(got, it.Interface)
		}
		if !slices.Equal(got, serverPorts[dev]) || !slices.Equal(doc.Export, []string{"std_dev_output.partial"}) {
			t.Errorf("%s: resolved %v export %v, want %v and the std_dev partial", dev, got, doc.Export, serverPorts[dev])
		}
	}

	// Balanced traffic: std_dev 0, no anomaly, equal to the whole probe.
	t0 := time.Unix(1_700_000_000, 0)
	at := func(i int) time.Time { return t0.Add(time.Duration(i) * time.Second) }
	b0 := h.tickAll(at(0), balanced, leaves...)
	h.clock.Add(time.Second)
	b1 := h.tickAll(at(1), balanced, leaves...)
	v, valid, st, anoms := h.central()
	if want := wholeStdDev(t, b0, b1); !valid || v != want || st.Partial || st.Skipped || len(anoms) != 0 {
		t.Fatalf("balanced: std_dev %v (valid %v) partial %v skipped %v anomalies %d; want %v, whole, none", v, valid, st.Partial, st.Skipped, len(anoms), want)
	}

	// leaf4's servers send more: the centre raises the imbalance anomaly.
	h.clock.Add(time.Second)
	b2 := h.tickAll(at(2), leaf4Heavy, leaves...)
	v, _, st, anoms = h.central()
	if want := wholeStdDev(t, b1, b2); v != want || want <= 100 || st.Partial {
		t.Fatalf("imbalanced: std_dev %v, whole probe %v (want > 100), partial %v", v, want, st.Partial)
	}
	if len(anoms) != 1 || anoms[0].Origin != "central" || anoms[0].Stage != "server_traffic_imbalanced" {
		t.Fatalf("imbalanced: anomalies %+v, want the central imbalance anomaly", anoms)
	}

	// leaf4 dies. The others are balanced, so a result on them alone would
	// clear the anomaly: a false clear. One device of four missing is more
	// than max_missing_share 0.2, so the tick is skipped and the anomaly
	// stays.
	h.agents["leaf4"].stop()
	waitFor(t, 10*time.Second, "the controller sees leaf4 down", func() bool {
		for _, a := range h.ctl.Agents() {
			if a.Device == "leaf4" {
				return a.State != "streaming"
			}
		}
		return false
	})
	h.clock.Add(4 * time.Second) // past staleness (3 intervals of 1s)
	h.tickAll(at(3), balanced, "leaf1", "leaf2", "leaf3")
	_, _, st, anoms = h.central()
	if !st.Partial || !slices.Equal(st.Missing, []string{"leaf4"}) || !st.Skipped || st.SkippedTicks != 1 {
		t.Fatalf("leaf4 down: status %+v, want partial, leaf4 missing, tick skipped", st)
	}
	if len(anoms) != 1 {
		t.Fatalf("leaf4 down: anomalies %+v: the skipped tick must not clear the anomaly", anoms)
	}

	// leaf4 comes back (a new process: new session, no probes): it gets
	// its part again and the result is whole; balanced now, so the anomaly
	// clears centrally.
	old := h.agents["leaf4"]
	h.agents["leaf4"] = startAgent(t, pki, "leaf4", old.addr)
	h.waitApplied("leaf4")
	h.clock.Add(time.Second)
	h.tickAll(at(4), balanced, leaves...)
	h.clock.Add(time.Second)
	b5 := h.tickAll(at(5), balanced, leaves...)
	var b4 []*collectors.Batch
	for _, dev := range leaves { // the ticks before b5, as each device had them
		b4 = append(b4, h.cnt.prevOf(dev, b5))
	}
	v, valid, st, anoms = h.central()
	if want := wholeStdDev(t, b4, b5); !valid || v != want || st.Partial || st.Skipped || len(anoms) != 0 {
		t.Fatalf("leaf4 back: std_dev %v (valid %v) partial %v skipped %v anomalies %+v; want %v, whole, cleared", v, valid, st.Partial, st.Skipped, anoms, want)
	}
	sessions := map[string]int{}
	for _, a := range h.ctl.Agents() {
		sessions[a.Session]++
		if a.Lost != 0 || a.Dropped != 0 || a.Rejected != 0 {
			t.Errorf("%s: lost %d dropped %d rejected %d", a.Device, a.Lost, a.Dropped, a.Rejected)
		}
	}
	if len(sessions) != 4 || sessions[old.m.Exports().Session()] != 0 {
		t.Errorf("sessions %v: leaf4's must be its new process's", sessions)
	}

	// A probe that does not validate is refused with its problems, and
	// nothing is saved or pushed.
	_, gen2, err := h.ctl.AddProbe([]byte(`{"id": "bad", "label": "bad", "processors": [{"name": "x", "type": "no_such_processor", "outputs": {"out": "o"}}]}`))
	var pe *ProbeError
	if !errors.As(err, &pe) || !strings.Contains(err.Error(), "no_such_processor") || gen2 != gen || h.ctl.Generation() != gen {
		t.Fatalf("bad probe: err %v, generation %d, want a ProbeError and generation %d", err, gen2, gen)
	}
	for _, dev := range leaves {
		if g := h.agents[dev].m.Generation(); g != gen {
			t.Errorf("%s has generation %d after a refused probe, want %d", dev, g, gen)
		}
	}

	// The controller restarts without probes_dir: the stored set and its
	// generation survive, and the agents keep theirs.
	h.stopController()
	cfg.ProbesDir = ""
	h.startController(cfg)
	if got := h.ctl.Generation(); got != gen {
		t.Fatalf("generation %d after a restart, want %d", got, gen)
	}
	if ps := h.ctl.Probes(); len(ps) != 1 || ps[0].ID != "server-imbalance" || !slices.Equal(ps[0].Devices, leaves) {
		t.Fatalf("probes after a restart: %+v", ps)
	}
	h.waitApplied(leaves...)

	// A controller whose certificate comes from another CA is refused by
	// every agent.
	intruderDir := t.TempDir()
	icfg := writeConfig(t, intruderDir, pki, h.agents, "", pki.OtherCert, pki.OtherKey)
	intruder, err := New(icfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	ictx, icancel := context.WithCancel(context.Background())
	idone := make(chan error, 1)
	go func() { idone <- intruder.Run(ictx) }()
	waitFor(t, 10*time.Second, "every agent refuses the intruder", func() bool {
		for _, a := range intruder.Agents() {
			if a.State != "down" || a.LastError == "" || a.Pushes == 0 {
				return false
			}
		}
		return len(intruder.Agents()) == 4
	})
	icancel()
	<-idone
	for _, a := range intruder.Agents() {
		if a.Generation != 0 || a.Batches != 0 {
			t.Errorf("intruder got through to %s: %+v", a.Device, a)
		}
	}
}

// prevOf returns the batch of dev before b (rebuilt from the cumulative
// counters of b minus one tick of the rates that built it: every tick of
// the last phase is balanced).
func (c *counters) prevOf(dev string, set []*collectors.Batch) *collectors.Batch {
	for _, b := range set {
		if len(b.Interfaces) == 0 || b.Interfaces[0].SystemID != dev {
			continue
		}
		prev := &collectors.Batch{Time: b.Time.Add(-time.Second), Layout: 1}
		for _, ifc := range b.Interfaces {
			p := ifc
			p.Set(collectors.TxBytes, ifc.Counters[collectors.TxBytes]-balanced(dev, ifc.Name))
			prev.Interfaces = append(prev.Interfaces, p)
		}
		return prev
	}
	return nil
}
