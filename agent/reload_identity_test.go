package agent

import (
	"context"
	"testing"
	"time"
)

// TestReloadKeepsSenderIdentity: a SIGHUP-style reload that changes one
// streaming entry leaves the other entry's sender alone (one connection,
// one unbroken sequence at its receiver) and gives the changed entry a
// new connection that continues its sequence: neither sequenced receiver
// sees a gap or a reset. Before, every sender was rebuilt with a new
// random sequence and a receiver reported lost=536956537 with nothing
// dropped.
func TestReloadKeepsSenderIdentity(t *testing.T) {
	unchanged, changed := &collected{got: make(chan struct{}, 1)}, &collected{got: make(chan struct{}, 1)}
	rUnchanged, addrUnchanged := listen(t, "127.0.0.1:0", unchanged)
	rChanged, addrChanged := listen(t, "127.0.0.1:0", changed)
	cfg := testConfig()
	cfg.Streaming = []StreamingEntry{
		{Type: "perfmon", Address: addrUnchanged, Sequenced: true},
		{Type: "perfmon", Address: addrChanged, Sequenced: true},
	}
	ta := startAgent(t, cfg, nil)
	ta.steps(3)
	before := len(unchanged.waitFor(t, 1))
	changed.waitFor(t, 1)

	next := ta.agent.cfg
	next.Streaming = append([]StreamingEntry(nil), next.Streaming...)
	next.Streaming[1].ReconnectMax = Duration(5 * time.Second)
	next.Streaming[0].line += 3 // a comment added above it is no change
	if err := ta.agent.Reconfigure(context.Background(), next); err != nil {
		t.Fatal(err)
	}
	ta.steps(3)
	unchanged.waitFor(t, before+1)
	// The changed entry's new connection is counted by the receiver when
	// it accepts it, which can trail the agent's "connected": wait for a
	// message from a second client address rather than for the log line.
	changed.waitForRemotes(t, 2)
	if err := ta.stop(); err != nil {
		t.Fatal(err)
	}

	for _, c := range []struct {
		name  string
		c     *collected
		st    func() (conns, gaps, resets uint64)
		conns uint64
	}{
		{"unchanged entry", unchanged, func() (uint64, uint64, uint64) {
			s := rUnchanged.Stats()
			return s.Connections, s.Gaps, s.Resets
		}, 1},
		{"changed entry", changed, func() (uint64, uint64, uint64) {
			s := rChanged.Stats()
			return s.Connections, s.Gaps, s.Resets
		}, 2},
	} {
		conns, gaps, resets := c.st()
		if conns != c.conns || gaps != 0 || resets != 0 {
			t.Errorf("%s: %d connections, %d gaps, %d resets; want %d, 0, 0", c.name, conns, gaps, resets, c.conns)
		}
		c.c.mu.Lock()
		msgs := c.c.msgs
		for i := 1; i < len(msgs); i++ {
			if msgs[i].Seq != msgs[i-1].Seq+1 {
				t.Errorf("%s: seq %d after %d", c.name, msgs[i].Seq, msgs[i-1].Seq)
			}
		}
		c.c.mu.Unlock()
	}
}
