package kafkabus_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/probe-agent/probe-agent/bus/kafkabus"
	"github.com/probe-agent/probe-agent/controller"
)

// TestControllerFanInKafka: two probe-controllers configured with
// fanin.kafka (the configuration file's path: topics created, checkpoint
// reader, consumer group, the fabric's probes as the member's) share the
// containerlab example's seed probe: exactly one owns it; when that one
// stops, the other takes it. Waits wake on every request the cluster
// answers.
func TestControllerFanInKafka(t *testing.T) {
	sig := newSignal()
	c := newCluster(t)
	c.Fault(kfake.Fault{Count: -1, Observe: true, When: func(kmsg.Request) bool { sig.poke(); return true }})
	topo, err := filepath.Abs("../../containerlab/fanin-nats/fanin-nats.clab.yml")
	if err != nil {
		t.Fatal(err)
	}
	seed, err := os.ReadFile("../../containerlab/fanin-nats/probes.d/seed_probe.json")
	if err != nil {
		t.Fatal(err)
	}
	type ctl struct {
		c      *controller.Controller
		cancel context.CancelFunc
		done   chan error
	}
	start := func(name string) *ctl {
		yml := fmt.Sprintf("blueprint_id: fanin-kafka\ntopology: {file: %q, interface_names: node}\nagents: {defaults: {insecure: true}}\nstate_dir: %q\ninterval: 1s\nstaleness: 3\nfanin:\n  member_id: %s\n  push_config: false\n  kafka: {brokers: [%q], partitions: 4, session_timeout: 1s}\n",
			topo, t.TempDir(), name, c.ListenAddrs()[0])
		cfg, err := controller.ParseConfig([]byte(yml), name+".yaml")
		if err != nil {
			t.Fatal(err)
		}
		ctr, err := controller.New(cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := ctr.SetProbes([][]byte{seed}); err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		x := &ctl{c: ctr, cancel: cancel, done: make(chan error, 1)}
		go func() { x.done <- ctr.Run(ctx) }()
		t.Cleanup(func() {
			if x.cancel != nil {
				x.cancel()
				<-x.done
			}
		})
		return x
	}
	owns := func(x *ctl) bool {
		m := x.c.FanInMember()
		return m != nil && slices.Contains(m.Owned(), "seed-server-imbalance")
	}
	a := start("ctl1")
	waitFor(t, sig.ch, "ctl1 to own the seed probe", func() bool { return owns(a) })
	admin, err := kafkabus.AdminClient(kafkabus.Config{Brokers: c.ListenAddrs()})
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close()
	// stable: the group has settled with two members, each assigned
	// partitions.
	stable := func() bool {
		req := kmsg.NewPtrDescribeGroupsRequest()
		req.Groups = []string{kafkabus.DefaultGroupOf("fanin-kafka")}
		resp, err := req.RequestWith(context.Background(), admin)
		if err != nil || len(resp.Groups) != 1 {
			return false
		}
		g := resp.Groups[0]
		if g.State != "Stable" || len(g.Members) != 2 {
			return false
		}
		for _, m := range g.Members {
			var as kmsg.ConsumerMemberAssignment
			if as.ReadFrom(m.MemberAssignment) != nil || len(as.Topics) == 0 || len(as.Topics[0].Partitions) == 0 {
				return false
			}
		}
		return true
	}
	b := start("ctl2")
	waitFor(t, sig.ch, "both members in the group with partitions, one owning the probe", func() bool {
		return stable() && owns(a) != owns(b)
	})
	owner, other := a, b
	if owns(b) {
		owner, other = b, a
	}
	for _, topic := range []string{"probeagent", kafkabus.CheckpointTopic("probeagent")} {
		if _, err := kafkabus.EndOffset(context.Background(), admin, topic, 0); err != nil {
			t.Errorf("topic %s: %v", topic, err)
		}
	}
	owner.cancel()
	if err := <-owner.done; err != nil {
		t.Fatalf("run: %v", err)
	}
	owner.cancel = nil
	waitFor(t, sig.ch, "the other controller to take the probe", func() bool { return owns(other) })
}
