package gnmi

import (
	"fmt"
	"testing"
	"time"

	"github.com/openconfig/gnmi/proto/gnmi"
	"github.com/openconfig/ygot/ygot"

	"github.com/probe-agent/probe-agent/collectors"
)

// fullCounterNotification is one interface's complete counter set plus its
// oper-status, as a target sends it in PROTO encoding with a prefix.
func fullCounterNotification(name string) *gnmi.Notification {
	prefix, err := ygot.StringToStructuredPath("/interfaces/interface[name=" + name + "]/state")
	if err != nil {
		panic(err)
	}
	n := &gnmi.Notification{Timestamp: 1, Prefix: prefix}
	for i, leaf := range []string{
		"in-octets", "out-octets", "in-unicast-pkts", "out-unicast-pkts", "in-multicast-pkts",
		"out-multicast-pkts", "in-broadcast-pkts", "out-broadcast-pkts", "in-errors", "out-errors",
		"in-discards", "out-discards", "in-fcs-errors",
	} {
		n.Update = append(n.Update, &gnmi.Update{
			Path: &gnmi.Path{Elem: []*gnmi.PathElem{{Name: "counters"}, {Name: leaf}}},
			Val:  uintVal(uint64(1000 * (i + 1)))})
	}
	n.Update = append(n.Update, &gnmi.Update{
		Path: &gnmi.Path{Elem: []*gnmi.PathElem{{Name: "oper-status"}}},
		Val:  &gnmi.TypedValue{Value: &gnmi.TypedValue_StringVal{StringVal: "UP"}}})
	return n
}

// BenchmarkDecodeFullCounterSet decodes one notification carrying a full
// counter set and merges it into the state, the per-interface, per-sample
// cost on the stream goroutine.
func BenchmarkDecodeFullCounterSet(b *testing.B) {
	d := newDecoder()
	benchDecode(b, d.decode, &d.stats)
}

// BenchmarkDecodeFullCounterSetYgot is the same with the ygot-based
// reference decoder (every leaf through ytypes.SetNode into the generated
// structs), for comparison.
func BenchmarkDecodeFullCounterSetYgot(b *testing.B) {
	d := newYgotDecoder()
	benchDecode(b, d.decode, &d.stats)
}

func benchDecode(b *testing.B, decode func(*gnmi.Notification) []ifUpdate, stats *decodeStats) {
	tb := newTable()
	n := fullCounterNotification("Ethernet1/1")
	now := time.Now()
	b.ReportAllocs()
	for b.Loop() {
		tb.apply(decode(n), now)
	}
	if s := tb.ifs["Ethernet1/1"]; s == nil || s.valid != stateMapped || stats.failures != 0 {
		b.Fatalf("decode incomplete: %+v %v", s, stats.lastErr)
	}
}

// BenchmarkCollect1000 copies 1000 interfaces into a reused batch.
func BenchmarkCollect1000(b *testing.B) {
	d := newDecoder()
	tb := newTable()
	now := time.Now()
	for i := range 1000 {
		tb.apply(d.decode(fullCounterNotification(fmt.Sprintf("Ethernet%d", i))), now)
	}
	var batch collectors.Batch
	b.ReportAllocs()
	for b.Loop() {
		tb.fill(&batch, "sys", now, time.Hour)
	}
	if len(batch.Interfaces) != 1000 {
		b.Fatal(len(batch.Interfaces))
	}
}
