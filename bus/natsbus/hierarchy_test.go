package natsbus_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"math"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/probe-agent/probe-agent/bus"
	"github.com/probe-agent/probe-agent/bus/bustest"
	"github.com/probe-agent/probe-agent/bus/natsbus"
	"github.com/probe-agent/probe-agent/controller"
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
	h := bustest.NewHierarchy(t, "../..")
	id := h.ID
	alertsAddr, alerts := bustest.AlertsReceiver(t)

	// start runs a controller of blueprint name, fan-in member member,
	// with devices (fanin.devices, when not empty) and the extra keys.
	start := func(name, member, devices, extra string) (*controller.Controller, func()) {
		return h.StartController(t, name, fmt.Sprintf(`fanin:
  member_id: %s
  push_config: false
  nats: {urls: [%q], lease_ttl: 1s}
%s%s`, member, ts.url(), devices, extra))
	}
	fabric, stopFabric := start("fabric", "fabric-ctl", "  devices: [pod1, pod2]\n", fmt.Sprintf(`topology: {file: %q, interface_names: node}
streaming: [{type: alerts, address: %q, sequenced: true}]
`, h.LabFile, alertsAddr))
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
		c, stop := start(pod, member, "", fmt.Sprintf("topology: {file: %q, interface_names: node}\nupward: {blueprint: fabric}\n", h.PodFile(pod)))
		for _, p := range c.Probes() {
			if p.ID == id && !slices.Equal(p.Devices, h.Pods[pod]) {
				t.Fatalf("%s: probe devices %v, want %v", pod, p.Devices, h.Pods[pod])
			}
		}
		podCtl[pod] = append(podCtl[pod], &podController{c, stop})
	}
	// owner is the pod's controller owning the seed probe.
	owner := func(pod string) *podController {
		for _, pc := range podCtl[pod] {
			if h.Owns(pc.c) {
				return pc
			}
		}
		return nil
	}

	// The agents: leaf1 and leaf2 in pod1's blueprint, leaf3 and leaf4 in
	// pod2's, each replaying its counters of the reference run.
	agents := h.StartAgents(t, fmt.Sprintf("{type: nats, address: '127.0.0.1:%d'}", portOf(ts.srv)))

	sig := newSignal()
	sig.waitFor(t, 20*time.Second, "every level owning the seed probe", func() bool {
		return h.Owns(fabric) && owner("pod1") != nil && owner("pod2") != nil
	})
	for k := range h.Ticks {
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
		bustest.Tick(t, agents, k)
		ref := h.Fleet.RefResults[id][k]
		if math.IsNaN(ref) {
			continue // no rates yet: nothing to compare
		}
		sig.waitFor(t, 20*time.Second, fmt.Sprintf("tick %d's result (%v) at the fabric level", k, ref), func() bool {
			return h.MatchesReference(fabric, k)
		})
		h.CheckCentralAnomalies(t, fabric, k)
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
	h.CheckAlerts(t, alerts, stopFabric)
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
	c, _ := bustest.StartController(t, lab, "pod1", fmt.Sprintf(`topology: {file: %q, interface_names: node}
fanin:
  member_id: pod1-ctl
  push_config: false
  nats: {urls: [%q], lease_ttl: 1s}
upward:
  blueprint: fabric
  nats: {urls: [%q]}
  queue: {messages: 5}
`, filepath.Join(lab, "hierarchy", "pod1.clab.yml"), ts.url(), up.url()), slog.New(slog.NewTextHandler(io.Discard, nil)))
	ctx := context.Background()
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
