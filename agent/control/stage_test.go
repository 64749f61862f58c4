package control

import (
	"encoding/json"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/probe-agent/probe-agent/agent"
	pb "github.com/probe-agent/probe-agent/proto/probeagent/v1"
)

// TestGetStage reads a stage of an applied probe as the stage API renders
// it, and gets NOT_FOUND (naming the stages there are) for an unknown
// stage or probe; without a client certificate the call is refused.
func TestGetStage(t *testing.T) {
	m := agent.NewManager(slog.New(slog.NewTextHandler(io.Discard, nil)), nil, nil)
	ts := start(t, m, agent.ControlConfig{})
	ctx := ctxT(t)
	c := ts.trusted(t)
	if _, err := c.ApplyProbes(ctx, &pb.ApplyProbesRequest{Generation: 1, Probes: []string{rangeProbe("r", 50)}}); err != nil {
		t.Fatal(err)
	}
	t0 := time.Unix(1_700_000_000, 0)
	tick(m, t0, 0)
	tick(m, t0.Add(time.Second), 100) // 100 B/s on both interfaces

	resp, err := c.GetStage(ctx, &pb.GetStageRequest{ProbeId: "r", Stage: "rate"})
	if err != nil {
		t.Fatal(err)
	}
	var st struct {
		Type   string `json:"type"`
		Values []struct {
			Value      float64           `json:"value"`
			Properties map[string]string `json:"properties"`
		} `json:"values"`
	}
	if err := json.Unmarshal([]byte(resp.GetJson()), &st); err != nil {
		t.Fatalf("%v: %s", err, resp.GetJson())
	}
	if len(st.Values) != 2 || st.Values[0].Value != 100 || st.Values[0].Properties["interface"] != "e1" || st.Values[1].Properties["interface"] != "e2" {
		t.Errorf("stage rate: %s", resp.GetJson())
	}

	for _, tc := range []struct {
		name, probe, stage, want string
	}{
		{"unknown stage", "r", "nope", "its stages: anomalies, rate, too_high"},
		{"unknown probe", "nope", "rate", `"nope"`},
	} {
		_, err := c.GetStage(ctx, &pb.GetStageRequest{ProbeId: tc.probe, Stage: tc.stage})
		if status.Code(err) != codes.NotFound || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want NotFound with %q", tc.name, err, tc.want)
		}
	}

	anon := ts.client(t, ClientConfig{CA: ts.pki.CA})
	if _, err := anon.GetStage(ctx, &pb.GetStageRequest{ProbeId: "r", Stage: "rate"}); err == nil {
		t.Error("GetStage without a client certificate succeeded")
	}
}
