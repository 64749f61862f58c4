package replay

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/probe-agent/probe-agent/collectors"
)

func writeRecording(t testing.TB, content string) string {
	t.Helper()
	name := filepath.Join(t.TempDir(), "counters.jsonl")
	if err := os.WriteFile(name, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return name
}

// recording returns width interfaces (on systems of 48) over ticks ticks,
// shaped like the agent's footprint recording: six counters, errors on 1%.
func recording(width, ticks int) string {
	var rec strings.Builder
	for tick := 0; tick < ticks; tick++ {
		for i := 0; i < width; i++ {
			v := 1000000 + tick*(1000+i%13)*1000
			errs := 0
			if i%100 == 0 {
				errs = 5 * tick
			}
			fmt.Fprintf(&rec, `{"ts":%d,"system_id":"leaf%d","interface":"Ethernet%d","counters":{"tx_bytes":%d,"rx_bytes":%d,"rx_error_packets":%d,"tx_unicast_packets":%d,"rx_unicast_packets":%d,"rx_discard_packets":%d}}`+"\n",
				1700000000+tick, i/48, i%48, v, v/2, errs, v/1000, v/2000, errs)
		}
	}
	return rec.String()
}

// TestFileCollectorMatchesCollector: streaming a file gives the same ticks as
// replaying its batches from memory, over several passes.
func TestFileCollectorMatchesCollector(t *testing.T) {
	tests := []struct {
		name, in string
	}{
		{name: "one interface", in: `{"ts": 10, "system_id": "s", "interface": "e", "counters": {"tx_bytes": 1000}}
{"ts": 11, "system_id": "s", "interface": "e", "counters": {"tx_bytes": 1100}}
{"ts": 12, "system_id": "s", "interface": "e", "counters": {"tx_bytes": 1250}}
`},
		{name: "one tick", in: `{"ts": 10, "system_id": "s", "interface": "a", "counters": {"tx_bytes": 1000}}
{"ts": 10, "system_id": "s", "interface": "b", "counters": {"rx_bytes": 7}, "oper_status": "down"}
`},
		{name: "interfaces and metadata change between ticks", in: `{"ts": 1, "system_id": "s", "interface": "a", "counters": {"tx_bytes": 10, "rx_bytes": 5}, "oper_status": "up", "speed": 1000}
{"ts": 1, "system_id": "s", "interface": "b", "counters": {"fcs_errors": 3}}
{"ts": 2, "system_id": "s", "interface": "a", "counters": {"tx_bytes": 20, "rx_bytes": 7}, "oper_status": "up", "speed": 1000}
{"ts": 2, "system_id": "s", "interface": "b", "counters": {"fcs_errors": 4}}
{"ts": 3, "system_id": "s", "interface": "a", "counters": {"tx_bytes": 30, "rx_bytes": 9}, "oper_status": "down", "speed": 1000}
{"ts": 4, "system_id": "s", "interface": "a", "counters": {"tx_bytes": 40, "rx_bytes": 11}, "oper_status": "down", "speed": 1000}
{"ts": 4, "system_id": "s", "interface": "c", "counters": {"tx_bytes": 1}}
{"ts": 5, "system_id": "s", "interface": "c", "counters": {"tx_bytes": 2}}
{"ts": 5, "system_id": "s", "interface": "a", "counters": {"tx_bytes": 50, "rx_bytes": 13}, "oper_status": "down", "speed": 1000}
`},
		{name: "comments, blank lines, CRLF, fractional and RFC 3339 times", in: "# leaf1, 2026-01-02\r\n" +
			`{"ts": 1767322800.25, "system_id": "leaf1", "interface": "eth0", "counters": {"tx_bytes": 5}}` + "\r\n\r\n" +
			`{"ts": "2026-01-02T03:00:00.25Z", "system_id": "leaf1", "interface": "eth1", "counters": {"tx_bytes": 6}}` + "\r\n" +
			`   {"ts": "2026-01-02T04:00:00.75+01:00", "system_id": "leaf1", "interface": "eth0", "counters": {"tx_bytes": 9}}` + "\n" +
			`{"ts": 1767322801.75, "system_id": "leaf1", "interface": "eth1", "counters": {"tx_bytes": 10}}` + "\n"},
		{name: "same interface twice in a tick", in: `{"ts": 1, "system_id": "s", "interface": "a", "counters": {"tx_bytes": 1}}
{"ts": 1, "system_id": "s", "interface": "a", "counters": {"tx_bytes": 2}}
{"ts": 2, "system_id": "s", "interface": "a", "counters": {"tx_bytes": 5}}
{"ts": 2, "system_id": "s", "interface": "a", "counters": {"tx_bytes": 9}}
`},
		{name: "counter reset and counters coming and going", in: `{"ts": 1, "system_id": "s", "interface": "a", "counters": {"tx_bytes": 500, "rx_bytes": 10}}
{"ts": 2, "system_id": "s", "interface": "a", "counters": {"tx_bytes": 600, "fcs_errors": 4}}
{"ts": 3, "system_id": "s", "interface": "a", "counters": {"tx_bytes": 100, "rx_bytes": 30, "fcs_errors": 6}}
{"ts": 4, "system_id": "s", "interface": "a", "counters": {"tx_bytes": 18446744073709551615, "rx_bytes": 40}}
`},
		{name: "lines only encoding/json reads", in: `{"ts": 1, "system_id": "s\u0031", "interface": "a", "counters": {"tx_bytes": 1}}
{"TS": 1, "system_id": "s1", "Interface": "b", "counters": null}
{"ts": 2, "system_id": "s1", "interface": "a", "interface": "a", "counters": {"tx_bytes": 3}}
{"ts": 2, "system_id": "s1", "interface": "b", "counters": {"tx_bytes": 1, "tx_bytes": 4}} }
`},
		{name: "footprint shape", in: recording(150, 7)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			name := writeRecording(t, tt.in)
			batches, err := ReadFile(name)
			if err != nil {
				t.Fatal(err)
			}
			now := func() time.Time { return time.Unix(1800000000, 0) }
			mem, err := NewCollector(batches, now)
			if err != nil {
				t.Fatal(err)
			}
			file, err := NewFileCollector(name, now)
			if err != nil {
				t.Fatal(err)
			}
			defer file.Close()
			var want, got collectors.Batch
			for i := 0; i < 3*len(batches)+1; i++ {
				if err := mem.Collect(context.Background(), &want); err != nil {
					t.Fatal(err)
				}
				if err := file.Collect(context.Background(), &got); err != nil {
					t.Fatalf("tick %d: %v", i, err)
				}
				if !got.Time.Equal(want.Time) || got.Time.Location().String() != want.Time.Location().String() || got.Layout != want.Layout || len(got.Interfaces) != len(want.Interfaces) || got.System != nil {
					t.Fatalf("tick %d: got %v layout %d, %d interfaces; want %v layout %d, %d interfaces",
						i, got.Time, got.Layout, len(got.Interfaces), want.Time, want.Layout, len(want.Interfaces))
				}
				for j := range got.Interfaces {
					if got.Interfaces[j] != want.Interfaces[j] {
						t.Fatalf("tick %d interface %d:\n got %+v\nwant %+v", i, j, got.Interfaces[j], want.Interfaces[j])
					}
				}
			}
		})
	}
}

