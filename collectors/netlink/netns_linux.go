package netlink

import (
	"errors"
	"os"
	"runtime"
	"syscall"
	"time"

	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
)

// inNetns runs fn on a fresh, locked OS thread switched into ns. Sockets keep
// the namespace they were created in, so this is only needed to create them.
// The work runs on a separate goroutine so the caller's thread never changes
// namespace; if switching back fails, that goroutine exits still locked and
// the runtime discards its thread rather than reuse it in the wrong namespace.
func inNetns(ns netns.NsHandle, fn func() error) error {
	if !ns.IsOpen() {
		return fn()
	}
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
func openBlockingNetlink(ns netns.NsHandle) (*nlSocket, error) {
	var fd int
	err := inNetns(ns, func() error {
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

func openNetlink(ns netns.NsHandle, groups uint32, rcvbuf int) (*nlSocket, error) {
	var fd int
	err := inNetns(ns, func() error {
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
