package replay

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/probe-agent/probe-agent/collectors"
)

// fuzzRecording turns bytes into a replay file in time order: each byte
// pair is one line (interface, counter step, whether a new tick starts and
// how far on), so ticks vary in width, interfaces come and go, repeat
// within a tick, and counters go backwards (a reset inside a pass).
func fuzzRecording(data []byte) string {
	var rec strings.Builder
	ts, tx := 1700000000.0, map[string]int{}
	for i := 0; i+1 < len(data); i += 2 {
		a, v := data[i], data[i+1]
		if a&0x80 != 0 {
			ts += float64(1+a&0x30>>4) * 0.25 // a later tick
		}
		name := fmt.Sprintf("eth%d", a&0x07)
		if a&0x08 != 0 {
			tx[name] = int(v) // may go back
		} else {
			tx[name] += int(v)
		}
		oper := ""
		if a&0x40 != 0 {
			oper = `, "oper_status": "down"`
		}
		fmt.Fprintf(&rec, `{"ts": %.2f, "system_id": "s%d", "interface": %q, "counters": {"tx_bytes": %d, "rx_bytes": %d}%s}`+"\n",
			ts, v%2, name, tx[name], int(v)*3, oper)
	}
	return rec.String()
}

// FuzzFileCollectorLoops: the streaming file collector replays any
// recording tick for tick like the in-memory Collector over the same
// file, across three passes and into a fourth; every pass starts a new
// generation for each interface (a loop is a counter reset) and replayed
// times only go forward, also across the loop.
func FuzzFileCollectorLoops(f *testing.F) {
	f.Add([]byte{0x00, 10, 0x01, 20, 0x80, 5, 0x81, 5})
	f.Add([]byte{0x00, 1})
	f.Add([]byte{0x00, 200, 0x08, 3, 0x90, 7, 0xc9, 1, 0xa2, 9, 0x02, 4})
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) > 512 {
			return
		}
		in := fuzzRecording(data)
		if in == "" {
			return
		}
		name := writeRecording(t, in)
		batches, err := ReadFile(name)
		if err != nil {
			t.Fatalf("generated recording does not read: %v\n%s", err, in)
		}
		now := func() time.Time { return time.Unix(1800000000, 0) }
		mem, err := NewCollector(batches, now)
		if err != nil {
			t.Fatal(err)
		}
		file, err := NewFileCollector(name, now)
		if err != nil {
			t.Fatalf("%v\n%s", err, in)
		}
		defer file.Close()
		var want, got collectors.Batch
		var last time.Time
		gens := map[string]uint64{} // interface -> generation in the previous pass
		for i := 0; i < 3*len(batches)+1; i++ {
			pass := i / len(batches)
			if err := mem.Collect(context.Background(), &want); err != nil {
				t.Fatal(err)
			}
			if err := file.Collect(context.Background(), &got); err != nil {
				t.Fatalf("tick %d: %v", i, err)
			}
			if !got.Time.Equal(want.Time) || got.Layout != want.Layout || len(got.Interfaces) != len(want.Interfaces) {
				t.Fatalf("tick %d: got %v layout %d, %d interfaces; want %v layout %d, %d interfaces",
					i, got.Time, got.Layout, len(got.Interfaces), want.Time, want.Layout, len(want.Interfaces))
			}
			for j := range got.Interfaces {
				if got.Interfaces[j] != want.Interfaces[j] {
					t.Fatalf("tick %d interface %d:\n got %+v\nwant %+v", i, j, got.Interfaces[j], want.Interfaces[j])
				}
			}
			if i > 0 && !got.Time.After(last) {
				t.Fatalf("tick %d (pass %d): time %v not after %v", i, pass, got.Time, last)
			}
			last = got.Time
			if i%len(batches) == 0 && pass > 0 {
				for _, ifc := range got.Interfaces {
					key := ifc.SystemID + "/" + ifc.Name
					if g, ok := gens[key]; ok && ifc.Generation <= g {
						t.Fatalf("pass %d: %s generation %d, not above the previous pass's %d", pass, key, ifc.Generation, g)
					}
				}
			}
			for _, ifc := range got.Interfaces {
				gens[ifc.SystemID+"/"+ifc.Name] = ifc.Generation
			}
		}
	})
}
