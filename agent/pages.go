package agent

import (
	"bytes"
	"fmt"
	"runtime/debug"
	"runtime/metrics"
	"strconv"
)

// keepPagesEnv, set to anything but "" or "0", keeps the pages that
// releaseStartupPages would drop: the same binary can then be measured both
// ways (docs/PERFORMANCE.md, the memory of probe-agent run).
const keepPagesEnv = "PROBE_AGENT_KEEP_STARTUP_PAGES"

// release is what the agent gives back after a tick (releasePlan).
type release int

const (
	releaseNothing release = iota
	// releasePages drops the binary's read-only pages (releaseStartupPages).
	releasePages
	// releaseHeap also returns the heap's free pages: a collection, then
	// every free span given back (debug.FreeOSMemory).
	releaseHeap
)

// releaseUnused gives back what r says. The heap part matters after a
// burst: 4,000 anomalies raised in one tick put the live heap at 10 MB for
// a moment, the collector set its goal from that, and with the tick
// allocating 40 KB the next collection, which would lower the goal again,
// comes minutes later; until then the free pages stay resident. It returns
// the bytes of binary mappings released.
func releaseUnused(r release) (int64, error) {
	if r == releaseNothing {
		return 0, nil
	}
	if r == releaseHeap {
		debug.FreeOSMemory()
	}
	return releaseStartupPages()
}

// releasePlan decides what the agent gives back after each tick. The
// binary's pages after the 1st tick (what starting touched), the 10th and
// the 100th (what the first rates, anomalies and connections touched
// once), and every 1,000th (a rare event since: a reload, a REST
// request); the heap's free pages too at those ticks when they are more
// than a quarter of the heap's goal and at least 1 MiB (a forced
// collection costs a few milliseconds at 4,000 interfaces: not for a
// little). And both two ticks after a burst, a tick that allocated more
// than a quarter of the heap's goal (4,000 anomalies raised at once, a new
// probe set): by then what the burst built for its transitions is
// garbage. Releases for bursts are at least 100 ticks apart, so a probe
// flapping every tick costs one forced collection per 100 ticks at most.
type releasePlan struct {
	ticks      uint64 // ticks seen
	allocs     uint64 // heap bytes allocated up to the last tick
	due        uint64 // the tick of a pending burst release, 0 = none
	lastBurst  uint64 // the tick of the last burst release
	burstsSeen bool
}

// minHeapRelease is the least free heap worth a forced collection.
const minHeapRelease = 1 << 20

// after takes, at the end of a tick, the heap's cumulative allocated bytes,
// its goal and its free (unreleased) bytes, and tells what to release.
func (p *releasePlan) after(allocs, goal, free uint64) release {
	p.ticks++
	n := p.ticks
	grew := allocs - p.allocs
	p.allocs = allocs
	if n > 1 && p.due == 0 && grew > goal/4 {
		p.due = n + 2
	}
	if p.due != 0 && n >= p.due && (!p.burstsSeen || n-p.lastBurst >= 100) {
		p.lastBurst, p.burstsSeen, p.due = n, true, 0
		return releaseHeap
	}
	if n == 1 || n == 10 || n == 100 || n%1000 == 0 {
		p.due = 0
		if free >= minHeapRelease && free > goal/4 {
			return releaseHeap
		}
		return releasePages
	}
	return releaseNothing
}

// heapReader reads what releasePlan needs from runtime/metrics (a few
// hundred nanoseconds a tick, nothing allocated).
type heapReader struct{ s [3]metrics.Sample }

func newHeapReader() *heapReader {
	return &heapReader{s: [3]metrics.Sample{{Name: "/gc/heap/allocs:bytes"}, {Name: "/gc/heap/goal:bytes"}, {Name: "/memory/classes/heap/free:bytes"}}}
}

// read returns the bytes allocated on the heap since the start, the heap's
// goal, and its free bytes not yet returned to the system.
func (h *heapReader) read() (allocs, goal, free uint64) {
	metrics.Read(h.s[:])
	return h.s[0].Value.Uint64(), h.s[1].Value.Uint64(), h.s[2].Value.Uint64()
}

// mapping is one range of the process's address space as /proc/PID/maps
// lists it.
type mapping struct {
	start, end uint64
	perms      string
	path       string
}

// readOnlyMappings returns the mappings of the file exe that are private,
// not writable and never written (its code, read-only data and function
// tables), from the text of /proc/PID/smaps (or maps, whose lines are
// smaps' headers). Writable mappings are never returned: their written
// pages are the process's own copy, and dropping them would lose data. Nor
// is a read-only mapping with anonymous pages: those were written before
// the mapping was made read-only (RELRO after the dynamic loader's
// relocations, in a PIE or dynamically linked build), and dropping them
// would bring back the file's unrelocated bytes.
func readOnlyMappings(smaps []byte, exe string) ([]mapping, error) {
	var out []mapping
	current := false // the last header is in out, so its attributes count
	for n, line := range bytes.Split(smaps, []byte("\n")) {
		if len(bytes.TrimSpace(line)) == 0 {
			continue
		}
		// address perms offset dev inode [path]; the path may hold spaces.
		f := bytes.Fields(line)
		if bytes.HasSuffix(f[0], []byte(":")) {
			// An smaps attribute of the mapping above ("Anonymous: 8 kB").
			if current && string(f[0]) == "Anonymous:" && (len(f) < 2 || string(f[1]) != "0") {
				out = out[:len(out)-1]
				current = false
			}
			continue
		}
		current = false
		if len(f) < 5 {
			return nil, fmt.Errorf("maps line %d: %d fields, want at least 5: %q", n+1, len(f), line)
		}
		lo, hi, ok := bytes.Cut(f[0], []byte("-"))
		if !ok {
			return nil, fmt.Errorf("maps line %d: address range %q without '-'", n+1, f[0])
		}
		start, err := strconv.ParseUint(string(lo), 16, 64)
		if err != nil {
			return nil, fmt.Errorf("maps line %d: start address: %w", n+1, err)
		}
		end, err := strconv.ParseUint(string(hi), 16, 64)
		if err != nil {
			return nil, fmt.Errorf("maps line %d: end address: %w", n+1, err)
		}
		if end <= start {
			return nil, fmt.Errorf("maps line %d: empty or reversed range %q", n+1, f[0])
		}
		perms := string(f[1])
		if len(perms) != 4 {
			return nil, fmt.Errorf("maps line %d: permissions %q, want 4 characters", n+1, perms)
		}
		if len(f) < 6 || perms[1] == 'w' || perms[3] != 'p' || perms[0] != 'r' {
			continue
		}
		path := string(afterFields(line, 5))
		if path != exe {
			continue
		}
		out = append(out, mapping{start: start, end: end, perms: perms, path: path})
		current = true
	}
	return out, nil
}

// afterFields is line without its first n space-separated fields and the
// spaces around them (a maps path may itself hold spaces).
func afterFields(line []byte, n int) []byte {
	for ; n > 0; n-- {
		line = bytes.TrimLeft(line, " \t")
		i := bytes.IndexAny(line, " \t")
		if i < 0 {
			return nil
		}
		line = line[i:]
	}
	return bytes.TrimSpace(line)
}
