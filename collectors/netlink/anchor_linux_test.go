package netlink

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"testing"
	"unsafe"

	"github.com/probe-agent/probe-agent/collectors"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
)

// inNetns runs fn on a fresh, locked OS thread switched into ns, for tests
// that need a socket of their own in a namespace (the collector uses
// anchors). If switching back fails, the goroutine exits still locked and
// the runtime discards its thread.
func inNetns(ns netns.NsHandle, fn func() error) error {
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		orig, err := netns.Get()
		if err != nil {
			errc <- err
			return
		}
		defer orig.Close()
		if err := netns.Set(ns); err != nil {
			errc <- err
			return
		}
		ferr := fn()
		if err := netns.Set(orig); err != nil {
			errc <- errors.Join(ferr, err)
			return
		}
		runtime.UnlockOSThread()
		errc <- ferr
	}()
	return <-errc
}

// testAnchor anchors the named namespace until the test ends.
func testAnchor(tb testing.TB, name string) *anchor {
	tb.Helper()
	a, err := acquireAnchor(name)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(a.release)
	return a
}

// linkNames polls c once and returns the interface names.
func linkNames(t *testing.T, c *Collector) map[string]bool {
	t.Helper()
	var b collectors.Batch
	if err := c.Collect(context.Background(), &b); err != nil {
		t.Fatal(err)
	}
	names := map[string]bool{}
	for _, it := range b.Interfaces {
		names[it.Name] = true
	}
	return names
}

// nsWithLink makes a namespace holding an ifb link of the given name, so a
// poll shows which namespace a socket is in.
func nsWithLink(t *testing.T, link string) string {
	t.Helper()
	ns := newNetns(t)
	ip(t, "-n", ns, "link", "add", link, "type", "ifb")
	return ns
}

// TestAnchorEntersOnce: collectors on one namespace, one after the other
// (a reload builds the new one before closing the old) and side by side,
// and every socket they re-open, come from one setns(2). Entering per
// socket, as a collector did before anchors, makes five calls per
// collector.
func TestAnchorEntersOnce(t *testing.T) {
	requireRoot(t)
	ns := nsWithLink(t, "once0")
	before := setnsCalls.Load()
	c1, err := New(Options{Netns: ns})
	if err != nil {
		t.Fatal(err)
	}
	c2 := newCollector(t, ns) // a reload's replacement, opened before c1 closes
	c1.Close()
	c3 := newCollector(t, ns)
	// The paths that re-open sockets after a failed dump.
	c2.pollMu.Lock()
	c2.replaceStatsSocket()
	c2.pollMu.Unlock()
	c3.mu.Lock()
	s, err := openNetlink(c3.anchor, 0, 0)
	c3.mu.Unlock()
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	for _, c := range []*Collector{c2, c3} {
		if !linkNames(t, c)["once0"] {
			t.Errorf("a collector on %s does not see its link once0", ns)
		}
	}
	if n := setnsCalls.Load() - before; n != 1 {
		t.Errorf("%d setns calls for three collectors on one namespace, want 1", n)
	}
	if c2.anchor != c3.anchor {
		t.Error("two collectors on one namespace have different anchors")
	}
}

// TestAnchorReleasedWithLastCollector: when no collector uses a namespace
// any more (and the capability is still held) its thread ends, and the
// next collector enters anew.
func TestAnchorReleasedWithLastCollector(t *testing.T) {
	requireRoot(t)
	ns := nsWithLink(t, "rel0")
	before := setnsCalls.Load()
	c, err := New(Options{Netns: ns})
	if err != nil {
		t.Fatal(err)
	}
	c.Close()
	registry.mu.Lock()
	_, kept := registry.byName[ns]
	registry.mu.Unlock()
	if kept {
		t.Errorf("the anchor of %s outlived its last collector", ns)
	}
	c = newCollector(t, ns)
	if !linkNames(t, c)["rel0"] {
		t.Error("the second collector does not see rel0")
	}
	if n := setnsCalls.Load() - before; n != 2 {
		t.Errorf("%d setns calls, want 2 (the first anchor was released)", n)
	}
}

// TestAnchorRecreatedNamespace: a namespace deleted and re-created under
// the same name is a new namespace: the next collector re-anchors and sees
// the new one's links, while the collector opened before keeps reading the
// old one, also through sockets it re-opens after the name moved.
func TestAnchorRecreatedNamespace(t *testing.T) {
	requireRoot(t)
	ns := nsWithLink(t, "old0")
	before := setnsCalls.Load()
	c1 := newCollector(t, ns)
	ip(t, "netns", "del", ns)
	ip(t, "netns", "add", ns)
	ip(t, "-n", ns, "link", "add", "new0", "type", "ifb")
	c2 := newCollector(t, ns)
	c1.pollMu.Lock()
	c1.replaceStatsSocket()
	c1.pollMu.Unlock()
	for _, tc := range []struct {
		name      string
		c         *Collector
		want, not string
	}{
		{"opened before", c1, "old0", "new0"},
		{"opened after", c2, "new0", "old0"},
	} {
		got := linkNames(t, tc.c)
		if !got[tc.want] || got[tc.not] {
			t.Errorf("%s the re-creation: links %v, want %s and not %s", tc.name, got, tc.want, tc.not)
		}
	}
	if n := setnsCalls.Load() - before; n != 2 {
		t.Errorf("%d setns calls, want 2 (one per namespace)", n)
	}
	if c1.anchor == c2.anchor {
		t.Error("the re-created namespace reused the old anchor")
	}
	if got := AnchoredNamespaces(); strings.Count(strings.Join(got, " "), ns) != 1 {
		t.Errorf("AnchoredNamespaces() = %v, want %s once", got, ns)
	}
}

