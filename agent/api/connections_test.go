package api

import (
	"context"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/probe-agent/probe-agent/agent"
)

// serveConfigured serves the API of cfg on the listener Listen opens (with
// its connection bound) and returns the server and its address.
func serveConfigured(t *testing.T, cfg agent.Config) (*Server, string) {
	t.Helper()
	s := NewServer(mustAgent(t, cfg), cfg, nil, nil)
	l, err := s.Listen()
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.ServeListener(ctx, l) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Error(err)
		}
	})
	return s, l.Addr().String()
}

// waitClosed reads from c until the server closes it. The deadline is a
// guard against a hang, not the assertion: the assertion is that the
// server, not the deadline, ended the connection.
func waitClosed(t *testing.T, c net.Conn, what string) {
	t.Helper()
	_ = c.SetReadDeadline(time.Now().Add(60 * time.Second))
	_, err := io.Copy(io.Discard, c)
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		t.Fatalf("%s: still open after 60s", what)
	}
}

// TestTLSHandshakeTimeout: a client that connects to the HTTPS API and
// never starts the TLS handshake is disconnected after
// api.read_header_timeout (it held a descriptor for ever before the
// bound was configurable; gRPC's default is 120s), and the API keeps
// serving.
func TestTLSHandshakeTimeout(t *testing.T) {
	dir := t.TempDir()
	certFile, keyFile, pool := selfSigned(t, dir)
	cfg := testConfig(t)
	cfg.API.Listen = "127.0.0.1:0"
	cfg.API.TLS = agent.TLSConfig{Cert: certFile, Key: keyFile}
	cfg.API.ReadHeaderTimeout = agent.Duration(200 * time.Millisecond)
	_, addr := serveConfigured(t, cfg)

	silent, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer silent.Close()
	waitClosed(t, silent, "connection without a TLS handshake")

	client := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	resp, err := client.Get("https://" + addr + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("healthz after the timeout: %d", resp.StatusCode)
	}
}

// TestConnectionLimit: with api.max_connections taken by clients that
// never send a request, a new client is held (the listener counts a
// wait) and served once the silent ones are cut at read_header_timeout;
// with the slots taken by idle keep-alive clients, a new client is served
// at once by closing the longest-idle one.
func TestConnectionLimit(t *testing.T) {
	cfg := testConfig(t)
	cfg.API.Listen = "127.0.0.1:0"
	cfg.API.MaxConnections = 3
	cfg.API.ReadHeaderTimeout = agent.Duration(300 * time.Millisecond)
	cfg.API.IdleTimeout = agent.Duration(time.Hour)

	t.Run("silent clients", func(t *testing.T) {
		s, addr := serveConfigured(t, cfg)
		var silent []net.Conn
		for range 3 {
			c, err := net.Dial("tcp", addr)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			silent = append(silent, c)
		}
		waitsBefore := s.limit.Waits()
		tr := &http.Transport{}
		defer tr.CloseIdleConnections()
		resp, err := (&http.Client{Transport: tr}).Get("http://" + addr + "/healthz")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("status %d", resp.StatusCode)
		}
		if s.limit.Waits() == waitsBefore {
			t.Fatal("the new client was not held: the limit did not bind")
		}
		for _, c := range silent {
			waitClosed(t, c, "silent client")
		}
		tr.CloseIdleConnections()
	})
	t.Run("idle keep-alive clients", func(t *testing.T) {
		s, addr := serveConfigured(t, cfg)
		reclaimedBefore := s.limit.Reclaimed()
		var transports []*http.Transport
		for range 4 { // one more than the limit
			tr := &http.Transport{MaxIdleConnsPerHost: 1}
			defer tr.CloseIdleConnections()
			transports = append(transports, tr)
			resp, err := (&http.Client{Transport: tr}).Get("http://" + addr + "/healthz")
			if err != nil {
				t.Fatal(err)
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
		}
		if got := s.limit.Reclaimed() - reclaimedBefore; got != 1 {
			t.Fatalf("%d idle connections closed for the fourth client, want 1", got)
		}
		if open := s.limit.Open(); open > 3 {
			t.Fatalf("%d connections open, limit 3", open)
		}
		// The first client's connection was the one closed; its next
		// request reconnects (Go's client retries a GET on a closed idle
		// connection).
		resp, err := (&http.Client{Transport: transports[0]}).Get("http://" + addr + "/healthz")
		if err != nil {
			t.Fatalf("first client after its idle connection was closed: %v", err)
		}
		resp.Body.Close()

		// /metrics shows the bound and what it did.
		resp, err = (&http.Client{Transport: transports[1]}).Get("http://" + addr + "/metrics")
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		for _, want := range []string{"probe_agent_api_connections_max 3\n", "probe_agent_api_connections_open ", "probe_agent_api_connection_waits_total ", "probe_agent_api_idle_connections_closed_total "} {
			if !strings.Contains(string(body), want) {
				t.Errorf("/metrics lacks %q", want)
			}
		}
		if strings.Contains(string(body), "probe_agent_api_idle_connections_closed_total 0\n") {
			t.Error("/metrics counts no idle connection closed")
		}
	})
}
