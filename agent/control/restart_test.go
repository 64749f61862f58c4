package control

import (
	"io"
	"log/slog"
	"testing"

	"github.com/probe-agent/probe-agent/agent"
	pb "github.com/probe-agent/probe-agent/proto/probeagent/v1"
)

// TestRestartKeepsIDsAndUnchanged: after a restart, probes applied without
// an id keep the id derived at apply time, and a controller re-applying the
// same documents (as it does after reconnecting) changes nothing, so state
// is not reset by a restart plus re-apply.
func TestRestartKeepsIDsAndUnchanged(t *testing.T) {
	dir := t.TempDir()
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	docs := []string{
		// Pretty-printed, as controllers and people write them.
		"{\n  \"label\": \"no id\",\n  \"processors\": [\n    {\"name\": \"c\", \"type\": \"if_counter\", \"outputs\": {\"out\": \"rate\"}, \"properties\": {\"counter_type\": \"tx_bytes\"}}\n  ]\n}\n",
		counterProbe("with-id", "rx_bytes"),
	}
	open := func() (*agent.Manager, pb.ProbeControlClient) {
		store, err := agent.OpenStore(dir)
		if err != nil {
			t.Fatal(err)
		}
		m := agent.NewManager(quiet, store, nil)
		if err := m.Restore(); err != nil {
			t.Fatal(err)
		}
		return m, start(t, m, agent.ControlConfig{}).trusted(t)
	}
	_, c1 := open()
	resp, err := c1.ApplyProbes(ctxT(t), &pb.ApplyProbesRequest{Generation: 1, Probes: docs})
	if err != nil {
		t.Fatal(err)
	}
	_, before := ids(t, c1)

	_, c2 := open() // the same state_dir: a restarted agent
	gen, after := ids(t, c2)
	if gen != 1 || after != before {
		t.Errorf("after restart: generation %d probes %s, want 1 %s (ids applied: %v)", gen, after, before, resp.GetResults())
	}
	resp, err = c2.ApplyProbes(ctxT(t), &pb.ApplyProbesRequest{Generation: 1, Probes: docs})
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range resp.GetResults() {
		if r.GetAction() != "unchanged" {
			t.Errorf("re-apply after restart: %s %s, want unchanged", r.GetId(), r.GetAction())
		}
	}
}
