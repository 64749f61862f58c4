package replay

import (
	"bytes"
	"context"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/probe-agent/probe-agent/collectors"
)

func TestParseLine(t *testing.T) {
	tests := []struct {
		name    string
		line    string
		wantErr string
		check   func(t *testing.T, l Line)
	}{
		{name: "unix seconds with fraction", line: `{"ts": 1700000000.25, "system_id": "s", "interface": "e", "counters": {"tx_bytes": 18446744073709551615}}`,
			check: func(t *testing.T, l Line) {
				if !l.Time.Equal(time.Unix(1700000000, 250000000)) {
					t.Errorf("time %v", l.Time)
				}
				if l.Interface.Counters[collectors.TxBytes] != math.MaxUint64 || !l.Interface.Has(collectors.TxBytes) || l.Interface.Has(collectors.RxBytes) {
					t.Errorf("counters %+v", l.Interface)
				}
			}},
		{name: "RFC 3339, oper status and speed", line: `{"ts": "2026-01-02T03:04:05.5Z", "system_id": "s", "interface": "e", "counters": {}, "oper_status": "down", "speed": 10000000000}`,
			check: func(t *testing.T, l Line) {
				if l.Time.Nanosecond() != 500000000 || l.Interface.Oper != collectors.OperDown || l.Interface.SpeedBps != 1e10 {
					t.Errorf("%+v", l)
				}
			}},
		{name: "escapes, decoded by encoding/json", line: `{"ts": 1, "system_id": "s\u0031", "interface": "e\"1\""}`,
			check: func(t *testing.T, l Line) {
				if l.Interface.SystemID != "s1" || l.Interface.Name != `e"1"` {
					t.Errorf("%+v", l.Interface)
				}
			}},
		{name: "negative counter", line: `{"ts": 1, "interface": "e", "counters": {"rx_bytes": -1}}`, wantErr: "counters.rx_bytes: want a non-negative integer"},
		{name: "fractional counter", line: `{"ts": 1, "interface": "e", "counters": {"rx_bytes": 1.5}}`, wantErr: "counters.rx_bytes"},
		{name: "counter above 2^64", line: `{"ts": 1, "interface": "e", "counters": {"rx_bytes": 18446744073709551616}}`, wantErr: "below 2^64"},
		{name: "unknown counter", line: `{"ts": 1, "interface": "e", "counters": {"rx_potatoes": 1}}`, wantErr: "counters.rx_potatoes: unknown counter"},
		{name: "missing ts", line: `{"interface": "e", "counters": {}}`, wantErr: "ts: required"},
		{name: "bad ts", line: `{"ts": "yesterday", "interface": "e"}`, wantErr: "ts: not an RFC 3339 time"},
		{name: "exponent ts", line: `{"ts": 1.7e+09, "interface": "e"}`, check: wantTime(time.Unix(1700000000, 0))},
		{name: "exponent ts with fraction", line: `{"ts": 17000000002500E-4, "interface": "e"}`, check: wantTime(time.Unix(1700000000, 250000000))},
		{name: "negative exponent ts", line: `{"ts": 5e-1, "interface": "e"}`, check: wantTime(time.Unix(0, 500000000))},
		{name: "exponent ts below a nanosecond", line: `{"ts": 1e-10, "interface": "e"}`, wantErr: "at most nanosecond precision"},
		{name: "huge exponent ts", line: `{"ts": 1e400, "interface": "e"}`, wantErr: "ts: want Unix seconds"},
		{name: "trailing zeros past nanoseconds", line: `{"ts": 1.0000000000000, "interface": "e"}`, check: wantTime(time.Unix(1, 0))},
		{name: "missing interface", line: `{"ts": 1, "counters": {}}`, wantErr: "interface: required"},
		{name: "unknown field", line: `{"ts": 1, "interface": "e", "countres": {}}`, wantErr: "unknown field"},
		{name: "bad oper status", line: `{"ts": 1, "interface": "e", "oper_status": "sideways"}`, wantErr: "oper_status"},
		{name: "two objects", line: `{"ts": 1, "interface": "e"} {}`, wantErr: "more than one JSON value"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l, err := ParseLine([]byte(tt.line))
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			tt.check(t, l)
		})
	}
}

