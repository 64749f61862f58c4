package natsbus_test

import (
	"context"
	"github.com/probe-agent/probe-agent/bus/natsbus"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nkeys"

	"github.com/probe-agent/probe-agent/agent/control/controltest"
	"github.com/probe-agent/probe-agent/bus"
	"github.com/probe-agent/probe-agent/tlsutil"
)

// TestCredentials: each kind of credential gets a record stored on a
// server that requires it; a wrong one is refused at natsbus.Connect with the
// server's reason, not retried for ever in the background.
func TestCredentials(t *testing.T) {
	kp, err := nkeys.CreateUser()
	if err != nil {
		t.Fatal(err)
	}
	pub, _ := kp.PublicKey()
	seed, _ := kp.Seed()
	seedFile := filepath.Join(t.TempDir(), "user.nk")
	if err := os.WriteFile(seedFile, seed, 0o600); err != nil {
		t.Fatal(err)
	}
	other, _ := nkeys.CreateUser()
	otherSeed, _ := other.Seed()
	otherFile := filepath.Join(t.TempDir(), "other.nk")
	_ = os.WriteFile(otherFile, otherSeed, 0o600)

	pki := controltest.New(t)
	for _, tc := range []struct {
		name   string
		server func(*server.Options)
		good   func(*natsbus.Config)
		bad    func(*natsbus.Config)
		badErr string
	}{
		{"user and password", func(o *server.Options) { o.Username, o.Password = "agent", "s3cret" },
			func(c *natsbus.Config) { c.User, c.Password = "agent", "s3cret" },
			func(c *natsbus.Config) { c.User, c.Password = "agent", "wrong" }, "authorization violation"},
		{"token", func(o *server.Options) { o.Authorization = "t0ken" },
			func(c *natsbus.Config) { c.Token = "t0ken" },
			func(c *natsbus.Config) { c.Token = "other" }, "authorization violation"},
		{"nkey", func(o *server.Options) { o.Nkeys = []*server.NkeyUser{{Nkey: pub}} },
			func(c *natsbus.Config) { c.NKeyFile = seedFile },
			func(c *natsbus.Config) { c.NKeyFile = otherFile }, "authorization violation"},
		{"tls", func(o *server.Options) {
			tc, err := server.GenTLSConfig(&server.TLSConfigOpts{CertFile: pki.ServerCert, KeyFile: pki.ServerKey, CaFile: pki.CA, Verify: true})
			if err != nil {
				t.Fatal(err)
			}
			o.TLSConfig, o.TLS, o.TLSVerify = tc, true, true
		}, func(c *natsbus.Config) {
			tc, err := tlsutil.Client(tlsutil.Files{CA: pki.CA, Cert: pki.ClientCert, Key: pki.ClientKey}, "")
			if err != nil {
				t.Fatal(err)
			}
			c.TLS = tc
		}, func(c *natsbus.Config) {
			tc, err := tlsutil.Client(tlsutil.Files{CA: pki.CA, Cert: pki.OtherCert, Key: pki.OtherKey}, "")
			if err != nil {
				t.Fatal(err)
			}
			c.TLS = tc
		}, "tls"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ts := startServer(t, tc.server)
			c := ts.config()
			tc.good(&c)
			p, err := natsbus.NewPublisher(context.Background(), c, bus.QueueOptions{})
			if err != nil {
				t.Fatal(err)
			}
			if err := p.Publish(record("leaf1", "p1", 1)); err != nil {
				t.Fatal(err)
			}
			if err := p.Close(context.Background()); err != nil {
				t.Fatal(err)
			}
			if st := p.Stats(); st.Sent != 1 {
				t.Fatalf("stats %+v", st)
			}
			c = ts.config()
			tc.bad(&c)
			_, err = natsbus.Connect(c)
			if err == nil || !strings.Contains(strings.ToLower(err.Error()), tc.badErr) {
				t.Fatalf("natsbus.Connect with wrong credentials: %v, want an error with %q", err, tc.badErr)
			}
		})
	}
}

func TestConfigValidate(t *testing.T) {
	for _, tc := range []struct {
		name string
		c    natsbus.Config
		want string
	}{
		{"no url", natsbus.Config{}, "urls"},
		{"bare host", natsbus.Config{URLs: []string{"localhost:4222"}}, "urls[0]"},
		{"two credentials", natsbus.Config{URLs: []string{"nats://h:1"}, User: "u", Token: "t"}, "one of"},
		{"password alone", natsbus.Config{URLs: []string{"nats://h:1"}, Password: "p"}, "password without user"},
		{"wildcard prefix", natsbus.Config{URLs: []string{"nats://h:1"}, Prefix: "a.*"}, "subject_prefix"},
		{"dotted stream", natsbus.Config{URLs: []string{"nats://h:1"}, Stream: "A.B"}, "stream"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.c.Validate()
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Validate = %v, want %q", err, tc.want)
			}
		})
	}
	if err := (natsbus.Config{URLs: []string{"nats://h:4222"}, Prefix: "dc1.pa", Token: "x"}).Validate(); err != nil {
		t.Fatal(err)
	}
}
