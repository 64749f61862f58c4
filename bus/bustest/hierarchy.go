package bustest

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/probe-agent/probe-agent/agent"
	"github.com/probe-agent/probe-agent/agent/stream"
	"github.com/probe-agent/probe-agent/bus"
	"github.com/probe-agent/probe-agent/collectors/replay"
	"github.com/probe-agent/probe-agent/controller"
	"github.com/probe-agent/probe-agent/probe"
	"github.com/probe-agent/probe-agent/proto/aos"
)

// Hierarchy is the two-level scenario the broker packages' hierarchy tests
// share: the containerlab example's two-level variant
// (containerlab/fanin-nats/hierarchy.clab.yml), pods pod1 (leaf1, leaf2)
// and pod2 (leaf3, leaf4), the seed probe, and a reference run in which
// leaf2 is heavy from tick 3 to tick 5 (one raise, one clear). The broker
// is the test's: only the configuration snippets differ.
type Hierarchy struct {
	Lab     string // containerlab/fanin-nats, absolute
	LabFile string // its hierarchy.clab.yml
	ID      string // the seed probe's id
	Ticks   int
	Pods    map[string][]string
	Fleet   *Fleet // the reference run; its counters are what agents replay
	Log     *slog.Logger
}

// NewHierarchy builds the scenario and runs the reference; root is the
// path from the test's package to the repository.
func NewHierarchy(t testing.TB, root string) *Hierarchy {
	t.Helper()
	lab, err := filepath.Abs(filepath.Join(root, "containerlab", "fanin-nats"))
	if err != nil {
		t.Fatal(err)
	}
	h := &Hierarchy{Lab: lab, LabFile: filepath.Join(lab, "hierarchy.clab.yml"), ID: "seed-server-imbalance", Ticks: 8,
		Pods: map[string][]string{"pod1": {"leaf1", "leaf2"}, "pod2": {"leaf3", "leaf4"}},
		Log:  slog.New(slog.NewTextHandler(io.Discard, nil))}
	h.Fleet, err = NewFleet(filepath.Join(lab, "probes.d", "seed_probe.json"), 4, []string{h.ID}, nil)
	if err != nil {
		t.Fatal(err)
	}
	for k := range h.Ticks {
		rate := Balanced
		if h.Anomalous(k) {
			rate = Heavy("leaf2", 4)
		}
		if _, err := h.Fleet.Tick(rate); err != nil {
			t.Fatal(err)
		}
	}
	if len(h.Fleet.RefTransitions[h.ID]) != 2 {
		t.Fatalf("reference transitions %v, want a raise and a clear", h.Fleet.RefTransitions[h.ID])
	}
	return h
}

// Anomalous reports whether tick k is inside the reference's anomaly.
func (h *Hierarchy) Anomalous(k int) bool { return k >= 3 && k < 6 }

// PodFile is the topology of one pod.
func (h *Hierarchy) PodFile(pod string) string {
	return filepath.Join(h.Lab, "hierarchy", pod+".clab.yml")
}

// AlertsReceiver is the fabric level's alerts receiver (what probectl
// receive runs): its address, and every message it gets, cloned.
func AlertsReceiver(t testing.TB) (string, chan *aos.AosMessage) {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	alerts := make(chan *aos.AosMessage, 1000)
	rc := stream.NewReceiver(stream.ReceiverConfig{Sequenced: true, Handle: func(m stream.Received) { alerts <- m.Clone().Message }})
	go func() { _ = rc.Serve(l) }()
	t.Cleanup(func() { rc.Close() })
	return l.Addr().String(), alerts
}

// StartController runs an in-process controller of blueprint name with
// the scenario's probes and timing and the extra keys (topology, fanin,
// upward, streaming); stop ends it (also at the end of the test).
func (h *Hierarchy) StartController(t testing.TB, name, extra string) (*controller.Controller, func()) {
	t.Helper()
	return StartController(t, h.Lab, name, extra, h.Log)
}

// StartController runs an in-process controller of blueprint name with the
// probes of the lab folder (its probes.d), a 50 ms interval, a staleness
// bound of 60 intervals and no missing device allowed, and the extra keys;
// stop ends it (also at the end of the test).
func StartController(t testing.TB, lab, name, extra string, log *slog.Logger) (*controller.Controller, func()) {
	t.Helper()
	dir := t.TempDir()
	yml := fmt.Sprintf(`blueprint_id: %s
agents: {defaults: {insecure: true}}
state_dir: %q
probes_dir: %q
interval: 50ms
staleness: 60
max_missing_share: 0
%s`, name, filepath.Join(dir, "state"), filepath.Join(lab, "probes.d"), extra)
	cfg, err := controller.ParseConfig([]byte(yml), name+".yaml")
	if err != nil {
		t.Fatal(err)
	}
	c, err := controller.New(cfg, log)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := c.Run(ctx); err != nil {
			t.Errorf("%s: Run: %v", name, err)
		}
	}()
	stopped := false
	stop := func() {
		if !stopped {
			stopped = true
			cancel()
			<-done
		}
	}
	t.Cleanup(stop)
	return c, stop
}

// EdgeAgent is an in-process agent whose ticks the test drives.
type EdgeAgent struct {
	ticks  chan time.Time
	ticked chan struct{}
}

