package agent

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/probe-agent/probe-agent/collectors"
	"github.com/probe-agent/probe-agent/collectors/replay"
)

// lossyCollector is a real collector whose source can be cut off: while
// lost, Collect reports collectors.ErrNoData the way the gNMI collector
// does with its stream down.
type lossyCollector struct {
	collectors.Collector
	lost atomic.Bool
}

func (c *lossyCollector) Collect(ctx context.Context, b *collectors.Batch) error {
	if c.lost.Load() {
		return fmt.Errorf("%w: gnmi stream to 10.0.0.1:6030 lost 2s ago: connection refused", collectors.ErrNoData)
	}
	return c.Collector.Collect(ctx, b)
}

// TestLostDataIsNotZero: while the collector has no data, nothing is
// evaluated and nothing is sent (no rate of 0, no clear of the raised
// anomaly, no raise); the skipped ticks are counted and the reason is kept
// for /readyz; when data comes back, evaluation resumes where it was.
func TestLostDataIsNotZero(t *testing.T) {
	var out bytes.Buffer
	col := &lossyCollector{Collector: seedRecording(t)}
	ta := startAgentOn(t, testConfig(), &out, col)
	ta.steps(5) // tick 5 raises the anomaly
	if n := ta.agent.Manager().List()[0].AnomalyCount; n != 1 {
		t.Fatalf("anomalies before the loss: %d, want 1", n)
	}
	printed := out.Len()

	col.lost.Store(true)
	for i := 0; i < 4; i++ {
		// An unbuffered send returns once the loop is waiting again, so
		// after the fourth at least three skipped ticks are done.
		ta.ticks <- time.Now()
	}
	st := ta.agent.Stats()
	if !strings.Contains(st.NoData, "gnmi stream to 10.0.0.1:6030 lost") || st.NoDataTicks < 3 || st.NoDataSince.IsZero() {
		t.Errorf("stats while lost: NoData %q, NoDataTicks %d, since %v", st.NoData, st.NoDataTicks, st.NoDataSince)
	}
	if st.CollectorErrors != 0 {
		t.Errorf("no data counted as %d collector errors", st.CollectorErrors)
	}
	if n := ta.agent.Manager().List()[0].AnomalyCount; n != 1 {
		t.Errorf("anomalies while lost: %d, want the raised one kept", n)
	}

	col.lost.Store(false)
	ta.steps(1) // tick 6 of the recording
	st = ta.agent.Stats()
	if st.NoData != "" || st.NoDataTicks != 4 {
		t.Errorf("stats after data came back: NoData %q, NoDataTicks %d (want 4)", st.NoData, st.NoDataTicks)
	}
	if err := ta.stop(); err != nil {
		t.Fatal(err)
	}
	// Everything printed after the loss is tick 6's, from the recording
	// (std_dev still 150: no change, so no message; the anomaly stays).
	after := out.String()[printed:]
	if strings.Contains(after, `"raised": false`) || strings.Contains(after, `"raised":false`) {
		t.Errorf("an anomaly was cleared by the loss of data:\n%s", after)
	}
	if strings.Contains(after, `"int64_value":"0"`) || strings.Contains(after, `"float_value":0`) {
		t.Errorf("a value of 0 was sent for lost data:\n%s", after)
	}
}

// TestReplayIsPacedByDefault: the configured replay collector keeps
// timestamps true (the next recorded tick, one second later, is not due
// at once); pace: interval fast-forwards one recorded tick per Collect.
func TestReplayIsPacedByDefault(t *testing.T) {
	for _, tt := range []struct {
		pace       string
		secondOK   bool
		secondTime time.Duration
	}{{"", false, 0}, {"recording", false, 0}, {"interval", true, time.Second}} {
		t.Run("pace="+tt.pace, func(t *testing.T) {
			cfg := testConfig()
			cfg.Collector = CollectorConfig{Type: "replay", Replay: ReplayConfig{File: "../cmd/probectl/testdata/imbalance.jsonl", Pace: tt.pace}}
			col, err := NewCollector(cfg, nil)
			if err != nil {
				t.Fatal(err)
			}
			defer col.Close()
			var first, second collectors.Batch
			if err := col.Collect(context.Background(), &first); err != nil {
				t.Fatal(err)
			}
			err = col.Collect(context.Background(), &second)
			if tt.secondOK {
				if err != nil || second.Time.Sub(first.Time) != tt.secondTime {
					t.Errorf("second Collect: %v, %v after the first", err, second.Time.Sub(first.Time))
				}
			} else if !errors.Is(err, collectors.ErrNotDue) {
				t.Errorf("second Collect at once: %v, want ErrNotDue", err)
			}
		})
	}
}

// TestReplayLoopIsNotASpike: a recording in which the device rebooted
// (counters end below where they started) loops three times under the demo
// probe: every rate sent is the recorded 1,000 B/s and no anomaly is
// raised by the jump back to the start (before loops were resets, the jump
// read as 999,000 B/s and 500 errors/s).
func TestReplayLoopIsNotASpike(t *testing.T) {
	rec := `{"ts": 100, "system_id": "leaf1", "interface": "eth0", "counters": {"rx_bytes": 1000000, "rx_error_packets": 500}}
{"ts": 101, "system_id": "leaf1", "interface": "eth0", "counters": {"rx_bytes": 1001000, "rx_error_packets": 500}}
{"ts": 102, "system_id": "leaf1", "interface": "eth0", "counters": {"rx_bytes": 0, "rx_error_packets": 0}}
{"ts": 103, "system_id": "leaf1", "interface": "eth0", "counters": {"rx_bytes": 1000, "rx_error_packets": 0}}
`
	batches, err := replay.Read(strings.NewReader(rec))
	if err != nil {
		t.Fatal(err)
	}
	col, err := replay.NewCollector(batches, nil)
	if err != nil {
		t.Fatal(err)
	}
	cfg := testConfig()
	cfg.StateDir, cfg.ProbesDir = "", ""
	var out bytes.Buffer
	ta := &testAgent{t: t, ticks: make(chan time.Time), ticked: make(chan struct{}, 100), done: make(chan error, 1)}
	ta.agent, err = New(cfg, Options{Stdout: &out, Demo: true, Collector: col, Ticks: ta.ticks, OnTick: func() { ta.ticked <- struct{}{} }})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	ta.cancel = cancel
	go func() { ta.done <- ta.agent.Run(ctx) }()
	ta.steps(12)
	if err := ta.stop(); err != nil {
		t.Fatal(err)
	}
	var rates []float64
	for _, line := range strings.Split(strings.TrimSpace(out.String()), "\n") {
		var m struct {
			Channel string `json:"channel"`
			Message struct {
				Alert   map[string]any `json:"alert"`
				PerfMon struct {
					ProbeMessage struct {
						Stage string  `json:"stage_name"`
						Float float64 `json:"float_value"`
					} `json:"probe_message"`
				} `json:"perf_mon"`
			} `json:"message"`
		}
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatalf("%v: %s", err, line)
		}
		if m.Channel == "alerts" {
			t.Errorf("alert from the loop: %s", line)
		}
		if pm := m.Message.PerfMon.ProbeMessage; pm.Stage == "rx_bps" {
			rates = append(rates, pm.Float)
		}
	}
	if len(rates) == 0 {
		t.Fatalf("no rx_bps sent:\n%s", out.String())
	}
	for _, r := range rates {
		if r != 8000 {
			t.Errorf("rx_bps values %v, want only 8000 (1,000 B/s)", rates)
			break
		}
	}
}
