package aos

import "google.golang.org/protobuf/encoding/protowire"

// Field numbers of the probe-data messages, for the hand-written encoders
// that write them without building messages (aosout's ProbeBodies and
// agent/stream's fast path). TestFieldNumbers checks each against the
// generated descriptors, so a renumbered field in streaming.proto fails
// there instead of on the wire.
const (
	FnTimestamp      protowire.Number = 1 // AosMessage.timestamp
	FnOriginName     protowire.Number = 2 // AosMessage.origin_name
	FnPerfMon        protowire.Number = 5 // AosMessage.perf_mon
	FnOriginHostname protowire.Number = 6 // AosMessage.origin_hostname
	FnOriginRole     protowire.Number = 7 // AosMessage.origin_role
	FnBlueprintLabel protowire.Number = 8 // AosMessage.blueprint_label

	FnTimeDelta    protowire.Number = 3 // PerfMon.time_delta
	FnProbeMessage protowire.Number = 5 // PerfMon.probe_message

	FnProperty    protowire.Number = 1  // ProbeMessage.property
	FnInt64Value  protowire.Number = 2  // ProbeMessage.int64_value
	FnFloatValue  protowire.Number = 3  // ProbeMessage.float_value
	FnStringValue protowire.Number = 4  // ProbeMessage.string_value
	FnProbeID     protowire.Number = 5  // ProbeMessage.probe_id
	FnStageName   protowire.Number = 6  // ProbeMessage.stage_name
	FnBlueprintID protowire.Number = 7  // ProbeMessage.blueprint_id
	FnItemID      protowire.Number = 8  // ProbeMessage.item_id
	FnProbeLabel  protowire.Number = 14 // ProbeMessage.probe_label

	FnPropName  protowire.Number = 5 // ProbeProperty.name
	FnPropValue protowire.Number = 6 // ProbeProperty.value
)

// TagSize is the encoded size of every tag above: their numbers are below
// 16, so a tag is one byte whatever the wire type.
const TagSize = 1
