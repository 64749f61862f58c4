package netlink

import (
	"fmt"
	"os"
	"os/exec"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
)

// requireRoot skips tests that need to create namespaces and links.
func requireRoot(tb testing.TB) {
	tb.Helper()
	if os.Geteuid() != 0 {
		tb.Skip("needs root: creates network namespaces and links")
	}
	if _, err := exec.LookPath("ip"); err != nil {
		tb.Skip("needs the ip command (iproute2)")
	}
}

func ip(tb testing.TB, args ...string) {
	tb.Helper()
	out, err := exec.Command("ip", args...).CombinedOutput()
	if err != nil {
		tb.Fatalf("ip %s: %v\n%s", strings.Join(args, " "), err, out)
	}
}

var nsSeq atomic.Int32

// newNetns creates a named namespace that is deleted, with everything in
// it, when the test ends.
func newNetns(tb testing.TB) string {
	tb.Helper()
	name := fmt.Sprintf("pa-nl-%d-%d", os.Getpid(), nsSeq.Add(1))
	ip(tb, "netns", "add", name)
	tb.Cleanup(func() { _ = exec.Command("ip", "netns", "del", name).Run() })
	// Keep IPv6 autoconfiguration (router solicitations, DAD, MLD) from
	// adding packets the counter assertions would have to tolerate.
	ip(tb, "netns", "exec", name, "sysctl", "-q", "-w",
		"net.ipv6.conf.all.disable_ipv6=1", "net.ipv6.conf.default.disable_ipv6=1")
	return name
}

// ipBatch runs ip -n ns -batch with the given lines.
func ipBatch(tb testing.TB, ns string, lines []string) {
	tb.Helper()
	f, err := os.CreateTemp(tb.TempDir(), "batch")
	if err != nil {
		tb.Fatal(err)
	}
	if _, err := f.WriteString(strings.Join(lines, "\n") + "\n"); err != nil {
		tb.Fatal(err)
	}
	f.Close()
	ip(tb, "-n", ns, "-batch", f.Name())
}

func nsHandle(tb testing.TB, name string) netns.NsHandle {
	tb.Helper()
	h, err := netns.GetFromName(name)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { h.Close() })
	return h
}

func unixWrite(fd uintptr, b []byte) (int, error) { return unix.Write(int(fd), b) }
func unixRead(fd uintptr, b []byte) (int, error)  { return unix.Read(int(fd), b) }
func isEAGAIN(err error) bool                     { return err == unix.EAGAIN }

func nativeU32(b []byte) uint32 {
	return uint32(b[0]) | uint32(b[1])<<8 | uint32(b[2])<<16 | uint32(b[3])<<24
}
func nativeU16(b []byte) uint16 { return uint16(b[0]) | uint16(b[1])<<8 }
