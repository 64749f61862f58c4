package main

import (
	"encoding/binary"
	"fmt"
	"time"

	"golang.org/x/sys/unix"
)

// dumpFloor is the cost of the bare RTM_GETSTATS dump (IFLA_STATS_LINK_64
// of every link, as the agent's netlink collector asks) in namespace ns: CPU
// of the dumping thread per dump (the kernel fills the messages in it), hot
// (dumps back to back, as the collector's benchmark runs) and cold (one
// dump per interval, as the agent runs: the kernel's per-link counters and
// the socket's memory are out of the caches by then), and the links in one
// dump. The cold figure is what one tick of the agent cannot go below; veth
// links cost more than ifb ones (the kernel sums per-queue and the peer's
// counters).
func dumpFloor(ns string, dumps, coldDumps int, interval time.Duration) (hot, cold time.Duration, links int, err error) {
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
		seq := uint32(1)
		// The thread's own CPU clock is exact (getrusage's user/system
		// split is rounded to ticks and scaled).
		timed := func(k int) (time.Duration, error) {
			var t0, t1 unix.Timespec
			if err := unix.ClockGettime(unix.CLOCK_THREAD_CPUTIME_ID, &t0); err != nil {
				return 0, err
			}
			for i := 0; i < k; i++ {
				seq++
				if _, err := dump(seq); err != nil {
					return 0, err
				}
			}
			if err := unix.ClockGettime(unix.CLOCK_THREAD_CPUTIME_ID, &t1); err != nil {
				return 0, err
			}
			return time.Duration(t1.Nano() - t0.Nano()), nil
		}
		used, err := timed(dumps)
		if err != nil {
			return err
		}
		hot = used / time.Duration(dumps)
		for i := 0; i < coldDumps; i++ {
			// Paced like the agent's ticks, not a synchronisation.
			time.Sleep(interval)
			used, err := timed(1)
			if err != nil {
				return err
			}
			cold += used
		}
		if coldDumps > 0 {
			cold /= time.Duration(coldDumps)
		}
		return nil
	})
	return hot, cold, links, err
}
