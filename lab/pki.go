package lab

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"time"
)

// certValidity is how long the lab's certificates last: labs are torn down
// long before, and a year keeps a forgotten lab working.
const certValidity = 365 * 24 * time.Hour

// WritePKI writes a fresh CA and, for every name, an ECDSA P-256 key and a
// certificate from that CA valid for both server and client
// authentication, with 127.0.0.1, localhost, the name itself and
// SharedServerName as subject alternative names: every member of the lab
// (agents, the controller, the user's probectl) is reached on loopback, or
// by a management address verified as SharedServerName, and may dial the
// others. Keys are written 0600.
func WritePKI(l Layout, names []string) error {
	if err := os.MkdirAll(filepath.Dir(l.CA()), 0o700); err != nil {
		return err
	}
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return err
	}
	now := time.Now()
	caTmpl := &x509.Certificate{
		SerialNumber:          serialNumber(),
		Subject:               pkix.Name{CommonName: "probectl lab CA", Organization: []string{"probe-agent lab"}},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(certValidity),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature | x509.KeyUsageCRLSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		return err
	}
	caCert, err := x509.ParseCertificate(caDER)
	if err != nil {
		return err
	}
	if err := writePEM(l.CA(), "CERTIFICATE", caDER, 0o644); err != nil {
		return err
	}
	if err := writeKey(l.CAKey(), caKey); err != nil {
		return err
	}
	for _, name := range names {
		key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			return err
		}
		tmpl := &x509.Certificate{
			SerialNumber: serialNumber(),
			Subject:      pkix.Name{CommonName: name, Organization: []string{"probe-agent lab"}},
			NotBefore:    now.Add(-time.Hour),
			NotAfter:     now.Add(certValidity),
			KeyUsage:     x509.KeyUsageDigitalSignature,
			ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
			IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1)},
			DNSNames:     []string{"localhost", name, SharedServerName},
		}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, caCert, &key.PublicKey, caKey)
		if err != nil {
			return fmt.Errorf("certificate for %s: %w", name, err)
		}
		if err := writePEM(l.Cert(name), "CERTIFICATE", der, 0o644); err != nil {
			return err
		}
		if err := writeKey(l.Key(name), key); err != nil {
			return err
		}
	}
	return nil
}

func serialNumber() *big.Int {
	n, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 120))
	if err != nil {
		panic(err) // crypto/rand does not fail on Linux
	}
	return n
}

func writeKey(path string, key *ecdsa.PrivateKey) error {
	der, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		return err
	}
	return writePEM(path, "EC PRIVATE KEY", der, 0o600)
}

func writePEM(path, typ string, der []byte, mode os.FileMode) error {
	return os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), mode)
}