// TestFileCollectorLoops: the second pass is a reset (recorded counters, a
// new generation), the clock goes on by one recorded interval, and the interface set of the first tick
// comes back with the first layout.
func TestFileCollectorLoops(t *testing.T) {
	name := writeRecording(t, `{"ts": 10, "system_id": "s", "interface": "a", "counters": {"tx_bytes": 1000}}
{"ts": 12, "system_id": "s", "interface": "a", "counters": {"tx_bytes": 1200}}
{"ts": 12, "system_id": "s", "interface": "b", "counters": {"tx_bytes": 7}}
{"ts": 14, "system_id": "s", "interface": "a", "counters": {"tx_bytes": 1400}}
`)
	start := time.Unix(5000, 0)
	c, err := NewFileCollector(name, func() time.Time { return start })
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	want := []struct {
		at     int64 // seconds after start
		layout uint64
		a      uint64 // tx_bytes of a
		gen    uint64
	}{{0, 1, 1000, 0}, {2, 2, 1200, 0}, {4, 3, 1400, 0}, {6, 1, 1000, 1 << 32}, {8, 2, 1200, 1 << 32}, {10, 3, 1400, 1 << 32}, {12, 1, 1000, 2 << 32}}
	var b collectors.Batch
	for i, w := range want {
		if err := c.Collect(context.Background(), &b); err != nil {
			t.Fatal(err)
		}
		if got := b.Time.Sub(start); got != time.Duration(w.at)*time.Second || b.Layout != w.layout || b.Interfaces[0].Counters[collectors.TxBytes] != w.a || b.Interfaces[0].Generation != w.gen {
			t.Errorf("tick %d: +%v layout %d a=%d gen %d; want +%ds layout %d a=%d gen %d", i, got, b.Layout, b.Interfaces[0].Counters[collectors.TxBytes], b.Interfaces[0].Generation, w.at, w.layout, w.a, w.gen)
		}
	}
}

