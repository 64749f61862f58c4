package stream

import (
	"errors"
	"net"
	"syscall"
)

// peerClosed reports, without blocking or consuming data, whether the receiver has
// already closed or reset the connection. Peeking at the socket sees a FIN that
// arrived a moment ago, before the watchPeer goroutine has run.
func peerClosed(c *net.TCPConn) error {
	if c == nil {
		return nil
	}
	rc, err := c.SyscallConn()
	if err != nil {
		return err
	}
	var probeErr error
	// Control rather than Read: Read would wait for watchPeer's blocking read.
	err = rc.Control(func(fd uintptr) {
		var b [1]byte
		n, _, err := syscall.Recvfrom(int(fd), b[:], syscall.MSG_PEEK|syscall.MSG_DONTWAIT)
		switch {
		case err == nil && n == 0:
			probeErr = errors.New("receiver closed the connection")
		case err != nil && err != syscall.EAGAIN && err != syscall.EINTR:
			probeErr = err
		}
	})
	if err != nil {
		return err
	}
	return probeErr
}
