package control

import (
	"errors"
	"fmt"
	"strings"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/probe-agent/probe-agent/agent"
)

// maxMessage bounds the status message, which travels in a header; the
// complete problem list is in the details.
const maxMessage = 4096

// toStatus maps the manager's errors to gRPC status codes. A validation
// error carries one google.rpc.BadRequest field violation per problem, with
// field "probes[i].<field>" and the problem text (naming the probe and the
// processor) as description.
func toStatus(err error) error {
	var verr *agent.ValidationError
	switch {
	case errors.As(err, &verr):
		return validationStatus(verr)
	case errors.Is(err, agent.ErrStaleGeneration):
		st := status.New(codes.FailedPrecondition, err.Error())
		if d, derr := st.WithDetails(&errdetails.PreconditionFailure{Violations: []*errdetails.PreconditionFailure_Violation{{
			Type: "GENERATION", Subject: "generation", Description: err.Error(),
		}}}); derr == nil {
			st = d
		}
		return st.Err()
	case errors.Is(err, agent.ErrNotFound):
		return status.Error(codes.NotFound, err.Error())
	case errors.Is(err, agent.ErrReadOnly):
		return status.Error(codes.FailedPrecondition, err.Error())
	default:
		return status.Error(codes.Internal, err.Error())
	}
}

// violations turns a validation error into field violations.
func violations(verr *agent.ValidationError) []*errdetails.BadRequest_FieldViolation {
	var out []*errdetails.BadRequest_FieldViolation
	for _, d := range verr.Docs {
		for _, p := range d.Problems {
			field := fmt.Sprintf("probes[%d]", d.Index)
			if p.Field != "" {
				field += "." + p.Field
			}
			out = append(out, &errdetails.BadRequest_FieldViolation{Field: field, Description: p.Error()})
		}
	}
	return out
}

func validationStatus(verr *agent.ValidationError) error {
	v := violations(verr)
	msg := fmt.Sprintf("%d problem(s) in %d probe document(s); nothing was applied:", len(v), len(verr.Docs))
	for _, fv := range v {
		line := "\n" + fv.GetField() + ": " + fv.GetDescription()
		if len(msg)+len(line) > maxMessage {
			msg += "\n..."
			break
		}
		msg += line
	}
	st := status.New(codes.InvalidArgument, msg)
	if d, err := st.WithDetails(&errdetails.BadRequest{FieldViolations: v}); err == nil {
		st = d
	}
	return st.Err()
}

func firstLine(err error) string {
	s, _, _ := strings.Cut(err.Error(), "\n")
	return s
}
