package netlink

import (
	"context"
	"fmt"
	"testing"

	"github.com/probe-agent/probe-agent/collectors"
	vnl "github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
)

// benchNetns makes a namespace holding n-1 ifb links plus loopback.
func benchNetns(b *testing.B, n int) string {
	ns := newNetns(b)
	lines := make([]string, 0, n)
	for i := 1; i < n; i++ {
		lines = append(lines, fmt.Sprintf("link add ifb%d type ifb", i))
	}
	ipBatch(b, ns, lines)
	return ns
}

// bareDump is the floor: the same request on a plain blocking socket, reading
// datagrams until NLMSG_DONE and looking at nothing but message headers.
type bareDump struct {
	fd  int
	buf []byte
	req []byte
	seq uint32
	// The polled variant (newPolledDump).
	sock   *nlSocket
	readFn func(uintptr) bool
	n      int
	err    error
}

func newBareDump(b *testing.B, h netns.NsHandle) *bareDump {
	d := &bareDump{buf: make([]byte, recvBufSize)}
	if err := inNetns(h, func() (err error) {
		d.fd, err = unix.Socket(unix.AF_NETLINK, unix.SOCK_RAW|unix.SOCK_CLOEXEC, unix.NETLINK_ROUTE)
		return err
	}); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { unix.Close(d.fd) })
	return d
}

// newPolledDump is the bare dump on the collector's kind of socket:
// non-blocking and registered with the Go poller, read through RawConn.
// Against bareDump it shows what the poller costs a dump: every datagram
// the kernel queues wakes the poller's epoll.
func newPolledDump(b *testing.B, ns string) *bareDump {
	s, err := openNetlink(testAnchor(b, ns), 0, 0)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { s.Close() })
	d := &bareDump{fd: -1, buf: make([]byte, recvBufSize), sock: s}
	d.readFn = func(fd uintptr) bool {
		d.n, d.err = unix.Read(int(fd), d.buf)
		return d.err != unix.EAGAIN
	}
	return d
}

func (d *bareDump) read() (int, error) {
	if d.sock == nil {
		return unix.Read(d.fd, d.buf)
	}
	if err := d.sock.rc.Read(d.readFn); err != nil {
		return 0, err
	}
	return d.n, d.err
}

func (d *bareDump) run() (int, error) {
	d.seq++
	d.req = appendStatsRequest(d.req[:0], d.seq)
	fd := d.fd
	if d.sock != nil {
		fd = int(d.sock.f.Fd())
	}
	if _, err := unix.Write(fd, d.req); err != nil {
		return 0, err
	}
	msgs := 0
	for {
		n, err := d.read()
		if err != nil {
			return 0, err
		}
		for p := d.buf[:n]; len(p) >= nlmsgHdrLen; {
			l := int(nativeU32(p))
			if nativeU16(p[4:]) == nlmsgDone {
				return msgs, nil
			}
			msgs++
			if l < nlmsgHdrLen || (l+3)&^3 >= len(p) {
				break
			}
			p = p[(l+3)&^3:]
		}
	}
}

func BenchmarkPoll(b *testing.B) {
	requireRoot(b)
	for _, n := range []int{100, 1000, 4000, 16000} {
		ns := benchNetns(b, n)
		h := nsHandle(b, ns)
		b.Run(fmt.Sprintf("ifaces=%d/collect", n), func(b *testing.B) {
			c, err := New(Options{Netns: ns, SystemID: "bench"})
			if err != nil {
				b.Fatal(err)
			}
			defer c.Close()
			var batch collectors.Batch
			ctx := context.Background()
			if err := c.Collect(ctx, &batch); err != nil {
				b.Fatal(err)
			}
			if len(batch.Interfaces) != n {
				b.Fatalf("%d interfaces, want %d", len(batch.Interfaces), n)
			}
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				if err := c.Collect(ctx, &batch); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(n), "ns/iface")
		})
		b.Run(fmt.Sprintf("ifaces=%d/bare_getstats", n), func(b *testing.B) {
			d := newBareDump(b, h)
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				got, err := d.run()
				if err != nil {
					b.Fatal(err)
				}
				if got != n {
					b.Fatalf("%d messages, want %d", got, n)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(n), "ns/iface")
		})
		b.Run(fmt.Sprintf("ifaces=%d/bare_getstats_polled", n), func(b *testing.B) {
			d := newPolledDump(b, ns)
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				got, err := d.run()
				if err != nil {
					b.Fatal(err)
				}
				if got != n {
					b.Fatalf("%d messages, want %d", got, n)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(n), "ns/iface")
		})
		b.Run(fmt.Sprintf("ifaces=%d/linklist", n), func(b *testing.B) {
			nh, err := vnl.NewHandleAt(h)
			if err != nil {
				b.Fatal(err)
			}
			defer nh.Close()
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				l, err := nh.LinkList()
				if err != nil {
					b.Fatal(err)
				}
				if len(l) != n {
					b.Fatalf("%d links, want %d", len(l), n)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(n), "ns/iface")
		})
	}
}
