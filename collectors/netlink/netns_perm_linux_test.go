package netlink

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"
)

func TestNsErrorMessages(t *testing.T) {
	for _, tt := range []struct {
		err  error
		want string
	}{
		{fmt.Errorf("setns: %w", unix.EPERM), `netlink: open in network namespace "blue": permission denied: entering another namespace needs root or CAP_SYS_ADMIN`},
		{unix.EACCES, `network namespace "blue": permission denied: entering another namespace needs root or CAP_SYS_ADMIN`},
		{unix.EINVAL, `netlink: open in network namespace "blue": invalid argument`},
	} {
		got := nsError("blue", "open", tt.err)
		if !strings.Contains(got.Error(), tt.want) || !errors.Is(got, tt.err) {
			t.Errorf("nsError(%v) = %v, want it to contain %q and wrap the error", tt.err, got, tt.want)
		}
	}
	if nsError("", "open", unix.EPERM) != unix.EPERM {
		t.Error("the agent's own namespace needs no decoration")
	}
}

// TestNetnsWithoutPrivilege runs the collector as an unprivileged user
// against a namespace root created: the error names the namespace and says
// it needs root or CAP_SYS_ADMIN.
func TestNetnsWithoutPrivilege(t *testing.T) {
	if name := os.Getenv("PA_NETNS_UNPRIVILEGED"); name != "" {
		_, err := New(Options{Netns: name})
		fmt.Printf("ERR: %v\n", err)
		return
	}
	requireRoot(t)
	name := newNetns(t)
	// The go test build directory is private to root: run a copy.
	dir, err := os.MkdirTemp("", "pa-netns-perm-")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(dir)
	bin, err := os.ReadFile(os.Args[0])
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(dir+"/netlink.test", bin, 0o755); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(dir+"/netlink.test", "-test.run=^TestNetnsWithoutPrivilege$")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "PA_NETNS_UNPRIVILEGED="+name)
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
	out, err := cmd.CombinedOutput()
	if err != nil && !strings.Contains(string(out), "ERR:") {
		t.Skipf("cannot run the test binary as nobody (%v): %s", err, out)
	}
	want := fmt.Sprintf(`network namespace %q: permission denied: entering another namespace needs root or CAP_SYS_ADMIN`, name)
	if !strings.Contains(string(out), want) {
		t.Errorf("unprivileged New: %s\nwant it to contain %q", out, want)
	}
}
