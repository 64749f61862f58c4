package kafkabus_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"math/big"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/probe-agent/probe-agent/bus"
	"github.com/probe-agent/probe-agent/bus/kafkabus"
	pb "github.com/probe-agent/probe-agent/proto/probeagent/v1"
)

// selfSigned is a server certificate for 127.0.0.1 and the pool that
// trusts it.
func selfSigned(t *testing.T) (tls.Certificate, *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "kfake"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, KeyUsage: x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}, IsCA: true, BasicConstraintsValid: true}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: cert}, pool
}

func oneRecord(t *testing.T) []bus.Encoded {
	rec := &bus.Record{Blueprint: "bp", Probe: "p1", Batch: &pb.StageBatch{Device: "leaf1", Session: "s", Seq: 1}}
	body, err := rec.Encode()
	if err != nil {
		t.Fatal(err)
	}
	return []bus.Encoded{{Rec: rec, Body: body}}
}

// TestAuth: the Sink reaches a broker that requires TLS and SASL (PLAIN,
// SCRAM-SHA-256, SCRAM-SHA-512) with the right credentials, and fails a
// Send with wrong ones or without TLS.
func TestAuth(t *testing.T) {
	cert, pool := selfSigned(t)
	serverTLS := &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	clientTLS := &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
	for _, tc := range []struct {
		name      string
		mechanism string
		password  string
		tls       *tls.Config
		wantErr   string
	}{
		{"plain over tls", "PLAIN", "secret", clientTLS, ""},
		{"scram-sha-256 over tls", "SCRAM-SHA-256", "secret", clientTLS, ""},
		{"scram-sha-512 over tls", "SCRAM-SHA-512", "secret", clientTLS, ""},
		{"wrong password", "SCRAM-SHA-256", "wrong", clientTLS, "kafka produce"},
		{"no tls", "SCRAM-SHA-256", "secret", nil, "kafka produce"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := newCluster(t, kfake.EnableSASL(), kfake.Superuser(strings.ToUpper(tc.mechanism), "agent", "secret"), kfake.TLS(serverTLS))
			cfg := kafkabus.Config{Brokers: c.ListenAddrs(), Mechanism: tc.mechanism, User: "agent", Password: tc.password, TLS: tc.tls, Partitions: 2, Log: quiet}
			if tc.wantErr != "" {
				cfg.DeliveryTimeout = 2 * time.Second
			}
			s, err := kafkabus.NewSink(cfg)
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			if tc.wantErr == "" {
				if err := kafkabus.EnsureTopics(ctx, s.Client(), cfg); err != nil {
					t.Fatal(err)
				}
			}
			err = s.Send(ctx, oneRecord(t))
			switch {
			case tc.wantErr == "" && err != nil:
				t.Fatalf("send: %v", err)
			case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)):
				t.Fatalf("send: %v, want an error with %q", err, tc.wantErr)
			}
		})
	}
}

// TestValidate: configuration mistakes are refused naming the key.
func TestValidate(t *testing.T) {
	ok := kafkabus.Config{Brokers: []string{"k1:9092"}}
	for _, tc := range []struct {
		name string
		edit func(*kafkabus.Config)
		want string
	}{
		{"ok", func(*kafkabus.Config) {}, ""},
		{"no brokers", func(c *kafkabus.Config) { c.Brokers = nil }, "brokers:"},
		{"broker without port", func(c *kafkabus.Config) { c.Brokers = []string{"k1"} }, "brokers[0]"},
		{"user without mechanism", func(c *kafkabus.Config) { c.User = "u" }, "user: set mechanism"},
		{"unknown mechanism", func(c *kafkabus.Config) { c.Mechanism, c.User, c.Password = "GSSAPI", "u", "p" }, "mechanism: want PLAIN"},
		{"scram without password", func(c *kafkabus.Config) { c.Mechanism, c.User = "SCRAM-SHA-512", "u" }, "needs user and password"},
		{"bad topic", func(c *kafkabus.Config) { c.Prefix = "a b" }, "topic:"},
		{"heartbeat past session", func(c *kafkabus.Config) { c.SessionTimeout, c.HeartbeatInterval = time.Second, 2*time.Second }, "heartbeat_interval"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := ok
			tc.edit(&c)
			err := c.Validate()
			if tc.want == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Validate: %v, want an error with %q", err, tc.want)
			}
		})
	}
}
