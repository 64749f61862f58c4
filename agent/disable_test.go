package agent

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"strings"
	"testing"
	"time"
)

// TestDisablingClearsAnomalies: PATCH {"disabled": true} on a probe with a
// raised anomaly sends its clear at once, stops listing it, and shows the
// probe as disabled; enabled again, the anomaly still raised after the
// next evaluation is sent as raised again.
func TestDisablingClearsAnomalies(t *testing.T) {
	var out bytes.Buffer
	cfg := testConfig()
	cfg.StateDir = t.TempDir()
	cfg.ProbesDir = ""
	doc, err := os.ReadFile("testdata/seed_streaming.json")
	if err != nil {
		t.Fatal(err)
	}
	ta := &testAgent{t: t, ticks: make(chan time.Time), ticked: make(chan struct{}, 100), done: make(chan error, 1)}
	ta.agent, err = New(cfg, Options{Stdout: &out, Collector: seedRecording(t), Ticks: ta.ticks, OnTick: func() { ta.ticked <- struct{}{} }})
	if err != nil {
		t.Fatal(err)
	}
	m := ta.agent.Manager()
	id, err := m.Create(doc) // a store probe: PATCH applies to those
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	ta.cancel = cancel
	go func() { ta.done <- ta.agent.Run(ctx) }()
	ta.steps(5) // tick 5 raises
	if got := alertsIn(t, out.String()); len(got) != 1 || !got[0] {
		t.Fatalf("alerts before disabling: %v, want one raise", got)
	}
	out.Reset()

	if err := m.Patch(id, []byte(`{"disabled": true}`)); err != nil {
		t.Fatal(err)
	}
	if got := alertsIn(t, out.String()); len(got) != 1 || got[0] {
		t.Errorf("alerts sent on disabling: %v, want one clear", got)
	}
	info, _ := m.Get(id)
	if info.State != StateDisabled || info.AnomalyCount != 0 || len(m.Anomalies()) != 0 {
		t.Errorf("disabled probe: state %s, %d anomalies, %d listed", info.State, info.AnomalyCount, len(m.Anomalies()))
	}
	if n := m.StateCounts()[StateDisabled]; n != 1 {
		t.Errorf("StateCounts()[disabled] = %d", n)
	}
	out.Reset()
	ta.steps(1)
	if got := alertsIn(t, out.String()); len(got) != 0 {
		t.Errorf("a disabled probe sent alerts: %v", got)
	}

	if err := m.Patch(id, []byte(`{"disabled": false}`)); err != nil {
		t.Fatal(err)
	}
	ta.steps(1) // tick 7: still imbalanced, no transition of its own
	if got := alertsIn(t, out.String()); len(got) != 1 || !got[0] {
		t.Errorf("alerts after enabling: %v, want the anomaly raised again", got)
	}
	if info, _ := m.Get(id); info.State == StateDisabled || info.AnomalyCount != 1 {
		t.Errorf("enabled probe: state %s, %d anomalies", info.State, info.AnomalyCount)
	}
	if err := ta.stop(); err != nil {
		t.Fatal(err)
	}
}

// alertsIn lists the raised flags of the alerts printed in out.
func alertsIn(t *testing.T, out string) []bool {
	t.Helper()
	var got []bool
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		if line == "" {
			continue
		}
		var m struct {
			Channel string `json:"channel"`
			Message struct {
				Alert struct {
					Raised bool `json:"raised"`
				} `json:"alert"`
			} `json:"message"`
		}
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatalf("%v: %s", err, line)
		}
		if m.Channel == "alerts" {
			got = append(got, m.Message.Alert.Raised)
		}
	}
	return got
}
