package aos

import (
	"testing"

	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
)

// TestEncoderFieldNumbers checks every constant of fields.go against the
// generated descriptors.
func TestEncoderFieldNumbers(t *testing.T) {
	for _, c := range []struct {
		msg   proto.Message
		field protoreflect.Name
		want  protowire.Number
	}{
		{&AosMessage{}, "timestamp", FnTimestamp},
		{&AosMessage{}, "origin_name", FnOriginName},
		{&AosMessage{}, "perf_mon", FnPerfMon},
		{&AosMessage{}, "origin_hostname", FnOriginHostname},
		{&AosMessage{}, "origin_role", FnOriginRole},
		{&AosMessage{}, "blueprint_label", FnBlueprintLabel},
		{&PerfMon{}, "time_delta", FnTimeDelta},
		{&PerfMon{}, "probe_message", FnProbeMessage},
		{&ProbeMessage{}, "property", FnProperty},
		{&ProbeMessage{}, "int64_value", FnInt64Value},
		{&ProbeMessage{}, "float_value", FnFloatValue},
		{&ProbeMessage{}, "string_value", FnStringValue},
		{&ProbeMessage{}, "probe_id", FnProbeID},
		{&ProbeMessage{}, "stage_name", FnStageName},
		{&ProbeMessage{}, "blueprint_id", FnBlueprintID},
		{&ProbeMessage{}, "item_id", FnItemID},
		{&ProbeMessage{}, "probe_label", FnProbeLabel},
		{&ProbeProperty{}, "name", FnPropName},
		{&ProbeProperty{}, "value", FnPropValue},
	} {
		md := c.msg.ProtoReflect().Descriptor()
		fd := md.Fields().ByName(c.field)
		if fd == nil {
			t.Errorf("%s has no field %s", md.FullName(), c.field)
			continue
		}
		if fd.Number() != c.want {
			t.Errorf("%s.%s is field %d, the constant says %d", md.FullName(), c.field, fd.Number(), c.want)
		}
		if protowire.SizeTag(fd.Number()) != TagSize {
			t.Errorf("%s.%s: tag of %d bytes, TagSize is %d", md.FullName(), c.field, protowire.SizeTag(fd.Number()), TagSize)
		}
	}
}
