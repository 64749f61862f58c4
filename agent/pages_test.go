package agent

import (
	"reflect"
	"strings"
	"testing"
)

func TestReadOnlyMappings(t *testing.T) {
	const exe = "/usr/bin/probe agent" // a path with a space
	cases := []struct {
		name, maps string
		want       []mapping
		err        string
	}{
		{name: "static binary", maps: `00400000-00bf1000 r-xp 00000000 fe:00 10012595                           /usr/bin/probe agent
00bf1000-014b0000 r--p 007f1000 fe:00 10012595                           /usr/bin/probe agent
014b0000-0150b000 rw-p 010b0000 fe:00 10012595                           /usr/bin/probe agent
0150b000-03560000 rw-p 00000000 00:00 0
c000000000-c004000000 rw-p 00000000 00:00 0
7ffd1c3a1000-7ffd1c3c2000 rw-p 00000000 00:00 0                          [stack]
`, want: []mapping{
			{start: 0x400000, end: 0xbf1000, perms: "r-xp", path: exe},
			{start: 0xbf1000, end: 0x14b0000, perms: "r--p", path: exe},
		}},
		{name: "shared and other files skipped", maps: `00400000-00500000 r-xs 00000000 fe:00 1 /usr/bin/probe agent
00500000-00600000 r--p 00000000 fe:00 2 /usr/lib/libc.so.6
00600000-00700000 r--p 00000000 fe:00 1 /usr/bin/probe agentx
00700000-00800000 ---p 00000000 fe:00 1 /usr/bin/probe agent
`},
		{name: "replaced binary", maps: "00400000-00500000 r-xp 00000000 fe:00 1 /usr/bin/probe agent (deleted)\n"},
		{name: "too few fields", maps: "00400000-00500000 r-xp 00000000\n", err: "maps line 1: 3 fields"},
		{name: "no dash", maps: "00400000 r-xp 00000000 fe:00 1 /x\n", err: "without '-'"},
		{name: "bad start", maps: "zz-00500000 r-xp 00000000 fe:00 1 /x\n", err: "maps line 1: start address"},
		{name: "bad end", maps: "00400000-zz r-xp 00000000 fe:00 1 /x\n", err: "end address"},
		{name: "reversed", maps: "00500000-00400000 r-xp 00000000 fe:00 1 /x\n", err: "reversed"},
		{name: "bad perms", maps: "00400000-00500000 rx 00000000 fe:00 1 /x\n", err: "permissions"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := readOnlyMappings([]byte(c.maps), exe)
			if c.err != "" {
				if err == nil || !strings.Contains(err.Error(), c.err) {
					t.Fatalf("err = %v, want one containing %q", err, c.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, c.want) {
				t.Fatalf("got %+v\nwant %+v", got, c.want)
			}
		})
	}
}

func TestReleasePagesAfter(t *testing.T) {
	for _, c := range []struct {
		tick uint64
		want bool
	}{{1, true}, {2, false}, {9, false}, {10, true}, {11, false}, {99, false}, {100, true}, {101, false}, {999, false}, {1000, true}, {1001, false}, {2000, true}, {2500, false}} {
		if got := releasePagesAfter(c.tick); got != c.want {
			t.Errorf("releasePagesAfter(%d) = %v, want %v", c.tick, got, c.want)
		}
	}
}
