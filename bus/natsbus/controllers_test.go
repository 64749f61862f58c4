package natsbus_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"math"
	"path/filepath"
	"testing"
	"time"

	"github.com/probe-agent/probe-agent/bus"
	"github.com/probe-agent/probe-agent/bus/bustest"
	"github.com/probe-agent/probe-agent/bus/natsbus"
	"github.com/probe-agent/probe-agent/controller"
	"github.com/probe-agent/probe-agent/probe"
)

// TestControllersThroughJetStream: two probe-controllers configured with
// fanin.nats (push_config false) on the containerlab example's fabric;
// the devices' records reach the one that owns the seed probe, whose
// central result follows the reference tick by tick; when that
// controller stops, the other takes the probe over and its result
// follows on.
func TestControllersThroughJetStream(t *testing.T) {
	ts := startServer(t, nil)
	lab, err := filepath.Abs("../../containerlab/fanin-nats")
	if err != nil {
		t.Fatal(err)
	}
	const id = "seed-server-imbalance"
	start := func(name string) (*controller.Controller, context.CancelFunc, chan struct{}) {
		dir := t.TempDir()
		yml := fmt.Sprintf(`blueprint_id: bp-test
topology: {file: %q, interface_names: node}
agents: {defaults: {insecure: true}}
state_dir: %q
probes_dir: %q
interval: 50ms
staleness: 60
fanin:
  member_id: %s
  push_config: false
  nats: {urls: [%q], lease_ttl: 1s}
`, filepath.Join(lab, "fanin-nats.clab.yml"), filepath.Join(dir, "state"), filepath.Join(lab, "probes.d"), name, ts.url())
		cfg, err := controller.ParseConfig([]byte(yml), name+".yaml")
		if err != nil {
			t.Fatal(err)
		}
		c, err := controller.New(cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{}) // closed when Run returns
		go func() {
			defer close(done)
			if err := c.Run(ctx); err != nil {
				t.Errorf("%s: Run: %v", name, err)
			}
		}()
		t.Cleanup(func() { cancel(); <-done })
		return c, cancel, done
	}
	a, stopA, doneA := start("ctl-a")
	b, stopB, doneB := start("ctl-b")
	var devices []string
	for _, p := range a.Probes() {
		if p.ID == id {
			devices = p.Devices
		}
	}
	if len(devices) == 0 {
		t.Fatalf("probe %s: no devices in %+v", id, a.Probes())
	}
	f, err := bustest.NewFleet(filepath.Join(lab, "probes.d", "seed_probe.json"), len(devices), []string{id}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(f.Devices) != fmt.Sprint(devices) {
		t.Fatalf("fleet devices %v, the controller's %v", f.Devices, devices)
	}
	f.Blueprint = "bp-test"
	ctx := context.Background()
	pubs := map[string]*bus.Publisher{}
	for _, dev := range devices {
		p, err := natsbus.NewPublisher(ctx, ts.config(), bus.QueueOptions{})
		if err != nil {
			t.Fatal(err)
		}
		pubs[dev] = p
		t.Cleanup(func() { _ = p.Close(context.Background()) })
	}
	sig := newSignal()
	owner := func() *controller.Controller {
		for _, c := range []*controller.Controller{a, b} {
			if m := c.FanInMember(); m != nil && m.Owns(id) {
				return c
			}
		}
		return nil
	}
	// result reads the owner's current central result.
	result := func(c *controller.Controller) (float64, bool) {
		var v float64
		var ok bool
		c.FanInMember().Inspect(id, func(inst *probe.Instance, st bus.ProbeStatus) {
			if !st.Skipped && len(st.Fresh) == len(devices) {
				v, ok = bustest.Result(inst)
			}
		})
		return v, ok
	}
	sig.waitFor(t, 20*time.Second, "an owner", func() bool { return owner() != nil })
	tick := func(k int, rate bustest.Rate) {
		t.Helper()
		recs, err := f.Tick(rate)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range recs {
			if err := pubs[r.Device()].Publish(r); err != nil {
				t.Fatal(err)
			}
		}
		ref := f.RefResults[id][k]
		if math.IsNaN(ref) {
			return // no rates yet: nothing to compare
		}
		sig.waitFor(t, 20*time.Second, fmt.Sprintf("tick %d's result (%v) at the owner", k, ref), func() bool {
			c := owner()
			if c == nil {
				return false
			}
			v, ok := result(c)
			return ok && v == ref
		})
	}
	// anomalies counts the central anomalies of the probe the owner's
	// REST API shows.
	anomalies := func(c *controller.Controller) int {
		n := 0
		for _, a := range c.Anomalies() {
			if a.Probe == id && a.Origin == "central" {
				n++
			}
		}
		return n
	}
	for k := range 4 {
		rate := bustest.Balanced
		if k >= 2 {
			rate = bustest.Heavy("leaf2", 3)
		}
		tick(k, rate)
	}
	if c := owner(); anomalies(c) != 1 || len(c.CentralStatuses()) != 1 || c.CentralStatuses()[0].Probe != id {
		t.Fatalf("owner during the load: %d anomalies, statuses %+v", anomalies(c), c.CentralStatuses())
	}
	// Stop the owner (a clean stop: it releases its lease); the other
	// takes the probe over and continues from the log.
	first, other := a, b
	if owner() == a {
		stopA()
		<-doneA
	} else {
		first, other = b, a
		stopB()
		<-doneB
	}
	_ = first
	sig.waitFor(t, 20*time.Second, "the other controller to take the probe over", func() bool { return owner() == other })
	for k := 4; k < 7; k++ {
		rate := bustest.Heavy("leaf2", 3)
		if k >= 5 {
			rate = bustest.Balanced
		}
		tick(k, rate)
		if want := map[bool]int{true: 1, false: 0}[k < 5]; anomalies(other) != want {
			t.Fatalf("tick %d: the new owner shows %d anomalies, want %d", k, anomalies(other), want)
		}
	}
}
