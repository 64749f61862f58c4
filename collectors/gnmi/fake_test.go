//lint:file-ignore SA1019 the fake target's top-level Values list is deprecated but is the documented way to script it.

package gnmi

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	fakegnmi "github.com/openconfig/gnmi/testing/fake/gnmi"
	fpb "github.com/openconfig/gnmi/testing/fake/proto"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"

	"github.com/probe-agent/probe-agent/collectors"
)

// fakeConfig makes the third-party fake target replay, in the deprecated
// Element path form, three increasing in-octets samples and an oper-status
// for eth0 and out-octets for eth1. It ends the stream after the last value,
// and restarts from the first value for the next subscriber: to a collector
// that is a dropped stream followed by a device whose counters went back.
func fakeConfig() *fpb.Config {
	leaf := func(ifname string, rel ...string) []string {
		return append([]string{"interfaces", "interface[name=" + ifname + "]"}, rel...)
	}
	// The fake emits Value first and then steps through the list.
	uints := func(vs ...uint64) *fpb.Value_UintValue {
		return &fpb.Value_UintValue{UintValue: &fpb.UintValue{Value: vs[0],
			Distribution: &fpb.UintValue_List{List: &fpb.UintList{Options: vs[1:]}}}}
	}
	ts := func(start int64) *fpb.Timestamp {
		return &fpb.Timestamp{Timestamp: start, DeltaMin: 1e6, DeltaMax: 1e6}
	}
	return &fpb.Config{
		Target: "fakedev",
		Port:   0,
		Values: []*fpb.Value{
			{Path: leaf("eth0", "state", "counters", "in-octets"), Timestamp: ts(1_000_000), Repeat: 3, Value: uints(1000, 2000, 3000)},
			{Path: leaf("eth0", "state", "oper-status"), Timestamp: ts(1_500_000), Repeat: 1,
				Value: &fpb.Value_StringValue{StringValue: &fpb.StringValue{Value: "UP"}}},
			{Path: leaf("eth1", "state", "counters", "out-octets"), Timestamp: ts(1_200_000), Repeat: 1, Value: uints(77)},
		},
	}
}

func checkFakeStream(t *testing.T, c *Collector) {
	t.Helper()
	waitFor(t, "eth0 and eth1 from the fake target", waitLong, func() bool {
		b := collect(t, c, nil)
		e0, e1 := find(b, "eth0"), find(b, "eth1")
		return e0 != nil && e0.Oper == collectors.OperUp && e0.Counters[collectors.RxBytes] == 3000 &&
			e1 != nil && e1.Counters[collectors.TxBytes] == 77
	})
	// The fake ends every stream and replays from 1000: the collector must
	// reconnect and take the drop back to 1000 as a new generation.
	waitFor(t, "reconnect and generation bump", waitLong, func() bool {
		i := find(collect(t, c, nil), "eth0")
		st := c.Stats()
		return i != nil && i.Generation >= 1 && st.Reconnects >= 1 && st.CounterResets >= 1
	})
	if st := c.Stats(); st.DecodeErrors != 0 {
		t.Errorf("decode errors: %+v", st)
	}
}

