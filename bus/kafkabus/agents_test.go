package kafkabus_test

import (
	"context"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/probe-agent/probe-agent/agent"
	"github.com/probe-agent/probe-agent/bus"
	"github.com/probe-agent/probe-agent/bus/bustest"
	"github.com/probe-agent/probe-agent/bus/kafkabus"
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

// TestAgentsThroughKafka: 8 real agents (agent.New and Run, each with the
// seed probe's edge part as a controller pushes it and a streaming entry
// of type kafka, as a configuration file sets it) produce to Kafka; an
// evaluator in the consumer group merges every tick into the result a
// single central part fed directly computes, and raises and clears what
// it raises and clears.
func TestAgentsThroughKafka(t *testing.T) {
	c := newCluster(t)
	const ticks = 8
	f, err := bustest.NewFleet(seedFile, 8, []string{"seed"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	cfg := kafkabus.Config{Brokers: c.ListenAddrs(), Partitions: 4, Blueprint: f.Blueprint, SessionTimeout: time.Second, Log: quiet}
	if err := kafkabus.CreateTopics(context.Background(), cfg); err != nil {
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
		yml := fmt.Sprintf("system_id: %s\nblueprint_id: %s\ninterval: 1s\ncollector: {type: replay, replay: {file: unused.jsonl}}\nprobes_dir: %s\nstate_dir: %s\nshutdown_timeout: 5s\nstreaming:\n  - {type: kafka, address: %q, kafka: {topic: probeagent}}\n",
			dev, f.Blueprint, filepath.Join(dir, "probes"), filepath.Join(dir, "state"), c.ListenAddrs()[0])
		acfg, err := agent.Parse([]byte(yml))
		if err != nil {
			t.Fatal(err)
		}
		ra := &runningAgent{ticks: make(chan time.Time), ticked: make(chan struct{}, ticks+1), done: make(chan error, 1)}
		a, err := agent.New(acfg, agent.Options{Logger: quiet, Stdout: io.Discard,
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
	cp, err := kafkabus.NewCheckpoint(cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer cp.Close()
	in, err := kafkabus.NewInput(cfg, kafkabus.InputOptions{Probes: func() []string { return f.Probes }, OnAssigned: func([]int32) { sig.poke() }})
	if err != nil {
		t.Fatal(err)
	}
	var transitions []string
	tick := 0
	results := map[int]float64{}
	m := bus.NewMember(f, cp, bus.MemberOptions{StaleAfter: time.Minute, Log: quiet,
		OnRecord: func(string, string, uint64) { sig.poke() },
		OnTick: func(r *bus.TickResult) {
			for _, a := range r.Central {
				transitions = append(transitions, bustest.Transition(tick, a.Raised, a.Stage, a.ItemID))
			}
			if v, ok := bustest.Result(r.Inst); ok && !r.Status.Skipped {
				results[tick] = v
			}
		}})
	ctx := context.Background()
	rctx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- in.Run(rctx, m) }()
	defer func() { cancel(); <-done }()
	waitFor(t, sig.ch, "the probe owned", func() bool { return m.Owns("seed") })
	for k := range ticks {
		for _, a := range agents {
			if k > 0 { // the first evaluation happens at start
				a.ticks <- time.Now()
			}
			select {
			case <-a.ticked:
			case <-time.After(time.Minute):
				t.Fatalf("tick %d: an agent did not evaluate", k)
			}
		}
		waitFor(t, sig.ch, fmt.Sprintf("tick %d from every agent", k), func() bool {
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