// capSets reads the capability sets of every thread of a process from
// /proc/PID/task/*/status.
func capSets(tb testing.TB, pid string) map[string]map[string]uint64 {
	tb.Helper()
	tasks, err := filepath.Glob("/proc/" + pid + "/task/*/status")
	if err != nil || len(tasks) == 0 {
		tb.Fatalf("no threads of %s: %v", pid, err)
	}
	all := map[string]map[string]uint64{}
	for _, f := range tasks {
		raw, err := os.ReadFile(f)
		if err != nil {
			continue // the thread exited
		}
		sets := map[string]uint64{}
		for _, line := range strings.Split(string(raw), "\n") {
			k, v, ok := strings.Cut(line, ":\t")
			if !ok || !strings.HasPrefix(k, "Cap") {
				continue
			}
			if sets[k], err = strconv.ParseUint(strings.TrimSpace(v), 16, 64); err != nil {
				tb.Fatalf("%s: %s: %v", f, line, err)
			}
		}
		all[filepath.Base(filepath.Dir(f))] = sets
	}
	return all
}

const capSysAdminBit = 1 << 21

func cgoBinary() bool {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return false
	}
	for _, s := range bi.Settings {
		if s.Key == "CGO_ENABLED" {
			return s.Value == "1"
		}
	}
	return false
}

// TestDropNamespaceCapability runs, in a child process (the drop is for
// the whole process), an agent's sequence: a collector on namespace X and
// one on Z are opened, CAP_SYS_ADMIN is dropped, and then no thread holds
// it, collectors on X open again (the anchor outlives its collectors), one
// on another namespace Y is refused with a message saying a restart is
// needed, and so is Z once re-created. The child is built with
// CGO_ENABLED=0, as the packages are; a cgo build keeps the capability and
// says why (that case runs in this test binary's own child when it is a
// cgo build).
func TestDropNamespaceCapability(t *testing.T) {
	if spec := os.Getenv("PA_CAPDROP_CHILD"); spec != "" {
		capDropChild(t, strings.Fields(spec))
		return
	}
	if testing.Short() {
		t.Skip("builds a test binary")
	}
	requireRoot(t)
	bin := filepath.Join(t.TempDir(), "netlink-static.test")
	build := exec.Command("go", "test", "-c", "-o", bin, ".")
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go test -c with CGO_ENABLED=0: %v\n%s", err, out)
	}
	cases := []struct{ name, bin, mode string }{
		{"static", bin, "drop"},
		// capset refused with EPERM by a seccomp filter, as under the
		// unit with a netns drop-in that lacks SystemCallFilter=capset.
		{"static, capset filtered", bin, "seccomp"},
	}
	if cgoBinary() {
		cases = append(cases, struct{ name, bin, mode string }{"cgo", os.Args[0], "cgo"})
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			x, y, z := nsWithLink(t, "capx0"), newNetns(t), nsWithLink(t, "capz0")
			spec := strings.Join([]string{x, y, z}, " ")
			cmd := exec.Command(tc.bin, "-test.run=^TestDropNamespaceCapability$", "-test.v")
			cmd.Env = append(os.Environ(), "PA_CAPDROP_CHILD="+spec+" "+tc.mode)
			out, err := cmd.CombinedOutput()
			if err != nil || !strings.Contains(string(out), "CHILD DONE") {
				t.Fatalf("child: %v\n%s", err, out)
			}
			t.Logf("child:\n%s", out)
		})
	}
}

// denyCapset makes capset(2) fail with EPERM on every thread, as systemd's
// SystemCallFilter=~@privileged with SystemCallErrorNumber=EPERM does.
func denyCapset(t *testing.T) {
	t.Helper()
	prog := []unix.SockFilter{
		{Code: unix.BPF_LD | unix.BPF_W | unix.BPF_ABS, K: 0}, // seccomp_data.nr
		{Code: unix.BPF_JMP | unix.BPF_JEQ | unix.BPF_K, Jt: 0, Jf: 1, K: unix.SYS_CAPSET},
		{Code: unix.BPF_RET | unix.BPF_K, K: unix.SECCOMP_RET_ERRNO | uint32(unix.EPERM)},
		{Code: unix.BPF_RET | unix.BPF_K, K: unix.SECCOMP_RET_ALLOW},
	}
	fprog := unix.SockFprog{Len: uint16(len(prog)), Filter: &prog[0]}
	if _, _, errno := unix.Syscall(unix.SYS_SECCOMP, unix.SECCOMP_SET_MODE_FILTER, unix.SECCOMP_FILTER_FLAG_TSYNC, uintptr(unsafe.Pointer(&fprog))); errno != 0 {
		t.Fatalf("seccomp: %v", errno)
	}
}

