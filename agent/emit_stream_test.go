package agent

import (
	"fmt"
	"testing"
	"time"

	"github.com/probe-agent/probe-agent/collectors"
	"github.com/probe-agent/probe-agent/probe"
	"github.com/probe-agent/probe-agent/proto/aos"
)

// TestEmitPathAllocations: the agent's emit path for a tick (probe
// messages to a streaming receiver, alerts, link events) allocates nothing
// per message when every item changed and nothing at all when nothing did,
// with the sender's queue full and dropping.
func TestEmitPathAllocations(t *testing.T) {
	const n = 500
	s := newStreamingTick(t, n)
	out := newUnreachableOutput(t, 2*n)
	snd := out.(*senders).Streams()[0].Sender
	e := NewEmitter(Identity{SystemID: "leaf1", Hostname: "leaf1", BlueprintID: "dc1"})
	events := 0
	send := func(*aos.AosMessage) { events++ }
	emit := func() {
		e.probeMessages(s.inst, out)
		e.Alerts(s.inst, send)
		e.LinkEvents(s.batch, s.items.For(s.batch), send)
	}
	// Fill the queue to its bound, so the measured ticks drop the oldest.
	for range 4 {
		s.step(t, true)
		emit()
	}
	if st := snd.Stats(); st.Dropped == 0 {
		t.Fatalf("queue not full: %+v", st)
	}
	tests := []struct {
		name     string
		busy     bool
		wantMsgs uint64
	}{
		{"every item changed", true, n},
		{"idle", false, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s.step(t, tt.busy)
			s.step(t, tt.busy) // a second idle tick: the rates stay 0
			before := snd.Stats().Enqueued
			emit()
			if got := snd.Stats().Enqueued - before; got != tt.wantMsgs {
				t.Fatalf("%d messages, want %d", got, tt.wantMsgs)
			}
			// The same tick emitted again: the probe's change marks stay.
			allocs := testing.AllocsPerRun(20, emit)
			if allocs != 0 {
				t.Fatalf("%v allocations per tick", allocs)
			}
		})
	}
	if events != 0 {
		t.Errorf("%d alerts or link events from steady interfaces", events)
	}
}

// TestLinkStatesGoneBounded: 200,000 uniquely named interfaces that come
// and go (as random veth names do) keep the memory of departed interfaces
// under its bound, while an interface that left recently is still compared
// with how it left when it comes back.
func TestLinkStatesGoneBounded(t *testing.T) {
	const unique, perBatch = 200_000, 20
	e := NewEmitter(Identity{SystemID: "h", Hostname: "h", BlueprintID: "bp"})
	var cache probe.ItemCache
	var got []string
	record := func(m *aos.AosMessage) {
		ls := m.GetEvent().GetLinkStatus()
		got = append(got, ls.GetIfname()+" "+ls.GetState().String())
	}
	layout := uint64(0)
	batch := func(up bool, names ...string) *collectors.Batch {
		// A new layout per batch: the interface set changed.
		layout++
		b := &collectors.Batch{Time: time.Unix(int64(layout), 0), Layout: layout}
		for _, name := range names {
			oper := collectors.OperDown
			if up {
				oper = collectors.OperUp
			}
			b.Interfaces = append(b.Interfaces, collectors.Interface{SystemID: "h", Name: name, Oper: oper})
		}
		return b
	}
	// eth1 leaves (up) halfway through, comes back down after 2,000 other
	// interfaces came and went (an event), then up (another).
	leave, back := unique/2, unique/2+100*perBatch
	maxGone := 0
	for k := 0; k < unique; k += perBatch {
		b := batch(true, "eth0")
		if k < leave || k > back {
			b.Interfaces = append(b.Interfaces, collectors.Interface{SystemID: "h", Name: "eth1", Oper: collectors.OperUp})
		}
		if k == back {
			b.Interfaces = append(b.Interfaces, collectors.Interface{SystemID: "h", Name: "eth1", Oper: collectors.OperDown})
		}
		for j := range perBatch {
			b.Interfaces = append(b.Interfaces, collectors.Interface{SystemID: "h", Name: fmt.Sprintf("veth%06x", k+j), Oper: collectors.OperUp})
		}
		e.LinkEvents(b, cache.For(b), record)
		maxGone = max(maxGone, len(e.links.gone)+len(e.links.older))
	}
	if bound := 2 * goneMin; maxGone > bound {
		t.Errorf("%d departed interfaces remembered after %d came and went, want at most %d", maxGone, unique, bound)
	}
	if fmt.Sprint(got) != "[eth1 DOWN eth1 UP]" {
		t.Errorf("events %v, want eth1 DOWN (it left up and came back down), then eth1 UP", got)
	}
}
