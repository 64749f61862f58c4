package control

import (
	"io"
	"log/slog"
	"math"
	"testing"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/probe-agent/probe-agent/agent"
	pb "github.com/probe-agent/probe-agent/proto/probeagent/v1"
)

// TestGenerationWithoutRoomRefused: ApplyProbes at 2^64-1 (or anything
// over agent.MaxGeneration) is refused with InvalidArgument naming the
// generation field, and later applies still work.
func TestGenerationWithoutRoomRefused(t *testing.T) {
	m := agent.NewManager(slog.New(slog.NewTextHandler(io.Discard, nil)), nil, nil)
	c := start(t, m, agent.ControlConfig{}).trusted(t)
	for _, gen := range []uint64{math.MaxUint64, agent.MaxGeneration + 1} {
		_, err := c.ApplyProbes(ctxT(t), &pb.ApplyProbesRequest{Generation: gen, Probes: []string{counterProbe("a", "tx_bytes")}})
		st := status.Convert(err)
		if st.Code() != codes.InvalidArgument {
			t.Fatalf("apply at %d: %v, want InvalidArgument", gen, err)
		}
		var field string
		for _, d := range st.Details() {
			if br, ok := d.(*errdetails.BadRequest); ok && len(br.GetFieldViolations()) == 1 {
				field = br.GetFieldViolations()[0].GetField()
			}
		}
		if field != "generation" {
			t.Errorf("apply at %d: violation on %q, want generation (%v)", gen, field, err)
		}
	}
	for _, gen := range []uint64{1, agent.MaxGeneration} {
		if _, err := c.ApplyProbes(ctxT(t), &pb.ApplyProbesRequest{Generation: gen, Probes: []string{counterProbe("a", "tx_bytes")}}); err != nil {
			t.Fatalf("apply at %d after the refusals: %v", gen, err)
		}
	}
}
