package natsbus_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nats-io/jwt/v2"
	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nkeys"

	"github.com/probe-agent/probe-agent/bus"
	"github.com/probe-agent/probe-agent/bus/natsbus"
)

// credsFile issues, under a fresh operator and account with JetStream,
// a user's .creds file (JWT and seed) and returns the server options that
// trust them, and a second user's file under another operator.
func credsFiles(t *testing.T) (func(*server.Options), string, string) {
	t.Helper()
	op, _ := nkeys.CreateOperator()
	opPub, _ := op.PublicKey()
	opc := jwt.NewOperatorClaims(opPub)
	opJWT, err := opc.Encode(op)
	if err != nil {
		t.Fatal(err)
	}
	opClaims, err := jwt.DecodeOperatorClaims(opJWT)
	if err != nil {
		t.Fatal(err)
	}
	acc, _ := nkeys.CreateAccount()
	accPub, _ := acc.PublicKey()
	ac := jwt.NewAccountClaims(accPub)
	ac.Limits.JetStreamLimits = jwt.JetStreamLimits{MemoryStorage: -1, DiskStorage: -1, Streams: -1, Consumer: -1}
	accJWT, err := ac.Encode(op)
	if err != nil {
		t.Fatal(err)
	}
	user := func(signer nkeys.KeyPair, account string) string {
		u, _ := nkeys.CreateUser()
		upub, _ := u.PublicKey()
		uc := jwt.NewUserClaims(upub)
		uc.IssuerAccount = account
		ujwt, err := uc.Encode(signer)
		if err != nil {
			t.Fatal(err)
		}
		seed, _ := u.Seed()
		creds, err := jwt.FormatUserConfig(ujwt, seed)
		if err != nil {
			t.Fatal(err)
		}
		f := filepath.Join(t.TempDir(), "user.creds")
		if err := os.WriteFile(f, creds, 0o600); err != nil {
			t.Fatal(err)
		}
		return f
	}
	good := user(acc, "")
	other, _ := nkeys.CreateAccount()
	bad := user(other, "")
	// The system account operator mode needs.
	sys, _ := nkeys.CreateAccount()
	sysPub, _ := sys.PublicKey()
	sysJWT, err := jwt.NewAccountClaims(sysPub).Encode(op)
	if err != nil {
		t.Fatal(err)
	}
	return func(o *server.Options) {
		r := &server.MemAccResolver{}
		if err := r.Store(accPub, accJWT); err != nil {
			t.Fatal(err)
		}
		if err := r.Store(sysPub, sysJWT); err != nil {
			t.Fatal(err)
		}
		o.SystemAccount = sysPub
		o.TrustedOperators = []*jwt.OperatorClaims{opClaims}
		o.AccountResolver = r
	}, good, bad
}

// TestCredsFile: a decentralised-auth .creds file (JWT and NKey seed) is
// accepted, one signed by an account the server does not know is refused.
func TestCredsFile(t *testing.T) {
	edit, good, bad := credsFiles(t)
	ts := startServer(t, edit)
	c := ts.config()
	c.CredsFile = good
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
	c.CredsFile = bad
	if _, err := natsbus.Connect(c); err == nil || !strings.Contains(strings.ToLower(err.Error()), "authorization violation") {
		t.Fatalf("Connect with an unknown account's creds: %v", err)
	}
}
