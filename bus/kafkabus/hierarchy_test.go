package kafkabus_test

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

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/probe-agent/probe-agent/agent"
	"github.com/probe-agent/probe-agent/agent/stream"
	"github.com/probe-agent/probe-agent/bus"
	"github.com/probe-agent/probe-agent/bus/bustest"
	"github.com/probe-agent/probe-agent/bus/kafkabus"
	"github.com/probe-agent/probe-agent/collectors/replay"
	"github.com/probe-agent/probe-agent/controller"
	"github.com/probe-agent/probe-agent/probe"
	"github.com/probe-agent/probe-agent/proto/aos"
)

// TestCheckpointPerBlueprint: two blueprints' checkpoints of one probe on
// one topic (two pods of a hierarchy) are kept apart; a checkpoint
// written under the bare probe id (before keys had the blueprint) is read
// by a blueprint that has none of its own yet, and its own wins once
// saved.
func TestCheckpointPerBlueprint(t *testing.T) {
	c := newCluster(t)
	ctx := context.Background()
	base := kafkabus.Config{Brokers: c.ListenAddrs(), Partitions: 1, Log: quiet}
	if err := kafkabus.CreateTopics(ctx, base); err != nil {
		t.Fatal(err)
	}
	open := func(bp string) *kafkabus.Checkpoint {
		cfg := base
		cfg.Blueprint = bp
		cp, err := kafkabus.NewCheckpoint(cfg)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { cp.Close() })
		return cp
	}
	raised := func(item string) bus.Raised {
		return bus.Raised{bus.CentralKey(item): {Origin: "central", Stage: "s", ItemID: item}}
	}
	legacy, pod1, pod2 := open(""), open("pod1"), open("pod2")
	const id = "seed"
	if err := legacy.Save(ctx, id, raised("old")); err != nil {
		t.Fatal(err)
	}
	for _, step := range []struct {
		name       string
		save       func() error
		pod1, pod2 string
	}{
		{"only the bare id's", func() error { return nil }, "old", "old"},
		{"pod1 saves", func() error { return pod1.Save(ctx, id, raised("p1")) }, "p1", "old"},
		{"pod2 saves", func() error { return pod2.Save(ctx, id, raised("p2")) }, "p1", "p2"},
		{"pod1 saves an empty set", func() error { return pod1.Save(ctx, id, bus.Raised{}) }, "", "p2"},
	} {
		if err := step.save(); err != nil {
			t.Fatal(err)
		}
		for _, x := range []struct {
			cp   *kafkabus.Checkpoint
			want string
		}{{pod1, step.pod1}, {pod2, step.pod2}} {
			r, err := x.cp.Load(ctx, id)
			if err != nil {
				t.Fatal(err)
			}
			got := ""
			for _, a := range r {
				got += a.ItemID
			}
			if got != x.want {
				t.Errorf("%s: loaded %q, want %q", step.name, got, x.want)
			}
		}
	}
	// The bare id's checkpoint is still the one a blueprint-less
	// checkpoint sees.
	if r, err := legacy.Load(ctx, id); err != nil || len(r) != 1 || r[bus.CentralKey("old")].ItemID != "old" {
		t.Errorf("bare id: %v %v", r, err)
	}
}

