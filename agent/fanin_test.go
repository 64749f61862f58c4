package agent

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestNATSEntryConfig(t *testing.T) {
	dir := t.TempDir()
	pass := filepath.Join(dir, "pass")
	if err := os.WriteFile(pass, []byte("s3cret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := Parse([]byte("streaming:\n  - {type: perfmon, address: 'r:4444'}\n  - type: nats\n    address: 'nats1:4222'\n    nats:\n      urls: ['nats://nats2:4222']\n      subject_prefix: dc1.pa\n      user: agent\n      password_file: " + pass + "\n"))
	if err != nil {
		t.Fatal(err)
	}
	e := cfg.Streaming[1]
	c, err := e.natsClientConfig(true)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(c.URLs, ",") != "nats://nats1:4222,nats://nats2:4222" || c.Prefix != "dc1.pa" || c.User != "agent" || c.Password != "s3cret" {
		t.Fatalf("client config %+v", c)
	}
	if got := aosEntries(cfg.Streaming); len(got) != 1 || got[0].Type != "perfmon" {
		t.Fatalf("aosout entries %+v", got)
	}
	// TLS makes the address a tls:// URL.
	cfg, err = Parse([]byte("streaming:\n  - {type: nats, address: 'n:4222', tls: {ca: ca.pem}}\n"))
	if err != nil {
		t.Fatal(err)
	}
	if c, _ := cfg.Streaming[0].natsClientConfig(false); c.URLs[0] != "tls://n:4222" {
		t.Fatalf("URLs %v", c.URLs)
	}
}

func TestNATSEntryErrors(t *testing.T) {
	for _, tc := range []struct{ name, yaml, want string }{
		{"two credentials", "streaming:\n  - {type: nats, address: 'n:4222', nats: {token_file: t, nkey_file: k}}\n", "line 2: streaming[0].nats: credentials: set one of"},
		{"password without user", "streaming:\n  - {type: nats, address: 'n:4222', nats: {password_file: p}}\n", "streaming[0].nats.password_file: needs user"},
		{"wildcard prefix", "streaming:\n  - {type: nats, address: 'n:4222', nats: {subject_prefix: 'a.>'}}\n", "streaming[0].nats: subject_prefix"},
		{"sequenced", "streaming:\n  - {type: nats, address: 'n:4222', sequenced: true}\n", "streaming[0].sequenced: not for type nats"},
		{"no address", "streaming:\n  - {type: nats}\n", "streaming[0].address: want host:port"},
		{"unknown key", "streaming:\n  - {type: nats, address: 'n:4222', nats: {subject: x}}\n", "field subject not found"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse([]byte(tc.yaml))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want %q", err, tc.want)
			}
		})
	}
}

// TestNATSEntryUnreadableSecret: a password file that cannot be read stops
// the start with its key named.
func TestNATSEntryUnreadableSecret(t *testing.T) {
	cfg, err := Parse([]byte("streaming:\n  - {type: nats, address: '127.0.0.1:1', nats: {user: u, password_file: /nonexistent/pass}}\n"))
	if err != nil {
		t.Fatal(err)
	}
	_, err = newFanIn(cfg, NewExports(), nil)
	if err == nil || !strings.Contains(err.Error(), "streaming[0]: nats.password_file") {
		t.Fatalf("error %v", err)
	}
}
