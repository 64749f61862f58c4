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
func BenchmarkDecodeFullCounterSet(b *testing.B) { benchDecode(b, false) }

// BenchmarkDecodeFullCounterSetSetNode is the same with every leaf going
// through ytypes.SetNode, for comparison with the fast paths.
func BenchmarkDecodeFullCounterSetSetNode(b *testing.B) { benchDecode(b, true) }

func benchDecode(b *testing.B, slow bool) {
	d, err := newDecoder()
	if err != nil {
		b.Fatal(err)
	}
	d.noFastPath = slow
	tb := newTable()
	n := fullCounterNotification("Ethernet1/1")
	now := time.Now()
	b.ReportAllocs()
	for b.Loop() {
		tb.apply(d.decode(n), now)
	}
	if s := tb.ifs["Ethernet1/1"]; s == nil || s.valid != stateMapped || d.stats.failures != 0 {
		b.Fatalf("decode incomplete: %+v %v", s, d.stats.lastErr)
	}
}

// BenchmarkCollect1000 copies 1000 interfaces into a reused batch.
func BenchmarkCollect1000(b *testing.B) {
	d, err := newDecoder()
	if err != nil {
		b.Fatal(err)
	}
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