// StartAgents runs one agent per device of the pods, in its pod's
// blueprint, with the seed probe's edge part, replaying its counters of the
// reference run; streaming is the YAML of its streaming list's entry.
func (h *Hierarchy) StartAgents(t testing.TB, streaming string) []*EdgeAgent {
	t.Helper()
	var agents []*EdgeAgent
	for _, pod := range []string{"pod1", "pod2"} {
		for _, dev := range h.Pods[pod] {
			dir := t.TempDir()
			doc, err := h.Fleet.EdgeDoc(h.ID, dev)
			if err != nil {
				t.Fatal(err)
			}
			if err := os.MkdirAll(filepath.Join(dir, "probes"), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(dir, "probes", "seed.json"), doc, 0o644); err != nil {
				t.Fatal(err)
			}
			yml := fmt.Sprintf("system_id: %s\nblueprint_id: %s\ninterval: 1s\ncollector: {type: replay, replay: {file: unused.jsonl}}\nprobes_dir: %s\nstate_dir: %s\nshutdown_timeout: 5s\nstreaming:\n  - %s\n",
				dev, pod, filepath.Join(dir, "probes"), filepath.Join(dir, "state"), streaming)
			cfg, err := agent.Parse([]byte(yml))
			if err != nil {
				t.Fatal(err)
			}
			col, err := replay.NewCollector(h.Fleet.Counters[dev], func() time.Time { return T0 })
			if err != nil {
				t.Fatal(err)
			}
			ea := &EdgeAgent{ticks: make(chan time.Time), ticked: make(chan struct{}, h.Ticks+1)}
			a, err := agent.New(cfg, agent.Options{Logger: h.Log, Stdout: io.Discard, Collector: col, Ticks: ea.ticks,
				OnTick: func() { ea.ticked <- struct{}{} }})
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithCancel(context.Background())
			done := make(chan error, 1)
			go func() { done <- a.Run(ctx) }()
			t.Cleanup(func() { cancel(); <-done })
			agents = append(agents, ea)
		}
	}
	return agents
}

// Tick makes every agent evaluate tick k (the first evaluation happens at
// start) and waits until each has.
func Tick(t testing.TB, agents []*EdgeAgent, k int) {
	t.Helper()
	for _, a := range agents {
		if k > 0 {
			a.ticks <- time.Now()
		}
		select {
		case <-a.ticked:
		case <-time.After(20 * time.Second):
			t.Fatalf("tick %d: an agent did not evaluate", k)
		}
	}
}

// Owns reports whether c's fan-in member owns the scenario's probe.
func (h *Hierarchy) Owns(c *controller.Controller) bool {
	m := c.FanInMember()
	return m != nil && m.Owns(h.ID)
}

// FabricResult is the fabric level's result once it has heard from both
// pods.
func (h *Hierarchy) FabricResult(fabric *controller.Controller) (float64, bool) {
	var v float64
	var ok bool
	fabric.FanInMember().Inspect(h.ID, func(inst *probe.Instance, st bus.ProbeStatus) {
		if !st.Skipped && slices.Equal(st.Fresh, []string{"pod1", "pod2"}) {
			v, ok = Result(inst)
		}
	})
	return v, ok
}

// MatchesReference reports whether the fabric level's result is tick k's
// of the reference. The pods' moments are merged in another order than
// the reference's (pod by pod), which may round the last bits.
func (h *Hierarchy) MatchesReference(fabric *controller.Controller, k int) bool {
	ref := h.Fleet.RefResults[h.ID][k]
	v, ok := h.FabricResult(fabric)
	return ok && math.Abs(v-ref) <= 1e-9*math.Max(1, math.Abs(ref))
}

// CheckCentralAnomalies fails unless the fabric level shows the central
// anomaly exactly while tick k is anomalous.
func (h *Hierarchy) CheckCentralAnomalies(t testing.TB, fabric *controller.Controller, k int) {
	t.Helper()
	n := 0
	for _, a := range fabric.Anomalies() {
		if a.Probe == h.ID && a.Origin == "central" {
			n++
		}
	}
	want := 0
	if h.Anomalous(k) {
		want = 1
	}
	if n != want {
		t.Fatalf("tick %d: the fabric level shows %d central anomalies, want %d", k, n, want)
	}
}

// CheckAlerts waits for the reference's raise and clear among the fabric
// level's alerts, stops the fabric controller (which flushes its
// receivers: any further alert, a second raise or clear, is in after it)
// and fails unless they came exactly once each.
func (h *Hierarchy) CheckAlerts(t testing.TB, alerts chan *aos.AosMessage, stopFabric func()) {
	t.Helper()
	var want []string
	for _, tr := range h.Fleet.RefTransitions[h.ID] {
		parts := strings.SplitN(tr, ":", 4)
		want = append(want, fmt.Sprintf("%v:%s", parts[1] == "raised", parts[2]))
	}
	var got []string
	take := func(m *aos.AosMessage) {
		if a := m.GetAlert(); a.GetProbeAlert().GetProbeId() == h.ID {
			got = append(got, fmt.Sprintf("%v:%s", a.GetRaised(), a.GetProbeAlert().GetStageName()))
		}
	}
	timeout := time.After(20 * time.Second)
	for len(got) < len(want) {
		select {
		case m := <-alerts:
			take(m)
		case <-timeout:
			t.Fatalf("fabric level's alerts %v, want %v", got, want)
		}
	}
	stopFabric()
	for len(alerts) > 0 {
		take(<-alerts)
	}
	if !slices.Equal(got, want) {
		t.Fatalf("fabric level's alerts %v, want %v (raised once, cleared once)", got, want)
	}
}
