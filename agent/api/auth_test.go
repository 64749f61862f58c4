package api

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/probe-agent/probe-agent/agent"
)

// TestWritesNeedAuthentication: without api.token_file or api.tls.ca the
// API is read-only; with a token, writes need it and reads do not.
func TestWritesNeedAuthentication(t *testing.T) {
	doc := readFile(t, "testdata/seed_probe.json")
	t.Run("read-only by default", func(t *testing.T) {
		cfg := testConfig(t)
		cfg.API.TokenFile = ""
		e := newEnv(t, cfg)
		e.token = ""
		for _, req := range []struct{ method, path string }{
			{"POST", e.bp + "/probes"},
			{"PATCH", e.bp + "/probes/x"},
			{"PUT", e.bp + "/probes/x"},
			{"DELETE", e.bp + "/probes/x"},
		} {
			r := e.do(req.method, req.path, doc)
			e.want(r, http.StatusForbidden, req.method)
			if msg := mustJSON(t, r.json(t)["errors"]); !strings.Contains(msg, "read-only: set api.token_file") {
				t.Errorf("%s: %s", req.method, msg)
			}
		}
		e.want(e.do("GET", e.bp+"/probes", nil), http.StatusOK, "GET")
		e.want(e.do("GET", "/metrics", nil), http.StatusOK, "metrics")
		if n := len(e.agent.Manager().List()); n != 0 {
			t.Errorf("%d probes after refused writes", n)
		}
	})
	t.Run("token", func(t *testing.T) {
		e := newEnv(t, testConfig(t))
		for _, tok := range []string{"", "wrong"} {
			e.token = tok
			r := e.do("POST", e.bp+"/probes", doc)
			e.want(r, http.StatusUnauthorized, "POST with token "+tok)
			if r.header.Get("WWW-Authenticate") == "" {
				t.Error("401 without WWW-Authenticate")
			}
		}
		e.token = ""
		e.want(e.do("GET", e.bp+"/probes", nil), http.StatusOK, "GET without token")
		e.token = testToken
		e.want(e.do("POST", e.bp+"/probes", doc), http.StatusCreated, "POST with the token")
	})
	t.Run("unreadable token file", func(t *testing.T) {
		cfg := testConfig(t)
		cfg.API.TokenFile = filepath.Join(t.TempDir(), "missing")
		s := NewServer(mustAgent(t, cfg), cfg, nil, nil)
		if _, err := s.Listen(); err == nil || !strings.Contains(err.Error(), "api.token_file") {
			t.Errorf("Listen: %v, want an api.token_file error", err)
		}
	})
}

// TestWritesWithClientCertificates: with api.tls.ca, reads need no
// certificate and writes need one signed by that CA.
func TestWritesWithClientCertificates(t *testing.T) {
	dir := t.TempDir()
	certFile, keyFile, pool := selfSigned(t, dir)
	caFile, clientCert := clientCA(t, dir)
	cfg := testConfig(t)
	cfg.API.TokenFile = ""
	cfg.API.Listen = "127.0.0.1:0"
	cfg.API.TLS = agent.TLSConfig{Cert: certFile, Key: keyFile, CA: caFile}
	s := NewServer(mustAgent(t, cfg), cfg, nil, nil)
	l, err := s.Listen()
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.ServeListener(ctx, l) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Error(err)
		}
	}()
	base := "https://" + l.Addr().String() + "/api/blueprints/" + cfg.BlueprintID + "/probes"
	post := func(certs []tls.Certificate) int {
		client := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, Certificates: certs}}}
		resp, err := client.Post(base, "application/json", bytes.NewReader(readFile(t, "testdata/seed_probe.json")))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if got := post(nil); got != http.StatusUnauthorized {
		t.Errorf("POST without a client certificate: %d, want 401", got)
	}
	if got := post([]tls.Certificate{clientCert}); got != http.StatusCreated {
		t.Errorf("POST with a client certificate: %d, want 201", got)
	}
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	resp, err := client.Get(base)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("GET without a client certificate: %d, want 200", resp.StatusCode)
	}
}

func mustAgent(t *testing.T, cfg agent.Config) *agent.Agent {
	t.Helper()
	a, err := agent.New(cfg, agent.Options{Stdout: &bytes.Buffer{}, Collector: nopCollector{}})
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// clientCA writes a CA certificate and returns a client certificate it
// signed.
func clientCA(t *testing.T, dir string) (caFile string, client tls.Certificate) {
	t.Helper()
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	caTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(10), Subject: pkix.Name{CommonName: "test client CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	caCert, _ := x509.ParseCertificate(caDER)
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(11), Subject: pkix.Name{CommonName: "operator"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, caCert, &key.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	caFile = filepath.Join(dir, "client-ca.pem")
	if err := os.WriteFile(caFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER}), 0o600); err != nil {
		t.Fatal(err)
	}
	return caFile, tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
}