func wantTime(want time.Time) func(*testing.T, Line) {
	return func(t *testing.T, l Line) {
		if !l.Time.Equal(want) {
			t.Errorf("time %v, want %v", l.Time, want)
		}
	}
}

func TestReadGroupsByTimestampAndNamesBadLines(t *testing.T) {
	in := `# recorded on leaf1
{"ts": 2, "system_id": "s", "interface": "b", "counters": {"tx_bytes": 20}}
{"ts": 1, "system_id": "s", "interface": "a", "counters": {"tx_bytes": 1}}

{"ts": 2, "system_id": "s", "interface": "a", "counters": {"tx_bytes": 2}}
{"ts": 1, "system_id": "s", "interface": "b", "counters": {"tx_bytes": 10}}
{"ts": 3, "system_id": "s", "interface": "b", "counters": {"tx_bytes": 30}}
`
	batches, err := Read(strings.NewReader(in))
	if err != nil {
		t.Fatal(err)
	}
	if len(batches) != 3 {
		t.Fatalf("%d batches, want one per distinct ts (3)", len(batches))
	}
	for i, b := range batches {
		if b.Time.Unix() != int64(i+1) {
			t.Errorf("batch %d at %v, want time order", i, b.Time)
		}
	}
	if got := batches[1].Interfaces[0].Name + batches[1].Interfaces[1].Name; got != "ba" {
		t.Errorf("file order within a batch not kept: %s", got)
	}
	if batches[0].Layout == batches[1].Layout || batches[2].Layout == batches[1].Layout || batches[0].Layout == 0 {
		t.Errorf("layouts %d %d %d: want distinct non-zero layouts for different interface orders", batches[0].Layout, batches[1].Layout, batches[2].Layout)
	}

	_, err = Read(strings.NewReader(in + `{"ts": 4, "interface": "x", "counters": {"tx_bytes": "many"}}` + "\n"))
	if err == nil || !strings.Contains(err.Error(), "line 8:") {
		t.Errorf("error does not name line 8: %v", err)
	}
}

func TestWriteReadRoundTrip(t *testing.T) {
	b := collectors.Batch{Time: time.Unix(1700000000, 120000000).UTC()}
	ifc := collectors.Interface{SystemID: "leaf \"1\"", Name: "Ethernet1/1", Oper: collectors.OperUp, SpeedBps: 25e9}
	ifc.Set(collectors.RxBytes, math.MaxUint64)
	ifc.Set(collectors.FCSErrors, 0)
	b.Interfaces = append(b.Interfaces, ifc, collectors.Interface{SystemID: "leaf", Name: "lo"})
	var buf bytes.Buffer
	if err := WriteBatch(&buf, &b); err != nil {
		t.Fatal(err)
	}
	got, err := Read(&buf)
	if err != nil {
		t.Fatalf("%v\n%s", err, buf.String())
	}
	if len(got) != 1 || !got[0].Time.Equal(b.Time) || len(got[0].Interfaces) != 2 {
		t.Fatalf("round trip: %+v", got)
	}
	if got[0].Interfaces[0] != b.Interfaces[0] || got[0].Interfaces[1] != b.Interfaces[1] {
		t.Errorf("interfaces differ:\n got %+v\nwant %+v", got[0].Interfaces, b.Interfaces)
	}
}

