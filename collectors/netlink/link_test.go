package netlink

import (
	"bytes"
	"encoding/binary"
	"testing"
)

func linkBody(index uint32, attrs ...[]byte) []byte {
	b := make([]byte, ifInfoMsgLen)
	binary.NativeEndian.PutUint32(b[4:], index)
	for _, a := range attrs {
		b = append(b, a...)
	}
	return b
}

func TestParseLinkMsg(t *testing.T) {
	stats := attr(7, make([]byte, 200)) // IFLA_STATS: skipped
	tests := []struct {
		name  string
		body  []byte
		index int32
		link  string
		oper  uint8
		err   error
	}{
		{"name and state among other attributes", linkBody(7, stats, attr(iflaIfname, []byte("eth1\x00")), attr(iflaOperstate, []byte{6})), 7, "eth1", 6, nil},
		{"name without NUL", linkBody(3, attr(iflaIfname, []byte("lo"))), 3, "lo", 0, nil},
		{"no name", linkBody(3, attr(iflaOperstate, []byte{2})), 0, "", 0, errNoName},
		{"short ifinfomsg", []byte{1, 2, 3}, 0, "", 0, errShortMsg},
		{"attribute longer than the message", append(linkBody(1), 0xff, 0, 3, 0), 0, "", 0, errBadAttr},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, err := parseLinkMsg(tt.body)
			if err != tt.err {
				t.Fatalf("err %v, want %v", err, tt.err)
			}
			if err == nil && (m.index != tt.index || string(m.name) != tt.link || m.oper != tt.oper) {
				t.Errorf("got {%d %q %d}, want {%d %q %d}", m.index, m.name, m.oper, tt.index, tt.link, tt.oper)
			}
		})
	}
}

func TestWalkLinkDump(t *testing.T) {
	var buf []byte
	buf = append(buf, nlmsg(rtmNewLink, 0x2, 5, linkBody(1, attr(iflaIfname, []byte("lo\x00"))))...)
	buf = append(buf, nlmsg(rtmNewLink, 0x2, 4, linkBody(9, attr(iflaIfname, []byte("stale\x00"))))...) // another dump's
	buf = append(buf, nlmsg(rtmNewLink, 0x2|nlmFDumpIntr, 5, linkBody(2, attr(iflaIfname, []byte("eth0\x00"))))...)
	buf = append(buf, nlmsg(nlmsgDone, 0x2, 5, make([]byte, 4))...)
	var got []string
	r, err := walkMessages(buf, 5, rtmNewLink, func(body []byte) error {
		m, err := parseLinkMsg(body)
		got = append(got, string(m.name))
		return err
	})
	if err != nil || !r.done || !r.interrupted {
		t.Fatalf("result %+v, %v; want done and interrupted", r, err)
	}
	if want := []string{"lo", "eth0"}; len(got) != 2 || got[0] != want[0] || got[1] != want[1] {
		t.Errorf("links %q, want %q", got, want)
	}
}

func TestLinkRequest(t *testing.T) {
	req := appendLinkRequest(nil, 42)
	if len(req) != nlmsgHdrLen+ifInfoMsgLen || binary.NativeEndian.Uint32(req) != uint32(len(req)) ||
		binary.NativeEndian.Uint16(req[4:]) != rtmGetLink || binary.NativeEndian.Uint32(req[8:]) != 42 {
		t.Errorf("request % x", req)
	}
}

func FuzzParseLink(f *testing.F) {
	f.Add(nlmsg(rtmNewLink, 0x2, 1, linkBody(7, attr(iflaIfname, []byte("eth1\x00")), attr(iflaOperstate, []byte{6}))))
	f.Add(nlmsg(nlmsgDone, 0x2, 1, make([]byte, 4)))
	f.Fuzz(func(t *testing.T, data []byte) {
		n := 0
		_, _ = walkMessages(data, 1, rtmNewLink, func(body []byte) error {
			m, err := parseLinkMsg(body)
			if err == nil {
				if len(m.name) == 0 || bytes.IndexByte(m.name, 0) >= 0 {
					t.Fatalf("name %q", m.name)
				}
				n++
			}
			return err
		})
		if n*(nlmsgHdrLen+ifInfoMsgLen+rtaHdrLen) > len(data) {
			t.Fatalf("%d links from %d bytes", n, len(data))
		}
	})
}
