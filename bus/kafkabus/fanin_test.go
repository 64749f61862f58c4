package kafkabus_test

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/probe-agent/probe-agent/bus"
	"github.com/probe-agent/probe-agent/bus/bustest"
	"github.com/probe-agent/probe-agent/bus/kafkabus"
)

const seedFile = "../../cmd/probectl/testdata/seed_probe.json"

// clock is the fleet's time, shared by the inputs (ownership starts) and
// the test's ticks.
type clock struct{ ns atomic.Int64 }

func (c *clock) set(t time.Time)    { c.ns.Store(t.UnixNano()) }
func (c *clock) now() time.Time     { return time.Unix(0, c.ns.Load()).UTC() }
func at(k int) time.Time            { return bustest.T0.Add(time.Duration(k) * time.Second) }
func tickOf(t time.Time) int        { return int(t.Sub(bustest.T0) / time.Second) }
func probeIDs(n int) (ids []string) { return probeIDsFrom(0, n) }
func probeIDsFrom(from, n int) (ids []string) {
	for i := range n {
		ids = append(ids, fmt.Sprintf("probe-%02d", from+i+1))
	}
	return ids
}

// evaluator is one central evaluator: a bus.Member fed by an Input.
type evaluator struct {
	name   string
	m      *bus.Member
	in     *kafkabus.Input
	cp     *kafkabus.Checkpoint
	cut    *cutter
	cancel context.CancelFunc
	done   chan error
	once   sync.Once
	dead   bool
}

// results are what the live evaluators reported, per probe.
type results struct {
	mu    sync.Mutex
	trans map[string][]string        // bustest.Transition strings
	val   map[string]map[int]float64 // probe -> tick -> std_dev
	by    map[string]map[int]string  // probe -> tick -> evaluator
	items map[string]map[int]int     // probe -> tick -> items merged
}

func newResults() *results {
	return &results{trans: map[string][]string{}, val: map[string]map[int]float64{}, by: map[string]map[int]string{}, items: map[string]map[int]int{}}
}

func (r *results) onTick(name string) func(*bus.TickResult) {
	return func(t *bus.TickResult) {
		r.mu.Lock()
		defer r.mu.Unlock()
		k := tickOf(t.Status.LastTick)
		for _, a := range t.Central {
			r.trans[t.Probe] = append(r.trans[t.Probe], bustest.Transition(k, a.Raised, a.Stage, a.ItemID))
		}
		for _, a := range t.Cleared {
			r.trans[t.Probe] = append(r.trans[t.Probe], bustest.Transition(k, false, a.Stage, a.ItemID))
		}
		if t.Status.Skipped {
			return
		}
		if r.val[t.Probe] == nil {
			r.val[t.Probe], r.by[t.Probe], r.items[t.Probe] = map[int]float64{}, map[int]string{}, map[int]int{}
		}
		if prev, ok := r.by[t.Probe][k]; ok {
			r.by[t.Probe][k] = prev + "+" + name // evaluated twice: a failure below
		} else {
			r.by[t.Probe][k] = name
		}
		if v, ok := bustest.Result(t.Inst); ok {
			r.val[t.Probe][k] = v
		}
		if st, ok := t.Inst.Stage("std_dev_output.partial"); ok {
			r.items[t.Probe][k] = st.Len()
		}
	}
}

// fanin is the scenario: a fleet of agents publishing through Kafka to
// central evaluators.
type fanin struct {
	t     testing.TB
	addrs []string
	cfg   kafkabus.Config
	fleet *bustest.Fleet
	clk   *clock
	sig   *signal
	res   *results
	pubs  map[string]*bus.Publisher
	evals []*evaluator
}

