package control

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"testing"
	"time"

	"github.com/probe-agent/probe-agent/agent"
	"github.com/probe-agent/probe-agent/agent/control/controltest"
	pb "github.com/probe-agent/probe-agent/proto/probeagent/v1"
)

// startLimited serves a fresh manager with cfg (TLS from a fresh PKI) and
// returns the server and its address.
func startLimited(t *testing.T, cfg agent.ControlConfig) (*Server, *testServer) {
	t.Helper()
	ts := &testServer{log: &syncBuffer{}, pki: controltest.New(t), done: make(chan error, 1)}
	ts.m = agent.NewManager(slog.New(slog.NewTextHandler(io.Discard, nil)), nil, nil)
	cfg.TLS = agent.TLSConfig{CA: ts.pki.CA, Cert: ts.pki.ServerCert, Key: ts.pki.ServerKey}
	srv, err := NewServer(ts.m, cfg, slog.New(slog.NewTextHandler(ts.log, nil)))
	if err != nil {
		t.Fatal(err)
	}
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ts.addr = lis.Addr().String()
	ctx, cancel := context.WithCancel(context.Background())
	started := make(chan struct{})
	go func() {
		close(started)
		ts.done <- srv.ServeListener(ctx, lis)
	}()
	<-started
	t.Cleanup(func() {
		cancel()
		if err := <-ts.done; err != nil {
			t.Errorf("Serve: %v", err)
		}
	})
	return srv, ts
}

// waitClosed reads from c until the server closes it; the deadline only
// guards against a hang.
func waitClosed(t *testing.T, c net.Conn, what string) {
	t.Helper()
	_ = c.SetReadDeadline(time.Now().Add(60 * time.Second))
	_, err := io.Copy(io.Discard, c)
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		t.Fatalf("%s: still open after 60s", what)
	}
}

// TestHandshakeTimeout: a TCP client that never starts the TLS handshake
// is disconnected after control.handshake_timeout (gRPC's default kept it
// 120s, with no limit on how many).
func TestHandshakeTimeout(t *testing.T) {
	_, ts := startLimited(t, agent.ControlConfig{HandshakeTimeout: agent.Duration(200 * time.Millisecond)})
	c, err := net.Dial("tcp", ts.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	waitClosed(t, c, "connection without a handshake")
	if _, err := ts.trusted(t).ListProbes(ctxT(t), &pb.ListProbesRequest{}); err != nil {
		t.Fatalf("a real client after the timeout: %v", err)
	}
}

// TestControlConnectionLimit: with control.max_connections taken by
// clients that never handshake, a controller is held in the backlog (the
// listener counts a wait) and served once they are cut at the handshake
// timeout.
func TestControlConnectionLimit(t *testing.T) {
	srv, ts := startLimited(t, agent.ControlConfig{MaxConnections: 2, HandshakeTimeout: agent.Duration(300 * time.Millisecond)})
	var silent []net.Conn
	for range 2 {
		c, err := net.Dial("tcp", ts.addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		silent = append(silent, c)
	}
	if _, err := ts.trusted(t).ListProbes(ctxT(t), &pb.ListProbesRequest{}); err != nil {
		t.Fatalf("controller while the silent clients held every slot: %v", err)
	}
	l := srv.limit.Load()
	if l.Waits() == 0 {
		t.Fatal("the controller was not held: the limit did not bind")
	}
	if l.Max() != 2 {
		t.Fatalf("limit %d, want control.max_connections 2", l.Max())
	}
	for _, c := range silent {
		waitClosed(t, c, "silent client")
	}
}
