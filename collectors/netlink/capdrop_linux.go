package netlink

import (
	"errors"
	"fmt"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// DropNamespaceCapability gives up CAP_SYS_ADMIN once the collector has
// entered its network namespace: setns(2) is the only thing the agent needs
// it for, and every later socket in an entered namespace is made on that
// namespace's anchor thread, which needs no capability. It is for the
// daemon's main, after the collector opened; never for code that runs
// agents in-process (tests run as root and keep their capabilities).
//
// The capability is cleared from the effective, permitted and inheritable
// sets of every thread of the process (capabilities are per thread); the
// kernel then clears it from the ambient set too, which may only hold
// capabilities both permitted and inheritable. Other capabilities (such as
// CAP_NET_BIND_SERVICE) are kept. Afterwards, opening a collector on a
// namespace that is not anchored fails with an error wrapping
// ErrNeedsRestart.
//
// It reports whether the capability was held and is now gone. A process
// that does not hold it gets (false, nil). A capability that is held but
// could not be dropped gives an error saying why; it is then kept, and
// namespaces can still be entered.
func DropNamespaceCapability() (bool, error) {
	registry.mu.Lock()
	defer registry.mu.Unlock()
	if registry.dropped {
		return false, nil
	}
	hdr := unix.CapUserHeader{Version: unix.LINUX_CAPABILITY_VERSION_3}
	var data [2]unix.CapUserData // version 3: 64 bits in two words
	if err := unix.Capget(&hdr, &data[0]); err != nil {
		return false, fmt.Errorf("capget: %w", err)
	}
	w, bit := unix.CAP_SYS_ADMIN/32, uint32(1)<<(unix.CAP_SYS_ADMIN%32)
	if (data[w].Effective|data[w].Permitted)&bit == 0 {
		return false, nil
	}
	data[w].Effective &^= bit
	data[w].Permitted &^= bit
	data[w].Inheritable &^= bit
	// capset(2) changes the calling thread only; AllThreadsSyscall runs
	// it on every thread the runtime has, including the anchors and the
	// template thread new threads are cloned from.
	_, _, errno := syscall.AllThreadsSyscall(unix.SYS_CAPSET, uintptr(unsafe.Pointer(&hdr)), uintptr(unsafe.Pointer(&data[0])), 0)
	switch {
	case errno == 0:
	case errors.Is(errno, syscall.ENOTSUP):
		return false, fmt.Errorf("this binary uses cgo, where the capability cannot be changed on every thread (syscall.AllThreadsSyscall: %w); build it with CGO_ENABLED=0, as the packages are", errno)
	case errors.Is(errno, syscall.EPERM):
		return false, fmt.Errorf("capset(2) refused (%w): under systemd, the unit's SystemCallFilter= must allow capset, as the probe-agent-netns.conf drop-in of this version does", errno)
	default:
		return false, fmt.Errorf("capset: %w", errno)
	}
	registry.dropped = true
	return true, nil
}
