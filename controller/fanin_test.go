package controller

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"
)

const faninBase = "topology: {file: lab.yml}\nagents: {defaults: {insecure: true}}\n"

func TestFanInConfig(t *testing.T) {
	cfg, err := ParseConfig([]byte(faninBase+"fanin:\n  member_id: ctl-2\n  push_config: false\n  nats:\n    urls: ['nats://n1:4222', 'nats://n2:4222']\n    creds_file: /etc/probe-controller/nats.creds\n    lease_ttl: 2s\n"), "c.yaml")
	if err != nil {
		t.Fatal(err)
	}
	f := cfg.FanIn
	if !f.Enabled() || f.Pushes() || f.MemberID != "ctl-2" || len(f.NATS.URLs) != 2 || f.NATS.LeaseTTL.D().String() != "2s" {
		t.Fatalf("fanin %+v", f)
	}
	cfg, _ = ParseConfig([]byte(faninBase), "c.yaml")
	if cfg.FanIn.Enabled() || !cfg.FanIn.Pushes() {
		t.Fatalf("no fanin: %+v", cfg.FanIn)
	}
}

func TestFanInConfigErrors(t *testing.T) {
	for _, tc := range []struct{ name, in, want string }{
		{"no url", "fanin: {nats: {}}\n", "c.yaml:3: fanin.nats: urls"},
		{"lease past staleness", "interval: 1s\nstaleness: 3\nfanin:\n  nats: {urls: ['nats://n:4222'], lease_ttl: 3s}\n", "fanin.nats.lease_ttl: 3s must be shorter than the staleness bound"},
		{"two credentials", "fanin: {nats: {urls: ['nats://n:4222'], token_file: t, creds_file: c}}\n", "fanin.nats: credentials: set one of"},
		{"password alone", "fanin: {nats: {urls: ['nats://n:4222'], password_file: p}}\n", "fanin.nats.password_file: needs user"},
		{"member without broker", "fanin: {member_id: x}\n", "fanin: member_id and push_config need a broker"},
		{"unknown key", "fanin: {nats: {url: 'nats://n:4222'}}\n", "field url not found"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseConfig([]byte(faninBase+tc.in), "c.yaml")
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want %q", err, tc.want)
			}
		})
	}
}

// TestFanInPushConfig: a controller with push_config false starts no agent
// session (another controller pushes this fabric); with the default it
// starts one per agent.
func TestFanInPushConfig(t *testing.T) {
	abs, err := filepath.Abs(labFile)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		push string
		want int
	}{{"false", 0}, {"true", 4}} {
		t.Run("push_config="+tc.push, func(t *testing.T) {
			yml := fmt.Sprintf("topology: {file: %q, roles: {leaf1: leaf, leaf2: leaf, leaf3: leaf, leaf4: leaf}}\nagents: {defaults: {insecure: true}}\nstate_dir: %q\nfanin:\n  push_config: %s\n  nats: {urls: ['nats://127.0.0.1:1'], lease_ttl: 1s}\n",
				abs, t.TempDir(), tc.push)
			cfg, err := ParseConfig([]byte(yml), "c.yaml")
			if err != nil {
				t.Fatal(err)
			}
			c, err := New(cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithCancel(context.Background())
			c.mu.Lock()
			c.runCtx = ctx
			c.syncSessionsLocked(c.cfg)
			n := len(c.sessions)
			for dev, s := range c.sessions {
				s.stop()
				delete(c.sessions, dev)
			}
			c.mu.Unlock()
			cancel()
			c.wg.Wait()
			if n != tc.want {
				t.Fatalf("%d sessions, want %d", n, tc.want)
			}
		})
	}
}
