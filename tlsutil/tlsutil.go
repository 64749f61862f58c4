// Package tlsutil builds the TLS configurations both daemons use: mutual
// TLS for the services they serve (the agent's control plane and REST API,
// the controller's API) and client configurations for the connections they
// make (streaming receivers, agents' control planes, gNMI targets). Keeping
// one implementation means the agent and the controller refuse the same
// things with the same words.
package tlsutil

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"os"
	"strings"
)

// LoadCertPool reads a PEM bundle of CA certificates.
func LoadCertPool(file string) (*x509.CertPool, error) {
	pem, err := os.ReadFile(file)
	if err != nil {
		return nil, err
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("%s holds no PEM certificate", file)
	}
	return pool, nil
}

// Files names the PEM files of one side of a TLS connection.
type Files struct {
	CA, Cert, Key string
}

// Server builds a mutual-TLS server configuration: it presents cert/key and
// accepts only clients whose certificate chains to ca. prefix names the
// configuration keys in errors ("control.tls", "api.tls").
func Server(f Files, prefix string) (*tls.Config, error) {
	var missing []string
	for _, k := range []struct{ name, val string }{{"ca", f.CA}, {"cert", f.Cert}, {"key", f.Key}} {
		if k.val == "" {
			missing = append(missing, prefix+"."+k.name)
		}
	}
	if len(missing) > 0 {
		return nil, fmt.Errorf("%s must be set for mutual TLS", strings.Join(missing, ", "))
	}
	cert, err := tls.LoadX509KeyPair(f.Cert, f.Key)
	if err != nil {
		return nil, fmt.Errorf("%s.cert/key: %w", prefix, err)
	}
	pool, err := LoadCertPool(f.CA)
	if err != nil {
		return nil, fmt.Errorf("%s.ca: %w", prefix, err)
	}
	return &tls.Config{
		Certificates: []tls.Certificate{cert},
		ClientCAs:    pool,
		ClientAuth:   tls.RequireAndVerifyClientCert,
		MinVersion:   tls.VersionTLS12,
	}, nil
}

// Client builds a client configuration: the peer is verified against ca
// (the system roots when empty) under serverName (the dialled host when
// empty), and cert/key, when given, are presented.
func Client(f Files, serverName string) (*tls.Config, error) {
	tc := &tls.Config{MinVersion: tls.VersionTLS12, ServerName: serverName}
	if f.CA != "" {
		pool, err := LoadCertPool(f.CA)
		if err != nil {
			return nil, fmt.Errorf("CA: %w", err)
		}
		tc.RootCAs = pool
	}
	if f.Cert != "" || f.Key != "" {
		c, err := tls.LoadX509KeyPair(f.Cert, f.Key)
		if err != nil {
			return nil, fmt.Errorf("client certificate: %w", err)
		}
		tc.Certificates = []tls.Certificate{c}
	}
	return tc, nil
}
