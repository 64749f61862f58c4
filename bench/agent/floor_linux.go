package main

import (
	"encoding/binary"
	"fmt"
	"time"

	"golang.org/x/sys/unix"
)

// dumpFloor is the cost of the bare RTM_GETSTATS dump (IFLA_STATS_LINK_64
// of every link, as the agent's netlink collector asks) in namespace ns: CPU
// of the dumping thread per dump (the kernel fills the messages in it) and
// the links in one dump. It is what one tick of the agent cannot go below;
// veth links cost more than ifb ones (the kernel sums per-queue and the
// peer's counters).
func dumpFloor(ns string, dumps int) (cpu time.Duration, links int, err error) {
	err = inNetns(ns, func() error {
		fd, err := unix.Socket(unix.AF_NETLINK, unix.SOCK_RAW|unix.SOCK_CLOEXEC, unix.NETLINK_ROUTE)
		if err != nil {
			return err
		}
		defer unix.Close(fd)
		buf := make([]byte, 64<<10)
		dump := func(seq uint32) (int, error) {
			req := make([]byte, 0, 28)
			req = binary.NativeEndian.AppendUint32(req, 28)
			req = binary.NativeEndian.AppendUint16(req, unix.RTM_GETSTATS)
			req = binary.NativeEndian.AppendUint16(req, unix.NLM_F_REQUEST|unix.NLM_F_DUMP)
			req = binary.NativeEndian.AppendUint32(req, seq)
			req = binary.NativeEndian.AppendUint32(req, 0)
			req = append(req, 0, 0, 0, 0)                     // family, padding
			req = binary.NativeEndian.AppendUint32(req, 0)    // ifindex: all
			req = binary.NativeEndian.AppendUint32(req, 1<<0) // IFLA_STATS_LINK_64
			if _, err := unix.Write(fd, req); err != nil {
				return 0, err
			}
			n := 0
			for {
				r, err := unix.Read(fd, buf)
				if err != nil {
					return 0, err
				}
				for p := buf[:r]; len(p) >= unix.NLMSG_HDRLEN; {
					l := int(binary.NativeEndian.Uint32(p))
					switch binary.NativeEndian.Uint16(p[4:]) {
					case unix.NLMSG_DONE:
						return n, nil
					case unix.NLMSG_ERROR:
						return 0, fmt.Errorf("RTM_GETSTATS dump: kernel error %d", int32(binary.NativeEndian.Uint32(p[16:])))
					}
					n++
					if l < unix.NLMSG_HDRLEN || (l+3)&^3 >= len(p) {
						break
					}
					p = p[(l+3)&^3:]
				}
			}
		}
		if links, err = dump(1); err != nil { // warm: the first dump faults pages in
			return err
		}
		var r0, r1 unix.Rusage
		if err := unix.Getrusage(unix.RUSAGE_THREAD, &r0); err != nil {
			return err
		}
		for i := 0; i < dumps; i++ {
			if _, err := dump(uint32(i + 2)); err != nil {
				return err
			}
		}
		if err := unix.Getrusage(unix.RUSAGE_THREAD, &r1); err != nil {
			return err
		}
		used := time.Duration(r1.Utime.Nano()-r0.Utime.Nano()) + time.Duration(r1.Stime.Nano()-r0.Stime.Nano())
		cpu = used / time.Duration(dumps)
		return nil
	})
	return cpu, links, err
}
