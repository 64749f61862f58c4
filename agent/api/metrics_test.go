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
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/probe-agent/probe-agent/agent"
	"github.com/probe-agent/probe-agent/collectors"
)

// scrape fetches /metrics and parses it.
func (e *testEnv) scrape() map[string]*dto.MetricFamily {
	e.t.Helper()
	r := e.do("GET", "/metrics", nil)
	if r.status != http.StatusOK {
		e.t.Fatalf("/metrics: %d %s", r.status, r.body)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(bytes.NewReader(r.body))
	if err != nil {
		e.t.Fatalf("/metrics does not parse: %v\n%s", err, r.body)
	}
	return fams
}

// value returns the value of the series of family name whose labels
// include the given pairs; ok is false when there is none.
func value(fams map[string]*dto.MetricFamily, name string, labels ...string) (float64, bool) {
	f := fams[name]
	if f == nil {
		return 0, false
	}
next:
	for _, m := range f.GetMetric() {
		for i := 0; i+1 < len(labels); i += 2 {
			found := false
			for _, lp := range m.GetLabel() {
				if lp.GetName() == labels[i] && lp.GetValue() == labels[i+1] {
					found = true
				}
			}
			if !found {
				continue next
			}
		}
		switch {
		case m.Counter != nil:
			return m.Counter.GetValue(), true
		case m.Gauge != nil:
			return m.Gauge.GetValue(), true
		case m.Histogram != nil:
			return float64(m.Histogram.GetSampleCount()), true
		}
	}
	return 0, false
}

// TestMetricsAndReadiness scrapes /metrics before and after ticks, and
// checks /healthz and /readyz through the agent's life.
func TestMetricsAndReadiness(t *testing.T) {
	e := newEnv(t, testConfig(t))
	e.want(e.do("GET", "/healthz", nil), http.StatusOK, "healthz")
	e.want(e.do("GET", "/readyz", nil), http.StatusServiceUnavailable, "readyz before the first tick")
	fams := e.scrape()
	for _, name := range []string{"go_goroutines", "process_cpu_seconds_total", "probe_agent_ticks_total", "probe_agent_tick_duration_seconds",
		"probe_agent_collector_errors_total", "probe_agent_probes", "probe_agent_anomalies_raised_total", "probe_agent_anomalies_active"} {
		if fams[name] == nil && !(name == "process_cpu_seconds_total" && !processMetricsSupported()) {
			t.Errorf("/metrics has no %s", name)
		}
	}
	if v, _ := value(fams, "probe_agent_ticks_total"); v != 0 {
		t.Errorf("ticks before the first = %v", v)
	}

	r := e.do("POST", e.bp+"/probes", withField(t, readFile(t, "testdata/seed_probe.json"), "id", "seed"))
	e.want(r, http.StatusCreated, "POST")
	fams = e.scrape()
	if v, ok := value(fams, "probe_agent_probes", "state", "created"); !ok || v != 1 {
		t.Errorf(`probes{state="created"} = %v (%v)`, v, ok)
	}

	e.steps(5) // the fifth evaluation raises the imbalance anomaly
	e.want(e.do("GET", "/readyz", nil), http.StatusOK, "readyz after ticks")
	fams = e.scrape()
	for _, c := range []struct {
		name   string
		labels []string
		want   float64
	}{
		{"probe_agent_ticks_total", nil, 5},
		{"probe_agent_tick_duration_seconds", nil, 5},
		{"probe_agent_collector_errors_total", nil, 0},
		{"probe_agent_probes", []string{"state", "operational"}, 1},
		{"probe_agent_probes", []string{"state", "created"}, 0},
		{"probe_agent_probes", []string{"state", "error"}, 0},
		{"probe_agent_anomalies_raised_total", nil, 1},
		{"probe_agent_anomalies_active", nil, 1},
	} {
		if v, ok := value(fams, c.name, c.labels...); !ok || v != c.want {
			t.Errorf("%s%v = %v (present %v), want %v", c.name, c.labels, v, ok, c.want)
		}
	}
	if v, _ := value(fams, "probe_agent_last_tick_timestamp_seconds"); time.Since(time.Unix(int64(v), 0)) > time.Minute {
		t.Errorf("last tick timestamp %v", v)
	}

	e.steps(2) // the anomaly clears; the raise counter stays
	fams = e.scrape()
	if v, _ := value(fams, "probe_agent_anomalies_raised_total"); v != 1 {
		t.Errorf("anomalies_raised_total after the clear = %v", v)
	}
	if v, _ := value(fams, "probe_agent_anomalies_active"); v != 0 {
		t.Errorf("anomalies_active after the clear = %v", v)
	}

	// Ticks stall: no tick for more than three intervals makes it unready.
	e.server.now = func() time.Time { return time.Now().Add(4 * time.Second) }
	r = e.do("GET", "/readyz", nil)
	e.want(r, http.StatusServiceUnavailable, "readyz with stalled ticks")
	if !strings.Contains(string(r.body), "no tick completed") {
		t.Errorf("readyz: %s", r.body)
	}
	e.want(e.do("GET", "/healthz", nil), http.StatusOK, "healthz with stalled ticks")
}

func processMetricsSupported() bool {
	_, err := os.Stat("/proc/self/stat")
	return err == nil
}

// TestStreamMetrics: a configured streaming receiver gets its series,
// labelled by channel and receiver address.
func TestStreamMetrics(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	cfg := testConfig(t)
	addr := l.Addr().String()
	cfg.Streaming = []agent.StreamingEntry{{Type: "perfmon", Address: addr}}
	e := newEnv(t, cfg)
	// Running, the agent closes its senders when the test ends; a sender
	// left running would log its reconnects after the test is over.
	e.run()
	fams := e.scrape()
	for _, name := range []string{"probe_agent_stream_queue_depth", "probe_agent_stream_queue_bytes", "probe_agent_stream_dropped_total", "probe_agent_stream_dropped_queue_bytes_total", "probe_agent_stream_sent_total", "probe_agent_stream_written_total", "probe_agent_stream_written_on_failed_connections_total", "probe_agent_stream_connected", "probe_agent_stream_reconnects_total", "probe_agent_stream_connect_failures_total"} {
		if _, ok := value(fams, name, "channel", "perfmon", "receiver", addr); !ok {
			t.Errorf("no %s{channel=perfmon,receiver=%s}", name, addr)
		}
	}
}

// TestTLS serves over HTTPS when api.tls names a certificate and key.
func TestTLS(t *testing.T) {
	dir := t.TempDir()
	certFile, keyFile, pool := selfSigned(t, dir)
	cfg := testConfig(t)
	cfg.API.Listen = "127.0.0.1:0"
	cfg.API.TLS = agent.TLSConfig{Cert: certFile, Key: keyFile}
	a, err := agent.New(cfg, agent.Options{Logger: nil, Stdout: &bytes.Buffer{}, Collector: nopCollector{}})
	if err != nil {
		t.Fatal(err)
	}
	s := NewServer(a, cfg, nil, nil)
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
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	resp, err := client.Get("https://" + l.Addr().String() + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || resp.TLS == nil {
		t.Errorf("HTTPS healthz: %d, tls %v", resp.StatusCode, resp.TLS != nil)
	}
}

type nopCollector struct{}

func (nopCollector) Collect(context.Context, *collectors.Batch) error { return nil }
func (nopCollector) Close() error                                     { return nil }

// selfSigned writes a certificate for 127.0.0.1 and its key.
func selfSigned(t *testing.T, dir string) (certFile, keyFile string, pool *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "probe-agent test"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		IPAddresses:  []net.IP{net.ParseIP("127.0.0.1")},
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	pool = x509.NewCertPool()
	pool.AddCert(cert)
	kb, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb}), 0o600); err != nil {
		t.Fatal(err)
	}
	return certFile, keyFile, pool
}