// TestCollectorLoopIsAReset: the clock goes on by one recorded interval
// at the loop, and the counters start again from their recorded values in
// a new generation, so no rate is computed across the jump back (a counter
// that ended below its start would otherwise give a spike).
func TestCollectorLoopIsAReset(t *testing.T) {
	var batches []collectors.Batch
	for i := 0; i < 3; i++ {
		ifc := collectors.Interface{SystemID: "s", Name: "e"}
		ifc.Set(collectors.TxBytes, uint64(1000+100*i))
		batches = append(batches, collectors.Batch{Time: time.Unix(int64(10+i), 0), Interfaces: []collectors.Interface{ifc}, Layout: 1})
	}
	now := time.Unix(5000, 0)
	c, err := NewCollector(batches, func() time.Time { return now })
	if err != nil {
		t.Fatal(err)
	}
	var prevT time.Time
	var prev collectors.Interface
	var b collectors.Batch
	for i := 0; i < 9; i++ {
		if err := c.Collect(context.Background(), &b); err != nil {
			t.Fatal(err)
		}
		ifc := b.Interfaces[0]
		if i == 0 && !b.Time.Equal(now) {
			t.Fatalf("first batch at %v, want now", b.Time)
		}
		if want := uint64(1000 + 100*(i%3)); ifc.Counters[collectors.TxBytes] != want {
			t.Errorf("step %d: tx_bytes %d, want the recorded %d", i, ifc.Counters[collectors.TxBytes], want)
		}
		if i > 0 {
			if dt := b.Time.Sub(prevT); dt != time.Second {
				t.Errorf("step %d: time advanced by %v, want 1s", i, dt)
			}
			if newPass := i%3 == 0; (ifc.Generation != prev.Generation) != newPass {
				t.Errorf("step %d: generation %d after %d; a new one only at a loop", i, ifc.Generation, prev.Generation)
			}
		}
		prevT, prev = b.Time, ifc
	}
}

func FuzzParseLine(f *testing.F) {
	f.Add([]byte(`{"ts": 1700000000.5, "system_id": "s", "interface": "e", "counters": {"tx_bytes": 1}}`))
	f.Add([]byte(`{"ts": "2026-01-02T03:04:05Z", "interface": "e", "oper_status": "up", "speed": 1}`))
	f.Add([]byte(`{"ts": -1}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		l, err := ParseLine(data)
		if err != nil {
			return
		}
		// What parses must survive a round trip.
		line := AppendLine(nil, l.Time, &l.Interface)
		back, err := ParseLine(line)
		if err != nil {
			t.Fatalf("re-parsing %s: %v", line, err)
		}
		if back.Interface != l.Interface || !back.Time.Equal(l.Time) {
			t.Fatalf("round trip changed the sample:\n%+v\n%+v", l, back)
		}
	})
}

// TestCollectorReplaysExactly: the compact form gives back every recorded
// batch, counters, validity and metadata included, across changes of the
// interface set, and the second pass is a reset.
func TestCollectorReplaysExactly(t *testing.T) {
	in := `{"ts": 1, "system_id": "s", "interface": "a", "counters": {"tx_bytes": 10, "rx_bytes": 5}, "oper_status": "up", "speed": 1000}
{"ts": 1, "system_id": "s", "interface": "b", "counters": {"fcs_errors": 3}}
{"ts": 2, "system_id": "s", "interface": "a", "counters": {"tx_bytes": 20, "rx_bytes": 7}, "oper_status": "up", "speed": 1000}
{"ts": 2, "system_id": "s", "interface": "b", "counters": {"fcs_errors": 4}}
{"ts": 3, "system_id": "s", "interface": "a", "counters": {"tx_bytes": 30, "rx_bytes": 9}, "oper_status": "down", "speed": 1000}
{"ts": 4, "system_id": "s", "interface": "a", "counters": {"tx_bytes": 40, "rx_bytes": 11}, "oper_status": "down", "speed": 1000}
{"ts": 4, "system_id": "s", "interface": "c", "counters": {"tx_bytes": 1}}
`
	batches, err := Read(strings.NewReader(in))
	if err != nil {
		t.Fatal(err)
	}
	want := make([]collectors.Batch, len(batches))
	for i := range batches {
		want[i] = batches[i]
		want[i].Interfaces = append([]collectors.Interface(nil), batches[i].Interfaces...)
	}
	c, err := NewCollector(batches, func() time.Time { return time.Unix(1, 0) })
	if err != nil {
		t.Fatal(err)
	}
	var b collectors.Batch
	for i := range want {
		if err := c.Collect(context.Background(), &b); err != nil {
			t.Fatal(err)
		}
		if b.Layout != want[i].Layout || !b.Time.Equal(want[i].Time) || len(b.Interfaces) != len(want[i].Interfaces) {
			t.Fatalf("batch %d: %+v, want %+v", i, b, want[i])
		}
		for j := range b.Interfaces {
			if b.Interfaces[j] != want[i].Interfaces[j] {
				t.Errorf("batch %d interface %d:\n got %+v\nwant %+v", i, j, b.Interfaces[j], want[i].Interfaces[j])
			}
		}
	}
	// Second pass: a reset, the recorded values in a new generation.
	if err := c.Collect(context.Background(), &b); err != nil {
		t.Fatal(err)
	}
	if got := b.Interfaces[0]; got.Counters[collectors.TxBytes] != 10 || got.Generation == want[0].Interfaces[0].Generation {
		t.Errorf("a on the second pass: tx_bytes %d generation %d, want 10 in a new generation", got.Counters[collectors.TxBytes], got.Generation)
	}
}

// FuzzScanLineAgreesWithDecodeLine: whatever the allocation-free scanner
// accepts, encoding/json decodes to the same sample.
func FuzzScanLineAgreesWithDecodeLine(f *testing.F) {
	f.Add([]byte(`{"ts":1700000000.5,"system_id":"s","interface":"e","counters":{"tx_bytes":1,"fcs_errors":0},"oper_status":"up","speed":25000000000}`))
	f.Add([]byte(` { "speed" : 1 , "interface" : "é" , "ts" : "2026-01-02T03:04:05+01:00" , "counters" : { } } `))
	f.Add([]byte(`{"ts": -0.5, "interface": "e"}`))
	f.Add([]byte(`{"ts": 1, "interface": "e", "counters": {"tx_bytes": 18446744073709551616}}`))
	f.Add([]byte(`{"ts": 1, "interface": "e\u0031", "Counters": null}`))
	f.Add([]byte(`{"ts": 1, "interface": "e", "interface": "f"}}`))
	f.Add([]byte(`{"ts": 1e3, "interface": "\xff"}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		got, ok := scanLine(data, nil)
		if !ok {
			return
		}
		want, err := decodeLine(data)
		if err != nil {
			t.Fatalf("scanned %q, which encoding/json rejects: %v", data, err)
		}
		if got.Interface != want.Interface || !got.Time.Equal(want.Time) || got.Time.Location().String() != want.Time.Location().String() {
			t.Fatalf("%q:\nscanned %+v\ndecoded %+v", data, got, want)
		}
	})
}

