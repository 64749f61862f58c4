package controller

import (
	"io"
	"log/slog"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/probe-agent/probe-agent/agent"
	"github.com/probe-agent/probe-agent/topology"
)

const (
	podNATS  = "blueprint_id: pod1\nfanin: {nats: {urls: ['nats://n:4222'], lease_ttl: 1s}}\n"
	podKafka = "blueprint_id: pod1\nfanin: {kafka: {brokers: ['k1:9092'], session_timeout: 1s}}\n"
)

// TestUpwardConfig: what the upward and fanin.devices keys become.
func TestUpwardConfig(t *testing.T) {
	for _, tc := range []struct {
		name, in string
		check    func(t *testing.T, c Config)
	}{
		{"pod through fanin's server", podNATS + "upward: {blueprint: fabric}\n", func(t *testing.T, c Config) {
			u := c.Upward
			if u == nil || u.Blueprint != "fabric" || u.device(&c) != "pod1" || u.NATS != nil || u.Kafka != nil || u.Queue != (UpwardQueue{}) {
				t.Errorf("upward %+v", u)
			}
		}},
		{"pod to another server, named", podNATS + "upward:\n  blueprint: fabric\n  as: pod-east\n  nats: {urls: ['nats://up:4222'], stream: FABRIC, subject_prefix: fabric}\n  queue: {messages: 500, bytes: 2097152}\n",
			func(t *testing.T, c Config) {
				u := c.Upward
				if u.device(&c) != "pod-east" || u.NATS == nil || u.NATS.URLs[0] != "nats://up:4222" || u.NATS.Stream != "FABRIC" || u.Queue.Messages != 500 || u.Queue.Bytes != 2<<20 {
					t.Errorf("upward %+v", u)
				}
			}},
		{"pod through kafka, own topic", podKafka + "upward: {blueprint: fabric, kafka: {brokers: ['k1:9092'], topic: fabric}}\n", func(t *testing.T, c Config) {
			if k := c.Upward.Kafka; k == nil || topicOf(k) != "fabric" {
				t.Errorf("upward %+v", c.Upward)
			}
		}},
		{"kafka upward to other brokers, default topic", podKafka + "upward: {blueprint: fabric, kafka: {brokers: ['up:9092']}}\n", func(t *testing.T, c Config) {
			if k := c.Upward.Kafka; k == nil || topicOf(k) != "probeagent" {
				t.Errorf("upward %+v", c.Upward)
			}
		}},
		{"fabric level hearing from pods", "blueprint_id: fabric\nfanin: {push_config: false, devices: [pod1, pod2], nats: {urls: ['nats://n:4222'], lease_ttl: 1s}}\n", func(t *testing.T, c Config) {
			if c.Upward != nil || strings.Join(c.FanIn.Devices, ",") != "pod1,pod2" {
				t.Errorf("fanin %+v upward %+v", c.FanIn, c.Upward)
			}
		}},
		{"neither", podNATS, func(t *testing.T, c Config) {
			if c.Upward != nil || c.FanIn.Devices != nil {
				t.Errorf("fanin %+v upward %+v", c.FanIn, c.Upward)
			}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := ParseConfig([]byte(faninBase+tc.in), "c.yaml")
			if err != nil {
				t.Fatal(err)
			}
			tc.check(t, c)
		})
	}
}

// TestUpwardConfigErrors: every refusal names the file, the line and the
// key.
func TestUpwardConfigErrors(t *testing.T) {
	for _, tc := range []struct{ name, in, want string }{
		{"upward without fanin", "blueprint_id: pod1\nupward: {blueprint: fabric}\n", "c.yaml:4: upward: needs fanin.nats or fanin.kafka"},
		{"no blueprint", podNATS + "upward: {as: p}\n", "c.yaml:5: upward.blueprint: must name the fabric level's blueprint_id"},
		{"own blueprint", podNATS + "upward: {blueprint: pod1}\n", "c.yaml:5: upward.blueprint: \"pod1\" is this controller's own blueprint_id"},
		{"blank as", podNATS + "upward: {blueprint: fabric, as: ' '}\n", "c.yaml:5: upward.as: must not be empty"},
		{"two brokers", podNATS + "upward: {blueprint: fabric, nats: {urls: ['nats://u:4222']}, kafka: {brokers: ['k:9092']}}\n", "c.yaml:5: upward: set one broker"},
		{"nats without url", podNATS + "upward: {blueprint: fabric, nats: {stream: X}}\n", "c.yaml:5: upward.nats: urls"},
		{"nats two credentials", podNATS + "upward: {blueprint: fabric, nats: {urls: ['nats://u:4222'], token_file: t, creds_file: c}}\n", "upward.nats: credentials: set one of"},
		{"nats password alone", podNATS + "upward: {blueprint: fabric, nats: {urls: ['nats://u:4222'], password_file: p}}\n", "upward.nats.password_file: needs user"},
		{"nats lease", podNATS + "upward: {blueprint: fabric, nats: {urls: ['nats://u:4222'], lease_ttl: 1s}}\n", "upward.nats.lease_ttl: is a member's setting"},
		{"kafka same topic", podKafka + "upward: {blueprint: fabric, kafka: {brokers: ['k1:9092']}}\n", "upward.kafka.topic: \"probeagent\" is fanin.kafka's topic on the same brokers"},
		{"kafka implicit", podKafka + "upward: {blueprint: fabric}\n", "c.yaml:5: upward: with fanin.kafka, set upward.kafka"},
		{"kafka member settings", podKafka + "upward: {blueprint: fabric, kafka: {brokers: ['u:9092'], group: g}}\n", "upward.kafka: group, partitions, replication, create_topics and session_timeout are a member's settings"},
		{"kafka plain in clear", podKafka + "upward: {blueprint: fabric, kafka: {brokers: ['u:9092'], mechanism: PLAIN, user: u, password_file: p}}\n", "upward.kafka.mechanism: PLAIN sends the password in clear"},
		{"kafka without brokers", podKafka + "upward: {blueprint: fabric, kafka: {topic: t}}\n", "upward.kafka: "},
		{"queue messages", podNATS + "upward:\n  blueprint: fabric\n  queue: {messages: -1}\n", "c.yaml:7: upward.queue.messages: must be 0"},
		{"queue bytes", podNATS + "upward:\n  blueprint: fabric\n  queue: {bytes: 4096}\n", "c.yaml:7: upward.queue.bytes: must be 0 (the default, 64 MiB) or at least 1048576"},
		{"unknown key", podNATS + "upward: {blueprint: fabric, device: p}\n", "field device not found in UpwardConfig"},
		{"devices without broker", "fanin: {devices: [pod1]}\n", "c.yaml:3: fanin.devices: needs a broker"},
		{"devices empty", "fanin: {devices: [], nats: {urls: ['nats://n:4222'], lease_ttl: 1s}}\n", "c.yaml:3: fanin.devices: is empty"},
		{"devices twice", "fanin:\n  nats: {urls: ['nats://n:4222'], lease_ttl: 1s}\n  devices: [pod1, pod2, pod1]\n", "c.yaml:5: fanin.devices[2]: \"pod1\" is listed twice"},
		{"device blank", "fanin:\n  nats: {urls: ['nats://n:4222'], lease_ttl: 1s}\n  devices: [pod1, '']\n", "c.yaml:5: fanin.devices[1]: empty device name"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseConfig([]byte(faninBase+tc.in), "c.yaml")
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v\nwant %q", err, tc.want)
			}
		})
	}
}