func newFanin(t testing.TB, devices int, ids []string, partitions int) *fanin {
	t.Helper()
	c := newCluster(t)
	f, err := bustest.NewFleet(seedFile, devices, ids, nil)
	if err != nil {
		t.Fatal(err)
	}
	cfg := kafkabus.Config{Brokers: c.ListenAddrs(), Prefix: "probeagent", Blueprint: f.Blueprint, Partitions: partitions, Group: "central",
		SessionTimeout: 500 * time.Millisecond, HeartbeatInterval: 50 * time.Millisecond, CommitInterval: 100 * time.Millisecond, Log: quiet}
	admin, err := kafkabus.AdminClient(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := kafkabus.EnsureTopics(context.Background(), admin, cfg); err != nil {
		t.Fatal(err)
	}
	admin.Close()
	fi := &fanin{t: t, addrs: c.ListenAddrs(), cfg: cfg, fleet: f, clk: &clock{}, sig: newSignal(), res: newResults(), pubs: map[string]*bus.Publisher{}}
	fi.clk.set(at(0))
	for _, d := range f.Devices {
		pc := cfg
		pc.ClientID = d
		sink, err := kafkabus.NewSink(pc)
		if err != nil {
			t.Fatal(err)
		}
		fi.pubs[d] = bus.NewPublisher(sink, bus.QueueOptions{}, quiet)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		for d, p := range fi.pubs {
			if err := p.Close(ctx); err != nil {
				t.Errorf("%s: publisher: %v (%+v)", d, err, p.Stats())
			}
		}
	})
	return fi
}

// start joins a central evaluator to the group.
func (fi *fanin) start(name string) *evaluator {
	t := fi.t
	ev := &evaluator{name: name, cut: &cutter{}, done: make(chan error, 1)}
	cfg := fi.cfg
	cfg.ClientID, cfg.Dialer = name, ev.cut.dial
	var err error
	if ev.cp, err = kafkabus.NewCheckpoint(cfg); err != nil {
		t.Fatal(err)
	}
	ev.m = bus.NewMember(fi.fleet, ev.cp, bus.MemberOptions{StaleAfter: 3 * time.Second, OnTick: fi.res.onTick(name),
		OnRecord: func(string, string, uint64) { fi.sig.poke() }, Log: quiet})
	ev.in, err = kafkabus.NewInput(cfg, kafkabus.InputOptions{Probes: func() []string { return fi.fleet.Probes }, Now: fi.clk.now,
		Stamp:      func(r *bus.Record, _ time.Time) time.Time { return r.Batch.GetTime().AsTime() },
		OnAssigned: func([]int32) { fi.sig.poke() }, OnRevoked: func([]int32) { fi.sig.poke() }, OnCommitted: fi.sig.poke})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	ev.cancel = cancel
	go func() { ev.done <- ev.in.Run(ctx, ev.m) }()
	fi.evals = append(fi.evals, ev)
	t.Cleanup(func() {
		if !ev.dead {
			ev.stop()
		}
	})
	return ev
}

// stop ends an evaluator cleanly (revoke, commit, leave) and waits.
func (ev *evaluator) stop() {
	ev.once.Do(func() {
		ev.cancel()
		if err := <-ev.done; err != nil {
			panic(fmt.Sprintf("%s: input: %v", ev.name, err))
		}
		ev.cp.Close()
	})
}

// crash kills an evaluator's connections for good: no commit, no leave.
// Its goroutines are stopped without waiting: its clients, unable to
// reach the broker, give up on their own.
func (fi *fanin) crash(ev *evaluator) {
	ev.cut.kill()
	ev.dead = true
	fi.drop(ev)
	go func() {
		ev.cancel()
		<-ev.done
		ev.cp.Close()
	}()
}

func (fi *fanin) drop(ev *evaluator) {
	for i, e := range fi.evals {
		if e == ev {
			fi.evals = append(fi.evals[:i], fi.evals[i+1:]...)
			return
		}
	}
}

// publish sends one tick's records from each device's publisher and
// returns the batch number each device's records carry.
func (fi *fanin) publish(recs []*bus.Record) map[string]uint64 {
	seqs := map[string]uint64{}
	for _, r := range recs {
		if len(r.Batch.GetUpdates()) > 0 {
			seqs[r.Device()] = r.Batch.GetSeq()
		}
		if err := fi.pubs[r.Device()].Publish(r); err != nil {
			fi.t.Fatal(err)
		}
	}
	return seqs
}

