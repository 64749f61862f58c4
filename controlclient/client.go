// Package controlclient is the client of probe-agent's control plane
// (probeagent.v1.ProbeControl): how probectl and probe-controller reach an
// agent. It links no agent code, so the controller does not carry the
// agent's collectors.
package controlclient

import (
	"context"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"

	pb "github.com/probe-agent/probe-agent/proto/probeagent/v1"
	"github.com/probe-agent/probe-agent/tlsutil"
)

// Config is how a client (probectl, a controller, tests) reaches an
// agent's control plane.
type Config struct {
	// CA verifies the agent's certificate; empty means the system roots.
	CA string
	// Cert and Key are the client certificate the agent checks.
	Cert, Key string
	// Insecure dials plaintext (for agents with control.insecure).
	Insecure bool
	// Token is sent as "authorization: Bearer <token>" when not empty.
	Token string
	// ServerName overrides the name checked in the agent's certificate
	// (default: the host of the address).
	ServerName string
}

// Dial connects to the control plane at addr (HOST:PORT). The connection is
// made lazily, on the first call.
func Dial(addr string, cfg Config) (*grpc.ClientConn, pb.ProbeControlClient, error) {
	var opts []grpc.DialOption
	if cfg.Insecure {
		opts = append(opts, grpc.WithTransportCredentials(insecure.NewCredentials()))
	} else {
		tc, err := tlsutil.Client(tlsutil.Files{CA: cfg.CA, Cert: cfg.Cert, Key: cfg.Key}, cfg.ServerName)
		if err != nil {
			return nil, nil, err
		}
		opts = append(opts, grpc.WithTransportCredentials(credentials.NewTLS(tc)))
	}
	if cfg.Token != "" {
		opts = append(opts, grpc.WithPerRPCCredentials(bearer{token: cfg.Token, requireTLS: !cfg.Insecure}))
	}
	conn, err := grpc.NewClient(addr, opts...)
	if err != nil {
		return nil, nil, err
	}
	return conn, pb.NewProbeControlClient(conn), nil
}

// bearer sends a bearer token with every call.
type bearer struct {
	token      string
	requireTLS bool
}

func (b bearer) GetRequestMetadata(context.Context, ...string) (map[string]string, error) {
	return map[string]string{"authorization": "Bearer " + b.token}, nil
}

func (b bearer) RequireTransportSecurity() bool { return b.requireTLS }

// FieldViolations returns the problems an InvalidArgument error of
// ApplyProbes carries in its details (nil for other errors).
func FieldViolations(err error) []*errdetails.BadRequest_FieldViolation {
	st, ok := status.FromError(err)
	if !ok {
		return nil
	}
	var out []*errdetails.BadRequest_FieldViolation
	for _, d := range st.Details() {
		if br, ok := d.(*errdetails.BadRequest); ok {
			out = append(out, br.GetFieldViolations()...)
		}
	}
	return out
}
