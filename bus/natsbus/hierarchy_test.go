package natsbus_test

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
	"github.com/probe-agent/probe-agent/bus/bustest"
	"github.com/probe-agent/probe-agent/bus/natsbus"
	"github.com/probe-agent/probe-agent/collectors/replay"
	"github.com/probe-agent/probe-agent/controller"
	"github.com/probe-agent/probe-agent/probe"
	"github.com/probe-agent/probe-agent/proto/aos"
)

// TestHierarchyThroughJetStream: two pod-level probe-controllers, each
// fed through JetStream by its own two real agents (agent.New and Run,
// the replay collector, the seed probe's edge part), publish their merged
// partials upward (upward: {blueprint: fabric}); a fabric-level
// controller (fanin.devices: [pod1, pod2]) evaluates the seed probe from
// the pods' records alone. Its result follows the single-level reference
// (one central part fed every device's partial) tick by tick, and its
// alerts receiver hears the imbalance raised once and cleared once. All
// three controllers and the agents share one server and stream: each
// blueprint's probes are shared among its own members only. The
// topologies are the containerlab example's two-level variant's
// (containerlab/fanin-nats/hierarchy.clab.yml, hierarchy/pod*.clab.yml).
// In the takeover case pod1 has two controllers sharing its probes, and
// the one owning the seed probe stops in the middle of the anomaly: the
// other takes the probe over and publishes upward in its place (a new
// session of device pod1 for the fabric level), which neither raises nor
// clears anything at the fabric level on its own.
func TestHierarchyThroughJetStream(t *testing.T) {
	for _, tc := range []struct {
		name     string
		takeover bool
	}{{"steady", false}, {"pod1 owner stops mid-anomaly", true}} {
		t.Run(tc.name, func(t *testing.T) { testHierarchy(t, tc.takeover) })
	}
}

