package control

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/probe-agent/probe-agent/agent"
	"github.com/probe-agent/probe-agent/probe"
	pb "github.com/probe-agent/probe-agent/proto/probeagent/v1"
)

// GetStage implements pb.ProbeControlServer: one stage of a running
// probe, rendered as the REST stage API renders it. A controller calls it
// only when someone reads a stage evaluated at the edge, so that such
// stages cost nothing until they are read.
func (s *Server) GetStage(_ context.Context, req *pb.GetStageRequest) (*pb.GetStageResponse, error) {
	id, name := req.GetProbeId(), req.GetStage()
	var body []byte
	var names []string
	err := s.m.View(id, func(_ agent.ProbeInfo, inst *probe.Instance) error {
		st, ok := inst.Stage(name)
		if !ok {
			names = inst.StageNames()
			return nil
		}
		var err error
		body, err = json.Marshal(st)
		return err
	})
	switch {
	case err != nil:
		return nil, toStatus(fmt.Errorf("%w: %q", err, id))
	case body == nil:
		return nil, status.Errorf(codes.NotFound, "probe %q has no stage %q; its stages: %s", id, name, strings.Join(names, ", "))
	}
	return &pb.GetStageResponse{Json: string(body)}, nil
}
