package controller

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestLoadFabric(t *testing.T) {
	lab := `name: t
topology:
  nodes:
    spine1: {kind: linux, mgmt-ipv4: 172.20.20.2}
    leaf1: {kind: linux, mgmt-ipv4: 172.20.20.3, labels: {system_id: "5254.0001"}}
    leaf2: {kind: linux}
    server1: {kind: linux}
  links:
    - endpoints: ["leaf1:eth1", "spine1:eth1"]
    - endpoints: ["leaf2:eth1", "spine1:eth2"]
    - endpoints: ["leaf1:eth2", "server1:eth1"]
`
	file := filepath.Join(t.TempDir(), "t.clab.yml")
	if err := os.WriteFile(file, []byte(lab), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name    string
		systems map[string]SystemConfig
		want    []AgentInfo
		warning string
		err     string
	}{
		{name: "mgmt addresses, one switch unmanaged",
			want: []AgentInfo{{Name: "leaf1", Device: "5254.0001", Role: "leaf", Address: "172.20.20.3:50051"},
				{Name: "spine1", Device: "spine1", Role: "spine", Address: "172.20.20.2:50051"}},
			warning: "no address for switches [leaf2]"},
		{name: "systems override", systems: map[string]SystemConfig{"leaf2": {Address: "127.0.0.1:7"}, "spine1": {Address: "127.0.0.1:8"}},
			want: []AgentInfo{{Name: "leaf1", Device: "5254.0001", Role: "leaf", Address: "172.20.20.3:50051"},
				{Name: "leaf2", Device: "leaf2", Role: "leaf", Address: "127.0.0.1:7"},
				{Name: "spine1", Device: "spine1", Role: "spine", Address: "127.0.0.1:8"}}},
		{name: "a server is no agent", systems: map[string]SystemConfig{"server1": {Address: "127.0.0.1:9"}}, err: "agents.systems.server1: no switch of that name"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := Defaults()
			cfg.Topology.File, cfg.Agents.Systems = file, tc.systems
			f, err := LoadFabric(&cfg)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("error %v, want %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(f.Agents) != len(tc.want) {
				t.Fatalf("agents %+v, want %+v", f.Agents, tc.want)
			}
			for i := range tc.want {
				if f.Agents[i] != tc.want[i] {
					t.Errorf("agent %d: %+v, want %+v", i, f.Agents[i], tc.want[i])
				}
			}
			if tc.warning != "" && !strings.Contains(strings.Join(f.Warnings, "\n"), tc.warning) {
				t.Errorf("warnings %q, want %q", f.Warnings, tc.warning)
			}
		})
	}
}