// TestHierarchyThroughKafka: the hierarchy of TestHierarchyThroughJetStream
// (bus/natsbus) through Kafka. Two pod-level probe-controllers share the
// agents' topic (each its own consumer group, its checkpoints under its
// blueprint), each fed by its own two real agents (the replay collector,
// the seed probe's edge part, a streaming entry of type kafka); they
// publish upward to the fabric level's topic (upward.kafka), where a
// fabric-level controller (fanin.devices: [pod1, pod2]) follows the
// single-level reference tick by tick and its alerts receiver hears the
// imbalance raised once and cleared once. The topologies are the
// containerlab example's two-level variant's.
func TestHierarchyThroughKafka(t *testing.T) {
	sig := newSignal()
	cl := newCluster(t)
	cl.Fault(kfake.Fault{Count: -1, Observe: true, When: func(kmsg.Request) bool { sig.poke(); return true }})
	broker := cl.ListenAddrs()[0]
	lab, err := filepath.Abs("../../containerlab/fanin-nats")
	if err != nil {
		t.Fatal(err)
	}
	labFile := filepath.Join(lab, "hierarchy.clab.yml")
	const id = "seed-server-imbalance"
	const ticks = 8
	pods := map[string][]string{"pod1": {"leaf1", "leaf2"}, "pod2": {"leaf3", "leaf4"}}

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

	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	alerts := make(chan *aos.AosMessage, 1000)
	rc := stream.NewReceiver(stream.ReceiverConfig{Sequenced: true, Handle: func(m stream.Received) { alerts <- m.Clone().Message }})
	go func() { _ = rc.Serve(l) }()
	t.Cleanup(func() { rc.Close() })

	quietCtl := slog.New(slog.NewTextHandler(io.Discard, nil))
	start := func(name, extra string) (*controller.Controller, func()) {
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
	owns := func(c *controller.Controller) bool { m := c.FanInMember(); return m != nil && m.Owns(id) }
	// The fabric level first: it creates its topic before the pods
	// produce to it.
	fabric, stopFabric := start("fabric", fmt.Sprintf(`topology: {file: %q, interface_names: node}
streaming: [{type: alerts, address: %q, sequenced: true}]
fanin:
  member_id: fabric-ctl
  push_config: false
  devices: [pod1, pod2]
  kafka: {brokers: [%q], topic: fabric, group: fabric, partitions: 4, session_timeout: 1s}
`, labFile, l.Addr().String(), broker))
	waitFor(t, sig.ch, "the fabric level owning the seed probe", func() bool { return owns(fabric) })
	podCtl := map[string]*controller.Controller{}
	for _, pod := range []string{"pod1", "pod2"} {
		podCtl[pod], _ = start(pod, fmt.Sprintf(`topology: {file: %q, interface_names: node}
fanin:
  member_id: %s-ctl
  push_config: false
  kafka: {brokers: [%q], group: %s, partitions: 4, session_timeout: 1s}
upward:
  blueprint: fabric
  kafka: {brokers: [%q], topic: fabric}
`, filepath.Join(lab, "hierarchy", pod+".clab.yml"), pod, broker, pod, broker))
	}
	waitFor(t, sig.ch, "both pods owning the seed probe", func() bool { return owns(podCtl["pod1"]) && owns(podCtl["pod2"]) })

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
			yml := fmt.Sprintf("system_id: %s\nblueprint_id: %s\ninterval: 1s\ncollector: {type: replay, replay: {file: unused.jsonl}}\nprobes_dir: %s\nstate_dir: %s\nshutdown_timeout: 5s\nstreaming:\n  - {type: kafka, address: %q, kafka: {topic: probeagent}}\n",
				dev, pod, filepath.Join(dir, "probes"), filepath.Join(dir, "state"), broker)
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
		ref := f.RefResults[id][k]
		if math.IsNaN(ref) {
			continue
		}
		// The pods' moments are merged in another order than the
		// reference's, which may round the last bits.
		waitFor(t, sig.ch, fmt.Sprintf("tick %d's result (%v) at the fabric level", k, ref), func() bool {
			v, ok := result()
			return ok && math.Abs(v-ref) <= 1e-9*math.Max(1, math.Abs(ref))
		})
		if want := map[bool]int{true: 1, false: 0}[k >= 3 && k < 6]; central() != want {
			t.Fatalf("tick %d: the fabric level shows %d central anomalies, want %d", k, central(), want)
		}
	}
	for pod, c := range podCtl {
		if s, ok := c.UpwardStats(); !ok || s.Sent == 0 || s.Dropped != 0 {
			t.Errorf("%s upward: %+v (%v)", pod, s, ok)
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
	stopFabric()
	for len(alerts) > 0 {
		take(<-alerts)
	}
	if !slices.Equal(got, want) {
		t.Fatalf("fabric level's alerts %v, want %v (raised once, cleared once)", got, want)
	}
}