func TestFakeTargetPlaintext(t *testing.T) {
	agent, err := fakegnmi.New(fakeConfig(), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(agent.Close)
	o := testOptions(agent.Address())
	o.PrefixTarget = "fakedev"
	checkFakeStream(t, newTestCollector(t, o))
}

func TestFakeTargetMutualTLS(t *testing.T) {
	dir := t.TempDir()
	pki := newTestPKI(t, dir)
	serverTLS := &tls.Config{
		Certificates: []tls.Certificate{pki.server},
		ClientCAs:    pki.pool,
		ClientAuth:   tls.RequireAndVerifyClientCert,
		MinVersion:   tls.VersionTLS12,
	}
	agent, err := fakegnmi.New(fakeConfig(), []grpc.ServerOption{grpc.Creds(credentials.NewTLS(serverTLS))})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(agent.Close)

	o := testOptions(agent.Address())
	o.PrefixTarget = "fakedev"
	o.Insecure = false
	o.TLS = TLSOptions{CAFile: pki.caFile, CertFile: pki.clientCert, KeyFile: pki.clientKey}
	checkFakeStream(t, newTestCollector(t, o))
}

func TestTLSRejectsUnknownCA(t *testing.T) {
	dir := t.TempDir()
	pki := newTestPKI(t, dir)
	other := newTestPKI(t, t.TempDir())
	agent, err := fakegnmi.New(fakeConfig(), []grpc.ServerOption{grpc.Creds(credentials.NewTLS(&tls.Config{
		Certificates: []tls.Certificate{pki.server}, MinVersion: tls.VersionTLS12}))})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(agent.Close)
	o := testOptions(agent.Address())
	o.Insecure = false
	o.TLS = TLSOptions{CAFile: other.caFile}
	c := newTestCollector(t, o)
	waitFor(t, "failed handshakes", waitLong, func() bool { return c.Stats().Subscribes >= 2 })
	if st := c.Stats(); st.Responses != 0 || len(collect(t, c, nil).Interfaces) != 0 {
		t.Fatalf("data accepted from a target signed by an unknown CA: %+v", st)
	}

	// The lab escape hatch accepts it.
	o.TLS = TLSOptions{InsecureSkipVerify: true}
	o.PrefixTarget = "fakedev"
	c2 := newTestCollector(t, o)
	waitFor(t, "data with InsecureSkipVerify", waitLong, func() bool { return len(collect(t, c2, nil).Interfaces) == 2 })
}

type testPKI struct {
	pool                          *x509.CertPool
	server                        tls.Certificate
	caFile, clientCert, clientKey string
}

// newTestPKI makes a self-signed CA, a server certificate for localhost
// and a client certificate, and writes the CA and the client pair to dir.
func newTestPKI(t *testing.T, dir string) testPKI {
	t.Helper()
	newKey := func() *ecdsa.PrivateKey {
		k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		return k
	}
	serial := int64(0)
	now := time.Now()
	sign := func(tmpl *x509.Certificate, key *ecdsa.PrivateKey, parent *x509.Certificate, parentKey *ecdsa.PrivateKey) ([]byte, *x509.Certificate) {
		serial++
		tmpl.SerialNumber = big.NewInt(serial)
		tmpl.NotBefore, tmpl.NotAfter = now.Add(-time.Hour), now.Add(time.Hour)
		if parent == nil {
			parent, parentKey = tmpl, key
		}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, &key.PublicKey, parentKey)
		if err != nil {
			t.Fatal(err)
		}
		cert, err := x509.ParseCertificate(der)
		if err != nil {
			t.Fatal(err)
		}
		return der, cert
	}
	caKey := newKey()
	caDER, ca := sign(&x509.Certificate{Subject: pkix.Name{CommonName: "test CA"}, IsCA: true,
		BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}, caKey, nil, nil)
	srvKey := newKey()
	srvDER, _ := sign(&x509.Certificate{Subject: pkix.Name{CommonName: "localhost"},
		DNSNames: []string{"localhost"}, IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback},
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}, KeyUsage: x509.KeyUsageDigitalSignature}, srvKey, ca, caKey)
	cliKey := newKey()
	cliDER, _ := sign(&x509.Certificate{Subject: pkix.Name{CommonName: "probe-agent"},
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}, KeyUsage: x509.KeyUsageDigitalSignature}, cliKey, ca, caKey)

	write := func(name, typ string, der []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	keyDER := func(k *ecdsa.PrivateKey) []byte {
		b, err := x509.MarshalECPrivateKey(k)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	srvKeyDER := keyDER(srvKey)
	server, err := tls.X509KeyPair(
		pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srvDER}),
		pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: srvKeyDER}))
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(ca)
	return testPKI{
		pool:       pool,
		server:     server,
		caFile:     write("ca.pem", "CERTIFICATE", caDER),
		clientCert: write("client.pem", "CERTIFICATE", cliDER),
		clientKey:  write("client-key.pem", "EC PRIVATE KEY", keyDER(cliKey)),
	}
}