func TestNewFileCollectorErrors(t *testing.T) {
	good := `{"ts": 1, "system_id": "s", "interface": "a", "counters": {"tx_bytes": 1}}` + "\n"
	tests := []struct {
		name, in string
		want     string
	}{
		{name: "bad line", in: good + "# fine\n" + `{"ts": 2, "interface": "a", "counters": {"tx_bytes": "many"}}` + "\n" + good,
			want: ": line 3: counters.tx_bytes: want a non-negative integer"},
		{name: "truncated last line", in: good + `{"ts": 2, "interface": "a", "coun`, want: ": line 2: not a sample object"},
		{name: "line too long", in: good + `{"ts": 2, "interface": "` + strings.Repeat("a", MaxLineBytes) + "\"}\n", want: ": line 2: longer than"},
		{name: "empty", in: "", want: ": no samples"},
		{name: "only comments and blank lines", in: "# nothing recorded\n\n", want: ": no samples"},
		{name: "times going back", in: good + strings.Replace(good, `"ts": 1`, `"ts": 3`, 1) + strings.Replace(good, `"ts": 1`, `"ts": 2`, 1),
			want: ": line 3: ts 1970-01-01T00:00:02Z is before ts 1970-01-01T00:00:03Z on line 2"},
		{name: "lines of one ts apart", in: good + strings.Replace(good, `"ts": 1`, `"ts": 2`, 1) + good,
			want: ": line 3: ts 1970-01-01T00:00:01Z is before"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			name := writeRecording(t, tt.in)
			c, err := NewFileCollector(name, nil)
			if err == nil {
				c.Close()
				t.Fatal("no error")
			}
			if !strings.HasPrefix(err.Error(), name+": ") || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %q, want it to name %s and say %q", err, name, tt.want)
			}
		})
	}
	t.Run("missing file", func(t *testing.T) {
		_, err := NewFileCollector(filepath.Join(t.TempDir(), "nothing.jsonl"), nil)
		if !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("error %v, want not exist", err)
		}
	})
}

