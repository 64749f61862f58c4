package packaging

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestNetnsDropInAllowsCapset: the agent gives up CAP_SYS_ADMIN with
// capset(2) once it has entered its namespace, which the unit's
// SystemCallFilter=~@privileged forbids. With the netns drop-in merged
// after it, systemd's own reading of the filter (systemd-analyze security)
// must have capset allowed again; without the drop-in it must not. A
// drop-in that lost the line, or a systemd that merged the entries the
// other way, would leave the agent holding the capability for its whole
// life (it logs a warning).
func TestNetnsDropInAllowsCapset(t *testing.T) {
	needTool(t, "systemd-analyze")
	for _, tc := range []struct {
		name    string
		dropIns []string
		allowed bool
	}{
		{"unit", nil, false},
		{"with netns drop-in", []string{"probe-agent-netns.conf"}, true},
		{"with both drop-ins", []string{"probe-agent-netns.conf", "probe-agent-lowport.conf"}, true},
		{"with lowport drop-in", []string{"probe-agent-lowport.conf"}, false},
	} {
		dir := t.TempDir()
		p := filepath.Join(dir, "probe-agent.service")
		if err := os.WriteFile(p, []byte(unitWithDropIns(t, tc.dropIns...)), 0o644); err != nil {
			t.Fatal(err)
		}
		out := run(t, "systemd-analyze", "security", "--offline=true", "--no-pager", p)
		var line string
		for _, l := range strings.Split(out, "\n") {
			if strings.Contains(l, "SystemCallFilter=~@privileged") {
				line = l
			}
		}
		if line == "" {
			t.Fatalf("%s: no SystemCallFilter=~@privileged assessment in:\n%s", tc.name, out)
		}
		if got := strings.Contains(line, "capset is allowed"); got != tc.allowed {
			t.Errorf("%s: capset allowed = %v, want %v: %s", tc.name, got, tc.allowed, strings.TrimSpace(line))
		}
	}
}
