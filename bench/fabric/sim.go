package fabric

import (
	"fmt"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/probe-agent/probe-agent/collectors"
	"github.com/probe-agent/probe-agent/probe"
	"github.com/probe-agent/probe-agent/proto/aos"
)

// Batches are one tick of counters for devices x ports server ports (leaf1
// eth3 ...), one batch per device, and the same interfaces in one batch.
func Batches(devices, ports int) ([]*collectors.Batch, *collectors.Batch) {
	all := &collectors.Batch{Layout: 1}
	var per []*collectors.Batch
	for l := range devices {
		b := &collectors.Batch{Layout: 1}
		for p := range ports {
			ifc := collectors.Interface{SystemID: DeviceName(l), Name: fmt.Sprintf("eth%d", p+3)}
			ifc.Set(collectors.TxBytes, uint64(l*p))
			b.Interfaces = append(b.Interfaces, ifc)
		}
		per = append(per, b)
		all.Interfaces = append(all.Interfaces, b.Interfaces...)
	}
	return per, all
}

// DeviceName names the i-th simulated device (from 0): leaf1, leaf2, ...
func DeviceName(i int) string { return fmt.Sprintf("leaf%d", i+1) }

// Advance moves b to at: every interface transmits 1,000 to 1,600 bytes.
func Advance(b *collectors.Batch, at time.Time) {
	b.Time = at
	for i := range b.Interfaces {
		b.Interfaces[i].Counters[collectors.TxBytes] += uint64(1000 + i%13*50)
	}
}

// RawMessage is one item of a probe's source stage as raw per-interface
// streaming sends it: an Apstra AosMessage with one PerfMon ProbeMessage,
// as the agent's emitter builds it (blueprint dc1).
func RawMessage(probeID, label, stage, system, iface string, value int64) *aos.AosMessage {
	pm := &aos.ProbeMessage{
		ProbeId: proto.String(probeID), StageName: proto.String(stage), BlueprintId: proto.String("dc1"),
		ItemId:     proto.String(probe.ItemID(probeID, stage, system+"\x1f"+iface)),
		ProbeLabel: proto.String(label),
		Property: []*aos.ProbeProperty{{Name: proto.String("system_id"), Value: proto.String(system)},
			{Name: proto.String("interface"), Value: proto.String(iface)}},
		Value: &aos.ProbeMessage_Int64Value{Int64Value: value},
	}
	return &aos.AosMessage{Timestamp: proto.Uint64(uint64(time.Unix(1_700_000_000, 0).UnixMicro())), OriginName: proto.String("dc1"),
		Data: &aos.AosMessage_PerfMon{PerfMon: &aos.PerfMon{Data: &aos.PerfMon_ProbeMessage{ProbeMessage: pm}}}}
}

// FrameOverhead is what the unsequenced Apstra streaming framing adds to
// every message: its 2-byte big-endian length.
const FrameOverhead = 2

// GRPCOverhead is what gRPC adds to every message of a stream: a 1-byte
// compression flag and a 4-byte length (HTTP/2 frame headers and TLS
// records are left out, as TCP/IP headers are for raw streaming).
const GRPCOverhead = 5
