package agent

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// TestConfigBounds: values the YAML types accept but the agent must not
// (issue 19): each is refused with the file, the line and the key.
func TestConfigBounds(t *testing.T) {
	for _, tc := range []struct {
		name, yaml string
		want       string // "" means valid
	}{
		{"negative shutdown_timeout", "log_level: info\nshutdown_timeout: -1s\n", "line 2: shutdown_timeout: must not be negative"},
		{"zero shutdown_timeout", "shutdown_timeout: 0s\n", ""},
		{"api port out of range", "api:\n  listen: 127.0.0.1:99999\n", `line 2: api.listen: port "99999" is not a port number`},
		{"control port out of range", "control: {listen: '127.0.0.1:70000', insecure: true}\n", `line 1: control.listen: port "70000"`},
		{"stream port out of range", "streaming:\n  - {type: perfmon, address: '10.0.0.1:99999'}\n", `line 2: streaming[0].address: port "99999"`},
		{"stream port zero", "streaming:\n  - {type: perfmon, address: '10.0.0.1:0'}\n", "line 2: streaming[0].address: port 0"},
		{"gnmi port out of range", "collector: {type: gnmi, gnmi: {target: 'sw:123456'}}\n", `collector.gnmi.target: port "123456"`},
		{"listen port zero is ephemeral", "api: {listen: '127.0.0.1:0'}\n", ""},
		{"interval of 1000h", "interval: 1000h\n", "line 1: interval: 1000h0m0s is too long (maximum 1h0m0s)"},
		{"interval of an hour", "interval: 1h\n", ""},
		{"network API without auth", "api:\n  listen: 0.0.0.0:8080\n", "line 2: api.listen: \"0.0.0.0:8080\" is reachable from the network but nothing authenticates writes"},
		{"network API allowed read-only", "api: {listen: '0.0.0.0:8080', allow_unauthenticated_network: true}\n", ""},
		{"network API with a token", "api: {listen: '0.0.0.0:8080', token_file: /etc/probe-agent/api.token}\n", ""},
		{"negative api.max_connections", "api:\n  max_connections: -1\n", "line 2: api.max_connections: must be 0"},
		{"negative control.idle_timeout", "control: {idle_timeout: -5s}\n", "line 1: control.idle_timeout: must be 0"},
		{"negative api.read_header_timeout", "api: {read_header_timeout: -1s}\n", "line 1: api.read_header_timeout: must be 0"},
		{"password twice", "collector: {type: gnmi, gnmi: {target: 'sw:6030', password: x, password_file: /etc/p}}\n", "collector.gnmi.password_file: set password or password_file, not both"},
		{"password file", "collector: {type: gnmi, gnmi: {target: 'sw:6030', username: u, password_file: /etc/p}}\n", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "agent.yaml")
			if err := os.WriteFile(path, []byte(tc.yaml), 0o600); err != nil {
				t.Fatal(err)
			}
			_, err := Load(path)
			if tc.want == "" {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("accepted; want %q", tc.want)
			}
			if !strings.HasPrefix(err.Error(), path+": ") || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %q\nwant %q prefixed by the file name", err, tc.want)
			}
		})
	}
}

// TestListenerLimitsDefaults: keys left out get the documented defaults;
// set ones are kept.
func TestListenerLimitsDefaults(t *testing.T) {
	cfg, err := Parse([]byte("api: {max_connections: 10, idle_timeout: 3s}\ncontrol: {handshake_timeout: 2s}\n"))
	if err != nil {
		t.Fatal(err)
	}
	if n, idle, rh := cfg.API.Limits(); n != 10 || idle.String() != "3s" || rh != DefaultAPIReadHeaderTimeout {
		t.Errorf("api limits %d %s %s", n, idle, rh)
	}
	if n, hs, idle := cfg.Control.Limits(); n != DefaultControlMaxConnections || hs.String() != "2s" || idle != DefaultControlIdleTimeout {
		t.Errorf("control limits %d %s %s", n, hs, idle)
	}
}

// TestCheckStateDir: a state_dir the agent cannot write is refused at
// start, naming the key and its line.
func TestCheckStateDir(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "file")
	if err := os.WriteFile(file, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	readOnly := filepath.Join(dir, "ro")
	if err := os.Mkdir(readOnly, 0o500); err != nil {
		t.Fatal(err)
	}
	if os.Geteuid() == 0 {
		// Root writes through modes: a read-only file system is the case
		// a switch meets (an overlay mounted ro, a full disk remounted).
		if err := unix.Mount("tmpfs", readOnly, "tmpfs", unix.MS_RDONLY, "size=64k"); err != nil {
			t.Logf("no read-only tmpfs (%v): checking mode 0500 only", err)
			readOnly = ""
		} else {
			t.Cleanup(func() { _ = unix.Unmount(readOnly, 0) })
		}
	}
	for _, tc := range []struct {
		name, dir, want string
	}{
		{"writable", filepath.Join(dir, "state"), ""},
		{"read-only", readOnly, "line 2: state_dir: " + readOnly + " is not writable"},
		{"under a file", filepath.Join(file, "state"), "line 2: state_dir: mkdir " + file},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.dir == "" {
				t.Skip("no read-only directory on this machine")
			}
			cfg, err := Parse([]byte("log_level: info\nstate_dir: " + tc.dir + "\n"))
			if err != nil {
				t.Fatal(err)
			}
			err = cfg.CheckStateDir()
			if tc.want == "" {
				if err != nil {
					t.Fatal(err)
				}
				if ents, _ := os.ReadDir(tc.dir); len(ents) != 0 {
					t.Fatalf("the check left %d files behind", len(ents))
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want %q", err, tc.want)
			}
		})
	}
}
