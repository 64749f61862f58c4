package natsbus_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"math"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/probe-agent/probe-agent/agent"
	"github.com/probe-agent/probe-agent/bus"
	"github.com/probe-agent/probe-agent/bus/bustest"
	"github.com/probe-agent/probe-agent/bus/natsbus"
	"github.com/probe-agent/probe-agent/collectors"
)

// scripted is a collector returning given counters, one batch per Collect.
type scripted struct {
	batches []collectors.Batch
	next    int
}

func (s *scripted) Collect(_ context.Context, b *collectors.Batch) error {
	if s.next >= len(s.batches) {
		return fmt.Errorf("no more batches")
	}
	src := s.batches[s.next]
	s.next++
	b.Time, b.Layout = src.Time, src.Layout
	b.Interfaces = append(b.Interfaces[:0], src.Interfaces...)
	return nil
}

func (s *scripted) Close() error { return nil }

// TestAgentsThroughJetStream: 8 real agents (agent.New and Run, each with
// the seed probe's edge part as a controller pushes it and a streaming
// entry of type nats) publish to JetStream; an evaluator reading the
// stream merges every tick into the result a single central part fed
// directly computes, and raises and clears what it raises and clears.
func TestAgentsThroughJetStream(t *testing.T) {
	ts := startServer(t, nil)
	const ticks = 8
	f, err := bustest.NewFleet(seedFile, 8, []string{"seed"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	// The reference run first: the counters each agent will read.
	for k := range ticks {
		rate := bustest.Balanced
		if k >= 3 && k < 6 {
			rate = bustest.Heavy("leaf3", 4)
		}
		if _, err := f.Tick(rate); err != nil {
			t.Fatal(err)
		}
	}
	sig := newSignal()
	type runningAgent struct {
		ticks  chan time.Time
		ticked chan struct{}
		cancel context.CancelFunc
		done   chan error
	}
	var agents []*runningAgent
	for _, dev := range f.Devices {
		dir := t.TempDir()
		doc, err := f.EdgeDoc("seed", dev)
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
			dev, f.Blueprint, filepath.Join(dir, "probes"), filepath.Join(dir, "state"), portOf(ts.srv))
		cfg, err := agent.Parse([]byte(yml))
		if err != nil {
			t.Fatal(err)
		}
		ra := &runningAgent{ticks: make(chan time.Time), ticked: make(chan struct{}, ticks+1), done: make(chan error, 1)}
		a, err := agent.New(cfg, agent.Options{Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), Stdout: io.Discard,
			Collector: &scripted{batches: f.Counters[dev]}, Ticks: ra.ticks, OnTick: func() { ra.ticked <- struct{}{} }})
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		ra.cancel = cancel
		go func() { ra.done <- a.Run(ctx) }()
		t.Cleanup(func() { ra.cancel(); <-ra.done })
		agents = append(agents, ra)
	}
	nc, err := natsbus.Connect(ts.config())
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	ctx := context.Background()
	in, err := natsbus.NewInput(ctx, nc, natsbus.InputConfig{Config: ts.config(), MemberID: "only", LeaseTTL: time.Second,
		Probes: func() []string { return f.Probes }, OnAssign: func(string) { sig.notify() }})
	if err != nil {
		t.Fatal(err)
	}
	var transitions []string
	tick := 0
	results := map[int]float64{}
	m := bus.NewMember(f, in.Checkpoint(), bus.MemberOptions{StaleAfter: time.Minute, Log: quiet,
		OnRecord: func(string, string, uint64) { sig.notify() },
		OnTick: func(r *bus.TickResult) {
			for _, a := range r.Central {
				transitions = append(transitions, bustest.Transition(tick, a.Raised, a.Stage, a.ItemID))
			}
			if v, ok := bustest.Result(r.Inst); ok && !r.Status.Skipped {
				results[tick] = v
			}
		}})
	rctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() { _ = in.Run(rctx, m) }()
	sig.waitFor(t, 20*time.Second, "the probe owned", func() bool { return m.Owns("seed") })
	for k := range ticks {
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
		sig.waitFor(t, 20*time.Second, fmt.Sprintf("tick %d from every agent", k), func() bool {
			p := m.Pending("seed")
			if len(p) != len(f.Devices) {
				return false
			}
			for _, s := range p {
				if s != uint64(k+1) {
					return false
				}
			}
			return true
		})
		tick = k
		if err := m.Tick(ctx, time.Now()); err != nil {
			t.Fatal(err)
		}
		ref := f.RefResults["seed"][k]
		got, ok := results[k]
		if math.IsNaN(ref) != !ok || ok && got != ref {
			t.Fatalf("tick %d: result %v (%v), reference %v", k, got, ok, ref)
		}
	}
	if got, want := bustest.Summary(transitions), bustest.Summary(f.RefTransitions["seed"]); got != want || len(f.RefTransitions["seed"]) != 2 {
		t.Fatalf("transitions:\n%s\nreference:\n%s", got, want)
	}
}
