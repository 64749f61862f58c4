package system

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/probe-agent/probe-agent/collectors"
)

func TestParseFixtures(t *testing.T) {
	tests := []struct {
		dir                 string
		busy, total         uint64
		memTotal, memAvail  uint64
		statErr, meminfoErr string
	}{
		{dir: "modern", busy: 52477, total: 106486, memTotal: 24684092 * 1024, memAvail: 23596852 * 1024},
		{dir: "old-kernel", busy: 1320, total: 6320, memTotal: 1000000 * 1024, memAvail: 600000 * 1024},
		{dir: "bad-stat", statErr: "not the aggregate cpu line", memTotal: 24684092 * 1024, memAvail: 23596852 * 1024},
	}
	for _, tt := range tests {
		t.Run(tt.dir, func(t *testing.T) {
			stat, err := os.ReadFile(filepath.Join("testdata", tt.dir, "stat"))
			if err != nil {
				t.Fatal(err)
			}
			busy, total, err := ParseStat(stat)
			if !errMatches(err, tt.statErr) {
				t.Fatalf("ParseStat error = %v, want %q", err, tt.statErr)
			}
			if err == nil && (busy != tt.busy || total != tt.total) {
				t.Errorf("ParseStat = busy %d total %d, want %d %d", busy, total, tt.busy, tt.total)
			}
			mem, err := os.ReadFile(filepath.Join("testdata", tt.dir, "meminfo"))
			if err != nil {
				t.Fatal(err)
			}
			mt, ma, err := ParseMeminfo(mem)
			if !errMatches(err, tt.meminfoErr) {
				t.Fatalf("ParseMeminfo error = %v, want %q", err, tt.meminfoErr)
			}
			if err == nil && (mt != tt.memTotal || ma != tt.memAvail) {
				t.Errorf("ParseMeminfo = %d %d, want %d %d", mt, ma, tt.memTotal, tt.memAvail)
			}
		})
	}
}

func TestParseErrors(t *testing.T) {
	statTests := []struct{ name, data, err string }{
		{"empty", "", "not the aggregate cpu line"},
		{"too few fields", "cpu  1 2 3\n", "has 3 fields"},
		{"not a number", "cpu  1 2 x 4\n", "field 3: not a number"},
		{"overflow", "cpu  1 2 3 99999999999999999999999\n", "field 4: not a number"},
		{"per-cpu line only", "cpu0 1 2 3 4\n", "not the aggregate cpu line"},
		{"no trailing newline", "cpu  1 2 3 4", ""},
		{"sum overflows", "cpu  18446744073709551615 1 0 0\n", "overflow"},
	}
	for _, tt := range statTests {
		t.Run("stat/"+tt.name, func(t *testing.T) {
			if _, _, err := ParseStat([]byte(tt.data)); !errMatches(err, tt.err) {
				t.Errorf("error = %v, want %q", err, tt.err)
			}
		})
	}
	memTests := []struct{ name, data, err string }{
		{"no MemTotal", "MemFree: 1 kB\n", "no MemTotal"},
		{"bad number", "MemTotal: 12x kB\n", "MemTotal: not a number"},
		{"no unit", "MemTotal: 2048\nMemAvailable: 1024\n", ""},
	}
	for _, tt := range memTests {
		t.Run("meminfo/"+tt.name, func(t *testing.T) {
			if _, _, err := ParseMeminfo([]byte(tt.data)); !errMatches(err, tt.err) {
				t.Errorf("error = %v, want %q", err, tt.err)
			}
		})
	}
}

func errMatches(err error, want string) bool {
	if want == "" {
		return err == nil
	}
	return err != nil && strings.Contains(err.Error(), want)
}

func TestReaderFixture(t *testing.T) {
	r, err := NewReader("testdata/modern", "leaf1")
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	var s collectors.SystemSample
	for i := 0; i < 2; i++ { // the second read reuses the open files
		if err := r.Read(&s); err != nil {
			t.Fatal(err)
		}
		want := collectors.SystemSample{SystemID: "leaf1", CPUBusy: 52477, CPUTotal: 106486,
			MemTotal: 24684092 * 1024, MemAvailable: 23596852 * 1024, Valid: true}
		if s != want {
			t.Fatalf("read %d: got %+v, want %+v", i, s, want)
		}
	}
	bad, err := NewReader("testdata/bad-stat", "leaf1")
	if err != nil {
		t.Fatal(err)
	}
	defer bad.Close()
	if err := bad.Read(&s); err == nil || s.Valid {
		t.Errorf("bad stat: err %v, valid %v; want an error and an invalid sample", err, s.Valid)
	}
	if _, err := NewReader("testdata/missing", "x"); err == nil {
		t.Error("NewReader on a missing tree: no error")
	}
}

// TestReaderProc reads the real /proc twice and checks the figures are
// plausible and monotonic.
func TestReaderProc(t *testing.T) {
	if _, err := os.Stat("/proc/stat"); err != nil {
		t.Skip("no /proc/stat on this system")
	}
	r, err := NewReader("/proc", "self")
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	var a, b collectors.SystemSample
	if err := r.Read(&a); err != nil {
		t.Fatal(err)
	}
	if err := r.Read(&b); err != nil {
		t.Fatal(err)
	}
	if !a.Valid || a.CPUTotal == 0 || a.CPUBusy > a.CPUTotal || a.MemTotal == 0 || a.MemAvailable > a.MemTotal {
		t.Errorf("implausible sample %+v", a)
	}
	if b.CPUTotal < a.CPUTotal || b.CPUBusy < a.CPUBusy {
		t.Errorf("CPU time went backwards: %+v then %+v", a, b)
	}
	allocs := testing.AllocsPerRun(20, func() {
		if err := r.Read(&b); err != nil {
			t.Fatal(err)
		}
	})
	if allocs != 0 {
		t.Errorf("Read allocates %v times per call, want 0", allocs)
	}
}

func BenchmarkReaderProc(b *testing.B) {
	r, err := NewReader("/proc", "self")
	if err != nil {
		b.Skip(err)
	}
	defer r.Close()
	var s collectors.SystemSample
	b.ReportAllocs()
	for b.Loop() {
		if err := r.Read(&s); err != nil {
			b.Fatal(err)
		}
	}
}

// FuzzParse checks that no input makes the parsers panic and that their
// results are consistent.
func FuzzParse(f *testing.F) {
	for _, dir := range []string{"modern", "old-kernel", "bad-stat"} {
		for _, name := range []string{"stat", "meminfo"} {
			if data, err := os.ReadFile(filepath.Join("testdata", dir, name)); err == nil {
				f.Add(data)
			}
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		if busy, total, err := ParseStat(data); err == nil && busy > total {
			t.Errorf("busy %d > total %d", busy, total)
		}
		_, _, _ = ParseMeminfo(data)
	})
}
