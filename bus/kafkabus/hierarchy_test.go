package kafkabus_test

import (
	"context"
	"fmt"
	"math"
	"testing"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/probe-agent/probe-agent/bus"
	"github.com/probe-agent/probe-agent/bus/bustest"
	"github.com/probe-agent/probe-agent/bus/kafkabus"
	"github.com/probe-agent/probe-agent/controller"
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
	h := bustest.NewHierarchy(t, "../..")
	alertsAddr, alerts := bustest.AlertsReceiver(t)

	// The fabric level first: it creates its topic before the pods
	// produce to it.
	fabric, stopFabric := h.StartController(t, "fabric", fmt.Sprintf(`topology: {file: %q, interface_names: node}
streaming: [{type: alerts, address: %q, sequenced: true}]
fanin:
  member_id: fabric-ctl
  push_config: false
  devices: [pod1, pod2]
  kafka: {brokers: [%q], topic: fabric, group: fabric, partitions: 4, session_timeout: 1s}
`, h.LabFile, alertsAddr, broker))
	waitFor(t, sig.ch, "the fabric level owning the seed probe", func() bool { return h.Owns(fabric) })
	podCtl := map[string]*controller.Controller{}
	for _, pod := range []string{"pod1", "pod2"} {
		podCtl[pod], _ = h.StartController(t, pod, fmt.Sprintf(`topology: {file: %q, interface_names: node}
fanin:
  member_id: %s-ctl
  push_config: false
  kafka: {brokers: [%q], group: %s, partitions: 4, session_timeout: 1s}
upward:
  blueprint: fabric
  kafka: {brokers: [%q], topic: fabric}
`, h.PodFile(pod), pod, broker, pod, broker))
	}
	waitFor(t, sig.ch, "both pods owning the seed probe", func() bool { return h.Owns(podCtl["pod1"]) && h.Owns(podCtl["pod2"]) })

	agents := h.StartAgents(t, fmt.Sprintf("{type: kafka, address: %q, kafka: {topic: probeagent}}", broker))
	for k := range h.Ticks {
		bustest.Tick(t, agents, k)
		ref := h.Fleet.RefResults[h.ID][k]
		if math.IsNaN(ref) {
			continue
		}
		waitFor(t, sig.ch, fmt.Sprintf("tick %d's result (%v) at the fabric level", k, ref), func() bool {
			return h.MatchesReference(fabric, k)
		})
		h.CheckCentralAnomalies(t, fabric, k)
	}
	for pod, c := range podCtl {
		if s, ok := c.UpwardStats(); !ok || s.Sent == 0 || s.Dropped != 0 {
			t.Errorf("%s upward: %+v (%v)", pod, s, ok)
		}
	}
	h.CheckAlerts(t, alerts, stopFabric)
}
