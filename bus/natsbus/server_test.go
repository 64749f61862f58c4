package natsbus_test

import (
	"fmt"
	"github.com/probe-agent/probe-agent/bus/natsbus"
	"io"
	"log/slog"
	"net"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
)

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

// testServer is a real nats-server with JetStream, embedded, on loopback.
type testServer struct {
	t    testing.TB
	srv  *server.Server
	opts server.Options
}

// startServer starts a server on a free port with JetStream in a
// temporary directory; edit changes the options first.
func startServer(t testing.TB, edit func(*server.Options)) *testServer {
	t.Helper()
	o := server.Options{Host: "127.0.0.1", Port: -1, JetStream: true, StoreDir: t.TempDir(), NoLog: true, NoSigs: true}
	if edit != nil {
		edit(&o)
	}
	ts := &testServer{t: t, opts: o}
	ts.start()
	t.Cleanup(ts.stop)
	return ts
}

func (ts *testServer) start() {
	ts.t.Helper()
	o := ts.opts
	srv, err := server.NewServer(&o)
	if err != nil {
		ts.t.Fatal(err)
	}
	go srv.Start()
	if !srv.ReadyForConnections(10 * time.Second) {
		ts.t.Fatal("nats-server not ready")
	}
	ts.srv = srv
	// A restart takes the same port.
	ts.opts.Port = portOf(srv)
}

func portOf(srv *server.Server) int { return srv.Addr().(*net.TCPAddr).Port }

func (ts *testServer) stop() {
	if ts.srv != nil {
		ts.srv.Shutdown()
		ts.srv.WaitForShutdown()
		ts.srv = nil
	}
}

func (ts *testServer) url() string {
	scheme := "nats"
	if ts.opts.TLSConfig != nil {
		scheme = "tls"
	}
	return fmt.Sprintf("%s://127.0.0.1:%d", scheme, ts.opts.Port)
}

func (ts *testServer) config() natsbus.Config {
	return natsbus.Config{URLs: []string{ts.url()}, Blueprint: "bp-test", Log: quiet, ReconnectWait: 20 * time.Millisecond, PublishTimeout: 2 * time.Second}
}