// ready: every probe is owned by exactly one live evaluator, which has
// each device's record of this tick waiting.
func (fi *fanin) ready(seqs map[string]uint64) bool {
	for _, id := range fi.fleet.Probes {
		var owner *evaluator
		for _, ev := range fi.evals {
			if ev.m.Owns(id) {
				if owner != nil {
					return false
				}
				owner = ev
			}
		}
		if owner == nil {
			return false
		}
		pend := owner.m.Pending(id)
		for dev, seq := range seqs {
			if pend[dev] != seq {
				return false
			}
		}
	}
	return true
}

func (fi *fanin) tick(k int) {
	for _, ev := range fi.evals {
		if err := ev.m.Tick(context.Background(), at(k)); err != nil {
			fi.t.Fatalf("%s: tick %d: %v", ev.name, k, err)
		}
	}
}

func (fi *fanin) owned(ev *evaluator) []string { return ev.m.Owned() }

// TestFanInTakeover: 8 agents -> Kafka -> 2 central evaluators. The
// results and anomaly transitions equal one controller's (the fleet's
// reference, fed every partial directly); one evaluator goes away in the
// middle of a raised anomaly, after taking its probes' records of a tick
// and before merging them, by crashing or by leaving the group; the other
// takes its probes over and evaluates that very tick from the log (its
// records were not committed), does not raise the anomaly again, clears
// it when the traffic is balanced, and every tick of every probe is
// evaluated by exactly one evaluator from every device's partial.
func TestFanInTakeover(t *testing.T) {
	for _, tc := range []struct {
		name  string
		crash bool
	}{{"crash", true}, {"leave", false}} {
		t.Run(tc.name, func(t *testing.T) {
			const devices, kill = 8, 4
			ids := probeIDs(8)
			fi := newFanin(t, devices, ids, 4)
			a, b := fi.start("a"), fi.start("b")
			waitFor(t, fi.sig.ch, "the probes shared out", func() bool {
				return len(a.in.Partitions()) == 2 && len(b.in.Partitions()) == 2 && len(fi.owned(a))+len(fi.owned(b)) == len(ids)
			})
			if len(fi.owned(a)) == 0 || len(fi.owned(b)) == 0 {
				t.Fatalf("a owns %v, b %v: the probe ids do not cover the partitions", fi.owned(a), fi.owned(b))
			}
			rates := []bustest.Rate{bustest.Balanced, bustest.Balanced, bustest.Heavy("leaf2", 5), bustest.Heavy("leaf2", 5),
				bustest.Heavy("leaf2", 5), bustest.Heavy("leaf2", 5), bustest.Balanced, bustest.Balanced, bustest.Balanced}
			var failover time.Duration
			ref := map[string]map[int]float64{}
			for _, id := range ids {
				ref[id] = map[int]float64{}
			}
			for k, rate := range rates {
				fi.clk.set(at(k))
				recs, err := fi.fleet.Tick(rate)
				if err != nil {
					t.Fatal(err)
				}
				seqs := fi.publish(recs)
				waitFor(t, fi.sig.ch, fmt.Sprintf("tick %d's records at their owners", k), func() bool { return fi.ready(seqs) })
				if k == kill {
					start := time.Now()
					if tc.crash {
						fi.crash(a)
					} else {
						a.stop()
						fi.drop(a)
					}
					waitFor(t, fi.sig.ch, "b to take every probe over with tick 4's records", func() bool {
						return len(fi.owned(b)) == len(ids) && fi.ready(seqs)
					})
					failover = time.Since(start)
				}
				fi.tick(k)
				for _, id := range ids {
					if v, ok := fi.fleet.RefResult(id); ok {
						ref[id][k] = v
					}
				}
			}
			t.Logf("failover (%s): %v", tc.name, failover)
			fi.res.mu.Lock()
			defer fi.res.mu.Unlock()
			for _, id := range ids {
				if got, want := bustest.Summary(fi.res.trans[id]), bustest.Summary(fi.fleet.RefTransitions[id]); got != want || want == "" {
					t.Errorf("%s: transitions:\n%s\nreference (one controller):\n%s", id, got, want)
				}
				for k := 1; k < len(rates); k++ {
					who := fi.res.by[id][k]
					if who == "" || len(who) > 1 {
						t.Errorf("%s: tick %d evaluated by %q, want exactly one evaluator", id, k, who)
					}
					if k >= kill && who != "b" {
						t.Errorf("%s: tick %d evaluated by %q after a went away, want b", id, k, who)
					}
					if got, want := fi.res.val[id][k], ref[id][k]; got != want {
						t.Errorf("%s: tick %d: std_dev %v, one controller's %v", id, k, got, want)
					}
					if n := fi.res.items[id][k]; n != devices {
						t.Errorf("%s: tick %d merged %d items, want %d (each device's partial once)", id, k, n, devices)
					}
				}
			}
		})
	}
}