// TestFanInHierarchyLabLoads: the containerlab example's two-level
// variant (containerlab/fanin-nats/hierarchy.clab.yml) loads: its
// controllers' configurations parse and, on the lab's files, the pod
// controllers' seed probe hears from their pod's leaves and publishes
// upward as the devices the fabric controller lists; the fabric
// controller alone pushes; the leaves' agents publish under their pod's
// blueprint.
func TestFanInHierarchyLabLoads(t *testing.T) {
	lab, err := filepath.Abs("../containerlab/fanin-nats")
	if err != nil {
		t.Fatal(err)
	}
	const id = "seed-server-imbalance"
	g, warnings, err := topology.LoadFile(filepath.Join(lab, "hierarchy.clab.yml"), topology.Options{})
	if err != nil || len(warnings) > 0 || g == nil {
		t.Fatalf("topology: %v %v", err, warnings)
	}
	// load reads a controller's file with the lab's paths in place of
	// the containers' /etc/fanin, and starts nothing.
	load := func(name string) (Config, *Controller) {
		cfg, err := LoadConfig(filepath.Join(lab, "hierarchy", name))
		if err != nil {
			t.Fatal(err)
		}
		cfg.Topology.File = strings.Replace(cfg.Topology.File, "/etc/fanin", lab, 1)
		cfg.ProbesDir = strings.Replace(cfg.ProbesDir, "/etc/fanin", lab, 1)
		cfg.StateDir = t.TempDir()
		c, err := New(cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
		if err != nil {
			t.Fatal(err)
		}
		return cfg, c
	}
	devicesOf := func(c *Controller, cfg Config) []string {
		_, devs, ok := parts{c, cfg.FanIn.Devices}.Central(id)
		if !ok {
			t.Fatalf("%s: no central part of %s", cfg.BlueprintID, id)
		}
		return devs
	}
	fabCfg, fab := load("ctl-fabric.yaml")
	if !fabCfg.FanIn.Pushes() || fabCfg.Upward != nil || len(fab.fabric.Agents) != 6 {
		t.Errorf("ctl-fabric: pushes %v, upward %+v, %d agents", fabCfg.FanIn.Pushes(), fabCfg.Upward, len(fab.fabric.Agents))
	}
	var ups []string
	for _, tc := range []struct {
		file   string
		leaves []string
	}{{"ctl-pod1.yaml", []string{"leaf1", "leaf2"}}, {"ctl-pod2.yaml", []string{"leaf3", "leaf4"}}} {
		cfg, c := load(tc.file)
		if cfg.FanIn.Pushes() || cfg.Upward == nil || cfg.Upward.Blueprint != fabCfg.BlueprintID {
			t.Errorf("%s: pushes %v, upward %+v", tc.file, cfg.FanIn.Pushes(), cfg.Upward)
			continue
		}
		if got := devicesOf(c, cfg); !slices.Equal(got, tc.leaves) {
			t.Errorf("%s: the seed probe hears from %v, want %v", tc.file, got, tc.leaves)
		}
		ups = append(ups, cfg.Upward.device(&cfg))
		for _, leaf := range tc.leaves {
			a, err := agent.Load(filepath.Join(lab, "hierarchy", "agent-"+leaf+".yaml"))
			if err != nil {
				t.Fatal(err)
			}
			if a.SystemID != leaf || a.BlueprintID != cfg.BlueprintID || len(a.Streaming) != 1 || a.Streaming[0].Type != "nats" {
				t.Errorf("agent-%s.yaml: blueprint %q, streaming %+v", leaf, a.BlueprintID, a.Streaming)
			}
		}
	}
	if got := devicesOf(fab, fabCfg); !slices.Equal(got, ups) {
		t.Errorf("ctl-fabric hears from %v, the pods publish as %v", got, ups)
	}
	for _, spine := range []string{"spine1", "spine2"} {
		if _, err := agent.Load(filepath.Join(lab, "hierarchy", "agent-"+spine+".yaml")); err != nil {
			t.Error(err)
		}
	}
}
