package stream

import (
	"bytes"
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/probe-agent/probe-agent/proto/aos"
)

// randomProbeMessage builds a probe-data message with every optional field and
// each value type present or absent at random.
func randomProbeMessage(r *rand.Rand) *aos.AosMessage {
	str := func() *string {
		return proto.String(strings.Repeat(string(rune('a'+r.IntN(26))), r.IntN(300)))
	}
	maybe := func() *string {
		if r.IntN(2) == 0 {
			return nil
		}
		return str()
	}
	p := &aos.ProbeMessage{ProbeId: str(), StageName: str(), BlueprintId: str(), ItemId: str(), ProbeLabel: maybe()}
	for range r.IntN(5) {
		p.Property = append(p.Property, &aos.ProbeProperty{Name: str(), Value: str()})
	}
	switch r.IntN(5) {
	case 0:
		p.Value = &aos.ProbeMessage_Int64Value{Int64Value: r.Int64() - math.MaxInt64/2}
	case 1:
		p.Value = &aos.ProbeMessage_Int64Value{Int64Value: -1}
	case 2:
		p.Value = &aos.ProbeMessage_FloatValue{FloatValue: r.Float32() * 1e6}
	case 3:
		p.Value = &aos.ProbeMessage_StringValue{StringValue: *str()}
	}
	perf := &aos.PerfMon{Data: &aos.PerfMon_ProbeMessage{ProbeMessage: p}}
	if r.IntN(2) == 0 {
		perf.TimeDelta = proto.Float32(r.Float32())
	}
	return &aos.AosMessage{
		Timestamp:      proto.Uint64(r.Uint64() >> r.IntN(64)),
		OriginName:     str(),
		OriginHostname: maybe(),
		OriginRole:     maybe(),
		BlueprintLabel: maybe(),
		Data:           &aos.AosMessage_PerfMon{PerfMon: perf},
	}
}

func TestFastPathMatchesProto(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for i := range 5000 {
		m := randomProbeMessage(r)
		got, ok := appendProbePerfMon(nil, m)
		if !ok {
			t.Fatalf("message %d not taken by the fast path: %v", i, m)
		}
		want, err := proto.Marshal(m)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, want) {
			t.Fatalf("message %d: fast path differs from proto.Marshal\n got %x\nwant %x", i, got, want)
		}
	}
}

func TestFastPathDeclines(t *testing.T) {
	noItem := probeMessage()
	noItem.GetPerfMon().GetProbeMessage().ItemId = nil
	noPropValue := probeMessage()
	noPropValue.GetPerfMon().GetProbeMessage().Property[1].Value = nil
	withUnknown := probeMessage()
	withUnknown.GetPerfMon().GetProbeMessage().ProtoReflect().SetUnknown(protoreflect.RawFields{0x48, 0x01})
	counters := &aos.AosMessage{Timestamp: proto.Uint64(1), OriginName: proto.String("dev"),
		Data: &aos.AosMessage_PerfMon{PerfMon: &aos.PerfMon{Data: &aos.PerfMon_InterfaceCounters{InterfaceCounters: &aos.InterfaceCounters{}}}}}
	for name, m := range map[string]*aos.AosMessage{
		"alert": probeAlert(), "interface counters": counters, "required item_id unset": noItem,
		"property value unset": noPropValue, "unknown fields": withUnknown,
	} {
		if b, ok := appendProbePerfMon([]byte("x"), m); ok || string(b) != "x" {
			t.Errorf("%s: fast path took it", name)
		}
	}
	// Unknown fields still go out, through the generic path.
	e := encoder{}
	frame, err := e.appendFrame(nil, 0, withUnknown)
	if err != nil || !bytes.Contains(frame, []byte{0x48, 0x01}) {
		t.Errorf("unknown fields lost: %x, %v", frame, err)
	}
}

// TestFastPathKnowsEveryField fails when a field is added to a message the fast
// path writes, so the fast path cannot silently drop it.
func TestFastPathKnowsEveryField(t *testing.T) {
	known := map[protoreflect.FullName][]int{
		"aos.streaming.AosMessage":    {1, 2, 3, 4, 5, 6, 7, 8}, // 3, 4: other oneof members, declined
		"aos.streaming.PerfMon":       {1, 3, 5},                // 1: other oneof member, declined
		"aos.streaming.ProbeMessage":  {1, 2, 3, 4, 5, 6, 7, 8, 14},
		"aos.streaming.ProbeProperty": {5, 6},
	}
	for _, m := range []proto.Message{&aos.AosMessage{}, &aos.PerfMon{}, &aos.ProbeMessage{}, &aos.ProbeProperty{}} {
		md := m.ProtoReflect().Descriptor()
		want := map[int]bool{}
		for _, n := range known[md.FullName()] {
			want[n] = true
		}
		fields := md.Fields()
		if fields.Len() != len(want) {
			t.Errorf("%s has %d fields, the fast path knows %d: update fastpath.go", md.FullName(), fields.Len(), len(want))
		}
		for i := range fields.Len() {
			if n := int(fields.Get(i).Number()); !want[n] {
				t.Errorf("%s field %d (%s) unknown to the fast path: update fastpath.go", md.FullName(), n, fields.Get(i).Name())
			}
		}
	}
}

// TestFastDecodeMatchesProto: every message the fast encoder writes, the fast
// decoder reads back into what proto.Unmarshal would produce.
func TestFastDecodeMatchesProto(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	for i := range 5000 {
		m := randomProbeMessage(r)
		b, err := proto.Marshal(m)
		if err != nil {
			t.Fatal(err)
		}
		got, ok := decodeProbePerfMon(b)
		if !ok {
			t.Fatalf("message %d declined by the fast decoder: %v", i, m)
		}
		if !proto.Equal(got, m) {
			t.Fatalf("message %d:\n got %v\nwant %v", i, got, m)
		}
	}
	// Shapes it must leave to the runtime.
	for name, m := range map[string]proto.Message{"alert": probeAlert()} {
		b, _ := proto.Marshal(m)
		if _, ok := decodeProbePerfMon(b); ok {
			t.Errorf("%s: fast decoder took it", name)
		}
	}
}
