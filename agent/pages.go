package agent

import (
	"bytes"
	"fmt"
	"strconv"
)

// keepPagesEnv, set to anything but "" or "0", keeps the pages that
// releaseStartupPages would drop: the same binary can then be measured both
// ways (docs/PERFORMANCE.md, the memory of probe-agent run).
const keepPagesEnv = "PROBE_AGENT_KEEP_STARTUP_PAGES"

// releasePagesAfter tells whether the agent releases its binary's
// read-only pages after its nth tick: after the 1st (what starting
// touched), the 10th and the 100th (what the first rates, anomalies,
// alerts and connections touched once), then every 1,000th (what a rare
// event touched since: a reload, a REST request). Each costs a
// millisecond or two of minor faults while the ticks touch their pages
// again.
func releasePagesAfter(n uint64) bool {
	return n == 1 || n == 10 || n == 100 || n%1000 == 0
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