func capDropChild(t *testing.T, spec []string) {
	x, y, z, mode := spec[0], spec[1], spec[2], spec[3]
	cx, cz := newCollector(t, x), newCollector(t, z)
	if !linkNames(t, cx)["capx0"] {
		t.Fatal("the collector on X does not see capx0")
	}
	entered := setnsCalls.Load()
	if mode == "seccomp" {
		denyCapset(t)
	}
	dropped, err := DropNamespaceCapability()
	// Z stays anchored without a collector: the capability went while
	// its anchor was in use, and it could not be entered again.
	cz.Close()
	if mode == "cgo" || mode == "seccomp" {
		reason := map[string]string{"cgo": "CGO_ENABLED=0", "seccomp": "capset(2) refused (operation not permitted): under systemd, the unit's SystemCallFilter= must allow capset"}[mode]
		if dropped || err == nil || !strings.Contains(err.Error(), reason) {
			t.Fatalf("DropNamespaceCapability (%s) = %v, %v; want the capability kept and the reason %q", mode, dropped, err, reason)
		}
		for tid, sets := range capSets(t, "self") {
			if sets["CapEff"]&capSysAdminBit == 0 {
				t.Errorf("thread %s lost CAP_SYS_ADMIN though the drop failed", tid)
			}
		}
		// Still held, so other namespaces can still be entered.
		if got := linkNames(t, newCollector(t, z)); !got["capz0"] {
			t.Errorf("after the failed drop, a collector on Z does not see capz0: %v", got)
		}
		newCollector(t, y)
		fmt.Println("CHILD DONE")
		return
	}
	if !dropped || err != nil {
		t.Fatalf("DropNamespaceCapability() = %v, %v; want true, nil", dropped, err)
	}
	// Threads started after the drop inherit the reduced sets: keep a few
	// busy in locked goroutines so the runtime starts new ones.
	var wg sync.WaitGroup
	release := make(chan struct{})
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			runtime.LockOSThread()
			<-release
			runtime.UnlockOSThread()
		}()
	}
	threads := capSets(t, "self")
	close(release)
	wg.Wait()
	for tid, sets := range threads {
		for _, k := range []string{"CapEff", "CapPrm", "CapInh", "CapAmb"} {
			if sets[k]&capSysAdminBit != 0 {
				t.Errorf("thread %s still has CAP_SYS_ADMIN in %s (%016x)", tid, k, sets[k])
			}
		}
		if sets["CapEff"] == 0 {
			t.Errorf("thread %s lost every capability; only CAP_SYS_ADMIN should go", tid)
		}
	}
	t.Logf("%d threads, none with CAP_SYS_ADMIN", len(threads))

	// Reload on X: the old collector closes, a new one opens on the anchor.
	cx.Close()
	if !linkNames(t, newCollector(t, x))["capx0"] {
		t.Error("a collector on X after the drop does not see capx0")
	}
	if n := setnsCalls.Load() - entered; n != 0 {
		t.Errorf("%d setns calls after the drop", n)
	}
	_, err = New(Options{Netns: y})
	want := fmt.Sprintf("network namespace %q: needs a restart: probe-agent gave up CAP_SYS_ADMIN after entering namespace %q, %q at start", y, x, z)
	if x > z {
		want = fmt.Sprintf("network namespace %q: needs a restart: probe-agent gave up CAP_SYS_ADMIN after entering namespace %q, %q at start", y, z, x)
	}
	if !errors.Is(err, ErrNeedsRestart) || !strings.Contains(fmt.Sprint(err), want) {
		t.Errorf("collector on another namespace after the drop: %v\nwant it to contain %q", err, want)
	}
	// Re-create Z. ip regains the capability: an exec by root does.
	for _, args := range [][]string{{"netns", "del", z}, {"netns", "add", z}} {
		if out, err := exec.Command("ip", args...).CombinedOutput(); err != nil {
			t.Fatalf("ip %v: %v %s", args, err, out)
		}
	}
	_, err = New(Options{Netns: z})
	want = fmt.Sprintf("network namespace %q was deleted and re-created since probe-agent entered it: needs a restart", z)
	if !errors.Is(err, ErrNeedsRestart) || !strings.Contains(fmt.Sprint(err), want) {
		t.Errorf("collector on the re-created namespace after the drop: %v\nwant it to contain %q", err, want)
	}
	if again, err := DropNamespaceCapability(); again || err != nil {
		t.Errorf("second DropNamespaceCapability() = %v, %v; want false, nil", again, err)
	}
	fmt.Println("CHILD DONE")
}
