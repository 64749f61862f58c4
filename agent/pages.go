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

// releaseUnused gives back to the system what the agent holds and does not
// use, at the ticks releasePagesAfter picks: the heap's free pages (a
// collection, then every free span returned: debug.FreeOSMemory) and the
// binary's read-only pages (releaseStartupPages). The heap part matters
// after a burst: 4,000 anomalies raised in one tick put the live heap at
// 10 MB for a moment, the collector set its goal from that, and with the
// tick allocating 40 KB the next collection, which would lower the goal
// again, comes minutes later; until then the free pages stay resident. A
// forced collection costs a few milliseconds at this size, once per
// release.
func releaseUnused() (int64, error) {
	debug.FreeOSMemory()
	return releaseStartupPages()
}

// releasePlan decides after which ticks the agent releases what it does
// not use (releaseUnused): after the 1st (what starting touched), the 10th
// and the 100th (what the first rates, anomalies and connections touched
// once), every 1,000th (a rare event since: a reload, a REST request), and
// two ticks after a burst, a tick that allocated more than a quarter of the
// heap's goal (4,000 anomalies raised at once, a new probe set): by then
// what the burst built for its transitions is garbage. Releases for bursts
// are at least 100 ticks apart, so a probe flapping every tick costs one
// forced collection per 100 ticks at most. Each release costs a few
// milliseconds: the collection, and minor faults while the ticks touch
// their pages again.
type releasePlan struct {
	ticks      uint64 // ticks seen
	allocs     uint64 // heap bytes allocated up to the last tick
	due        uint64 // the tick of a pending burst release, 0 = none
	lastBurst  uint64 // the tick of the last burst release
	burstsSeen bool
}

// after takes the heap's cumulative allocated bytes and its goal at the
// end of a tick and tells whether to release now.
func (p *releasePlan) after(allocs, goal uint64) bool {
	p.ticks++
	n := p.ticks
	grew := allocs - p.allocs
	p.allocs = allocs
	if n > 1 && p.due == 0 && grew > goal/4 {
		p.due = n + 2
	}
	scheduled := n == 1 || n == 10 || n == 100 || n%1000 == 0
	burst := p.due != 0 && n >= p.due && (!p.burstsSeen || n-p.lastBurst >= 100)
	if burst {
		p.lastBurst, p.burstsSeen = n, true
	}
	if scheduled || burst {
		p.due = 0
		return true
	}
	return false
}

// heapReader reads what releasePlan needs from runtime/metrics (a few
// hundred nanoseconds a tick, nothing allocated).
type heapReader struct{ s [2]metrics.Sample }

func newHeapReader() *heapReader {
	return &heapReader{s: [2]metrics.Sample{{Name: "/gc/heap/allocs:bytes"}, {Name: "/gc/heap/goal:bytes"}}}
}

// read returns the bytes allocated on the heap since the start and the
// heap's goal.
func (h *heapReader) read() (allocs, goal uint64) {
	metrics.Read(h.s[:])
	return h.s[0].Value.Uint64(), h.s[1].Value.Uint64()
}

// mapping is one range of the process's address space as /proc/PID/maps
// lists it.
type mapping struct {
	start, end uint64
	perms      string
	path       string
}

// readOnlyMappings returns the mappings of the file exe that are private
// and not writable (its code, read-only data and function tables), from
// the text of /proc/PID/maps. Writable mappings are never returned: their
// written pages are the process's own copy, and dropping them would lose
// data.
func readOnlyMappings(maps []byte, exe string) ([]mapping, error) {
	var out []mapping
	for n, line := range bytes.Split(maps, []byte("\n")) {
		if len(bytes.TrimSpace(line)) == 0 {
			continue
		}
		// address perms offset dev inode [path]; the path may hold spaces.
		f := bytes.Fields(line)
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
