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
		{name: "smaps: written read-only data skipped", maps: `00400000-00bf1000 r-xp 00000000 fe:00 1 /usr/bin/probe agent
Size:               8132 kB
Rss:                6000 kB
Anonymous:             0 kB
VmFlags: rd ex mr mw me dw
00bf1000-00c00000 r--p 007f1000 fe:00 1 /usr/bin/probe agent
Size:                 60 kB
Anonymous:             8 kB
VmFlags: rd mr mw me dw ac
00c00000-014b0000 r--p 00800000 fe:00 1 /usr/bin/probe agent
Anonymous:             0 kB
`, want: []mapping{
			{start: 0x400000, end: 0xbf1000, perms: "r-xp", path: exe},
			{start: 0xc00000, end: 0x14b0000, perms: "r--p", path: exe},
		}},
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

// TestReleasePlan: the binary's pages after ticks 1, 10, 100 and every
// 1,000th, the heap's free pages too when they are worth a collection, and
// both two ticks after a tick that allocated more than a quarter of the
// heap goal, such releases at least 100 ticks apart.
func TestReleasePlan(t *testing.T) {
	const goal = 8 << 20
	steady := func(uint64) uint64 { return 40 << 10 } // 40 KB a tick
	const P, H = releasePages, releaseHeap
	type at struct {
		tick uint64
		r    release
	}
	cases := []struct {
		name   string
		ticks  uint64
		allocs func(tick uint64) uint64 // allocated during the tick
		free   uint64                   // the heap's free bytes
		want   []at
	}{
		{"steady", 2500, steady, 0, []at{{1, P}, {10, P}, {100, P}, {1000, P}, {2000, P}}},
		{"steady, much free heap", 150, steady, goal/4 + 1, []at{{1, H}, {10, H}, {100, H}}},
		{"a quarter of the goal free is not worth it", 20, steady, goal / 4, []at{{1, P}, {10, P}}},
		{"nor less than 1 MiB", 20, steady, 1<<20 - 1, []at{{1, P}, {10, P}}},
		{"a big first tick is starting, not a burst", 20, func(n uint64) uint64 {
			if n == 1 {
				return 64 << 20
			}
			return 40 << 10
		}, 0, []at{{1, P}, {10, P}}},
		{"burst at 5", 20, func(n uint64) uint64 {
			if n == 5 {
				return 3 << 20
			}
			return 40 << 10
		}, 0, []at{{1, P}, {7, H}, {10, P}}},
		{"burst just under a quarter", 20, func(n uint64) uint64 {
			if n == 5 {
				return goal / 4
			}
			return 40 << 10
		}, 0, []at{{1, P}, {10, P}}},
		{"burst due at a scheduled tick", 20, func(n uint64) uint64 {
			if n == 8 {
				return 3 << 20
			}
			return 40 << 10
		}, 0, []at{{1, P}, {10, H}}},
		{"flapping: bursts every tick", 350, func(uint64) uint64 { return 3 << 20 }, 0,
			[]at{{1, P}, {4, H}, {10, P}, {100, P}, {104, H}, {204, H}, {304, H}}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var p releasePlan
			var total uint64
			var got []at
			for n := uint64(1); n <= c.ticks; n++ {
				total += c.allocs(n)
				if r := p.after(total, goal, c.free); r != releaseNothing {
					got = append(got, at{n, r})
				}
			}
			if !reflect.DeepEqual(got, c.want) {
				t.Errorf("released %v, want %v", got, c.want)
			}
		})
	}
}

func TestHeapReader(t *testing.T) {
	h := newHeapReader()
	a0, goal, _ := h.read()
	if goal == 0 {
		t.Fatal("heap goal 0")
	}
	sink = make([]byte, 1<<20)
	if a1, _, _ := h.read(); a1-a0 < 1<<20 {
		t.Errorf("allocated %d bytes between readings, want at least 1 MiB", a1-a0)
	}
}

var sink []byte
