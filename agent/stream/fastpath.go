package stream

import (
	"math"

	"google.golang.org/protobuf/encoding/protowire"

	"github.com/probe-agent/probe-agent/proto/aos"
)

// Probe data on the perfmon channel is nearly all of what an agent sends, so that
// one shape, AosMessage{perf_mon{probe_message}}, has a hand-written encoder. The
// generic runtime walks the message three times (size, marshal, required-field
// check) and looks oneof types up in maps; this does one sizing pass and one
// writing pass over plain struct fields.
//
// It must produce exactly the bytes proto.Marshal produces: fields in number order
// with the oneof member last, as the runtime orders them. TestFastPathMatchesProto
// checks that on generated messages, and TestFastPathKnowsEveryField fails when a
// field is added to one of these messages until it is handled here. Anything the
// fast path does not cover (other shapes, unset required fields, unknown fields)
// goes to the generic marshaler.

// appendProbePerfMon appends the encoding of m if it has the probe-data shape and
// reports whether it did; on false dst is returned unchanged.
func appendProbePerfMon(dst []byte, m *aos.AosMessage) ([]byte, bool) {
	pmw, ok := m.Data.(*aos.AosMessage_PerfMon)
	if !ok || pmw.PerfMon == nil || m.Timestamp == nil || m.OriginName == nil {
		return dst, false
	}
	perf := pmw.PerfMon
	pw, ok := perf.Data.(*aos.PerfMon_ProbeMessage)
	if !ok || pw.ProbeMessage == nil {
		return dst, false
	}
	p := pw.ProbeMessage
	if p.ProbeId == nil || p.StageName == nil || p.BlueprintId == nil || p.ItemId == nil {
		return dst, false
	}
	if len(m.ProtoReflect().GetUnknown()) != 0 || len(perf.ProtoReflect().GetUnknown()) != 0 ||
		len(p.ProtoReflect().GetUnknown()) != 0 {
		return dst, false
	}

	// Sizing pass.
	probeSize := 0
	for _, prop := range p.Property {
		if prop == nil || prop.Name == nil || prop.Value == nil || len(prop.ProtoReflect().GetUnknown()) != 0 {
			return dst, false
		}
		probeSize += aos.TagSize + protowire.SizeBytes(propertySize(prop))
	}
	probeSize += strField(p.ProbeId) + strField(p.StageName) + strField(p.BlueprintId) + strField(p.ItemId) + strField(p.ProbeLabel)
	switch v := p.Value.(type) {
	case nil:
	case *aos.ProbeMessage_Int64Value:
		probeSize += aos.TagSize + protowire.SizeVarint(uint64(v.Int64Value))
	case *aos.ProbeMessage_FloatValue:
		probeSize += aos.TagSize + protowire.SizeFixed32()
	case *aos.ProbeMessage_StringValue:
		probeSize += aos.TagSize + protowire.SizeBytes(len(v.StringValue))
	default:
		return dst, false
	}
	perfSize := aos.TagSize + protowire.SizeBytes(probeSize)
	if perf.TimeDelta != nil {
		perfSize += aos.TagSize + protowire.SizeFixed32()
	}

	// Writing pass, in the runtime's order.
	dst = protowire.AppendTag(dst, aos.FnTimestamp, protowire.VarintType)
	dst = protowire.AppendVarint(dst, *m.Timestamp)
	dst = appendStr(dst, aos.FnOriginName, m.OriginName)
	dst = appendStr(dst, aos.FnOriginHostname, m.OriginHostname)
	dst = appendStr(dst, aos.FnOriginRole, m.OriginRole)
	dst = appendStr(dst, aos.FnBlueprintLabel, m.BlueprintLabel)
	dst = protowire.AppendTag(dst, aos.FnPerfMon, protowire.BytesType)
	dst = protowire.AppendVarint(dst, uint64(perfSize))
	if perf.TimeDelta != nil {
		dst = protowire.AppendTag(dst, aos.FnTimeDelta, protowire.Fixed32Type)
		dst = protowire.AppendFixed32(dst, math.Float32bits(*perf.TimeDelta))
	}
	dst = protowire.AppendTag(dst, aos.FnProbeMessage, protowire.BytesType)
	dst = protowire.AppendVarint(dst, uint64(probeSize))
	for _, prop := range p.Property {
		dst = protowire.AppendTag(dst, aos.FnProperty, protowire.BytesType)
		dst = protowire.AppendVarint(dst, uint64(propertySize(prop)))
		dst = appendStr(dst, aos.FnPropName, prop.Name)
		dst = appendStr(dst, aos.FnPropValue, prop.Value)
	}
	dst = appendStr(dst, aos.FnProbeID, p.ProbeId)
	dst = appendStr(dst, aos.FnStageName, p.StageName)
	dst = appendStr(dst, aos.FnBlueprintID, p.BlueprintId)
	dst = appendStr(dst, aos.FnItemID, p.ItemId)
	dst = appendStr(dst, aos.FnProbeLabel, p.ProbeLabel)
	switch v := p.Value.(type) {
	case *aos.ProbeMessage_Int64Value:
		dst = protowire.AppendTag(dst, aos.FnInt64Value, protowire.VarintType)
		dst = protowire.AppendVarint(dst, uint64(v.Int64Value))
	case *aos.ProbeMessage_FloatValue:
		dst = protowire.AppendTag(dst, aos.FnFloatValue, protowire.Fixed32Type)
		dst = protowire.AppendFixed32(dst, math.Float32bits(v.FloatValue))
	case *aos.ProbeMessage_StringValue:
		dst = protowire.AppendTag(dst, aos.FnStringValue, protowire.BytesType)
		dst = protowire.AppendString(dst, v.StringValue)
	}
	return dst, true
}

func propertySize(p *aos.ProbeProperty) int {
	return aos.TagSize + protowire.SizeBytes(len(*p.Name)) + aos.TagSize + protowire.SizeBytes(len(*p.Value))
}

// strField is the encoded size of an optional string field; 0 when unset.
func strField(s *string) int {
	if s == nil {
		return 0
	}
	return aos.TagSize + protowire.SizeBytes(len(*s))
}

func appendStr(dst []byte, num protowire.Number, s *string) []byte {
	if s == nil {
		return dst
	}
	dst = protowire.AppendTag(dst, num, protowire.BytesType)
	return protowire.AppendString(dst, *s)
}
