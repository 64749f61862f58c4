package controller

import (
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