// TestCommitFollowsTick: a partition's committed offset is its first
// record no finished tick acknowledged, committed as soon as a tick
// finishes (the periodic commit is an hour away here): records taken and
// not yet merged are not committed, a tick's are right after it.
func TestCommitFollowsTick(t *testing.T) {
	ids := probeIDs(4)
	fi := newFanin(t, 4, ids, 2)
	fi.cfg.CommitInterval = time.Hour
	ev := fi.start("a")
	waitFor(t, fi.sig.ch, "ownership", func() bool { return len(ev.m.Owned()) == len(ids) })
	admin, err := kafkabus.AdminClient(fi.cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close()
	ends := func() map[int32]int64 {
		out := map[int32]int64{}
		for p := range int32(2) {
			end, err := kafkabus.EndOffset(context.Background(), admin, "probeagent", p)
			if err != nil {
				t.Fatal(err)
			}
			out[p] = end
		}
		return out
	}
	for k := range 4 {
		fi.clk.set(at(k))
		recs, err := fi.fleet.Tick(bustest.Balanced)
		if err != nil {
			t.Fatal(err)
		}
		before := ev.in.Committed()
		seqs := fi.publish(recs)
		waitFor(t, fi.sig.ch, "records", func() bool { return fi.ready(seqs) })
		end := ends()
		if got := ev.in.Committed(); len(seqs) > 0 && fmt.Sprint(got) != fmt.Sprint(before) {
			t.Fatalf("tick %d: committed %v before the tick merged anything, was %v", k, got, before)
		}
		fi.tick(k)
		waitFor(t, fi.sig.ch, fmt.Sprintf("tick %d's commit", k), func() bool {
			got := ev.in.Committed()
			for p, e := range end {
				if e > 0 && got[p] != e {
					return false
				}
			}
			return true
		})
	}
}

// TestInputWaitsForTopics: a member started before the topics exist
// (create_topics off: an operator makes them) waits for them, then joins
// and takes its probes.
func TestInputWaitsForTopics(t *testing.T) {
	c := newCluster(t)
	asked := make(chan struct{}, 1)
	c.Fault(kfake.Fault{Keys: []kmsg.Key{kmsg.Metadata}, Count: -1, Observe: true, When: func(kmsg.Request) bool {
		select {
		case asked <- struct{}{}:
		default:
		}
		return true
	}})
	f, err := bustest.NewFleet(seedFile, 2, probeIDs(2), nil)
	if err != nil {
		t.Fatal(err)
	}
	cfg := kafkabus.Config{Brokers: c.ListenAddrs(), Partitions: 2, Blueprint: f.Blueprint, Log: quiet}
	sig := newSignal()
	in, err := kafkabus.NewInput(cfg, kafkabus.InputOptions{Probes: func() []string { return f.Probes }, OnAssigned: func([]int32) { sig.poke() }})
	if err != nil {
		t.Fatal(err)
	}
	// The input is the only client before the topics exist (the
	// checkpoint is not what this is about).
	m := bus.NewMember(f, &bus.MemCheckpoint{}, bus.MemberOptions{Log: quiet})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- in.Run(ctx, m) }()
	defer func() { cancel(); <-done }()
	<-asked // the input looked for the topic, which is not there
	if len(m.Owned()) != 0 {
		t.Fatalf("owns %v before the topics exist", m.Owned())
	}
	if err := kafkabus.CreateTopics(context.Background(), cfg); err != nil {
		t.Fatal(err)
	}
	waitFor(t, sig.ch, "the probes after the topics were made", func() bool { return len(m.Owned()) == len(f.Probes) })
}
