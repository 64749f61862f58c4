package netlink

import (
	"bytes"
	"encoding/binary"
	"errors"

	"github.com/probe-agent/probe-agent/collectors"
)

// Netlink and rtnetlink constants, spelled out so the parser builds and can
// be fuzzed on any OS.
const (
	nlmsgHdrLen     = 16
	ifStatsMsgLen   = 12 // struct if_stats_msg
	rtaHdrLen       = 4
	nlmsgError      = 2
	nlmsgDone       = 3
	nlmFDumpIntr    = 0x10
	rtmNewStats     = 92
	rtmGetStats     = 94
	iflaStatsLink64 = 1
	rtmNewLink      = 16
	rtmGetLink      = 18
	ifInfoMsgLen    = 16 // struct ifinfomsg
	iflaIfname      = 3
	iflaOperstate   = 16
)

// rtnl_link_stats64 field positions (u64 each). Only the prefix we map is
// required, so older and newer kernels' longer or shorter structs both decode.
const (
	sRxPackets = iota
	sTxPackets
	sRxBytes
	sTxBytes
	sRxErrors
	sTxErrors
	sRxDropped
	sTxDropped
	sMulticast
	sCollisions
	sRxLengthErrors
	sRxOverErrors
	sRxCRCErrors
	sRxFrameErrors
	sRxFIFOErrors
	sRxMissedErrors
	numStatsFields // fields the mapping needs
)

// rawStats is the decoded prefix of one rtnl_link_stats64.
type rawStats [numStatsFields]uint64

var (
	errShortMsg   = errors.New("netlink: truncated message")
	errBadAttr    = errors.New("netlink: malformed attribute")
	errShortStats = errors.New("netlink: IFLA_STATS_LINK_64 shorter than expected")
	errNoStats    = errors.New("netlink: stats message without IFLA_STATS_LINK_64")
	errNoName     = errors.New("netlink: link message without IFLA_IFNAME")
)

// errnoError carries a negative errno from an NLMSG_ERROR reply; the Linux
// side turns it into a syscall.Errno.
type errnoError int32

func (e errnoError) Error() string { return "netlink: kernel returned errno " + itoa(int(-e)) }

func itoa(v int) string {
	if v < 0 {
		return "-" + itoa(-v)
	}
	var b [20]byte
	i := len(b)
	for {
		i--
		b[i] = byte('0' + v%10)
		v /= 10
		if v == 0 {
			return string(b[i:])
		}
	}
}

// validCounters is what fillCounters reports; everything else has no honest
// kernel source (see the package doc).
const validCounters = collectors.CounterSet(1<<collectors.RxBytes | 1<<collectors.TxBytes |
	1<<collectors.RxUnicastPackets | 1<<collectors.RxMulticastPackets | 1<<collectors.TxUnicastPackets |
	1<<collectors.RxErrorPackets | 1<<collectors.TxErrorPackets |
	1<<collectors.RxDiscardPackets | 1<<collectors.TxDiscardPackets |
	1<<collectors.FCSErrors | 1<<collectors.AlignmentErrors)

// fillCounters maps kernel stats onto Apstra counters, overwriting every
// counter so a reused Interface keeps nothing from its previous occupant.
func fillCounters(c *[collectors.NumCounters]uint64, s *rawStats) {
	*c = [collectors.NumCounters]uint64{}
	c[collectors.RxBytes] = s[sRxBytes]
	c[collectors.TxBytes] = s[sTxBytes]
	if s[sRxPackets] > s[sMulticast] {
		c[collectors.RxUnicastPackets] = s[sRxPackets] - s[sMulticast]
	}
	c[collectors.RxMulticastPackets] = s[sMulticast]
	c[collectors.TxUnicastPackets] = s[sTxPackets]
	c[collectors.RxErrorPackets] = s[sRxErrors]
	c[collectors.TxErrorPackets] = s[sTxErrors]
	c[collectors.RxDiscardPackets] = s[sRxDropped] + s[sRxMissedErrors]
	c[collectors.TxDiscardPackets] = s[sTxDropped]
	c[collectors.FCSErrors] = s[sRxCRCErrors]
	c[collectors.AlignmentErrors] = s[sRxFrameErrors]
}

// decodeStats64 reads the mapped prefix of an IFLA_STATS_LINK_64 payload.
func decodeStats64(p []byte, out *rawStats) error {
	if len(p) < numStatsFields*8 {
		return errShortStats
	}
	for i := range out {
		out[i] = binary.NativeEndian.Uint64(p[i*8:])
	}
	return nil
}

// parseStatsMsg decodes the payload of one RTM_NEWSTATS message (what
// follows the nlmsghdr) into its ifindex and stats.
func parseStatsMsg(body []byte, out *rawStats) (int32, error) {
	if len(body) < ifStatsMsgLen {
		return 0, errShortMsg
	}
	ifindex := int32(binary.NativeEndian.Uint32(body[4:]))
	found := false
	var err error
	if aerr := eachAttr(body[ifStatsMsgLen:], func(typ uint16, v []byte) bool {
		if typ != iflaStatsLink64 {
			return true
		}
		found, err = true, decodeStats64(v, out)
		return false
	}); aerr != nil {
		return 0, aerr
	}
	if !found {
		return 0, errNoStats
	}
	return ifindex, err
}