func testHierarchy(t *testing.T, takeover bool) {
	ts := startServer(t, nil)
	lab, err := filepath.Abs("../../containerlab/fanin-nats")
	if err != nil {
		t.Fatal(err)
	}
	labFile := filepath.Join(lab, "hierarchy.clab.yml")
	const id = "seed-server-imbalance"
	const ticks = 8
	pods := map[string][]string{"pod1": {"leaf1", "leaf2"}, "pod2": {"leaf3", "leaf4"}}

	// The reference run: the counters every agent will replay, the
	// single-level results and transitions.
	f, err := bustest.NewFleet(filepath.Join(lab, "probes.d", "seed_probe.json"), 4, []string{id}, nil)
	if err != nil {
		t.Fatal(err)
	}
	for k := range ticks {
		rate := bustest.Balanced
		if k >= 3 && k < 6 {
			rate = bustest.Heavy("leaf2", 4)
		}
		if _, err := f.Tick(rate); err != nil {
			t.Fatal(err)
		}
	}
	if len(f.RefTransitions[id]) != 2 {
		t.Fatalf("reference transitions %v, want a raise and a clear", f.RefTransitions[id])
	}

	// The fabric level's alerts receiver (what probectl receive runs).
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	alerts := make(chan *aos.AosMessage, 1000)
	rc := stream.NewReceiver(stream.ReceiverConfig{Sequenced: true, Handle: func(m stream.Received) { alerts <- m.Clone().Message }})
	go func() { _ = rc.Serve(l) }()
	t.Cleanup(func() { rc.Close() })

	quietCtl := slog.New(slog.NewTextHandler(io.Discard, nil))
	// start runs a controller of blueprint name, fan-in member member,
	// with devices (fanin.devices, when not empty) and the extra keys.
	start := func(name, member, devices, extra string) (*controller.Controller, func()) {
		dir := t.TempDir()
		yml := fmt.Sprintf(`blueprint_id: %s
agents: {defaults: {insecure: true}}
state_dir: %q
probes_dir: %q
interval: 50ms
staleness: 60
max_missing_share: 0
fanin:
  member_id: %s
  push_config: false
  nats: {urls: [%q], lease_ttl: 1s}
%s%s`, name, filepath.Join(dir, "state"), filepath.Join(lab, "probes.d"), member, ts.url(), devices, extra)
		cfg, err := controller.ParseConfig([]byte(yml), name+".yaml")
		if err != nil {
			t.Fatal(err)
		}
		c, err := controller.New(cfg, quietCtl)
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
		stop := func() { cancel(); <-done }
		t.Cleanup(stop)
		return c, stop
	}
	fabric, stopFabric := start("fabric", "fabric-ctl", "  devices: [pod1, pod2]\n", fmt.Sprintf(`topology: {file: %q, interface_names: node}
streaming: [{type: alerts, address: %q, sequenced: true}]
`, labFile, l.Addr().String()))
	type podController struct {
		c    *controller.Controller
		stop func()
	}
	podCtl := map[string][]*podController{}
	for _, pod := range []string{"pod1", "pod2", "pod1"} {
		if pod == "pod1" && len(podCtl[pod]) == 1 && !takeover {
			continue
		}
		member := fmt.Sprintf("%s-%d-ctl", pod, len(podCtl[pod]))
		c, stop := start(pod, member, "", fmt.Sprintf("topology: {file: %q, interface_names: node}\nupward: {blueprint: fabric}\n",
			filepath.Join(lab, "hierarchy", pod+".clab.yml")))
		for _, p := range c.Probes() {
			if p.ID == id && !slices.Equal(p.Devices, pods[pod]) {
				t.Fatalf("%s: probe devices %v, want %v", pod, p.Devices, pods[pod])
			}
		}
		podCtl[pod] = append(podCtl[pod], &podController{c, stop})
	}
	// owner is the pod's controller owning the seed probe.
	owner := func(pod string) *podController {
		for _, pc := range podCtl[pod] {
			if m := pc.c.FanInMember(); m != nil && m.Owns(id) {
				return pc
			}
		}
		return nil
	}

	// The agents: leaf1 and leaf2 in pod1's blueprint, leaf3 and leaf4 in
	// pod2's, each replaying its counters of the reference run.
	type runningAgent struct {
		ticks  chan time.Time
		ticked chan struct{}
	}
	var agents []*runningAgent
	for _, pod := range []string{"pod1", "pod2"} {
		for _, dev := range pods[pod] {
			dir := t.TempDir()
			doc, err := f.EdgeDoc(id, dev)
			if err != nil {
				t.Fatal(err)
			}
			if err := os.MkdirAll(filepath.Join(dir, "probes"), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(dir, "probes", "seed.json"), doc, 0o644); err != nil {
				t.Fatal(err)
			}
			yml := fmt.Sprintf("system_id: %s\nblueprint_id: %s\ninterval: 1s\ncollector: {type: replay, replay: {file: unused.jsonl}}\nprobes_dir: %s\nstate_dir: %s\nshutdown_timeout: 5s\nstreaming:\n  - {type: nats, address: '127.0.0.1:%d'}\n",
				dev, pod, filepath.Join(dir, "probes"), filepath.Join(dir, "state"), portOf(ts.srv))
			cfg, err := agent.Parse([]byte(yml))
			if err != nil {
				t.Fatal(err)
			}
			col, err := replay.NewCollector(f.Counters[dev], func() time.Time { return bustest.T0 })
			if err != nil {
				t.Fatal(err)
			}
			ra := &runningAgent{ticks: make(chan time.Time), ticked: make(chan struct{}, ticks+1)}
			a, err := agent.New(cfg, agent.Options{Logger: quietCtl, Stdout: io.Discard, Collector: col, Ticks: ra.ticks,
				OnTick: func() { ra.ticked <- struct{}{} }})
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithCancel(context.Background())
			done := make(chan error, 1)
			go func() { done <- a.Run(ctx) }()
			t.Cleanup(func() { cancel(); <-done })
			agents = append(agents, ra)
		}
	}

	sig := newSignal()
	owns := func(c *controller.Controller) bool { m := c.FanInMember(); return m != nil && m.Owns(id) }
	sig.waitFor(t, 20*time.Second, "every level owning the seed probe", func() bool {
		return owns(fabric) && owner("pod1") != nil && owner("pod2") != nil
	})
	// result is the fabric level's result once it has heard from both
	// pods.
	result := func() (float64, bool) {
		var v float64
		var ok bool
		fabric.FanInMember().Inspect(id, func(inst *probe.Instance, st bus.ProbeStatus) {
			if !st.Skipped && slices.Equal(st.Fresh, []string{"pod1", "pod2"}) {
				v, ok = bustest.Result(inst)
			}
		})
		return v, ok
	}
	central := func() int {
		n := 0
		for _, a := range fabric.Anomalies() {
			if a.Probe == id && a.Origin == "central" {
				n++
			}
		}
		return n
	}
	for k := range ticks {
		if takeover && k == 4 {
			// Mid-anomaly: pod1's owner stops (a clean stop releases
			// its lease); the other takes the probe over.
			old := owner("pod1")
			old.stop()
			var rest []*podController
			for _, pc := range podCtl["pod1"] {
				if pc != old {
					rest = append(rest, pc)
				}
			}
			podCtl["pod1"] = rest
			sig.waitFor(t, 20*time.Second, "pod1's other controller to take the probe over", func() bool { return owner("pod1") != nil })
		}
		for _, a := range agents {
			if k > 0 { // the first evaluation happens at start
				a.ticks <- time.Now()
			}
			select {
			case <-a.ticked:
			case <-time.After(20 * time.Second):
				t.Fatalf("tick %d: an agent did not evaluate", k)
			}
		}
		ref := f.RefResults[id][k]
		if math.IsNaN(ref) {
			continue // no rates yet: nothing to compare
		}
		// The pods' moments are merged in another order than the
		// reference's (pod by pod), which may round the last bits.
		sig.waitFor(t, 20*time.Second, fmt.Sprintf("tick %d's result (%v) at the fabric level", k, ref), func() bool {
			v, ok := result()
			return ok && math.Abs(v-ref) <= 1e-9*math.Max(1, math.Abs(ref))
		})
		if want := map[bool]int{true: 1, false: 0}[k >= 3 && k < 6]; central() != want {
			t.Fatalf("tick %d: the fabric level shows %d central anomalies, want %d", k, central(), want)
		}
	}
	st, _ := fabric.FanInMember().Status(id)
	if !slices.Equal(st.Devices, []string{"pod1", "pod2"}) {
		t.Errorf("fabric level's devices %v, want the pods", st.Devices)
	}
	for pod := range podCtl {
		c := owner(pod).c
		s, ok := c.UpwardStats()
		if !ok || s.Sent == 0 || s.Dropped != 0 {
			t.Errorf("%s upward: %+v (%v)", pod, s, ok)
		}
		// The same counters on /metrics.
		mfs, err := c.Registry().Gather()
		if err != nil {
			t.Fatal(err)
		}
		seen := map[string]float64{}
		for _, mf := range mfs {
			if strings.HasPrefix(mf.GetName(), "probe_controller_upward_records_") {
				seen[mf.GetName()] = mf.GetMetric()[0].GetCounter().GetValue()
			}
		}
		if seen["probe_controller_upward_records_published_total"] < float64(s.Sent) || seen["probe_controller_upward_records_dropped_total"] != 0 {
			t.Errorf("%s upward metrics %v, stats %+v", pod, seen, s)
		}
	}
	var want []string
	for _, tr := range f.RefTransitions[id] {
		parts := strings.SplitN(tr, ":", 4)
		want = append(want, fmt.Sprintf("%v:%s", parts[1] == "raised", parts[2]))
	}
	var got []string
	take := func(m *aos.AosMessage) {
		if a := m.GetAlert(); a.GetProbeAlert().GetProbeId() == id {
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
	// Stopping the fabric controller flushes its receivers: any further
	// alert (a second raise or clear) is in after it.
	stopFabric()
	for len(alerts) > 0 {
		take(<-alerts)
	}
	if !slices.Equal(got, want) {
		t.Fatalf("fabric level's alerts %v, want %v (raised once, cleared once)", got, want)
	}
}

// TestUpwardQueueBounded: a pod-level controller whose upward server is
// down keeps at most upward.queue.messages records, drops the oldest and
// counts them (Stats and /metrics agree); once the server is up the
// queued records are stored there, on the fabric level's subject.
func TestUpwardQueueBounded(t *testing.T) {
	ts := startServer(t, nil)
	up := startServer(t, nil)
	up.stop() // the port stays reserved in up.opts for the restart
	lab, err := filepath.Abs("../../containerlab/fanin-nats")
	if err != nil {
		t.Fatal(err)
	}
	const id = "seed-server-imbalance"
	dir := t.TempDir()
	yml := fmt.Sprintf(`blueprint_id: pod1
topology: {file: %q, interface_names: node}
agents: {defaults: {insecure: true}}
state_dir: %q
probes_dir: %q
interval: 50ms
staleness: 60
max_missing_share: 0
fanin:
  member_id: pod1-ctl
  push_config: false
  nats: {urls: [%q], lease_ttl: 1s}
upward:
  blueprint: fabric
  nats: {urls: [%q]}
  queue: {messages: 5}
`, filepath.Join(lab, "hierarchy", "pod1.clab.yml"), filepath.Join(dir, "state"), filepath.Join(lab, "probes.d"), ts.url(), up.url())
	cfg, err := controller.ParseConfig([]byte(yml), "pod1.yaml")
	if err != nil {
		t.Fatal(err)
	}
	c, err := controller.New(cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := c.Run(ctx); err != nil {
			t.Errorf("Run: %v", err)
		}
	}()
	t.Cleanup(func() { cancel(); <-done })
	sig := newSignal()
	sig.waitFor(t, 20*time.Second, "pod1 owning the seed probe", func() bool { m := c.FanInMember(); return m != nil && m.Owns(id) })

	// Both leaves' records of two ticks: every pod tick from then on
	// (both fresh for the staleness bound) makes an upward record.
	f, err := bustest.NewFleet(filepath.Join(lab, "probes.d", "seed_probe.json"), 2, []string{id}, nil)
	if err != nil {
		t.Fatal(err)
	}
	f.Blueprint = "pod1"
	pub, err := natsbus.NewPublisher(ctx, ts.config(), bus.QueueOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = pub.Close(context.Background()) })
	for range 2 {
		recs, err := f.Tick(bustest.Balanced)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range recs {
			if err := pub.Publish(r); err != nil {
				t.Fatal(err)
			}
		}
	}
	dropped := func() float64 {
		mfs, err := c.Registry().Gather()
		if err != nil {
			t.Fatal(err)
		}
		for _, mf := range mfs {
			if mf.GetName() == "probe_controller_upward_records_dropped_total" {
				return mf.GetMetric()[0].GetCounter().GetValue()
			}
		}
		return -1
	}
	sig.waitFor(t, 20*time.Second, "upward records dropped while the server is down", func() bool {
		s, _ := c.UpwardStats()
		return s.Dropped > 0
	})
	if s, _ := c.UpwardStats(); s.Sent != 0 || s.Queued > 5 || dropped() < float64(s.Dropped) {
		t.Fatalf("server down: stats %+v, metric dropped %v", s, dropped())
	}
	up.start()
	sig.waitFor(t, 30*time.Second, "the queued records stored once the server is up", func() bool {
		s, _ := c.UpwardStats()
		return s.Sent >= 5
	})
	// They are on the server, as device pod1 of blueprint fabric.
	nc, err := natsbus.Connect(up.config())
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	m, err := nc.Request("$JS.API.STREAM.MSG.GET."+natsbus.DefaultStream, []byte(fmt.Sprintf(`{"last_by_subj":%q}`, bus.Subject(natsbus.DefaultPrefix, "fabric", id, "pod1"))), 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(m.Data), `"message"`) {
		t.Fatalf("no upward record of pod1 on the fabric's subject: %s", m.Data)
	}
}
