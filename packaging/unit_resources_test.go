package packaging

import (
	"net"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"gopkg.in/yaml.v3"
)

// todayExposure is what `systemd-analyze security` gave both units before
// the resource and port directives were added (issue 19): they must not
// make it worse.
const todayExposure = 1.1

// directives parses a unit's assignments (comments skipped; repeated keys
// accumulate in order).
func directives(unit string) map[string][]string {
	have := map[string][]string{}
	for _, line := range strings.Split(unit, "\n") {
		line = strings.TrimSpace(line)
		if k, v, ok := strings.Cut(line, "="); ok && !strings.HasPrefix(line, "#") {
			have[k] = append(have[k], v)
		}
	}
	return have
}

// listenPort reads key (dotted) from a shipped YAML configuration and
// returns its port.
func listenPort(t *testing.T, file, key string) string {
	t.Helper()
	var doc map[string]any
	if err := yaml.Unmarshal([]byte(repoFile(t, file)), &doc); err != nil {
		t.Fatal(err)
	}
	var v any = doc
	for _, k := range strings.Split(key, ".") {
		m, _ := v.(map[string]any)
		v = m[k]
	}
	s, _ := v.(string)
	_, port, err := net.SplitHostPort(s)
	if err != nil {
		t.Fatalf("%s: %s = %q: %v", file, key, s, err)
	}
	return port
}

// TestUnitResourceBounds: both units bound memory, tasks and CPU share,
// make the daemon an early OOM victim, and allow binding only the ports
// their shipped and example configurations listen on.
func TestUnitResourceBounds(t *testing.T) {
	for _, tc := range []struct {
		unit  string
		ports []string // tcp ports the unit must allow
	}{
		{"systemd/probe-agent.service", []string{listenPort(t, "agent/example.yaml", "api.listen"), "50051"}},
		{"systemd/probe-controller.service", []string{listenPort(t, "controller/example.yaml", "api.listen")}},
	} {
		t.Run(filepath.Base(tc.unit), func(t *testing.T) {
			have := directives(repoFile(t, tc.unit))
			for _, k := range []string{"MemoryHigh", "MemoryMax", "TasksMax", "CPUWeight", "OOMScoreAdjust"} {
				if len(have[k]) != 1 || have[k][0] == "" || have[k][0] == "infinity" {
					t.Errorf("%s=%q, want one bound", k, have[k])
				}
			}
			if adj := have["OOMScoreAdjust"]; len(adj) == 1 && (strings.HasPrefix(adj[0], "-") || adj[0] == "0") {
				t.Errorf("OOMScoreAdjust=%s: the kernel must pick the daemon before routing daemons (at 0 or below)", adj[0])
			}
			if !slices.Equal(have["SocketBindDeny"], []string{"any"}) {
				t.Errorf("SocketBindDeny=%q, want any", have["SocketBindDeny"])
			}
			for _, p := range tc.ports {
				if !slices.Contains(have["SocketBindAllow"], "tcp:"+p) {
					t.Errorf("SocketBindAllow lacks tcp:%s (have %q)", p, have["SocketBindAllow"])
				}
			}
		})
	}
}

// TestUnitExposureNotWorse: the directives above keep `systemd-analyze
// security` at or under today's level, for the agent's unit with and
// without the netns drop-in's extra (the drop-ins are checked against
// maxExposure by TestUnitSecurityExposure).
func TestUnitExposureNotWorse(t *testing.T) {
	needTool(t, "systemd-analyze")
	for _, name := range []string{"probe-agent.service", "probe-controller.service"} {
		v := exposureOf(t, name, repoFile(t, "systemd/"+name))
		t.Logf("%s: exposure %.1f", name, v)
		if v > todayExposure {
			t.Errorf("%s: exposure %.1f > %.1f", name, v, todayExposure)
		}
	}
}

// TestShippedConfigMode: the agent's configuration (which may hold the
// gNMI password, or name password and token files beside it) is packaged
// 0640; installed, it is root:probe-agent (checkConfigMode, after real
// dpkg and rpm installs): readable by the service, not by every local user.
func TestShippedConfigMode(t *testing.T) {
	nfpm := repoFile(t, "packaging/nfpm.yaml")
	var cfg struct {
		Contents []struct {
			Dst      string `yaml:"dst"`
			FileInfo struct {
				Mode  int    `yaml:"mode"`
				Owner string `yaml:"owner"`
				Group string `yaml:"group"`
			} `yaml:"file_info"`
		} `yaml:"contents"`
	}
	if err := yaml.Unmarshal([]byte(nfpm), &cfg); err != nil {
		t.Fatal(err)
	}
	for _, c := range cfg.Contents {
		if c.Dst != "/etc/probe-agent/agent.yaml" {
			continue
		}
		if os.FileMode(c.FileInfo.Mode) != 0o640 {
			t.Errorf("agent.yaml packaged with mode %v, want 0640 (the post-install script makes it root:probe-agent)", os.FileMode(c.FileInfo.Mode))
		}
		return
	}
	t.Fatal("nfpm.yaml does not package /etc/probe-agent/agent.yaml")
}

// checkConfigMode: after installation agent.yaml is root:probe-agent and
// not readable by others (the post-install script sets the group).
func checkConfigMode(t *testing.T, root string) {
	t.Helper()
	st, err := os.Stat(filepath.Join(root, "etc/probe-agent/agent.yaml"))
	if os.IsNotExist(err) {
		return // erased by rpm -e (a modified one is kept as .rpmsave)
	}
	if err != nil {
		t.Fatalf("agent.yaml: %v", err)
	}
	if st.Mode().Perm()&0o007 != 0 || st.Mode().Perm()&0o040 == 0 {
		t.Errorf("agent.yaml mode %v: want readable by the group, nothing for others", st.Mode())
	}
	sys, ok := st.Sys().(*syscall.Stat_t)
	if !ok {
		return
	}
	group, err := os.ReadFile(filepath.Join(root, "etc/group"))
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?m)^probe-agent:[^:]*:([0-9]+):`).FindSubmatch(group)
	if m == nil {
		t.Fatal("no probe-agent group in the root")
	}
	if sys.Uid != 0 || strconv.FormatUint(uint64(sys.Gid), 10) != string(m[1]) {
		t.Errorf("agent.yaml owned by %d:%d, want root:probe-agent (0:%s)", sys.Uid, sys.Gid, m[1])
	}
}
