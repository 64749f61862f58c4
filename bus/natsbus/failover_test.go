package natsbus_test

import (
	"context"
	"fmt"
	"github.com/probe-agent/probe-agent/bus/natsbus"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/probe-agent/probe-agent/bus"
	"github.com/probe-agent/probe-agent/bus/bustest"
)

const seedFile = "../../cmd/probectl/testdata/seed_probe.json"

// signal wakes waiters whenever anything they may be waiting on changed.
type signal struct{ c chan struct{} }

func newSignal() *signal { return &signal{c: make(chan struct{}, 1)} }
func (s *signal) notify() {
	select {
	case s.c <- struct{}{}:
	default:
	}
}

// waitFor waits until cond holds, re-checking at every notification, for
// at most timeout (a deadline for a broken run, not a measurement).
func (s *signal) waitFor(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	// Lease rounds and consumer deliveries happen on their own
	// goroutines; the ticker bounds how long a missed notification can
	// delay a re-check (it decides nothing).
	recheck := time.NewTicker(50 * time.Millisecond)
	defer recheck.Stop()
	for !cond() {
		select {
		case <-s.c:
		case <-recheck.C:
		case <-deadline.C:
			t.Fatalf("timed out waiting for %s", what)
		}
	}
}

// evaluator is one central evaluator: its connection, input and member.
type evaluator struct {
	name   string
	nc     *nats.Conn
	in     *natsbus.Input
	m      *bus.Member
	cancel context.CancelFunc
	done   chan struct{}
}

// outcome collects what the evaluators report, per probe.
type outcome struct {
	mu          sync.Mutex
	tick        int                 // the fleet tick being evaluated
	transitions map[string][]string // bustest.Transition
	results     map[string]map[int]float64
	by          map[string]map[int]string // which evaluator evaluated probe at tick
	fresh       map[string]map[int]int
}

func newOutcome() *outcome {
	return &outcome{transitions: map[string][]string{}, results: map[string]map[int]float64{}, by: map[string]map[int]string{}, fresh: map[string]map[int]int{}}
}

func (o *outcome) onTick(name string) func(*bus.TickResult) {
	return func(r *bus.TickResult) {
		o.mu.Lock()
		defer o.mu.Unlock()
		for _, a := range r.Central {
			o.transitions[r.Probe] = append(o.transitions[r.Probe], bustest.Transition(o.tick, a.Raised, a.Stage, a.ItemID))
		}
		for _, a := range r.Cleared {
			o.transitions[r.Probe] = append(o.transitions[r.Probe], bustest.Transition(o.tick, false, a.Stage, a.ItemID))
		}
		if r.Status.Skipped {
			return
		}
		if o.results[r.Probe] == nil {
			o.results[r.Probe], o.by[r.Probe], o.fresh[r.Probe] = map[int]float64{}, map[int]string{}, map[int]int{}
		}
		if v, ok := bustest.Result(r.Inst); ok {
			o.results[r.Probe][o.tick] = v
		}
		o.by[r.Probe][o.tick] = name
		o.fresh[r.Probe][o.tick] = len(r.Status.Fresh)
	}
}

func startEvaluator(t *testing.T, ts *testServer, name string, f *bustest.Fleet, out *outcome, sig *signal, staleAfter time.Duration) *evaluator {
	t.Helper()
	nc, err := natsbus.Connect(ts.config())
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	ic := natsbus.InputConfig{Config: ts.config(), MemberID: name, LeaseTTL: time.Second, AckWait: 10 * time.Second,
		Probes:   func() []string { return f.Probes },
		OnAssign: func(string) { sig.notify() }, OnRevoke: func(string) { sig.notify() }}
	in, err := natsbus.NewInput(ctx, nc, ic)
	if err != nil {
		t.Fatal(err)
	}
	m := bus.NewMember(f, in.Checkpoint(), bus.MemberOptions{StaleAfter: staleAfter, OnTick: out.onTick(name), Log: quiet,
		OnRecord: func(string, string, uint64) { sig.notify() }})
	e := &evaluator{name: name, nc: nc, in: in, m: m, cancel: cancel, done: make(chan struct{})}
	go func() { defer close(e.done); _ = in.Run(ctx, m) }()
	t.Cleanup(func() { e.cancel(); <-e.done; e.nc.Close() })
	return e
}