func TestScanLineTakesWhatCollectWrites(t *testing.T) {
	ifc := collectors.Interface{SystemID: "leaf1", Name: "Ethernet1/1", Oper: collectors.OperDown, SpeedBps: 1e11}
	for c := collectors.Counter(0); c < collectors.NumCounters; c++ {
		ifc.Set(c, uint64(c)*1e15)
	}
	for _, at := range []time.Time{time.Unix(1700000000, 0), time.Unix(1700000000, 1), time.Unix(1700000000, 120000000)} {
		line := AppendLine(nil, at, &ifc)
		l, ok := scanLine(bytes.TrimSpace(line), nil)
		if !ok || l.Interface != ifc || !l.Time.Equal(at) {
			t.Errorf("%s: scanned %v %+v", line, ok, l)
		}
	}
}

// TestReadGroupsOneInstantWrittenDifferently: lines at the same instant are
// one batch whatever time zone or notation their ts uses.
func TestReadGroupsOneInstantWrittenDifferently(t *testing.T) {
	in := `{"ts": "2026-01-02T04:00:00+01:00", "interface": "a"}
{"ts": "2026-01-02T04:00:00+01:00", "interface": "b"}
{"ts": "2026-01-02T03:00:00Z", "interface": "c"}
{"ts": 1767322800, "interface": "d"}
{"ts": "2026-01-02T08:30:01+05:30", "interface": "a"}
{"ts": "2026-01-02T08:30:01+05:30", "interface": "b"}
`
	batches, err := Read(strings.NewReader(in))
	if err != nil {
		t.Fatal(err)
	}
	if len(batches) != 2 || len(batches[0].Interfaces) != 4 || len(batches[1].Interfaces) != 2 {
		t.Fatalf("got %d batches (%+v), want 2: 4 interfaces then 2", len(batches), batches)
	}
}
