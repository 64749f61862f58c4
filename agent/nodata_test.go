package agent

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/probe-agent/probe-agent/collectors"
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
	if strings.Contains(after, `"int64_value":"0"`) {
		t.Errorf("a value of 0 was sent for lost data:\n%s", after)
	}
}
