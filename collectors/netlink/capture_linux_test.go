package netlink

import (
	"os/exec"
	"testing"
)

// TestCaptureKernelFixture records a real kernel dump of a fresh namespace's
// loopback, so the parser is also tested on bytes a kernel produced.
func TestCaptureKernelFixture(t *testing.T) {
	if !*update {
		t.Skip("run with -update to rewrite testdata")
	}
	requireRoot(t)
	ns := newNetns(t)
	ip(t, "-n", ns, "link", "set", "lo", "up")
	if out, err := exec.Command("ip", "netns", "exec", ns, "ping", "-c1", "-W1", "127.0.0.1").CombinedOutput(); err != nil {
		t.Fatalf("ping: %v %s", err, out)
	}
	s, err := openNetlink(testAnchor(t, ns), 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	req := appendStatsRequest(nil, 1)
	var all []byte
	buf := make([]byte, recvBufSize)
	if err := s.rc.Write(func(fd uintptr) bool { _, err = unixWrite(fd, req); return true }); err != nil {
		t.Fatal(err)
	} else if err != nil {
		t.Fatal(err)
	}
	for {
		var n int
		var rerr error
		if err := s.rc.Read(func(fd uintptr) bool { n, rerr = unixRead(fd, buf); return !isEAGAIN(rerr) }); err != nil || rerr != nil {
			t.Fatal(err, rerr)
		}
		all = append(all, buf[:n]...)
		var st rawStats
		r, err := walkDump(buf[:n], 1, &st, func(int32, *rawStats) {})
		if err != nil {
			t.Fatal(err)
		}
		if r.done {
			break
		}
	}
	writeHex(t, "kernel_lo_dump.hex", "Kernel RTM_GETSTATS dump (seq 1, IFLA_STATS_LINK_64 only) of a namespace\nwhose loopback has carried one ping; captured by TestCaptureKernelFixture -update", all)
}
