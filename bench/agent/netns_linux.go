package main

import (
	"context"
	"encoding/binary"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
)

// nsPrefix starts the name of every namespace the harness makes; the pid
// after it tells a stale one (its harness gone) from a running one.
const nsPrefix = "pa-bench-"

// makeNetns creates the namespace name with n interfaces of kind "veth"
// (n/2 pairs, both ends in the namespace) or "ifb", all up, IPv6 off so
// the kernel adds no packets of its own.
func makeNetns(name, kind string, n int) error {
	if out, err := exec.Command("ip", "netns", "add", name).CombinedOutput(); err != nil {
		return fmt.Errorf("ip netns add %s: %v: %s", name, err, out)
	}
	if out, err := exec.Command("ip", "netns", "exec", name, "sysctl", "-q", "-w",
		"net.ipv6.conf.all.disable_ipv6=1", "net.ipv6.conf.default.disable_ipv6=1").CombinedOutput(); err != nil {
		return fmt.Errorf("disabling IPv6 in %s: %v: %s", name, err, out)
	}
	var b strings.Builder
	b.WriteString("link set lo up\n")
	switch kind {
	case "veth":
		for i := 0; i < n/2; i++ {
			fmt.Fprintf(&b, "link add v%da type veth peer name v%db\nlink set v%da up\nlink set v%db up\n", i, i, i, i)
		}
	case "ifb":
		for i := 0; i < n; i++ {
			fmt.Fprintf(&b, "link add i%d type ifb\nlink set i%d up\n", i, i)
		}
	default:
		return fmt.Errorf("unknown interface kind %q", kind)
	}
	cmd := exec.Command("ip", "-n", name, "-batch", "-")
	cmd.Stdin = strings.NewReader(b.String())
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("creating %d %s interfaces in %s: %v: %s", n, kind, name, err, out)
	}
	return nil
}

// deleteNetns removes a namespace and every interface in it.
func deleteNetns(name string) {
	_ = exec.Command("ip", "netns", "del", name).Run()
}

// removeStaleNetns deletes namespaces left by a harness that was killed
// before it could clean up (its pid no longer runs).
func removeStaleNetns() {
	entries, _ := os.ReadDir("/var/run/netns")
	for _, e := range entries {
		rest, ok := strings.CutPrefix(e.Name(), nsPrefix)
		if !ok {
			continue
		}
		pid, err := strconv.Atoi(strings.SplitN(rest, "-", 2)[0])
		if err != nil || pid == os.Getpid() {
			continue
		}
		if _, err := os.Stat(filepath.Join("/proc", strconv.Itoa(pid))); os.IsNotExist(err) {
			deleteNetns(e.Name())
		}
	}
}

// inNetns runs fn on an OS thread in namespace name. Sockets fn opens stay
// in that namespace after the thread leaves it.
func inNetns(name string, fn func() error) error {
	h, err := netns.GetFromName(name)
	if err != nil {
		return fmt.Errorf("namespace %s: %w", name, err)
	}
	defer h.Close()
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		// The thread is not unlocked: it dies with the goroutine instead
		// of going back to the scheduler in the wrong namespace.
		if err := netns.Set(h); err != nil {
			errc <- err
			return
		}
		errc <- fn()
	}()
	return <-errc
}

// traffic puts UDP frames on every veth end of a namespace so that every
// end's tx and its peer's rx counters move. Frames go out through one raw
// packet socket; their destination MAC is nobody's, so the peer counts and
// drops them without an IP stack answering. Sizes vary by interface and
// round, so per-interface rates differ and a std_dev is not zero.
type traffic struct {
	fd     int
	ifs    []int
	frames [][]byte
	pps    int
	sent   atomic.Int64
}

func newTraffic(ns string, pps int) (*traffic, error) {
	t := &traffic{pps: pps}
	err := inNetns(ns, func() error {
		ifs, err := net.Interfaces()
		if err != nil {
			return err
		}
		for _, i := range ifs {
			if strings.HasPrefix(i.Name, "v") {
				t.ifs = append(t.ifs, i.Index)
			}
		}
		// Protocol 0: send only, nothing is queued to this socket.
		t.fd, err = unix.Socket(unix.AF_PACKET, unix.SOCK_RAW|unix.SOCK_CLOEXEC, 0)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("traffic sender in %s: %w", ns, err)
	}
	for size := 0; size < 16; size++ {
		t.frames = append(t.frames, udpFrame(64+size*90))
	}
	return t, nil
}

// udpFrame is an Ethernet frame of n bytes carrying an IPv4 UDP datagram
// from 192.0.2.1 to 192.0.2.2 (TEST-NET-1).
func udpFrame(n int) []byte {
	f := make([]byte, n)
	copy(f[0:6], []byte{0x02, 0, 0, 0, 0, 0x02})  // destination: locally administered, unused
	copy(f[6:12], []byte{0x02, 0, 0, 0, 0, 0x01}) // source
	binary.BigEndian.PutUint16(f[12:], 0x0800)
	ip := f[14:34]
	ip[0] = 0x45
	binary.BigEndian.PutUint16(ip[2:], uint16(n-14))
	ip[8] = 64
	ip[9] = unix.IPPROTO_UDP
	copy(ip[12:16], []byte{192, 0, 2, 1})
	copy(ip[16:20], []byte{192, 0, 2, 2})
	var sum uint32
	for i := 0; i < 20; i += 2 {
		sum += uint32(binary.BigEndian.Uint16(ip[i:]))
	}
	for sum > 0xffff {
		sum = sum&0xffff + sum>>16
	}
	binary.BigEndian.PutUint16(ip[10:], ^uint16(sum))
	udp := f[34:42]
	binary.BigEndian.PutUint16(udp[0:], 40000)
	binary.BigEndian.PutUint16(udp[2:], 9)
	binary.BigEndian.PutUint16(udp[4:], uint16(n-34))
	return f
}

// run sends pps frames a second on every interface, spread over the
// second in 20 slices, until ctx ends.
func (t *traffic) run(ctx context.Context) {
	const slices = 20
	tick := time.NewTicker(time.Second / slices)
	defer tick.Stop()
	round := 0
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		for rep := 0; rep < t.pps; rep++ {
			for k := round % slices; k < len(t.ifs); k += slices {
				sa := unix.SockaddrLinklayer{Ifindex: t.ifs[k], Halen: 6}
				f := t.frames[(k*7+round/slices+rep)%len(t.frames)]
				if unix.Sendto(t.fd, f, 0, &sa) == nil {
					t.sent.Add(1)
				}
			}
		}
		round++
	}
}

func (t *traffic) close() { unix.Close(t.fd) }