// TestFileCollectorFileChanged: a recording changed under the collector makes
// Collect fail, every time after, instead of replaying something else or
// panicking.
func TestFileCollectorFileChanged(t *testing.T) {
	in := recording(3, 4)
	tests := []struct {
		name   string
		change func(t *testing.T, name string)
		want   string // "" for no error
	}{
		{name: "truncated to nothing", change: func(t *testing.T, name string) {
			must(t, os.Truncate(name, 0))
		}, want: "changed since it was opened"},
		{name: "truncated mid-line", change: func(t *testing.T, name string) {
			must(t, os.Truncate(name, int64(len(in)/2)))
		}, want: "changed since it was opened"},
		{name: "appended to", change: func(t *testing.T, name string) {
			f, err := os.OpenFile(name, os.O_APPEND|os.O_WRONLY, 0)
			must(t, err)
			_, err = f.WriteString(recording(3, 5)[len(in):])
			must(t, err)
			must(t, f.Close())
		}, want: "changed since it was opened"},
		// Same size and modification time: caught by what the file holds.
		{name: "rewritten with other interfaces", change: func(t *testing.T, name string) {
			rewriteKeepingStat(t, name, strings.ReplaceAll(in, "Ethernet", "Ethernot"))
		}, want: `interface "Ethernot0" was not in the file`},
		{name: "rewritten with fewer ticks", change: func(t *testing.T, name string) {
			rewriteKeepingStat(t, name, strings.ReplaceAll(in, `"ts":1700000003`, `"ts":1700000002`))
		}, want: "ends after 3 of its 4 ticks"},
		{name: "rewritten out of order", change: func(t *testing.T, name string) {
			rewriteKeepingStat(t, name, strings.Replace(in, `"ts":1700000002`, `"ts":1700000000`, 1))
		}, want: "ts out of time order"},
		{name: "rewritten with a bad line", change: func(t *testing.T, name string) {
			rewriteKeepingStat(t, name, strings.Replace(in, `"tx_bytes"`, `"tx_bytez"`, 1))
		}, want: "line 1: counters.tx_bytez: unknown counter"},
		// The open file is still there to replay.
		{name: "removed", change: func(t *testing.T, name string) {
			must(t, os.Remove(name))
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			name := writeRecording(t, in)
			c, err := NewFileCollector(name, nil)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			var b collectors.Batch
			if err := c.Collect(context.Background(), &b); err != nil {
				t.Fatal(err)
			}
			tt.change(t, name)
			var first error
			for i := 0; i < 12 && first == nil; i++ {
				first = c.Collect(context.Background(), &b)
			}
			if tt.want == "" {
				if first != nil {
					t.Fatalf("Collect: %v", first)
				}
				return
			}
			if first == nil || !strings.Contains(first.Error(), name+": ") || !strings.Contains(first.Error(), tt.want) {
				t.Fatalf("Collect error %v, want one naming %s and saying %q", first, name, tt.want)
			}
			if err := c.Collect(context.Background(), &b); err == nil || err.Error() != first.Error() {
				t.Errorf("Collect after the failure: %v, want the same error again", err)
			}
		})
	}
	t.Run("closed", func(t *testing.T) {
		c, err := NewFileCollector(writeRecording(t, in), nil)
		if err != nil {
			t.Fatal(err)
		}
		must(t, c.Close())
		var b collectors.Batch
		if err := c.Collect(context.Background(), &b); err == nil {
			t.Error("Collect after Close: no error")
		}
	})
}

