package control

import (
	"context"
	"crypto/tls"
	"fmt"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"

	"github.com/probe-agent/probe-agent/agent"
	pb "github.com/probe-agent/probe-agent/proto/probeagent/v1"
)

// ClientConfig is how a client (probectl, a controller, tests) reaches an
// agent's control plane.
type ClientConfig struct {
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
func Dial(addr string, cfg ClientConfig) (*grpc.ClientConn, pb.ProbeControlClient, error) {
	var opts []grpc.DialOption
	if cfg.Insecure {
		opts = append(opts, grpc.WithTransportCredentials(insecure.NewCredentials()))
	} else {
		tc := &tls.Config{MinVersion: tls.VersionTLS12, ServerName: cfg.ServerName}
		if cfg.CA != "" {
			pool, err := agent.LoadCertPool(cfg.CA)
			if err != nil {
				return nil, nil, fmt.Errorf("CA: %w", err)
			}
			tc.RootCAs = pool
		}
		if cfg.Cert != "" || cfg.Key != "" {
			c, err := tls.LoadX509KeyPair(cfg.Cert, cfg.Key)
			if err != nil {
				return nil, nil, fmt.Errorf("client certificate: %w", err)
			}
			tc.Certificates = []tls.Certificate{c}
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
