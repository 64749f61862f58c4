package netlink

import (
	"os"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// nlSocket is a NETLINK_ROUTE socket: non-blocking and registered with the
// Go poller, so reads honour deadlines and Close wakes a blocked reader, or
// blocking (openBlockingNetlink), read with plain system calls.
type nlSocket struct {
	f  *os.File
	rc syscall.RawConn // nil when blocking
	// The blocking kind's descriptor and receive timeout.
	fd       int
	blocking bool
	tv       unix.Timeval
}

// openBlockingNetlink opens the socket the stats dumps run on. It is not
// registered with the Go poller: every datagram the kernel queues on a
// registered socket also wakes the poller (an idle thread blocked in
// epoll_wait, woken for nothing, dozens of times per dump), which is most
// of what a poll cost over the bare dump. A dump reply never makes its
// reader wait (the kernel queues the next datagram before the read of one
// returns), so a blocking read costs no thread; SO_RCVTIMEO bounds it
// should the kernel stall.
//
// The socket is created on a's thread, in its namespace (nil: the
// process's own namespace).
func openBlockingNetlink(a *anchor) (*nlSocket, error) {
	var fd int
	err := a.run(func() error {
		var err error
		fd, err = unix.Socket(unix.AF_NETLINK, unix.SOCK_RAW|unix.SOCK_CLOEXEC, unix.NETLINK_ROUTE)
		return err
	})
	if err != nil {
		return nil, err
	}
	if err := unix.Bind(fd, &unix.SockaddrNetlink{Family: unix.AF_NETLINK}); err != nil {
		unix.Close(fd)
		return nil, err
	}
	return &nlSocket{f: os.NewFile(uintptr(fd), "netlink"), fd: fd, blocking: true}, nil
}

// setReadTimeout makes reads fail after t: a poller deadline, or the
// blocking socket's SO_RCVTIMEO (at least 1 µs: 0 would mean never).
func (s *nlSocket) setReadTimeout(t time.Time) error {
	if !s.blocking {
		return s.f.SetDeadline(t)
	}
	d := max(time.Until(t), time.Microsecond)
	s.tv = unix.NsecToTimeval(d.Nanoseconds())
	return unix.SetsockoptTimeval(s.fd, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &s.tv)
}

// openNetlink opens a polled NETLINK_ROUTE socket in a's namespace (nil:
// the process's own) bound to the multicast groups.
func openNetlink(a *anchor, groups uint32, rcvbuf int) (*nlSocket, error) {
	var fd int
	err := a.run(func() error {
		var err error
		fd, err = unix.Socket(unix.AF_NETLINK, unix.SOCK_RAW|unix.SOCK_CLOEXEC|unix.SOCK_NONBLOCK, unix.NETLINK_ROUTE)
		return err
	})
	if err != nil {
		return nil, err
	}
	if rcvbuf > 0 {
		// FORCE needs CAP_NET_ADMIN; the plain option is capped by rmem_max
		// but is better than nothing.
		if unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUFFORCE, rcvbuf) != nil {
			_ = unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUF, rcvbuf)
		}
	}
	if err := unix.Bind(fd, &unix.SockaddrNetlink{Family: unix.AF_NETLINK, Groups: groups}); err != nil {
		unix.Close(fd)
		return nil, err
	}
	f := os.NewFile(uintptr(fd), "netlink")
	rc, err := f.SyscallConn()
	if err != nil {
		f.Close()
		return nil, err
	}
	return &nlSocket{f: f, rc: rc}, nil
}

func (s *nlSocket) Close() error { return s.f.Close() }
