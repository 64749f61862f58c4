package agent

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// exeRss is the resident size, in kB, of the read-only mappings of this
// test binary (/proc/self/smaps).
func exeRss(t *testing.T) int {
	t.Helper()
	exe, err := os.Readlink("/proc/self/exe")
	must(t, err)
	raw, err := os.ReadFile("/proc/self/smaps")
	must(t, err)
	total, in := 0, false
	for _, line := range strings.Split(string(raw), "\n") {
		f := strings.Fields(line)
		switch {
		case len(f) >= 5 && strings.Contains(f[0], "-") && !strings.HasSuffix(f[0], ":"):
			in = len(f) >= 6 && afterFieldsString(line, 5) == exe && f[1][1] != 'w'
		case in && len(f) == 3 && f[0] == "Rss:":
			kb, err := strconv.Atoi(f[1])
			must(t, err)
			total += kb
		}
	}
	return total
}

func afterFieldsString(line string, n int) string { return string(afterFields([]byte(line), n)) }

// TestReleaseStartupPages drops this test binary's read-only pages from its
// resident set: what is resident right after is only what ran since (the
// reading of smaps), a small part of what the binary had touched before.
func TestReleaseStartupPages(t *testing.T) {
	t.Setenv(keepPagesEnv, "")
	before := exeRss(t)
	if before < 1024 {
		t.Fatalf("the test binary has %d kB of read-only pages resident before; expected megabytes", before)
	}
	n, err := releaseStartupPages()
	must(t, err)
	after := exeRss(t)
	t.Logf("read-only pages of the test binary resident: %d kB before, %d kB after (%d kB of mappings released)", before, after, n/1024)
	if n < int64(before)*1024 {
		t.Errorf("released %d bytes of mappings, less than the %d kB resident in them", n, before)
	}
	if after*2 > before {
		t.Errorf("%d kB resident after the release, more than half of the %d kB before", after, before)
	}
}

// TestKeepStartupPages: the environment variable keeps the pages, so the
// same binary can be measured both ways.
func TestKeepStartupPages(t *testing.T) {
	t.Setenv(keepPagesEnv, "1")
	before := exeRss(t)
	n, err := releaseStartupPages()
	must(t, err)
	if n != 0 {
		t.Fatalf("released %d bytes with %s=1", n, keepPagesEnv)
	}
	if after := exeRss(t); after*2 <= before {
		t.Errorf("%d kB resident after, %d kB before: pages were dropped with %s=1", after, before, keepPagesEnv)
	}
}

// TestReleaseKeepsWrittenReadOnlyPages: a private mapping of a file that
// was written and then made read-only (what the dynamic loader leaves of
// a PIE binary's relocated read-only data) keeps what was written. A
// release that dropped it would bring the file's bytes back: a PIE build of
// the agent faulted on the tick after its first release until mappings
// with anonymous pages were left alone.
func TestReleaseKeepsWrittenReadOnlyPages(t *testing.T) {
	t.Setenv(keepPagesEnv, "")
	file := filepath.Join(t.TempDir(), "relro")
	page := os.Getpagesize()
	must(t, os.WriteFile(file, make([]byte, 4*page), 0o644))
	f, err := os.Open(file)
	must(t, err)
	defer f.Close()
	mem, err := unix.Mmap(int(f.Fd()), 0, 4*page, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_PRIVATE)
	must(t, err)
	defer unix.Munmap(mem)
	mem[0], mem[page] = 'R', 'L' // relocated, as the loader would
	must(t, unix.Mprotect(mem, unix.PROT_READ))
	if _, err := releaseReadOnlyPages(file); err == nil {
		t.Log("released a mapping of the file (it has written pages: it should not have been listed)")
	}
	if mem[0] != 'R' || mem[page] != 'L' {
		t.Fatalf("written read-only pages reverted to the file's bytes: %q %q", mem[0], mem[page])
	}

	// A mapping of the same file never written is released.
	clean, err := unix.Mmap(int(f.Fd()), 0, 4*page, unix.PROT_READ, unix.MAP_PRIVATE)
	must(t, err)
	defer unix.Munmap(clean)
	_ = clean[0]
	n, err := releaseReadOnlyPages(file)
	must(t, err)
	if n != int64(4*page) {
		t.Errorf("released %d bytes, want the clean mapping's %d", n, 4*page)
	}
	if mem[0] != 'R' {
		t.Fatal("the written mapping was released with the clean one")
	}
}