// rewriteKeepingStat replaces the file's contents in place with as many
// bytes, and puts its modification time back.
func rewriteKeepingStat(t *testing.T, name, content string) {
	t.Helper()
	fi, err := os.Stat(name)
	must(t, err)
	if int64(len(content)) != fi.Size() {
		t.Fatalf("rewrite changes the size: %d to %d bytes", fi.Size(), len(content))
	}
	f, err := os.OpenFile(name, os.O_WRONLY, 0)
	must(t, err)
	_, err = f.WriteAt([]byte(content), 0)
	must(t, err)
	must(t, f.Close())
	must(t, os.Chtimes(name, fi.ModTime(), fi.ModTime()))
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// TestFileCollectorMemoryDoesNotGrowWithLength: neither what the collector
// keeps nor what one Collect allocates depends on the recording's length.
// Keeping the recording (even as compactly as Collector does, about 2.7 MB
// for the long one here) would fail it.
func TestFileCollectorMemoryDoesNotGrowWithLength(t *testing.T) {
	const width = 100
	measure := func(ticks int) (retained uint64, allocs float64) {
		name := writeRecording(t, recording(width, ticks))
		var before, after runtime.MemStats
		// Twice, to empty the sync.Pools writing the file filled.
		runtime.GC()
		runtime.GC()
		runtime.ReadMemStats(&before)
		c, err := NewFileCollector(name, nil)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		var b collectors.Batch
		collect := func() {
			if err := c.Collect(context.Background(), &b); err != nil {
				t.Fatal(err)
			}
		}
		collect()
		allocs = testing.AllocsPerRun(ticks/2, collect)
		runtime.GC()
		runtime.GC()
		runtime.ReadMemStats(&after)
		runtime.KeepAlive(c)
		runtime.KeepAlive(&b)
		return after.HeapAlloc - min(after.HeapAlloc, before.HeapAlloc), allocs
	}
	shortKept, shortAllocs := measure(4)
	longKept, longAllocs := measure(400)
	t.Logf("kept: %d bytes for 4 ticks, %d bytes for 400 ticks; allocations per Collect: %.1f, %.1f", shortKept, longKept, shortAllocs, longAllocs)
	if longKept > shortKept+128<<10 {
		t.Errorf("the collector of a 400-tick recording keeps %d bytes, of a 4-tick one %d: memory grows with the recording", longKept, shortKept)
	}
	// One for checking the file's size and time, one to restart the scanner
	// at the end of a pass.
	if shortAllocs > 2 || longAllocs > 2 {
		t.Errorf("%.1f and %.1f allocations per Collect, want at most 2", shortAllocs, longAllocs)
	}
}

// BenchmarkFileCollectorCollect is one tick of 4,000 interfaces (the agent's
// footprint recording) streamed from the file.
func BenchmarkFileCollectorCollect(b *testing.B) {
	c, err := NewFileCollector(writeRecording(b, recording(4000, 10)), nil)
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	benchmarkCollect(b, c)
}

// BenchmarkCollectorCollect is the same tick replayed from memory.
func BenchmarkCollectorCollect(b *testing.B) {
	batches, err := Read(strings.NewReader(recording(4000, 10)))
	if err != nil {
		b.Fatal(err)
	}
	c, err := NewCollector(batches, nil)
	if err != nil {
		b.Fatal(err)
	}
	benchmarkCollect(b, c)
}

func benchmarkCollect(b *testing.B, c collectors.Collector) {
	var batch collectors.Batch
	collect := func() {
		if err := c.Collect(context.Background(), &batch); err != nil {
			b.Fatal(err)
		}
	}
	for range 10 { // one pass, which sizes the batch
		collect()
	}
	b.ReportAllocs()
	for b.Loop() {
		collect()
	}
}

// TestPacedFileCollectorKeepsTimeTrue: polled more often than recorded, a
// paced replay hands out each tick once the clock reaches it (never a time
// ahead of the clock); polled less often, it skips to the latest due tick.
func TestPacedFileCollectorKeepsTimeTrue(t *testing.T) {
	name := writeRecording(t, `{"ts": 100, "system_id": "s", "interface": "a", "counters": {"tx_bytes": 0}}
{"ts": 110, "system_id": "s", "interface": "a", "counters": {"tx_bytes": 10000}}
{"ts": 120, "system_id": "s", "interface": "a", "counters": {"tx_bytes": 20000}}
`)
	start := time.Unix(5000, 0)
	now := start
	c, err := NewFileCollector(name, func() time.Time { return now })
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.Paced()
	tests := []struct {
		after   time.Duration // clock, from start
		due     bool
		at      time.Duration // the batch's time, from start
		txBytes uint64
	}{
		{0, true, 0, 0},
		{1 * time.Second, false, 0, 0},
		{9 * time.Second, false, 0, 0},
		{10 * time.Second, true, 10 * time.Second, 10000},
		{15 * time.Second, false, 0, 0},
		{20 * time.Second, true, 20 * time.Second, 20000},
		// One interval after the pass ended the next pass starts.
		{30 * time.Second, true, 30 * time.Second, 0},
		// A slow caller: 25 s later the ticks at +40 and +50 are due;
		// it gets the latest.
		{55 * time.Second, true, 50 * time.Second, 20000},
		{59 * time.Second, false, 0, 0},
	}
	var b collectors.Batch
	for _, tt := range tests {
		now = start.Add(tt.after)
		err := c.Collect(context.Background(), &b)
		if !tt.due {
			if !errors.Is(err, collectors.ErrNotDue) {
				t.Errorf("+%v: %v, want ErrNotDue", tt.after, err)
			}
			continue
		}
		if err != nil {
			t.Fatalf("+%v: %v", tt.after, err)
		}
		if got := b.Time.Sub(start); got != tt.at || b.Time.After(now) || b.Interfaces[0].Counters[collectors.TxBytes] != tt.txBytes {
			t.Errorf("+%v: tick at +%v tx_bytes %d; want +%v tx_bytes %d", tt.after, got, b.Interfaces[0].Counters[collectors.TxBytes], tt.at, tt.txBytes)
		}
	}
}
