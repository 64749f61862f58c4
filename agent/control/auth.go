package control

import (
	"context"
	"crypto/subtle"
	"crypto/tls"
	"fmt"
	"os"
	"strings"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/peer"
	"google.golang.org/grpc/status"

	"github.com/probe-agent/probe-agent/agent"
	"github.com/probe-agent/probe-agent/tlsutil"
)

// serverTLS builds the mutual-TLS configuration: the server presents
// cert/key and accepts only clients whose certificate chains to ca.
func serverTLS(c agent.TLSConfig) (*tls.Config, error) {
	tc, err := tlsutil.Server(tlsutil.Files{CA: c.CA, Cert: c.Cert, Key: c.Key}, "control.tls")
	if err != nil && (c.CA == "" || c.Cert == "" || c.Key == "") {
		return nil, fmt.Errorf("%w (or set control.insecure: true, labs only)", err)
	}
	return tc, err
}

// readToken reads a bearer token file; surrounding white space is not part
// of the token.
func readToken(file string) ([]byte, error) {
	data, err := os.ReadFile(file)
	if err != nil {
		return nil, fmt.Errorf("control.token_file: %w", err)
	}
	tok := strings.TrimSpace(string(data))
	if tok == "" {
		return nil, fmt.Errorf("control.token_file: %s is empty", file)
	}
	return []byte(tok), nil
}

// authenticator checks every call: a verified client certificate unless the
// server is insecure, and the bearer token when one is configured.
type authenticator struct {
	insecure bool
	token    []byte // nil: no token check
}

var errUnauthenticated = status.Error(codes.Unauthenticated, "unauthenticated")

func (a authenticator) check(ctx context.Context) error {
	if !a.insecure {
		// The TLS handshake already refuses clients without a valid
		// certificate; this guards against a listener set up without it.
		p, ok := peer.FromContext(ctx)
		if !ok {
			return errUnauthenticated
		}
		ti, ok := p.AuthInfo.(credentials.TLSInfo)
		if !ok || len(ti.State.VerifiedChains) == 0 {
			return status.Error(codes.Unauthenticated, "a client certificate signed by the configured CA is required")
		}
	}
	if a.token == nil {
		return nil
	}
	md, _ := metadata.FromIncomingContext(ctx)
	for _, v := range md.Get("authorization") {
		scheme, tok, ok := strings.Cut(v, " ")
		if ok && strings.EqualFold(scheme, "bearer") &&
			subtle.ConstantTimeCompare([]byte(strings.TrimSpace(tok)), a.token) == 1 {
			return nil
		}
	}
	return status.Error(codes.Unauthenticated, `missing or wrong bearer token ("authorization: Bearer <token>" metadata)`)
}

func (a authenticator) unary(ctx context.Context, req any, _ *grpc.UnaryServerInfo, h grpc.UnaryHandler) (any, error) {
	if err := a.check(ctx); err != nil {
		return nil, err
	}
	return h(ctx, req)
}

func (a authenticator) stream(srv any, ss grpc.ServerStream, _ *grpc.StreamServerInfo, h grpc.StreamHandler) error {
	if err := a.check(ss.Context()); err != nil {
		return err
	}
	return h(srv, ss)
}
