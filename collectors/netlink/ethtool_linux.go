package netlink

import (
	"unsafe"

	"golang.org/x/sys/unix"
)

// ethtoolCmd is the kernel's struct ethtool_cmd. The legacy ETHTOOL_GSET
// call is used instead of ETHTOOL_GLINKSETTINGS because it needs no
// two-step size negotiation, and speed is all we read.
type ethtoolCmd struct {
	cmd           uint32
	supported     uint32
	advertising   uint32
	speed         uint16
	duplex        uint8
	port          uint8
	phyAddress    uint8
	transceiver   uint8
	autoneg       uint8
	mdioSupport   uint8
	maxtxpkt      uint32
	maxrxpkt      uint32
	speedHi       uint16
	ethTpMdix     uint8
	ethTpMdixCtrl uint8
	lpAdvertising uint32
	reserved      [2]uint32
}

// ifreqData is struct ifreq with its union holding a pointer. The tail pads
// the union to its 64-bit size so the kernel never reads past the struct.
type ifreqData struct {
	name [unix.IFNAMSIZ]byte
	data unsafe.Pointer
	_    [16]byte
}

// linkSpeed returns the speed of the named link in bits per second, or 0
// when the driver does not know it. fd is any AF_INET socket created in the
// link's namespace (the collector makes it on the namespace's anchor
// thread): the ioctl looks the name up in the socket's namespace, so it
// needs neither that thread nor a capability.
func linkSpeed(fd int, name string) uint64 {
	if fd < 0 || len(name) >= unix.IFNAMSIZ {
		return 0
	}
	cmd := ethtoolCmd{cmd: unix.ETHTOOL_GSET}
	var ifr ifreqData
	copy(ifr.name[:], name)
	ifr.data = unsafe.Pointer(&cmd)
	_, _, errno := unix.Syscall(unix.SYS_IOCTL, uintptr(fd), unix.SIOCETHTOOL, uintptr(unsafe.Pointer(&ifr)))
	if errno != 0 {
		return 0
	}
	mbps := uint32(cmd.speedHi)<<16 | uint32(cmd.speed)
	if mbps == 0 || mbps == ^uint32(0) {
		return 0
	}
	return uint64(mbps) * 1e6
}
