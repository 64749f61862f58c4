package controller

import (
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/probe-agent/probe-agent/agent/control/controltest"
	"github.com/probe-agent/probe-agent/tlsutil"
)

// TestAPIConnectionBounds: the controller's HTTPS listener disconnects a
// client that never starts the TLS handshake after
// api.read_header_timeout, and with api.max_connections held by idle
// keep-alive clients a new client is served by closing the longest-idle
// one.
func TestAPIConnectionBounds(t *testing.T) {
	pki := controltest.New(t)
	c := &Controller{cfg: Config{BlueprintID: "dc1", API: APIConfig{
		Listen: "127.0.0.1:0", TLS: TLSFiles{CA: pki.CA, Cert: pki.ServerCert, Key: pki.ServerKey},
		MaxConnections: 2, ReadHeaderTimeout: Duration(200 * time.Millisecond), IdleTimeout: Duration(time.Hour),
	}}, metrics: newMetrics(), docs: map[string]json.RawMessage{}}
	l, srv, err := c.ListenAPIServer()
	if err != nil {
		t.Fatal(err)
	}
	if srv.ReadHeaderTimeout != 200*time.Millisecond || srv.IdleTimeout != time.Hour {
		t.Fatalf("server timeouts %s %s, want the configured ones", srv.ReadHeaderTimeout, srv.IdleTimeout)
	}
	go func() { _ = srv.Serve(l) }()
	defer srv.Close()
	addr := l.Addr().String()

	silent, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer silent.Close()
	_ = silent.SetReadDeadline(time.Now().Add(60 * time.Second)) // a guard against a hang
	_, err = io.Copy(io.Discard, silent)
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		t.Fatal("a client without a TLS handshake is still connected after 60s")
	}

	tc, err := tlsutil.Client(tlsutil.Files{CA: pki.CA}, "")
	if err != nil {
		t.Fatal(err)
	}
	for i := range 3 { // one more than api.max_connections, each keeping its connection
		tr := &http.Transport{TLSClientConfig: tc.Clone(), MaxIdleConnsPerHost: 1}
		defer tr.CloseIdleConnections()
		// Without the idle connections giving way the third client would
		// wait for an hour-long idle timeout; 30s is a guard, not a bound.
		resp, err := (&http.Client{Transport: tr, Timeout: 30 * time.Second}).Get("https://" + addr + "/healthz")
		if err != nil {
			t.Fatalf("client %d: %v", i, err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("client %d: status %d", i, resp.StatusCode)
		}
	}
}
