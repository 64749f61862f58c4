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

func (d *bareDump) run() (int, error) {
	d.seq++
	d.req = appendStatsRequest(d.req[:0], d.seq)
	if _, err := unix.Write(d.fd, d.req); err != nil {
		return 0, err
	}
	msgs := 0
	for {
		n, err := unix.Read(d.fd, d.buf)
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
	for _, n := range []int{100, 1000, 4000} {
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
