package agent

import (
	"errors"
	"os"
	"syscall"
)

// releaseStartupPages drops the agent's own executable from its resident
// set, keeping it mapped: every read-only page of it (code, read-only data,
// the function tables) is unmapped from the page tables and comes back, from
// the page cache, the next time something touches it. It returns the bytes
// of the ranges released.
//
// Why: starting touches pages all over the binary that the running agent
// never needs again, and the kernel maps the 64 KB around every fault, so
// 13.6 MiB of an 18 MB binary was resident: package initialisation of every
// linked package (the Kafka and NATS clients' included, with or without an
// entry using them), the runtime's registration of every itab (which reads
// the type descriptor behind each one, all over .rodata), configuration
// parsing, probe compilation. Released after the first tick (and a few
// times later, releasePagesAfter), what stays resident is what ticks, the
// GC (its stack and heap scans read function tables and type descriptors
// all over the binary) and the API touch again: 7.5 MiB with the bench's
// 10 probes at 4,000 interfaces (docs/PERFORMANCE.md). The pages stay in
// the page cache, so touching one again costs a minor fault, not a read.
func releaseStartupPages() (int64, error) {
	if v := os.Getenv(keepPagesEnv); v != "" && v != "0" {
		return 0, nil
	}
	exe, err := os.Readlink("/proc/self/exe")
	if err != nil {
		return 0, err
	}
	return releaseReadOnlyPages(exe)
}

// releaseReadOnlyPages drops the resident pages of the private, read-only,
// never written mappings of the file path (readOnlyMappings) and returns
// the bytes of the ranges released.
func releaseReadOnlyPages(exe string) (int64, error) {
	maps, err := os.ReadFile("/proc/self/smaps")
	if err != nil {
		return 0, err
	}
	ms, err := readOnlyMappings(maps, exe)
	if err != nil {
		return 0, err
	}
	if len(ms) == 0 {
		return 0, errors.New("/proc/self/smaps lists no read-only, never written mapping of " + exe)
	}
	var n int64
	for _, m := range ms {
		// Safe on these mappings only: private, never written (no
		// anonymous pages), so their contents are the file's and nothing
		// is lost.
		if _, _, e := syscall.Syscall(syscall.SYS_MADVISE, uintptr(m.start), uintptr(m.end-m.start), syscall.MADV_DONTNEED); e != 0 {
			return n, &os.SyscallError{Syscall: "madvise", Err: e}
		}
		n += int64(m.end - m.start)
	}
	return n, nil
}