// kill closes the evaluator's connection abruptly: no lease is released,
// nothing is acknowledged any more; its leases expire on the server.
func (e *evaluator) kill() {
	e.nc.Close()
	e.cancel()
	<-e.done
}

// evaluatorNames picks two member ids that rendezvous hashing gives two
// probes each (a split the test can see move).
func evaluatorNames(probes []string) (string, string) {
	for i := 0; ; i++ {
		a, b := fmt.Sprintf("evaluator-a%d", i), fmt.Sprintf("evaluator-b%d", i)
		n := 0
		for _, p := range probes {
			if natsbus.Owner([]string{a, b}, p) == a {
				n++
			}
		}
		if n == len(probes)/2 {
			return a, b
		}
	}
}

// TestFailover: 8 devices publish the seed probe's partials (4 copies of
// it, 3 of which raise an anomaly while leaf2 is heavy) to JetStream; 2
// evaluators share the probes. Every tick's result equals the reference
// (one central part fed with every partial directly: what a single
// controller computes). One evaluator is killed mid-anomaly: the other
// takes its probes over from the leases and the log, its first evaluation
// merges all 8 devices' records written before the kill (still within the
// staleness bound), raises nothing again, and clears each anomaly exactly
// once when the load ends; the stream holds each record once.
func TestFailover(t *testing.T) {
	ts := startServer(t, nil)
	probes := []string{"p1", "p2", "p3", "p4"}
	f, err := bustest.NewFleet(seedFile, 8, probes, []float64{100, 100, 100, 1e12})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	pubs := map[string]*bus.Publisher{}
	for _, dev := range f.Devices {
		c := ts.config()
		c.Name = dev
		p, err := natsbus.NewPublisher(ctx, c, bus.QueueOptions{})
		if err != nil {
			t.Fatal(err)
		}
		pubs[dev] = p
		t.Cleanup(func() { _ = p.Close(context.Background()) })
	}
	out, sig := newOutcome(), newSignal()
	const staleAfter = 10 * time.Second
	na, nb := evaluatorNames(probes)
	a := startEvaluator(t, ts, na, f, out, sig, staleAfter)
	b := startEvaluator(t, ts, nb, f, out, sig, staleAfter)
	owner := func(p string) *evaluator {
		switch {
		case a.m.Owns(p) && !b.m.Owns(p):
			return a
		case b.m.Owns(p) && !a.m.Owns(p):
			return b
		}
		return nil
	}
	sig.waitFor(t, 20*time.Second, "the probes split two and two", func() bool {
		for _, p := range probes {
			if o := owner(p); o == nil || o.name != natsbus.Owner([]string{na, nb}, p) {
				return false
			}
		}
		return true
	})
	alive := []*evaluator{a, b}
	// received waits until p's owner has every device's record of this tick.
	received := func(p string, seq map[string]uint64) bool {
		o := owner(p)
		if o == nil {
			return false
		}
		got := o.m.Pending(p)
		for dev, s := range seq {
			if got[dev] != s {
				return false
			}
		}
		return true
	}
	published := 0
	runTick := func(k int, rate bustest.Rate) {
		t.Helper()
		recs, err := f.Tick(rate)
		if err != nil {
			t.Fatal(err)
		}
		seq := map[string]map[string]uint64{}
		for _, r := range recs {
			if seq[r.Probe] == nil {
				seq[r.Probe] = map[string]uint64{}
			}
			seq[r.Probe][r.Device()] = r.Batch.GetSeq()
			if err := pubs[r.Device()].Publish(r); err != nil {
				t.Fatal(err)
			}
			published++
		}
		for _, p := range probes {
			sig.waitFor(t, 20*time.Second, fmt.Sprintf("tick %d of %s at its owner", k, p), func() bool { return received(p, seq[p]) })
		}
		out.mu.Lock()
		out.tick = k
		out.mu.Unlock()
		for _, e := range alive {
			if err := e.m.Tick(ctx, time.Now()); err != nil {
				t.Fatal(err)
			}
		}
		for _, p := range probes {
			ref, ok := f.RefResult(p)
			out.mu.Lock()
			got, have := out.results[p][k]
			out.mu.Unlock()
			if ok != have || got != ref {
				t.Fatalf("tick %d, %s: result %v (%v), reference %v (%v)", k, p, got, have, ref, ok)
			}
		}
	}
	heavy := bustest.Heavy("leaf2", 5)
	k := 0
	for ; k < 6; k++ {
		rate := bustest.Balanced
		if k >= 3 {
			rate = heavy
		}
		runTick(k, rate)
	}
	// Tick 5 was evaluated and anomalies are raised. Kill a.
	var took []string
	for _, p := range probes {
		if owner(p) == a {
			took = append(took, p)
		}
	}
	killed := time.Now()
	a.kill()
	alive = []*evaluator{b}
	sig.waitFor(t, 20*time.Second, "b to own every probe", func() bool {
		for _, p := range probes {
			if !b.m.Owns(p) {
				return false
			}
		}
		return true
	})
	failover := time.Since(killed)
	t.Logf("failover: b owned a's probes %v %s after a's connection closed (lease TTL 1s)", took, failover.Round(time.Millisecond))
	// b was given each device's last record of a's probes again (tick 5's).
	for _, p := range took {
		sig.waitFor(t, 20*time.Second, "b to read the log of "+p, func() bool { return len(b.m.Pending(p)) == len(f.Devices) })
	}
	// b evaluates tick 5 again: for a's probes, its first evaluation.
	out.mu.Lock()
	out.tick = 5
	before := map[string]int{}
	for _, p := range probes {
		before[p] = len(out.transitions[p])
	}
	out.mu.Unlock()
	if err := b.m.Tick(ctx, time.Now()); err != nil {
		t.Fatal(err)
	}
	out.mu.Lock()
	for _, p := range took {
		ref, _ := f.RefResult(p)
		if out.by[p][5] != b.name || out.fresh[p][5] != len(f.Devices) || out.results[p][5] != ref {
			t.Errorf("%s after the takeover: evaluated by %s with %d fresh devices, result %v; want %s, %d, %v",
				p, out.by[p][5], out.fresh[p][5], out.results[p][5], b.name, len(f.Devices), ref)
		}
	}
	for _, p := range probes {
		if n := len(out.transitions[p]); n != before[p] {
			t.Errorf("%s: the takeover reported %v", p, out.transitions[p][before[p]:])
		}
	}
	out.mu.Unlock()
	for ; k < 10; k++ {
		rate := bustest.Balanced
		if k < 8 {
			rate = heavy
		}
		runTick(k, rate)
	}
	for _, p := range probes {
		got, want := bustest.Summary(out.transitions[p]), bustest.Summary(f.RefTransitions[p])
		if got != want {
			t.Errorf("%s: transitions\n%s\nreference\n%s", p, got, want)
		}
		if p != "p4" && len(f.RefTransitions[p]) != 2 {
			t.Errorf("%s: reference transitions %v, want a raise and a clear", p, f.RefTransitions[p])
		}
	}
	// Each record once in the stream: nothing the publishers retried or
	// the takeover read again was stored twice.
	info := streamInfo(t, ts)
	if info.State.Msgs != uint64(published) {
		t.Errorf("stream holds %d records, %d were published", info.State.Msgs, published)
	}
}

func streamInfo(t *testing.T, ts *testServer) *jetstream.StreamInfo {
	t.Helper()
	nc, err := nats.Connect(ts.url())
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, _ := jetstream.New(nc)
	s, err := js.Stream(context.Background(), natsbus.DefaultStream)
	if err != nil {
		t.Fatal(err)
	}
	info, err := s.Info(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return info
}
