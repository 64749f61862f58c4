package controller

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/probe-agent/probe-agent/agent"
	"github.com/probe-agent/probe-agent/probe"
	"github.com/probe-agent/probe-agent/topology"
	"github.com/probe-agent/probe-agent/topology/resolve"
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
	abs, err := filepath.Abs("../containerlab/fanin-nats/fanin-nats.clab.yml")
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		push string
		want int
	}{{"false", 0}, {"true", 6}} {
		t.Run("push_config="+tc.push, func(t *testing.T) {
			yml := fmt.Sprintf("topology: {file: %q}\nagents: {defaults: {insecure: true}}\nstate_dir: %q\nfanin:\n  push_config: %s\n  nats: {urls: ['nats://127.0.0.1:1'], lease_ttl: 1s}\n",
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

// TestFanInLabLoads: the containerlab example's topology loads without
// warnings and resolves the seed probe, its controller configurations
// parse with fanin (ctl1 pushes, ctl2 does not) and its agent
// configurations parse with a nats entry.
func TestFanInLabLoads(t *testing.T) {
	const dir = "../containerlab/fanin-nats"
	g, warnings, err := topology.LoadFile(dir+"/fanin-nats.clab.yml", topology.Options{})
	if err != nil || len(warnings) > 0 {
		t.Fatalf("topology: %v %v", err, warnings)
	}
	doc, err := os.ReadFile(dir + "/probes.d/seed_probe.json")
	if err != nil {
		t.Fatal(err)
	}
	comp, err := compileProbe(doc, &Fabric{Graph: g}, resolve.NodeNames, probe.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if comp.id != "seed-server-imbalance" || comp.split.Central == nil {
		t.Fatalf("seed: id %q, central %v", comp.id, comp.split.Central != nil)
	}
	for _, tc := range []struct {
		file string
		push bool
	}{{"ctl1.yaml", true}, {"ctl2.yaml", false}} {
		cfg, err := LoadConfig(dir + "/" + tc.file)
		if err != nil {
			t.Fatal(err)
		}
		if !cfg.FanIn.Enabled() || cfg.FanIn.Pushes() != tc.push {
			t.Errorf("%s: fanin %+v", tc.file, cfg.FanIn)
		}
	}
	for _, n := range []string{"spine1", "spine2", "leaf1", "leaf2", "leaf3", "leaf4"} {
		cfg, err := agent.Load(dir + "/agent-" + n + ".yaml")
		if err != nil {
			t.Fatal(err)
		}
		if cfg.SystemID != n || len(cfg.Streaming) != 1 || cfg.Streaming[0].Type != "nats" {
			t.Errorf("agent-%s.yaml: %+v", n, cfg.Streaming)
		}
	}
}