// eachAttr calls fn with the type (flags dropped) and payload of each
// rtattr in attrs, in order, until fn returns false.
func eachAttr(attrs []byte, fn func(typ uint16, v []byte) bool) error {
	for len(attrs) >= rtaHdrLen {
		l := int(binary.NativeEndian.Uint16(attrs))
		typ := binary.NativeEndian.Uint16(attrs[2:]) & 0x3fff // drop NLA_F_NESTED/NET_BYTEORDER
		if l < rtaHdrLen || l > len(attrs) {
			return errBadAttr
		}
		if !fn(typ, attrs[rtaHdrLen:l]) {
			return nil
		}
		adv := (l + 3) &^ 3
		if adv > len(attrs) {
			break
		}
		attrs = attrs[adv:]
	}
	return nil
}

// dumpResult is what walkDump found in one read's worth of messages.
type dumpResult struct {
	done        bool // NLMSG_DONE seen
	interrupted bool // the kernel flagged the dump inconsistent
}

// walkDump walks the netlink messages in one datagram, calling fn for each
// RTM_NEWSTATS message of the dump numbered seq. Messages of other sequence
// numbers are skipped: they can only be leftovers addressed to nobody.
func walkDump(buf []byte, seq uint32, st *rawStats, fn func(ifindex int32, st *rawStats)) (dumpResult, error) {
	return walkMessages(buf, seq, rtmNewStats, func(body []byte) error {
		idx, err := parseStatsMsg(body, st)
		if err != nil {
			return err
		}
		fn(idx, st)
		return nil
	})
}

// walkMessages walks the netlink messages in one datagram, calling fn with
// the payload of each message of type typ in the dump numbered seq.
func walkMessages(buf []byte, seq uint32, typ uint16, fn func(body []byte) error) (dumpResult, error) {
	var r dumpResult
	for len(buf) >= nlmsgHdrLen {
		l := int(binary.NativeEndian.Uint32(buf))
		mtyp := binary.NativeEndian.Uint16(buf[4:])
		flags := binary.NativeEndian.Uint16(buf[6:])
		mseq := binary.NativeEndian.Uint32(buf[8:])
		if l < nlmsgHdrLen || l > len(buf) {
			return r, errShortMsg
		}
		body := buf[nlmsgHdrLen:l]
		if mseq == seq {
			if flags&nlmFDumpIntr != 0 {
				r.interrupted = true
			}
			switch mtyp {
			case nlmsgDone:
				r.done = true
				return r, nil
			case nlmsgError:
				if len(body) < 4 {
					return r, errShortMsg
				}
				if e := int32(binary.NativeEndian.Uint32(body)); e != 0 {
					return r, errnoError(e)
				}
			case typ:
				if err := fn(body); err != nil {
					return r, err
				}
			}
		}
		adv := (l + 3) &^ 3
		if adv >= len(buf) {
			break
		}
		buf = buf[adv:]
	}
	return r, nil
}

// linkMsg is what the collector reads of one RTM_NEWLINK message.
type linkMsg struct {
	index int32
	name  []byte // aliases the datagram: copy before keeping
	oper  uint8  // IF_OPER_*
}

// parseLinkMsg decodes the ifindex, name and operational state of one
// RTM_NEWLINK payload, skipping every other attribute (statistics, address
// families, link info), which is most of the message.
func parseLinkMsg(body []byte) (linkMsg, error) {
	var m linkMsg
	if len(body) < ifInfoMsgLen {
		return m, errShortMsg
	}
	m.index = int32(binary.NativeEndian.Uint32(body[4:]))
	if err := eachAttr(body[ifInfoMsgLen:], func(typ uint16, v []byte) bool {
		switch typ {
		case iflaIfname:
			if i := bytes.IndexByte(v, 0); i >= 0 {
				v = v[:i]
			}
			m.name = v
		case iflaOperstate:
			if len(v) >= 1 {
				m.oper = v[0]
			}
		}
		return true
	}); err != nil {
		return m, err
	}
	if len(m.name) == 0 {
		return m, errNoName
	}
	return m, nil
}

// appendLinkRequest appends an RTM_GETLINK dump request for every link.
func appendLinkRequest(b []byte, seq uint32) []byte {
	b = appendDumpHeader(b, nlmsgHdrLen+ifInfoMsgLen, rtmGetLink, seq)
	return append(b, make([]byte, ifInfoMsgLen)...) // AF_UNSPEC, any type, index, flags
}

// appendStatsRequest appends an RTM_GETSTATS dump request for
// IFLA_STATS_LINK_64 only.
func appendStatsRequest(b []byte, seq uint32) []byte {
	b = appendDumpHeader(b, nlmsgHdrLen+ifStatsMsgLen, rtmGetStats, seq)
	b = append(b, 0, 0, 0, 0)                                       // family AF_UNSPEC, padding
	b = binary.NativeEndian.AppendUint32(b, 0)                      // ifindex 0: all links
	b = binary.NativeEndian.AppendUint32(b, 1<<(iflaStatsLink64-1)) // filter mask
	return b
}

// appendDumpHeader appends the nlmsghdr of a dump request of length l
// (header included).
func appendDumpHeader(b []byte, l uint32, typ uint16, seq uint32) []byte {
	b = binary.NativeEndian.AppendUint32(b, l)
	b = binary.NativeEndian.AppendUint16(b, typ)
	b = binary.NativeEndian.AppendUint16(b, 0x1|0x300) // NLM_F_REQUEST|NLM_F_DUMP
	b = binary.NativeEndian.AppendUint32(b, seq)
	return binary.NativeEndian.AppendUint32(b, 0) // port id: let the kernel fill it
}
