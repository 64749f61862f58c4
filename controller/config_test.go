package controller

import (
	"strings"
	"testing"
	"time"
)

// TestExampleConfigParses keeps the printed example valid.
func TestExampleConfigParses(t *testing.T) {
	cfg, err := ParseConfig(ExampleConfig, "example.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if cfg.BlueprintID != "dc1" || cfg.Agents.Defaults.Port != 50051 || cfg.Staleness != 3 || cfg.Interval.D() != time.Second ||
		cfg.MaxMissingShare != 0.5 || cfg.StaleAfter() != 3*time.Second {
		t.Errorf("example: %+v", cfg)
	}
}

func TestConfigDefaults(t *testing.T) {
	cfg, err := ParseConfig([]byte("topology: {file: lab.yml}\nagents: {defaults: {insecure: true}}\n"), "c.yaml")
	if err != nil {
		t.Fatal(err)
	}
	d := Defaults()
	if cfg.Interval != d.Interval || cfg.Staleness != 3 || cfg.MaxMissingShare != 0.5 || cfg.StateDir != d.StateDir ||
		cfg.Agents.Defaults.Port != 50051 || cfg.Topology.InterfaceNames != "nos" || cfg.BlueprintID != "fabric" {
		t.Errorf("defaults: %+v", cfg)
	}
}

// TestConfigErrors: every problem is reported, each with the file, the
// line and the key.
func TestConfigErrors(t *testing.T) {
	for _, tc := range []struct {
		name, in string
		want     []string
	}{
		{"unknown key", "topology: {file: x}\nagents: {defaults: {insecure: true}}\nstaleneess: 3\n", []string{"c.yaml: line 3: field staleneess not found"}},
		{"no topology", "agents: {defaults: {insecure: true}}\n", []string{"c.yaml: topology.file: must name"}},
		{"bad values", `topology:
  file: lab.yml
agents:
  defaults:
    port: 70000
  systems:
    leaf1: {address: "nope"}
interval: 1ms
staleness: 0
max_missing_share: 1.5
streaming:
  - {type: perfmon, address: "x"}
log_level: loud
`, []string{
			"c.yaml:5: agents.defaults.port: 70000 is not a TCP port",
			"c.yaml:4: agents.defaults.tls: cert and key must be set",
			"c.yaml:7: agents.systems.leaf1.address: \"nope\" is not HOST:PORT",
			"c.yaml:8: interval: 1ms is too short",
			"c.yaml:9: staleness: 0: want at least 1 interval",
			"c.yaml:10: max_missing_share: 1.5",
			"c.yaml:12: streaming[0].address",
			"c.yaml:13: log_level",
		}},
		{"bad duration", "topology: {file: x}\ninterval: soon\n", []string{"c.yaml: line 2: \"soon\" is not a duration"}},
		{"bad interface names", "topology: {file: x, interface_names: linux}\nagents: {defaults: {insecure: true}}\n", []string{"c.yaml:1: topology.interface_names: want nos or node"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseConfig([]byte(tc.in), "c.yaml")
			if err == nil {
				t.Fatal("no error")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q\ndoes not contain %q", err, w)
				}
			}
		})
	}
}

func FuzzParseConfig(f *testing.F) {
	f.Add(ExampleConfig)
	f.Add([]byte("topology: {file: x}\nagents: {systems: {a: {address: \"1.2.3.4:5\"}}}\n"))
	f.Add([]byte("interval: [1\n"))
	f.Add([]byte("topology: {file: x}\nagents: {defaults: {insecure: true}}\nlimits: {stage_memory: 1.5GiB, items_per_stage: 10, items_per_device: 10, edge_anomaly_memory: 0}\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		cfg, err := ParseConfig(data, "fuzz.yaml")
		if err == nil && (cfg.Topology.File == "" || cfg.Staleness < 1 || cfg.Interval.D() < 10*time.Millisecond) {
			t.Fatalf("accepted an invalid configuration: %+v", cfg)
		}
		if err != nil {
			return
		}
		// Accepted budgets are usable: the engine takes them and a
		// device's update fits a stage.
		l := cfg.Limits.WithDefaults()
		if cfg.Limits.Engine().Check() != nil || l.ItemsPerDevice > l.ItemsPerStage || l.ProbesPerFabric < 1 || l.EdgeAnomalyMemory < 1 {
			t.Fatalf("accepted unusable limits: %+v", cfg.Limits)
		}
	})
}
